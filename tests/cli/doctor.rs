//! `almarel doctor` against the GitHub, Coolify and production simulators,
//! in a clone with the project's example workflow files: it passes on a good
//! setup and changes nothing anywhere (only GETs, plus the Coolify deploy
//! probe that names no app); each broken piece fails with its fix.

use std::path::PathBuf;

use almarel_sandbox::coolify::{self as sim, AppSpec, CoolifySim};
use almarel_sandbox::github::GithubSim;
use almarel_sandbox::production::{self as prod, ProductionSim};

use crate::support::coolify::{NEW_SHA, coolify, production, runtime};
use crate::support::git::{Repos, closed_port};
use crate::support::{Run, assert_no_panic, json_stdout, texts};

/// The GitHub token doctor and init are given.
pub const GH_TOKEN: &str = "ghp_doctorSeCrEt0123456789abcdef";
/// A Coolify token with read and write but not deploy.
pub const NO_DEPLOY_TOKEN: &str = "9|almarel-sim-token-read-write";

pub const CI_YML: &str = include_str!("../../docs/workflows/ci.yml");
pub const RELEASE_YML: &str = include_str!("../../docs/workflows/release.yml");
pub const DEPLOY_YML: &str = include_str!("../../docs/workflows/deploy-production.yml");

/// A clone with the three workflow files (as GitHub's simulator lists
/// them), and the three simulators, all serving.
pub struct World {
    /// Keeps the simulators serving.
    #[allow(dead_code)]
    pub rt: tokio::runtime::Runtime,
    pub repos: Repos,
    pub github: GithubSim,
    pub coolify: CoolifySim,
    pub prod: ProductionSim,
}

impl World {
    pub fn new() -> World {
        Self::with_prod(prod::Config::new(NEW_SHA))
    }

    pub fn with_prod(config: prod::Config) -> World {
        Self::build(config, |c| c)
    }

