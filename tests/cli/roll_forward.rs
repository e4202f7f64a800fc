//! Roll forward under a freeze (`unfreeze --only TAG`, docs/commands/freeze.md):
//! the fix gets its deploy run and goes out while every other commit's run is
//! rejected; the closing step lifts or restores the freeze.

use almarel_sandbox::github::RunPlan;

use crate::support::github::{GhEnv, assert_no_token};
use crate::support::{Run, Sandbox, json_stdout, texts};

const DEPLOY: &str = "Deploy to Production";

fn ok(gh: &GhEnv, sb: &Sandbox, args: &[&str]) -> std::process::Output {
    let out = gh.almarel(sb).args(args).run().unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{args:?}\n{o}\n{e}");
    assert_no_token(&out);
    out
}

fn record(gh: &GhEnv) -> Option<serde_json::Value> {
    gh.sim
        .variable("ALMAREL_FREEZE")
        .map(|v| serde_json::from_str(&v).unwrap())
}

#[test]
fn frozen_then_the_fix_is_rolled_forward_while_another_commit_stays_out_then_unfreeze() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    // Frozen after a bad release.
    ok(
        &gh,
        &sb,
        &["freeze", "--reason", "checkout errors", "--yes"],
    );

    // The fix lands on main and is tagged while frozen: CI runs, no deploy run.
    let fix = gh.sim.add_commit("Fix checkout totals");
    gh.sim.add_tag("v1.2.4", &fix, true);
    gh.sim.add_run("CI", &fix, RunPlan::success());
    assert!(gh.sim.runs_of(DEPLOY).iter().all(|(_, sha, _)| *sha != fix));

    // Roll it forward.
    let out = ok(
        &gh,
        &sb,
        &["unfreeze", "--only", "v1.2.4", "--yes", "--json"],
    );
    let (_, e) = texts(&out);
    let v = json_stdout(&out);
    assert_eq!(v["state"], "roll_forward");
    assert_eq!(v["only"]["tag"], "v1.2.4");
    assert_eq!(v["only"]["sha"], fix.as_str());
    assert_eq!(v["next"], "almarel status v1.2.4 --watch");
    assert_eq!(gh.sim.workflow_state(DEPLOY).as_deref(), Some("active"));
    let r = record(&gh).expect("record");
    assert_eq!(r["reason"], "checkout errors", "the freeze's reason stays");
    assert_eq!(r["only"]["tag"], "v1.2.4");
    // The exception is recorded before the workflow opens.
    let all = gh.sim.recorder().all();
    let patch = all
        .iter()
        .position(|r| r.method == "PATCH" && r.path.ends_with("/ALMAREL_FREEZE"))
        .expect("record patched");
    let enable = all
        .iter()
        .position(|r| r.method == "PUT" && r.path.ends_with("/enable"))
        .expect("enabled");
    let dispatch = all
        .iter()
        .position(|r| r.method == "POST" && r.path.ends_with("/dispatches"))
        .expect("dispatched");
    assert!(patch < enable && enable < dispatch);
    let body: serde_json::Value = serde_json::from_str(&all[dispatch].body).unwrap();
    assert_eq!(body["ref"], "v1.2.4");
    let (fix_run, _, event) = gh
        .sim
        .runs_of(DEPLOY)
        .into_iter()
        .find(|(_, sha, _)| *sha == fix)
        .expect("a deploy run for the fix");
    assert_eq!(event, "workflow_dispatch");
    assert_eq!(v["dispatched"]["id"], fix_run);
    assert!(!e.contains("error"), "{e}");

    // Meanwhile a teammate's commit lands; with the workflow enabled it gets a
    // deploy run waiting for approval.
    let other = gh.sim.add_commit("Unreviewed refactor");
    let other_run = gh.sim.add_run(DEPLOY, &other, RunPlan::awaiting_approval());

    // The fix's run waits for the approval, then is approved and deploys.
    let start = std::time::Instant::now();
    while !gh.sim.is_pending(fix_run) && start.elapsed().as_secs() < 10 {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    ok(&gh, &sb, &["approve", "v1.2.4", "--yes"]);
    assert_eq!(gh.sim.approvals(fix_run)[0].state, "approved");

    // Re-running the roll forward sweeps the other run; the fix is untouched.
    let out = ok(&gh, &sb, &["unfreeze", "--only", "v1.2.4", "--yes"]);
    let (o, e) = texts(&out);
    assert!(
        o.contains(&format!(
            "rejected the production deployment of run {other_run}"
        )),
        "{o}"
    );
    // The output says which state releases are in, and how to close.
    assert!(o.contains("releases stay FROZEN except v1.2.4"), "{o}");
    assert!(o.contains("`almarel unfreeze` lifts the freeze"), "{o}");
    assert!(e.ends_with("next: almarel status v1.2.4 --watch\n"), "{e}");
    let reviews = gh.sim.approvals(other_run);
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0].state, "rejected");
    assert!(
        reviews[0].comment.contains("only v1.2.4"),
        "{}",
        reviews[0].comment
    );
    assert_eq!(gh.sim.approvals(fix_run).len(), 1);
    // Nothing else sent: no second record write, enable or dispatch.
    let dispatches = gh
        .sim
        .recorder()
        .all()
        .iter()
        .filter(|r| r.path.ends_with("/dispatches"))
        .count();
    assert_eq!(dispatches, 1);
    // The fix's run went on to success (deployed by the workflow).
    let start = std::time::Instant::now();
    while gh.sim.run_state(fix_run).unwrap().1.is_none() && start.elapsed().as_secs() < 10 {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        gh.sim.run_state(fix_run).unwrap().1.as_deref(),
        Some("success")
    );

    // One more stray run, then the freeze is lifted: it is swept first.
    let late = gh.sim.add_commit("Another change");
    let late_run = gh.sim.add_run(DEPLOY, &late, RunPlan::awaiting_approval());
    let out = ok(&gh, &sb, &["unfreeze", "--yes", "--json"]);
    let v = json_stdout(&out);
    assert_eq!(v["state"], "not_frozen");
    assert_eq!(v["rejected"][0]["id"], late_run);
    assert_eq!(gh.sim.approvals(late_run)[0].state, "rejected");
    assert_eq!(record(&gh), None);
    assert_eq!(gh.sim.workflow_state(DEPLOY).as_deref(), Some("active"));
    // Audit: freeze, two unfreeze --only runs (the second a sweep), unfreeze.
    let audit = sb.audit_lines();
    let commands: Vec<String> = audit
        .iter()
        .map(|l| {
            format!(
                "{} {}",
                l["command"].as_str().unwrap(),
                l["result"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        commands.contains(&"unfreeze started".to_owned()),
        "{commands:?}"
    );
    assert!(
        audit
            .iter()
            .any(|l| l["details"]["only"] == "v1.2.4" && l["result"] == "ok")
    );
}

/// Closing by restoring the freeze: the workflow is disabled again, the
/// record loses the exception, waiting runs are rejected.
#[test]
fn freeze_closes_a_roll_forward_and_says_frozen() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    ok(
        &gh,
        &sb,
        &["freeze", "--reason", "checkout errors", "--yes"],
    );
    let fix = gh.sim.add_commit("fix");
    gh.sim.add_tag("v1.2.4", &fix, true);
    ok(&gh, &sb, &["unfreeze", "--only", "v1.2.4", "--yes"]);
    let other = gh.sim.add_commit("other");
    let other_run = gh.sim.add_run(DEPLOY, &other, RunPlan::awaiting_approval());
    // Unfreeze dry run shows the roll forward state.
    let out = ok(&gh, &sb, &["unfreeze", "--dry-run", "--json"]);
    assert_eq!(json_stdout(&out)["state"], "roll_forward");
    let out = ok(
        &gh,
        &sb,
        &[
            "freeze",
            "--reason",
            "v1.2.4 is live; still investigating",
            "--yes",
            "--json",
        ],
    );
    let v = json_stdout(&out);
    assert_eq!(v["state"], "frozen");
    assert_eq!(
        gh.sim.workflow_state(DEPLOY).as_deref(),
        Some("disabled_manually")
    );
    let r = record(&gh).unwrap();
    assert!(r.get("only").is_none(), "{r}");
    assert_eq!(gh.sim.approvals(other_run)[0].state, "rejected");
}

/// Refusals before anything is sent: a tag that is not on GitHub, a
/// pre-release, a bad tag (exit 2), and a record the token cannot read.
#[test]
fn roll_forward_refusals_send_nothing() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    ok(&gh, &sb, &["freeze", "--reason", "r", "--yes"]);
    let writes = |gh: &GhEnv| {
        gh.sim
            .recorder()
            .all()
            .iter()
            .filter(|r| r.method != "GET")
            .count()
    };
    let before = writes(&gh);
    let out = gh
        .almarel(&sb)
        .args(["unfreeze", "--only", "v9.9.9", "--yes", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(json_stdout(&out)["error"]["code"], "tag_not_found");
    let sha = gh.sim.add_commit("rc");
    gh.sim.add_tag("v1.3.0-rc.1", &sha, true);
    let out = gh
        .almarel(&sb)
        .args(["unfreeze", "--only", "v1.3.0-rc.1", "--yes"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", texts(&out).1);
    let out = gh
        .almarel(&sb)
        .args(["unfreeze", "--only", "not a tag", "--yes"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    gh.sim.add_tag("v1.2.4", &sha, true);
    gh.sim.fault(almarel_sandbox::github::Fault::new(
        "GET",
        "/actions/variables",
        10,
        403,
    ));
    let out = gh
        .almarel(&sb)
        .args(["unfreeze", "--only", "v1.2.4", "--yes", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", texts(&out).1);
    assert_eq!(
        json_stdout(&out)["error"]["code"],
        "freeze_record_unavailable"
    );
    assert_eq!(writes(&gh), before);
    assert_eq!(
        gh.sim.workflow_state(DEPLOY).as_deref(),
        Some("disabled_manually")
    );
    // The workflow active (as during another tag's roll forward) and the
    // record unreadable: still refused, never "needs no exception".
    gh.sim.set_workflow_state(DEPLOY, "active");
    gh.sim.fault(almarel_sandbox::github::Fault::new(
        "GET",
        "/actions/variables",
        10,
        403,
    ));
    let before = writes(&gh);
    let out = gh
        .almarel(&sb)
        .args(["unfreeze", "--only", "v1.2.4", "--yes", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", texts(&out).1);
    assert_eq!(
        json_stdout(&out)["error"]["code"],
        "freeze_record_unavailable"
    );
    assert_eq!(writes(&gh), before);
}

/// The deploy workflow at the fix's commit has no `workflow_dispatch`
/// (read from the local clone): nothing is dispatched, the output says how
/// to start the run; the exception is still recorded and swept.
#[test]
fn without_workflow_dispatch_the_roll_forward_says_how_to_start_the_run() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .current_dir(&gh.dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .args(["-c", "user.name=T", "-c", "user.email=t@example.invalid"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    git(&["init", "-q", "-b", "main"]);
    std::fs::create_dir_all(gh.dir.join(".github/workflows")).unwrap();
    std::fs::write(
        gh.dir.join(".github/workflows/deploy.yml"),
        "name: Deploy to Production\non:\n  workflow_run:\n    workflows: [CI]\n    types: [completed]\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    environment: production\n    steps:\n      - run: echo\n",
    )
    .unwrap();
    git(&["add", ".github"]);
    git(&["commit", "-q", "-m", "fix"]);
    let fix = git(&["rev-parse", "HEAD"]);
    gh.sim.register_commit(&fix, "fix");
    gh.sim.add_tag("v1.2.4", &fix, true);
    ok(&gh, &sb, &["freeze", "--reason", "r", "--yes"]);
    let out = ok(
        &gh,
        &sb,
        &["unfreeze", "--only", "v1.2.4", "--yes", "--json"],
    );
    let (_, e) = texts(&out);
    assert!(
        e.contains("has no workflow_dispatch trigger")
            && e.contains(".github/workflows/deploy.yml"),
        "{e}"
    );
    assert!(
        gh.sim
            .recorder()
            .all()
            .iter()
            .all(|r| !r.path.ends_with("/dispatches"))
    );
    let v = json_stdout(&out);
    assert_eq!(v["state"], "roll_forward");
    assert!(v.get("dispatched").is_none());
}

/// `almarel rehearse roll-forward`: on the embedded sandbox, the fix v1.2.3
/// is deployed and verified under the freeze while the commit pushed
/// meanwhile is rejected; the end state is checked, not only the verdict.
#[test]
fn rehearse_roll_forward_passes_and_leaves_the_designed_end_state() {
    use almarel::cli::{ColorChoice, Scenario};
    use almarel::commands::rehearse::{RehearseOptions, run_scenario};
    let rt = crate::support::coolify::runtime();
    let (ui, store) = almarel::ui::Ui::captured(&almarel::settings::Global {
        json: false,
        yes: false,
        dry_run: false,
        quiet: false,
        verbose: 0,
        color: ColorChoice::Never,
    });
    let r = rt
        .block_on(run_scenario(
            Scenario::RollForward,
            RehearseOptions::captured(ui),
        ))
        .expect("the sandbox starts");
    let narration = {
        let c = store.lock().unwrap();
        format!("{}{}", c.stdout, c.stderr)
    };
    assert!(r.passed(), "{:?}\n{narration}", r.deviation);
    assert!(!r.sandbox_dir.exists());
    assert_eq!(
        r.steps.iter().map(|s| s.exit).collect::<Vec<_>>(),
        [0, 0, 0, 0, 0, 0, 0, 0].map(Some).to_vec()
    );
    let fix = r
        .tags
        .iter()
        .find(|(t, _)| t == "v1.2.3")
        .map(|(_, s)| s.clone())
        .expect("v1.2.3 on origin");
    assert_eq!(r.production_sha, fix);
    assert_eq!(r.deploy_workflow_state.as_deref(), Some("active"));
    let states: Vec<&str> = r.reviews.iter().map(|rv| rv.state.as_str()).collect();
    assert_eq!(states, ["approved", "rejected"]);
    // The tag push while frozen started no deploy run; the dispatch did.
    assert!(
        narration.contains("no Deploy to Production run: the workflow is disabled"),
        "{narration}"
    );
    let dispatches = r
        .github_requests
        .iter()
        .filter(|q| q.method == "POST" && q.path.ends_with("/dispatches"))
        .count();
    assert_eq!(dispatches, 1);
    assert!(
        r.steps[2]
            .output
            .contains("releases stay FROZEN except v1.2.3"),
        "{}",
        r.steps[2].output
    );
    // The record was written, then deleted by the final unfreeze.
    let deletes = r
        .github_requests
        .iter()
        .filter(|q| q.method == "DELETE" && q.path.ends_with("/ALMAREL_FREEZE"))
        .count();
    assert_eq!(deletes, 1);
}

/// Not frozen: `--only` sends nothing and creates no freeze record.
#[test]
fn roll_forward_when_not_frozen_changes_nothing() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let fix = gh.sim.add_commit("fix");
    gh.sim.add_tag("v1.2.4", &fix, true);
    let out = ok(&gh, &sb, &["unfreeze", "--only", "v1.2.4", "--yes"]);
    let (o, e) = texts(&out);
    assert!(o.contains("v1.2.4 needs no exception"), "{o}");
    assert!(e.ends_with("next: almarel status v1.2.4 --watch\n"), "{e}");
    assert!(gh.sim.recorder().all().iter().all(|r| r.method == "GET"));
    assert_eq!(record(&gh), None);
}
