//! `almarel freeze` / `unfreeze`: disable first, then reject waiting
//! deployments, idempotent, partial failures reported, audit lines.

use crate::support::Run;
use almarel_sandbox::github::{Fault, Phase, RunPlan};

use crate::support::github::{GhEnv, assert_no_token};
use crate::support::{Sandbox, json_stdout, texts};

const DEPLOY: &str = "Deploy to Production";

fn index_of(gh: &GhEnv, method: &str, suffix: &str) -> Option<usize> {
    gh.sim
        .recorder()
        .all()
        .iter()
        .position(|r| r.method == method && r.path.ends_with(suffix) && r.status < 300)
}

fn results(audit: &[serde_json::Value]) -> Vec<String> {
    audit
        .iter()
        .map(|l| l["result"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn writes(gh: &GhEnv) -> Vec<almarel_sandbox::Recorded> {
    gh.sim
        .recorder()
        .all()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect()
}

#[test]
fn freeze_disables_first_then_rejects_and_is_idempotent() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("x");
    let run = gh.sim.add_run(DEPLOY, &sha, RunPlan::awaiting_approval());
    let out = gh
        .almarel(&sb)
        .args(["freeze", "--reason", "checkout errors", "--yes", "-vv"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert_eq!(
        gh.sim.workflow_state(DEPLOY).as_deref(),
        Some("disabled_manually")
    );
    let reviews = gh.sim.approvals(run);
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0].state, "rejected");
    assert_eq!(reviews[0].comment, "checkout errors");
    let disable = index_of(&gh, "PUT", "/disable").expect("disable sent");
    let reject = index_of(&gh, "POST", "/pending_deployments").expect("reject sent");
    assert!(
        disable < reject,
        "the workflow must be disabled before rejecting"
    );
    assert!(
        o.contains("disabled Deploy to Production") && o.contains(&format!("run {run}")),
        "{o}"
    );
    assert!(e.contains("almarel unfreeze"), "{e}");
    // Written ahead: `started` before the first write, then the outcome.
    let audit = sb.audit_lines();
    assert_eq!(results(&audit), ["started", "ok"]);
    assert!(audit.iter().all(|l| l["command"] == "freeze"));
    assert_eq!(audit[1]["actor"]["github"], "octocat");
    assert_eq!(audit[1]["details"]["reason"], "checkout errors");
    assert_no_token(&out);

    // Again: nothing left to do, nothing sent.
    let before = writes(&gh).len();
    let out = gh
        .almarel(&sb)
        .args(["freeze", "--reason", "checkout errors", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let v = json_stdout(&out);
    assert_eq!(v["was_frozen"], true);
    assert_eq!(v["state"], "frozen");
    assert_eq!(writes(&gh).len(), before);
    // The re-run that found it done logs that, in one line.
    let audit = sb.audit_lines();
    assert_eq!(
        results(&audit),
        ["started", "ok", "already done: releases are already frozen"]
    );
}

#[test]
fn freeze_lists_running_runs_and_cancels_them_on_request() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("x");
    let run = gh
        .sim
        .add_run(DEPLOY, &sha, RunPlan::fixed(Phase::InProgress));
    let out = gh
        .almarel(&sb)
        .args(["freeze", "--reason", "r", "--yes"])
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    assert!(
        e.contains("still in progress") && e.contains(&run.to_string()),
        "{e}"
    );
    assert!(index_of(&gh, "POST", "/cancel").is_none());
    let out = gh
        .almarel(&sb)
        .args(["freeze", "--reason", "r", "--yes", "--cancel-running"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    assert!(index_of(&gh, "POST", &format!("/runs/{run}/cancel")).is_some());
    assert_eq!(
        gh.sim.run_state(run).unwrap().1.as_deref(),
        Some("cancelled")
    );
}

#[test]
fn freeze_reports_what_was_done_when_a_later_step_fails() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("x");
    gh.sim.add_run(DEPLOY, &sha, RunPlan::awaiting_approval());
    gh.sim
        .fault(Fault::new("POST", "/pending_deployments", 1, 403));
    let out = gh
        .almarel(&sb)
        .args(["freeze", "--reason", "r", "--yes", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", texts(&out).1);
    let v = json_stdout(&out);
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("already done: disabled Deploy to Production"),
        "{msg}"
    );
    assert_eq!(
        gh.sim.workflow_state(DEPLOY).as_deref(),
        Some("disabled_manually")
    );
    let audit = sb.audit_lines();
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0]["result"], "started");
    assert!(audit[1]["result"].as_str().unwrap().starts_with("failed"));
    // The partial report: what was done, nothing rejected.
    assert_eq!(v["done"][0], "disabled Deploy to Production");
    assert_eq!(v["rejected"], serde_json::json!([]));
}

#[test]
fn freeze_needs_confirmation_and_dry_run_changes_nothing() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let out = gh
        .almarel(&sb)
        .args(["freeze", "--reason", "r"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let out = gh
        .almarel(&sb)
        .args([
            "freeze",
            "--reason",
            "bad deploy",
            "--cancel-running",
            "--dry-run",
        ])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0));
    // The exact command that was dry-run, without --dry-run, reason quoted.
    assert!(
        e.contains("next: almarel freeze --reason 'bad deploy' --cancel-running\n"),
        "{e}"
    );
    assert!(
        o.contains("dry run: would disable workflow Deploy to Production"),
        "{o}"
    );
    assert!(writes(&gh).is_empty());
    assert_eq!(gh.sim.workflow_state(DEPLOY).as_deref(), Some("active"));
    assert!(sb.audit_lines().is_empty());
}

#[test]
fn unfreeze_enables_and_is_idempotent() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    gh.sim.set_workflow_state(DEPLOY, "disabled_manually");
    let out = gh.almarel(&sb).args(["unfreeze", "--yes"]).run().unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    assert_eq!(gh.sim.workflow_state(DEPLOY).as_deref(), Some("active"));
    assert!(o.contains("enabled Deploy to Production"), "{o}");
    assert!(
        e.contains("pushed while releases were frozen got no deploy run"),
        "{e}"
    );
    let audit = sb.audit_lines();
    assert_eq!(results(&audit), ["started", "ok"]);
    assert_eq!(audit[0]["command"], "unfreeze");
    let before = writes(&gh).len();
    let out = gh.almarel(&sb).args(["unfreeze"]).run().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(writes(&gh).len(), before);
    assert_eq!(
        results(&sb.audit_lines()),
        ["started", "ok", "already done: releases are not frozen"]
    );
    assert_no_token(&out);
}

/// `--json` with what changes from run to run replaced: the simulator's
/// URL and the record's timestamps.
fn stable_json(gh: &GhEnv, out: &std::process::Output) -> serde_json::Value {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if k == "at" && x.is_string() {
                        *x = serde_json::Value::String("[time]".into());
                    } else {
                        walk(x);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(walk),
            serde_json::Value::String(s) => {
                // "recorded the freeze …: frozen by @octocat at 2026-…Z: reason"
                if let Some(i) = s.find(" at 20") {
                    if let Some(j) = s[i + 4..].find('Z') {
                        s.replace_range(i + 4..i + 4 + j + 1, "[time]");
                    }
                }
            }
            _ => {}
        }
    }
    let text = String::from_utf8_lossy(&out.stdout).replace(&gh.sim.url(), "[github]");
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    walk(&mut v);
    v
}

#[test]
fn json_shapes_are_stable() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("x");
    gh.sim.add_run(DEPLOY, &sha, RunPlan::awaiting_approval());
    let run = |args: &[&str]| {
        let out = gh.almarel(&sb).args(args).run().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
        stable_json(&gh, &out)
    };
    insta::assert_json_snapshot!(
        "freeze_dry_run",
        run(&[
            "freeze",
            "--reason",
            "checkout errors",
            "--dry-run",
            "--json"
        ])
    );
    insta::assert_json_snapshot!(
        "freeze_done",
        run(&["freeze", "--reason", "checkout errors", "--yes", "--json"])
    );
    insta::assert_json_snapshot!(
        "unfreeze_dry_run",
        run(&["unfreeze", "--dry-run", "--json"])
    );
    insta::assert_json_snapshot!("unfreeze_done", run(&["unfreeze", "--yes", "--json"]));
}