    /// With the Coolify simulator's configuration changed by `tweak`.
    pub fn build(config: prod::Config, tweak: impl FnOnce(sim::Config) -> sim::Config) -> World {
        let rt = runtime();
        let prod = production(&rt, config);
        let apps = vec![
            AppSpec::docker("api", "k8s0wccw4g0o0kw4okcs8wss", "v1.2.2")
                .with_history(&["v1.2.2"])
                .with_fqdn(&prod.url()),
            AppSpec::docker("web", "w3b0wccw4g0o0kw4okcs8wss", "v1.2.2")
                .with_history(&["v1.2.2"])
                .with_fqdn(&prod.url()),
        ];
        let coolify = coolify(
            &rt,
            tweak(sim::Config::new(apps).with_token(NO_DEPLOY_TOKEN, &["read", "write"])),
        );
        let github = rt.block_on(GithubSim::start("octo/app")).unwrap();
        github.require_token(GH_TOKEN);
        github.set_oauth_scopes("repo, workflow");
        let repos = Repos::new();
        for (file, text) in [
            ("ci.yml", CI_YML),
            ("release.yml", RELEASE_YML),
            ("deploy.yml", DEPLOY_YML),
        ] {
            let p = repos.work.join(".github/workflows").join(file);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        World {
            rt,
            repos,
            github,
            coolify,
            prod,
        }
    }

    /// The config a good setup has.
    pub fn toml(&self) -> String {
        let p = self.prod.url();
        format!(
            "[github]\nrepository = \"octo/app\"\napi_url = \"{}\"\n\
             [coolify]\nurl = \"{}\"\n\
             [[coolify.apps]]\nname = \"api\"\nuuid = \"k8s0wccw4g0o0kw4okcs8wss\"\n\
             [[coolify.apps]]\nname = \"web\"\nuuid = \"w3b0wccw4g0o0kw4okcs8wss\"\n\
             [verify]\nhealth_url = \"{p}/health\"\nversion_url = \"{p}/api/version\"\nweb_url = \"{p}/\"\nrequest_timeout = \"3s\"\n",
            self.github.url(),
            self.coolify.url()
        )
    }

    pub fn config(&self) -> PathBuf {
        self.repos.work.join("almarel.toml")
    }

    pub fn write(&self, toml: &str) {
        std::fs::write(self.config(), toml).unwrap();
    }

    /// `almarel ARGS` in the clone with both tokens.
    pub fn almarel(&self, coolify_token: &str) -> assert_cmd::Command {
        let mut cmd = self.repos.sb.almarel(&self.repos.work);
        cmd.env("GH_TOKEN", GH_TOKEN)
            .env("COOLIFY_TOKEN", coolify_token)
            .timeout(std::time::Duration::from_secs(60));
        cmd
    }

    pub fn doctor(&self, coolify_token: &str) -> std::process::Output {
        let out = self
            .almarel(coolify_token)
            .args(["doctor", "--json"])
            .run()
            .unwrap();
        assert_no_panic(&out);
        let (o, e) = texts(&out);
        assert!(
            !o.contains(GH_TOKEN) && !e.contains(GH_TOKEN),
            "token leaked"
        );
        assert!(
            !o.contains("sim-token") && !e.contains("sim-token"),
            "coolify token leaked"
        );
        out
    }

    /// Nothing changed anywhere: GitHub saw only GETs, Coolify GETs and the
    /// deploy probe without a uuid, production only GETs; no deployment, no audit.
    pub fn assert_nothing_changed(&self) {
        for r in self.github.recorder().all() {
            assert_eq!(r.method, "GET", "github got {} {}", r.method, r.path);
        }
        for r in self.coolify.recorder().all() {
            if r.method != "GET" {
                assert_eq!(
                    (r.method.as_str(), r.path.as_str()),
                    ("POST", "/api/v1/deploy"),
                    "coolify got {} {}",
                    r.method,
                    r.path
                );
                assert!(r.body.is_empty(), "{}", r.body);
            }
        }
        assert!(
            self.coolify.deployments().is_empty(),
            "a deployment started"
        );
        assert_eq!(
            self.coolify
                .image_tag("k8s0wccw4g0o0kw4okcs8wss")
                .as_deref(),
            Some("v1.2.2")
        );
        for r in self.prod.recorder().all() {
            assert_eq!(r.method, "GET", "production got {} {}", r.method, r.path);
        }
        assert!(self.repos.sb.audit_lines().is_empty());
    }
}

pub fn check<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("no checks in {v}"))
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {v}"))
}

/// The one failing check (asserting there is exactly one) and the exit code 1.
fn only_failure(out: &std::process::Output) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(1), "{}", texts(out).1);
    let v = json_stdout(out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["code"], "doctor_failed");
    let failed: Vec<&serde_json::Value> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert!(failed[0]["fix"].as_str().is_some_and(|f| !f.is_empty()));
    failed[0].clone()
}

#[test]
fn a_good_setup_passes_every_check_and_nothing_changes() {
    let w = World::new();
    w.write(&w.toml());
    let out = w.doctor(sim::TOKEN);
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let v = json_stdout(&out);
    assert_eq!(v["ok"], true);
    let names: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "github token",
            "workflow ci",
            "workflow release",
            "workflow deploy",
            "environment",
            "approve",
            "coolify url",
            "coolify token",
            "coolify deploy",
            "app api",
            "app web",
            "coolify read:sensitive",
            "verify health_url",
            "verify version_url",
            "verify web_url",
        ]
    );
    for c in v["checks"].as_array().unwrap() {
        assert_eq!(c["ok"], true, "{c}");
        assert!(c.get("fix").is_none(), "{c}");
    }
    assert_eq!(v["failed"], 0);
    let token = check(&v, "github token")["detail"].as_str().unwrap();
    assert!(
        token.contains("from GH_TOKEN") && token.contains("classic") && token.contains("@octocat"),
        "{token}"
    );
    let deploy = check(&v, "workflow deploy")["detail"].as_str().unwrap();
    assert!(
        deploy.contains("CI completing on main") && deploy.contains("production"),
        "{deploy}"
    );
    assert!(
        check(&v, "workflow release")["detail"]
            .as_str()
            .unwrap()
            .contains("v1.0.0")
    );
    // The deploy ability was probed once, without a uuid, and answered 400.
    let probes = w.coolify.recorder().matching("POST", "/api/v1/deploy");
    assert_eq!(probes.len(), 1);
    assert_eq!(probes[0].path, "/api/v1/deploy");
    assert_eq!(probes[0].status, 400);
    w.assert_nothing_changed();
}

