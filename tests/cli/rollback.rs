//! `almarel rollback` tests: a real clone with release tags, and the GitHub,
//! Coolify and production simulators (production switches to the SHA of the
//! image tag a Coolify deployment finishes with, as the real app would).

use crate::support::Run;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use almarel_sandbox::coolify::{self as sim, AppSpec, CoolifySim, Ending};
use almarel_sandbox::github::{Fault, GithubSim};
use almarel_sandbox::production::{self as prod, ProductionSim};

use crate::support::coolify::{
    GH_TOKEN, SMOKE_EMAIL, SMOKE_PASSWORD, coolify, coolify_toml, production, runtime, verify_toml,
};
use crate::support::git::Repos;
use crate::support::{assert_no_panic, json_stdout, texts};

const API: &str = "k8s0wccw4g0o0kw4okcs8wss";
const WEB: &str = "w3b0wccw4g0o0kw4okcs8wss";
const DEPLOY_WF: &str = "Deploy to Production";

/// A clone with v1.2.0, v1.2.1, v1.3.0-rc.1 (between) and v1.3.0 +
/// v1.3.0-rc.2 (on the same commit, what production runs), and the three
/// simulators wired together.
pub struct Fx {
    pub repos: Repos,
    pub rt: tokio::runtime::Runtime,
    pub gh: GithubSim,
    pub coolify: CoolifySim,
    pub prod: ProductionSim,
    pub shas: HashMap<&'static str, String>,
    pub config: PathBuf,
    /// The deploy workflow's state each time a Coolify deployment finished.
    pub states_at_finish: Arc<Mutex<Vec<String>>>,
}

impl Fx {
    pub fn new(migration_between: bool) -> Fx {
        Self::with_apps(migration_between, apps_at("v1.3.0"))
    }

    pub fn with_apps(migration_between: bool, apps: Vec<AppSpec>) -> Fx {
        let repos = Repos::new();
        let mut shas = HashMap::new();
        shas.insert(
            "v1.2.0",
            repos.commit_file("api/src/app.cs", "1\n", "Release 1.2.0"),
        );
        repos.tag("v1.2.0", "HEAD");
        shas.insert(
            "v1.2.1",
            repos.commit_file("api/src/app.cs", "2\n", "Fix login"),
        );
        repos.tag("v1.2.1", "HEAD");
        let rc1 = if migration_between {
            repos.commit_file(
                "api/Migrations/20260101_add_orders_total.sql",
                "ALTER TABLE orders ADD total int;\n",
                "Add orders.total",
            )
        } else {
            repos.commit_file("api/src/orders.cs", "3\n", "Orders page")
        };
        repos.tag("v1.3.0-rc.1", "HEAD");
        shas.insert("v1.3.0-rc.1", rc1);
        shas.insert(
            "v1.3.0",
            repos.commit_file("web/src/app.tsx", "4\n", "Release 1.3.0"),
        );
        repos.tag("v1.3.0-rc.2", "HEAD");
        repos.tag("v1.3.0", "HEAD");
        repos.git(&["push", "-q", "origin", "main", "--tags"]);

        let rt = runtime();
        let gh = rt.block_on(GithubSim::start("octo/app")).unwrap();
        gh.require_token(GH_TOKEN);
        let coolify = coolify(&rt, sim::Config::new(apps.clone()));
        let prod = production(&rt, prod::Config::new(&shas["v1.3.0"]));
        // Production serves the SHA of the image tag a deployment finished with.
        let by_tag: HashMap<String, String> = shas
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        let control = prod.control();
        let states_at_finish = Arc::new(Mutex::new(Vec::new()));
        let (states, gh2) = (states_at_finish.clone(), gh.clone());
        coolify.on_finish(move |_app, image_tag| {
            states
                .lock()
                .unwrap()
                .push(gh2.workflow_state(DEPLOY_WF).unwrap_or_default());
            if let Some(sha) = by_tag.get(image_tag) {
                control.set_sha(sha);
            }
        });
        let config = repos.sb.path().join("almarel.toml");
        std::fs::write(
            &config,
            format!(
                "[github]\nrepository = \"octo/app\"\napi_url = \"{}\"\n\
                 [rollback]\nmigration_paths = [\"api/Migrations/\"]\n\
                 database_runbook = \"docs/runbooks/database-rollback.md\"\n\
                 staging_data_runbook = \"docs/runbooks/staging-data-copy.md\"\n{}{}",
                gh.url(),
                coolify_toml(&coolify.url(), &apps),
                verify_toml(&prod.url())
            ),
        )
        .unwrap();
        Fx {
            repos,
            rt,
            gh,
            coolify,
            prod,
            shas,
            config,
            states_at_finish,
        }
    }

