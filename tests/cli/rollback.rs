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

    // Audit: freeze, one deploy line per app, the rollback; all ok; no token.
    // (The freeze writes ahead: its `started` line is left out here.)
    let audit: Vec<serde_json::Value> = fx
        .repos
        .sb
        .audit_lines()
        .into_iter()
        .filter(|l| l["result"] != "started")
        .collect();
    let commands: Vec<&str> = audit
        .iter()
        .map(|l| l["command"].as_str().unwrap())
        .collect();
    assert_eq!(
        commands,
        vec!["freeze", "deploy", "deploy", "rollback"],
        "{audit:?}"
    );
    assert!(audit.iter().all(|l| l["result"] == "ok"));
    let rb = &audit[3];
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