#[test]
fn human_output_shows_each_check_and_the_verdict() {
    let w = World::new();
    w.write(&w.toml());
    let out = w.almarel(sim::TOKEN).arg("doctor").run().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let (o, _) = texts(&out);
    assert!(o.contains("✓") && o.contains("coolify deploy"), "{o}");
    assert!(
        o.contains("15 checks passed: a release could go through"),
        "{o}"
    );
}

#[test]
fn a_token_that_is_not_a_required_reviewer_cannot_approve() {
    let w = World::new();
    w.write(&w.toml());
    w.github.set_environment(false, false, 0);
    let out = w.doctor(sim::TOKEN);
    let c = only_failure(&out);
    assert_eq!(c["name"], "approve");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("@octocat is not a required reviewer"),
        "{c}"
    );
    assert!(
        c["fix"].as_str().unwrap().contains("Required reviewers"),
        "{c}"
    );
    // Human output: the ✗ line and its fix.
    let out = w.almarel(sim::TOKEN).arg("doctor").run().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (o, e) = texts(&out);
    assert!(o.contains("✗") && o.contains("fix: add @octocat"), "{o}");
    assert!(e.contains("1 of 15 checks failed"), "{e}");
    w.assert_nothing_changed();
}

#[test]
fn an_app_or_actions_token_cannot_approve() {
    let w = World::new();
    w.write(&w.toml());
    w.github.set_integration_token(true);
    let out = w.doctor(sim::TOKEN);
    let c = only_failure(&out);
    assert_eq!(c["name"], "approve");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("App installation token cannot review"),
        "{c}"
    );
    assert!(
        c["fix"]
            .as_str()
            .unwrap()
            .contains("personal token of a required reviewer"),
        "{c}"
    );
}

#[test]
fn a_classic_token_without_repo_names_the_scope_to_add() {
    let w = World::new();
    w.write(&w.toml());
    w.github.set_oauth_scopes("read:org, workflow");
    let c = only_failure(&w.doctor(sim::TOKEN));
    assert_eq!(c["name"], "github token");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("`repo` scope is missing"),
        "{c}"
    );
    assert!(
        c["fix"]
            .as_str()
            .unwrap()
            .contains("gh auth refresh -s repo"),
        "{c}"
    );
}

#[test]
fn prevent_self_review_with_another_reviewer_passes_with_a_note() {
    let w = World::new();
    w.write(&w.toml());
    w.github.set_environment(true, true, 0);
    let v = json_stdout(&w.doctor(sim::TOKEN));
    let c = check(&v, "approve");
    assert_eq!(c["ok"], true, "{c}");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("prevent_self_review is on"),
        "{c}"
    );
}

#[test]
fn the_only_reviewer_with_prevent_self_review_cannot_approve_their_own_release() {
    let w = World::new();
    w.write(&w.toml());
    w.github.set_environment(true, true, 0);
    w.github.set_required_reviewers(&["octocat"]);
    let c = only_failure(&w.doctor(sim::TOKEN));
    assert_eq!(c["name"], "approve");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("only required reviewer"),
        "{c}"
    );
    assert!(
        c["fix"].as_str().unwrap().contains("Prevent self-review"),
        "{c}"
    );
}