    pub fn almarel(&self) -> assert_cmd::Command {
        let mut cmd = self.repos.almarel();
        cmd.arg("--config")
            .arg(&self.config)
            .env("COOLIFY_TOKEN", sim::TOKEN)
            .env("GH_TOKEN", GH_TOKEN)
            .env("SMOKE_EMAIL", SMOKE_EMAIL)
            .env("SMOKE_PASSWORD", SMOKE_PASSWORD)
            .timeout(std::time::Duration::from_secs(90));
        cmd
    }

    /// (PUT .../disable, PATCH, POST /deploy) requests received.
    pub fn changes(&self) -> (usize, usize, usize) {
        let disables = self
            .gh
            .recorder()
            .matching("PUT", "/repos/octo/app/actions/workflows/")
            .into_iter()
            .filter(|r| r.path.ends_with("/disable"))
            .count();
        let c = self.coolify.recorder();
        (
            disables,
            c.matching("PATCH", "/api/v1/applications/").len(),
            c.matching("POST", "/api/v1/deploy").len(),
        )
    }
}

pub fn apps_at(tag: &str) -> Vec<AppSpec> {
    vec![
        AppSpec::docker("api", API, tag),
        AppSpec::docker("web", WEB, tag),
    ]
}

#[test]
fn rolls_back_to_the_previous_final_release_freezing_first() {
    let fx = Fx::new(false);
    let out = fx
        .almarel()
        .args(["rollback", "--yes", "--json"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let v = json_stdout(&out);
    // v1.3.0-rc.1 is newer than v1.2.1 but a pre-release; v1.3.0 is current.
    assert_eq!(v["target"]["tag"], "v1.2.1", "{v}");
    assert_eq!(v["target"]["sha"], fx.shas["v1.2.1"].as_str());
    assert_eq!(v["current"]["tag"], "v1.3.0");
    assert_eq!(v["migrations"], serde_json::json!([]));
    assert_eq!(
        v["steps"],
        serde_json::json!(["freeze", "deploy", "verify"])
    );

    // Frozen first, then every app PATCHed to v1.2.1 and deployed.
    assert_eq!(
        fx.gh.workflow_state(DEPLOY_WF).as_deref(),
        Some("disabled_manually")
    );
    assert_eq!(fx.changes(), (1, 2, 2));
    for uuid in [API, WEB] {
        let p = fx
            .coolify
            .recorder()
            .matching("PATCH", &format!("/api/v1/applications/{uuid}"));
        assert_eq!(p.len(), 1);
        assert!(p[0].body.contains("\"v1.2.1\""), "{:?}", p[0]);
        assert_eq!(fx.coolify.image_tag(uuid).as_deref(), Some("v1.2.1"));
    }
    // The workflow was already disabled when the deployments finished.
    let states = fx.states_at_finish.lock().unwrap().clone();
    assert_eq!(states, vec!["disabled_manually", "disabled_manually"]);
    // Verified: production serves v1.2.1's commit.
    assert_eq!(fx.prod.control().serving_sha(), fx.shas["v1.2.1"]);
    assert!(
        v["verify"]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true)
    );
    assert!(stderr.contains("almarel unfreeze"), "{stderr}");

    // Audit, written ahead: the rollback's `started` line before anything,
    // then the freeze, then each app's deploy (started, then ok), then the
    // rollback's outcome; no failure; no token.
    let audit = fx.repos.sb.audit_lines();
    let lines: Vec<(&str, &str)> = audit
        .iter()
        .map(|l| {
            (
                l["command"].as_str().unwrap(),
                l["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(lines.first(), Some(&("rollback", "started")), "{lines:?}");
    assert_eq!(lines.last(), Some(&("rollback", "ok")), "{lines:?}");
    let freeze_at = lines.iter().position(|l| l.0 == "freeze").unwrap();
    let deploys: Vec<(usize, &str)> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.0 == "deploy")
        .map(|(i, l)| (i, l.1))
        .collect();
    assert_eq!(
        deploys.iter().map(|d| d.1).collect::<Vec<_>>(),
        ["started", "started", "ok", "ok"],
        "{lines:?}"
    );
    assert!(freeze_at < deploys[0].0, "{lines:?}");
    assert!(lines.iter().all(|l| !l.1.starts_with("failed")));
    let rb = audit.last().unwrap();
    assert_eq!(rb["target"], "v1.2.1");
    assert_eq!(rb["details"]["from_tag"], "v1.3.0");
    assert_eq!(rb["actor"]["git"], "Jane Dev <jane@example.com>");
    assert_eq!(rb["actor"]["github"], "octocat");
    let raw = std::fs::read_to_string(fx.repos.sb.state_dir().join("audit.jsonl")).unwrap();
    assert!(!raw.contains(GH_TOKEN) && !raw.contains(sim::TOKEN));
    assert!(!stdout.contains(GH_TOKEN) && !stderr.contains(GH_TOKEN));
}

#[test]
fn the_freeze_comes_before_any_coolify_change() {
    let fx = Fx::new(false);
    fx.gh.fault(Fault::new("PUT", "/disable", 50, 500));
    let out = fx.almarel().args(["rollback", "--yes"]).run().unwrap();
    assert_no_panic(&out);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(4), "{stdout}\n{stderr}");
    // The disable was attempted; Coolify saw no change at all.
    let (disables, patches, deploys) = fx.changes();
    assert!(disables >= 1);
    assert_eq!((patches, deploys), (0, 0));
    assert!(stderr.contains("step 1/4 (freeze) failed"), "{stderr}");
    assert!(stderr.contains("no step was completed"), "{stderr}");
    assert!(stderr.contains("almarel rollback --to v1.2.1"), "{stderr}");
    assert!(!stderr.contains("--to v1.2.1 --no-freeze"), "{stderr}");
    assert_eq!(fx.prod.control().serving_sha(), fx.shas["v1.3.0"]);
}

#[test]
fn refuses_when_a_migration_changed_and_changes_nothing() {
    let fx = Fx::new(true);
    let out = fx.almarel().args(["rollback", "--yes"]).run().unwrap();
    assert_no_panic(&out);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("api/Migrations/20260101_add_orders_total.sql"),
        "{stderr}"
    );
    assert!(
        stdout.contains("api/Migrations/20260101_add_orders_total.sql"),
        "{stdout}"
    );
    assert!(
        stderr.contains("docs/runbooks/database-rollback.md"),
        "{stderr}"
    );
    assert!(stderr.contains("--allow-migrations"), "{stderr}");
    // No freeze, no PATCH, no deploy, no audit line.
    assert_eq!(fx.changes(), (0, 0, 0));
    assert_eq!(fx.gh.workflow_state(DEPLOY_WF).as_deref(), Some("active"));
    assert!(fx.repos.sb.audit_lines().is_empty());

    // --allow-migrations goes ahead.
    let out = fx
        .almarel()
        .args(["rollback", "--yes", "--allow-migrations"])
        .run()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(fx.prod.control().serving_sha(), fx.shas["v1.2.1"]);
}

#[test]
fn to_picks_the_named_release() {
    let fx = Fx::new(false);
    let out = fx
        .almarel()
        .args(["rollback", "--to", "1.2.0", "--yes"])
        .run()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(fx.coolify.image_tag(API).as_deref(), Some("v1.2.0"));
    assert_eq!(fx.coolify.image_tag(WEB).as_deref(), Some("v1.2.0"));
    assert_eq!(fx.prod.control().serving_sha(), fx.shas["v1.2.0"]);
    assert!(
        stdout.contains("rolled back: production runs v1.2.0"),
        "{stdout}"
    );
    assert!(
        stdout.contains("docs/runbooks/staging-data-copy.md"),
        "{stdout}"
    );
}

#[test]
fn dry_run_shows_the_real_plan_and_changes_nothing() {
    let fx = Fx::new(false);
    let out = fx.almarel().args(["rollback", "--dry-run"]).run().unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("rollback to v1.2.1"), "{stdout}");
    assert!(stdout.contains("runs v1.3.0"), "{stdout}");
    assert!(
        stdout.contains("none changed under api/Migrations/"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("PATCH /api/v1/applications/{API}")),
        "{stdout}"
    );
    assert!(
        stdout.contains("disable workflow Deploy to Production"),
        "{stdout}"
    );
    assert!(stdout.contains("nothing was changed"), "{stdout}");
    assert_eq!(fx.changes(), (0, 0, 0));
    assert!(fx.repos.sb.audit_lines().is_empty());

    // With a migration in between: the plan lists it, and the exit is 3.
    let fx = Fx::new(true);
    let out = fx
        .almarel()
        .args(["rollback", "--dry-run", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let v = json_stdout(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(
        v["migrations"],
        serde_json::json!(["api/Migrations/20260101_add_orders_total.sql"])
    );
    assert_eq!(v["target"]["tag"], "v1.2.1");
    assert_eq!(fx.changes(), (0, 0, 0));
}

#[test]
fn an_untagged_production_commit_needs_to() {
    let fx = Fx::new(false);
    let hotfix = fx.repos.commit("Hotfix without a tag");
    fx.prod.control().set_sha(&hotfix);
    let out = fx.almarel().args(["rollback", "--yes"]).run().unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(stderr.contains("carries no release tag"), "{stderr}");
    assert!(stderr.contains("--to"), "{stderr}");
    assert!(
        stderr.contains("v1.3.0"),
        "recent releases are named: {stderr}"
    );
    assert_eq!(fx.changes(), (0, 0, 0));
    assert!(fx.repos.sb.audit_lines().is_empty());
}

#[test]
fn without_a_terminal_it_needs_yes_and_changes_nothing() {
    let fx = Fx::new(false);
    let out = fx.almarel().args(["rollback"]).run().unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("--yes"), "{stderr}");
    assert_eq!(fx.changes(), (0, 0, 0));
    assert!(fx.repos.sb.audit_lines().is_empty());
}

#[test]
fn a_failing_deploy_reports_the_done_steps_and_the_continue_command() {
    let mut apps = apps_at("v1.3.0");
    apps[1].ending = Ending::Fail;
    let fx = Fx::with_apps(false, apps);
    let out = fx
        .almarel()
        .args(["rollback", "--yes", "--json"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("rollback step 2/4 (deploy) failed"),
        "{stderr}"
    );
    assert!(stderr.contains("done: freeze"), "{stderr}");
    assert!(
        stderr.contains("almarel rollback --to v1.2.1 --no-freeze"),
        "{stderr}"
    );
    let v = json_stdout(&out);
    assert_eq!(v["failed_step"], "deploy");
    assert_eq!(v["steps"], serde_json::json!(["freeze"]));
    assert_eq!(v["continue"], "almarel rollback --to v1.2.1 --no-freeze");
    // Still frozen; the failed app got its previous tag back.
    assert_eq!(
        fx.gh.workflow_state(DEPLOY_WF).as_deref(),
        Some("disabled_manually")
    );
    assert_eq!(fx.coolify.image_tag(WEB).as_deref(), Some("v1.3.0"));
    let audit = fx.repos.sb.audit_lines();
    let last = audit.last().unwrap();
    assert_eq!(last["command"], "rollback");
    assert!(
        last["result"]
            .as_str()
            .unwrap()
            .starts_with("failed: deploy"),
        "{last}"
    );

    // The continue command finishes the job once the cause is fixed.
    fx.coolify.set_ending(WEB, Ending::Finish);
    let out = fx
        .almarel()
        .args(["rollback", "--to", "v1.2.1", "--no-freeze", "--yes"])
        .run()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(fx.prod.control().serving_sha(), fx.shas["v1.2.1"]);
    // No second freeze.
    assert_eq!(fx.changes().0, 1);
}

#[test]
fn image_tag_covers_the_late_tag_case_and_a_failing_verify_says_how_to_continue() {
    let fx = Fx::new(false);
    let out = fx
        .almarel()
        .args([
            "rollback",
            "--to",
            "v1.2.1",
            "--image-tag",
            "prod-{sha}",
            "--wait",
            "0s",
            "--yes",
            "--json",
        ])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (_, stderr) = texts(&out);
    // Deployed as prod-<sha>; this simulated production does not know that
    // image, keeps serving v1.3.0, and verify fails.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let sha = &fx.shas["v1.2.1"];
    let wanted = format!("prod-{sha}");
    for uuid in [API, WEB] {
        assert_eq!(fx.coolify.image_tag(uuid).as_deref(), Some(wanted.as_str()));
    }
    assert!(
        stderr.contains("rollback step 3/4 (verify) failed"),
        "{stderr}"
    );
    assert!(stderr.contains("done: freeze, deploy"), "{stderr}");
    let v = json_stdout(&out);
    assert_eq!(v["failed_step"], "verify");
    assert_eq!(
        v["continue"],
        format!("almarel verify --expect-sha {sha} --wait 5m").as_str()
    );
    let last = fx.repos.sb.audit_lines().pop().unwrap();
    assert_eq!(last["command"], "rollback");
    assert!(
        last["result"]
            .as_str()
            .unwrap()
            .starts_with("failed: verify")
    );
}

#[test]
fn with_production_down_the_current_release_comes_from_coolify() {
    let fx = Fx::new(false);
    // The version endpoint does not answer.
    let text = std::fs::read_to_string(&fx.config).unwrap();
    let dead = format!("http://127.0.0.1:{}", crate::support::git::closed_port());
    std::fs::write(
        &fx.config,
        text.replace(
            &format!("version_url = \"{}/api/version\"", fx.prod.url()),
            &format!("version_url = \"{dead}/api/version\""),
        ),
    )
    .unwrap();
    let out = fx
        .almarel()
        .args(["rollback", "--dry-run", "--json"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("Coolify apps are configured with: v1.3.0"),
        "{stderr}"
    );
    let v = json_stdout(&out);
    assert_eq!(v["current"]["tag"], "v1.3.0");
    assert_eq!(v["current"]["source"], "coolify image tag");
    assert_eq!(v["target"]["tag"], "v1.2.1");
    assert_eq!(fx.changes(), (0, 0, 0));
}

impl Fx {
    /// The same invocation as [`Fx::almarel`], as a `std` command (to spawn and signal it).
    pub fn almarel_std(&self) -> std::process::Command {
        let mut cmd = self.repos.sb.almarel_std(&self.repos.work);
        cmd.arg("--config")
            .arg(&self.config)
            .env("COOLIFY_TOKEN", sim::TOKEN)
            .env("GH_TOKEN", GH_TOKEN)
            .env("SMOKE_EMAIL", SMOKE_EMAIL)
            .env("SMOKE_PASSWORD", SMOKE_PASSWORD);
        cmd
    }

    /// The image tag of every PATCH Coolify received, in order.
    pub fn patched_tags(&self) -> Vec<String> {
        self.coolify
            .recorder()
            .matching("PATCH", "/api/v1/applications/")
            .iter()
            .map(|r| {
                let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
                v["docker_registry_image_tag"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect()
    }
}

/// SIGTERM while a Coolify PATCH is in flight (the simulator applies it and
/// holds the answer): exit 143, the freeze is listed as done and the PATCH as
/// in flight, the audit entry ends `interrupted: SIGTERM`, and the printed
/// `next:` names the target already decided. Running that line converges on
/// the same release: production had switched to v1.2.1 meanwhile (the other
/// app finished), and a bare re-run would have rolled back a second release,
/// to v1.2.0.
#[test]
fn sigterm_mid_patch_then_the_printed_next_rolls_back_only_once() {
    use std::time::{Duration, Instant};
    let fx = Fx::new(false);
    fx.coolify
        .slow("PATCH", "/api/v1/applications/", Duration::from_secs(30), 1);
    let mut cmd = fx.almarel_std();
    cmd.args(["rollback", "--yes"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let started = Instant::now();
    // Wait for the slow PATCH to arrive, and for the other app's deployment
    // to finish (production then reports v1.2.1).
    while (fx.changes().1 < 2 || fx.prod.control().serving_sha() != fx.shas["v1.2.1"])
        && started.elapsed() < Duration::from_secs(25)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(fx.changes().1, 2, "both PATCHes were sent");
    std::thread::sleep(Duration::from_millis(200));
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    crate::support::check_next(&out);
    assert_no_panic(&out);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(143), "{stdout}\n{stderr}");
    eprintln!("--- interrupted rollback:\n{stderr}");
    assert!(!stderr.contains("nothing was changed"), "{stderr}");
    assert!(stderr.contains("already done: freeze releases"), "{stderr}");
    assert!(
        stderr.contains("in flight (may have been applied): deploy v1.2.1"),
        "{stderr}"
    );
    assert!(stderr.contains("set the image tag of app"), "{stderr}");
    let next: Vec<String> = crate::support::next_lines(&out);
    assert_eq!(
        next,
        ["almarel rollback --to v1.2.1 --no-freeze"],
        "{stderr}"
    );
    let audit = fx.repos.sb.audit_lines();
    let rb: Vec<&str> = audit
        .iter()
        .filter(|l| l["command"] == "rollback")
        .map(|l| l["result"].as_str().unwrap())
        .collect();
    assert_eq!(rb, ["started", "interrupted: SIGTERM"], "{audit:?}");
    // What a bare re-run would now pick: production already reports v1.2.1.
    assert_eq!(fx.prod.control().serving_sha(), fx.shas["v1.2.1"]);

    // Run the printed next: line as printed (plus the global --yes).
    let words = crate::support::shell_words(&next[0]).unwrap();
    let out = fx.almarel().args(&words[1..]).arg("--yes").run().unwrap();
    assert_no_panic(&out);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("rolled back: production runs v1.2.1"),
        "{stdout}"
    );
    // One release rolled back: every PATCH set v1.2.1, never v1.2.0; every
    // app runs v1.2.1; one freeze.
    let tags = fx.patched_tags();
    assert!(!tags.is_empty());
    assert!(tags.iter().all(|t| t == "v1.2.1"), "{tags:?}");
    for uuid in [API, WEB] {
        assert_eq!(fx.coolify.image_tag(uuid).as_deref(), Some("v1.2.1"));
    }
    assert!(
        fx.coolify
            .deployments()
            .iter()
            .all(|d| d.image_tag.as_deref() == Some("v1.2.1")),
        "{:?}",
        fx.coolify.deployments()
    );
    assert_eq!(fx.prod.control().serving_sha(), fx.shas["v1.2.1"]);
    assert_eq!(fx.changes().0, 1, "frozen once");
}

/// `--to` the release production already runs, every app's history showing
/// it deployed: nothing is sent (no freeze, no PATCH, no deploy), exit 0, it
/// says so, the next step is verify, and the audit log has one
/// `already done` line.
#[test]
fn rolling_back_to_the_release_already_running_sends_nothing() {
    let apps = vec![
        AppSpec::docker("api", API, "v1.2.1").with_history(&["v1.2.1"]),
        AppSpec::docker("web", WEB, "v1.2.1").with_history(&["v1.2.1"]),
    ];
    let fx = Fx::with_apps(false, apps);
    fx.prod.control().set_sha(&fx.shas["v1.2.1"]);
    let out = fx
        .almarel()
        .env("COOLIFY_TOKEN", sim::SENSITIVE_TOKEN)
        .args(["rollback", "--to", "v1.2.1", "--yes"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("production already runs v1.2.1"),
        "{stdout}"
    );
    assert!(stdout.contains("nothing was changed"), "{stdout}");
    assert_eq!(
        crate::support::next_lines(&out),
        ["almarel verify --expect-tag v1.2.1"]
    );
    assert_eq!(fx.changes(), (0, 0, 0));
    assert_eq!(fx.gh.workflow_state(DEPLOY_WF).as_deref(), Some("active"));
    let audit = fx.repos.sb.audit_lines();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["command"], "rollback");
    assert_eq!(
        audit[0]["result"],
        "already done: production already runs v1.2.1"
    );

    // --json says so too.
    let out = fx
        .almarel()
        .env("COOLIFY_TOKEN", sim::SENSITIVE_TOKEN)
        .args(["rollback", "--to", "v1.2.1", "--yes", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v = json_stdout(&out);
    assert_eq!(v["already_running"], true);
    assert_eq!(v["next"], "almarel verify --expect-tag v1.2.1");
    assert_eq!(fx.changes(), (0, 0, 0));
}

/// When an app's own history cannot prove it runs the target (a token
/// without read:sensitive), rollback does not claim "already running": it
/// says why and deploys again (the same image; harmless).
#[test]
fn without_proof_per_app_the_release_already_reported_is_deployed_again() {
    let apps = vec![
        AppSpec::docker("api", API, "v1.2.1").with_history(&["v1.2.1"]),
        AppSpec::docker("web", WEB, "v1.2.1").with_history(&["v1.2.1"]),
    ];
    let fx = Fx::with_apps(false, apps);
    fx.prod.control().set_sha(&fx.shas["v1.2.1"]);
    let out = fx
        .almarel()
        .args(["rollback", "--to", "v1.2.1", "--no-freeze", "--yes"])
        .run()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains("cannot be read"), "{stderr}");
    assert!(stderr.contains("deploying every app again"), "{stderr}");
    assert_eq!(fx.changes(), (0, 0, 2));
}

/// A `--no-freeze` rollback (how a resumed rollback continues after its
/// first run froze) while releases are frozen: it says they stay frozen and
/// names `unfreeze`, never "not frozen".
#[test]
fn a_no_freeze_rollback_while_frozen_says_frozen_and_names_unfreeze() {
    let fx = Fx::new(false);
    fx.gh
        .set_workflow_state("Deploy to Production", "disabled_manually");
    fx.gh.set_variable("ALMAREL_FREEZE", "incident 7");
    let out = fx
        .almarel()
        .args(["rollback", "--to", "v1.2.1", "--no-freeze", "--yes"])
        .run()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stderr.contains("not frozen"), "{stderr}");
    assert!(
        stdout.contains("they stay frozen until you run `almarel unfreeze`"),
        "{stdout}"
    );
    assert!(stderr.contains("next: almarel unfreeze"), "{stderr}");
}

#[test]
fn json_shapes_are_stable() {
    let fx = Fx::new(false);
    let mut replace: Vec<(String, String)> = vec![
        (fx.gh.url(), "[github]".into()),
        (fx.coolify.url(), "[coolify]".into()),
        (fx.prod.url(), "[production]".into()),
    ];
    for (tag, sha) in &fx.shas {
        replace.push((sha.clone(), format!("[sha {tag}]")));
        replace.push((sha[..7].to_owned(), format!("[short {tag}]")));
    }
    let out = fx
        .almarel()
        .args(["rollback", "--dry-run", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    insta::assert_json_snapshot!(
        "rollback_dry_run",
        crate::deploy::stable_json(&texts(&out).0, &replace)
    );
    let out = fx
        .almarel()
        .args(["rollback", "--yes", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    insta::assert_json_snapshot!(
        "rollback_done",
        crate::deploy::stable_json(&texts(&out).0, &replace)
    );

    // A refusal: a migration changed in between (nothing changed).
    let fx = Fx::new(true);
    let mut replace: Vec<(String, String)> = vec![
        (fx.gh.url(), "[github]".into()),
        (fx.coolify.url(), "[coolify]".into()),
        (fx.prod.url(), "[production]".into()),
    ];
    for (tag, sha) in &fx.shas {
        replace.push((sha.clone(), format!("[sha {tag}]")));
        replace.push((sha[..7].to_owned(), format!("[short {tag}]")));
    }
    let out = fx
        .almarel()
        .args(["rollback", "--yes", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", texts(&out).1);
    insta::assert_json_snapshot!(
        "rollback_refused_migrations",
        crate::deploy::stable_json(&texts(&out).0, &replace)
    );
    assert_eq!(fx.changes(), (0, 0, 0));
}

/// SIGTERM while the verify step waits for production: the freeze and the
/// deploy are done, so the continuation is the verify, not another rollback.
#[test]
fn sigterm_during_verify_continues_with_the_verify() {
    use std::time::{Duration, Instant};
    let fx = Fx::new(false);
    // Deployed as prod-<sha>: this production does not know that image and
    // keeps serving v1.3.0, so verify keeps retrying.
    let mut cmd = fx.almarel_std();
    cmd.args([
        "rollback",
        "--to",
        "v1.2.1",
        "--image-tag",
        "prod-{sha}",
        "--wait",
        "2m",
        "--yes",
    ])
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let started = Instant::now();
    let version_reads = || fx.prod.recorder().matching("GET", "/api/version").len();
    // One read before the plan, then the verify attempts.
    while version_reads() < 2 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(version_reads() >= 2, "verify never started");
    std::thread::sleep(Duration::from_millis(200));
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    crate::support::check_next(&out);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(143), "{stdout}\n{stderr}");
    assert!(stderr.contains("already done: freeze releases"), "{stderr}");
    assert!(stderr.contains("deploy v1.2.1"), "{stderr}");
    let sha = &fx.shas["v1.2.1"];
    assert_eq!(
        crate::support::next_lines(&out),
        [format!("almarel verify --expect-sha {sha} --wait 5m")],
        "{stderr}"
    );
    let rb: Vec<String> = fx
        .repos
        .sb
        .audit_lines()
        .iter()
        .filter(|l| l["command"] == "rollback")
        .map(|l| l["result"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(rb, ["started", "interrupted: SIGTERM"]);
}