#[test]
fn an_environment_without_required_reviewers_fails_approve() {
    let w = World::new();
    w.write(&w.toml());
    w.github.set_required_reviewers(&[]);
    let c = only_failure(&w.doctor(sim::TOKEN));
    assert_eq!(c["name"], "approve");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("no required reviewers"),
        "{c}"
    );
    assert!(
        c["fix"].as_str().unwrap().contains("Required reviewers"),
        "{c}"
    );
}

#[test]
fn a_coolify_token_without_deploy_is_found_without_deploying() {
    let w = World::new();
    w.write(&w.toml());
    let c = only_failure(&w.doctor(NO_DEPLOY_TOKEN));
    assert_eq!(c["name"], "coolify deploy");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("lacks the `deploy` ability"),
        "{c}"
    );
    assert!(c["fix"].as_str().unwrap().contains("grant `deploy`"), "{c}");
    let probes = w.coolify.recorder().matching("POST", "/api/v1/deploy");
    assert_eq!(probes.len(), 1);
    assert_eq!(probes[0].status, 403);
    w.assert_nothing_changed();
}

#[test]
fn an_unreachable_url_fails_naming_it() {
    let w = World::new();
    let dead = format!("http://127.0.0.1:{}/health", closed_port());
    let toml = w.toml().replace(&format!("{}/health", w.prod.url()), &dead);
    w.write(&toml);
    let c = only_failure(&w.doctor(sim::TOKEN));
    assert_eq!(c["name"], "verify health_url");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("cannot reach {dead}")),
        "{c}"
    );
    assert!(
        c["fix"].as_str().unwrap().contains("verify.health_url"),
        "{c}"
    );
}

#[test]
fn a_version_endpoint_without_a_sha_says_where_to_put_it() {
    let mut config = prod::Config::new(NEW_SHA);
    config.version_key = "build".into();
    let w = World::with_prod(config);
    w.write(&w.toml());
    let c = only_failure(&w.doctor(sim::TOKEN));
    assert_eq!(c["name"], "verify version_url");
    assert!(
        c["detail"].as_str().unwrap().contains("no commit SHA"),
        "{c}"
    );
    assert!(
        c["fix"].as_str().unwrap().contains("version_sha_pointer"),
        "{c}"
    );
}

#[test]
fn a_missing_workflow_lists_the_ones_there_are() {
    let w = World::new();
    w.write(
        &w.toml()
            .replace("[github]\n", "[github]\nci_workflow = \"Tests\"\n"),
    );
    let c = only_failure(&w.doctor(sim::TOKEN));
    assert_eq!(c["name"], "workflow ci");
    let detail = c["detail"].as_str().unwrap();
    assert!(
        detail.contains("no workflow `Tests`") && detail.contains("CI (ci.yml)"),
        "{c}"
    );
    assert!(
        c["fix"].as_str().unwrap().contains("github.ci_workflow"),
        "{c}"
    );
}

#[test]
fn a_workflow_the_release_does_not_trigger_names_the_filter() {
    let w = World::new();
    w.write(&w.toml());
    std::fs::write(
        w.repos.work.join(".github/workflows/release.yml"),
        RELEASE_YML.replace("tags: [\"v*\"]", "tags: [\"release-*\"]"),
    )
    .unwrap();
    let c = only_failure(&w.doctor(sim::TOKEN));
    assert_eq!(c["name"], "workflow release");
    assert!(c["detail"].as_str().unwrap().contains("release-*"), "{c}");
    assert!(c["fix"].as_str().unwrap().contains("on: push: tags"), "{c}");
}

#[test]
fn a_disabled_deploy_workflow_is_a_freeze() {
    let w = World::new();
    w.write(&w.toml());
    w.github
        .set_workflow_state("Deploy to Production", "disabled_manually");
    let c = only_failure(&w.doctor(sim::TOKEN));
    assert_eq!(c["name"], "workflow deploy");
    assert!(
        c["fix"].as_str().unwrap().contains("almarel unfreeze"),
        "{c}"
    );
}

#[test]
fn no_tokens_and_nothing_configured_fail_with_fixes_and_send_nothing() {
    let w = World::new();
    w.write("[github]\nrepository = \"octo/app\"\n");
    let out = w
        .repos
        .sb
        .almarel(&w.repos.work)
        .args(["doctor", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", texts(&out).1);
    let v = json_stdout(&out);
    for name in ["github token", "coolify url", "verify version_url"] {
        let c = check(&v, name);
        assert_eq!(c["ok"], false, "{c}");
        assert!(c["fix"].is_string(), "{c}");
    }
    assert!(
        check(&v, "github token")["fix"]
            .as_str()
            .unwrap()
            .contains("gh auth login")
    );
    assert!(w.github.recorder().all().is_empty());
    assert!(w.coolify.recorder().all().is_empty());
}

#[test]
fn a_disabled_coolify_api_says_where_to_turn_it_on() {
    let w = World::build(prod::Config::new(NEW_SHA), |mut c| {
        c.api_disabled = true;
        c
    });
    w.write(&w.toml());
    let c = only_failure(&w.doctor(sim::TOKEN));
    assert_eq!(c["name"], "coolify token");
    assert!(
        c["detail"].as_str().unwrap().contains("API is disabled"),
        "{c}"
    );
    assert!(c["fix"].as_str().unwrap().contains("API Access"), "{c}");
    // Nothing after the token check was asked (no deploy probe).
    assert!(w.coolify.recorder().matching("POST", "/").is_empty());
}

#[test]
fn a_non_docker_image_app_names_its_build_pack() {
    let w = World::build(prod::Config::new(NEW_SHA), |mut c| {
        c.apps[1].build_pack = "nixpacks".into();
        c
    });
    w.write(&w.toml());
    let c = only_failure(&w.doctor(sim::TOKEN));
    assert_eq!(c["name"], "app web");
    assert!(c["detail"].as_str().unwrap().contains("nixpacks"), "{c}");
    assert!(c["fix"].as_str().unwrap().contains("Docker Image"), "{c}");
}

#[test]
fn outside_a_clone_the_workflow_files_are_read_from_github() {
    let w = World::new();
    w.github
        .set_default_file(".github/workflows/ci.yml", CI_YML);
    w.github
        .set_default_file(".github/workflows/deploy.yml", DEPLOY_YML);
    w.github.set_default_file(
        ".github/workflows/release.yml",
        &RELEASE_YML.replace("tags: [\"v*\"]", "tags: [\"release-*\"]"),
    );
    let dir = w.repos.sb.path().join("elsewhere");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("almarel.toml"), w.toml()).unwrap();
    let out = w
        .repos
        .sb
        .almarel(&dir)
        .env("GH_TOKEN", GH_TOKEN)
        .env("COOLIFY_TOKEN", sim::TOKEN)
        .args(["--config", "almarel.toml", "doctor", "--json"])
        .run()
        .unwrap();
    let c = only_failure(&out);
    assert_eq!(c["name"], "workflow release");
    assert!(c["detail"].as_str().unwrap().contains("release-*"), "{c}");
    let v = json_stdout(&out);
    let deploy = check(&v, "workflow deploy")["detail"].as_str().unwrap();
    assert!(deploy.contains("CI completing on main"), "{deploy}");
    let reads = w
        .github
        .recorder()
        .matching("GET", "/repos/octo/app/contents/");
    assert_eq!(reads.len(), 3, "{reads:?}");
    assert!(reads.iter().all(|r| r.path.ends_with("?ref=main")));
    w.assert_nothing_changed();
}

#[test]
fn a_member_of_a_required_team_can_approve() {
    let w = World::new();
    w.write(&w.toml());
    // The one person listed is someone else; the team lists the user.
    w.github.set_environment(false, false, 0);
    w.github.add_team_member("justice-league", "octocat");
    let out = w.doctor(sim::TOKEN);
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let v = json_stdout(&out);
    let c = check(&v, "approve");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("a member of the required team justice-league"),
        "{c}"
    );
    assert_eq!(
        w.github
            .recorder()
            .matching("GET", "/orgs/octo/teams/justice-league/memberships/octocat")
            .len(),
        1
    );
}

#[test]
fn in_github_actions_the_job_token_cannot_approve_and_the_summary_lists_the_checks() {
    let w = World::new();
    w.write(&w.toml());
    w.github.set_integration_token(true);
    let summary = w.repos.sb.path().join("summary.md");
    let out = w
        .repos
        .sb
        .almarel(&w.repos.work)
        .env("GITHUB_TOKEN", GH_TOKEN)
        .env("COOLIFY_TOKEN", sim::TOKEN)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["doctor", "--json"])
        .run()
        .unwrap();
    let c = only_failure(&out);
    assert_eq!(c["name"], "approve");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("GitHub Actions token cannot review"),
        "{c}"
    );
    let v = json_stdout(&out);
    assert!(
        check(&v, "github token")["detail"]
            .as_str()
            .unwrap()
            .contains("from GITHUB_TOKEN")
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.contains("### almarel doctor") && md.contains("| ✗ | approve |"),
        "{md}"
    );
    assert!(md.contains("1 of 15 checks failed"), "{md}");
    assert!(!md.contains(GH_TOKEN));
}

#[test]
fn doctor_json_snapshots() {
    let w = World::new();
    w.write(&w.toml());
    let stable = |out: &std::process::Output| {
        let text = String::from_utf8_lossy(&out.stdout)
            .replace(&w.github.url(), "http://127.0.0.1:GITHUB")
            .replace(&w.coolify.url(), "http://127.0.0.1:COOLIFY")
            .replace(&w.prod.url(), "http://127.0.0.1:PRODUCTION")
            .replace(&w.config().display().to_string(), "WORK/almarel.toml");
        serde_json::from_str::<serde_json::Value>(&text).unwrap()
    };
    let out = w.doctor(sim::TOKEN);
    assert_eq!(out.status.code(), Some(0));
    insta::assert_json_snapshot!("doctor_passed", stable(&out));
    w.github.set_environment(false, false, 0);
    let out = w.doctor(NO_DEPLOY_TOKEN);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_json_snapshot!("doctor_failed", stable(&out));
}

#[test]
fn a_root_token_can_read_deployment_logs() {
    let w = World::new();
    w.write(&w.toml());
    let out = w.doctor(sim::SENSITIVE_TOKEN);
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let v = json_stdout(&out);
    let c = check(&v, "coolify read:sensitive");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("can read deployment logs"),
        "{c}"
    );
    assert!(
        check(&v, "github token")["detail"]
            .as_str()
            .unwrap()
            .contains("expires 2027-03-01"),
        "{v}"
    );
}

#[test]
fn unreachable_github_and_coolify_fail_their_checks_in_time() {
    let w = World::new();
    let toml = w
        .toml()
        .replace(
            &w.github.url(),
            &format!("http://127.0.0.1:{}", closed_port()),
        )
        .replace(
            &w.coolify.url(),
            &format!("http://127.0.0.1:{}", closed_port()),
        );
    w.write(&toml);
    let started = std::time::Instant::now();
    let out = w.doctor(sim::TOKEN);
    assert!(started.elapsed() < std::time::Duration::from_secs(45));
    assert_eq!(out.status.code(), Some(1), "{}", texts(&out).1);
    let v = json_stdout(&out);
    assert_eq!(check(&v, "github token")["ok"], false);
    let coolify = check(&v, "coolify url");
    assert_eq!(coolify["ok"], false);
    assert!(
        coolify["detail"].as_str().unwrap().contains("cannot reach"),
        "{coolify}"
    );
    // The rest still ran.
    assert_eq!(check(&v, "verify version_url")["ok"], true);
}
