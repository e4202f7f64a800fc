//! `almarel freeze` / `unfreeze`: disable first, then reject waiting
//! deployments, idempotent, partial failures reported, audit lines.

use crate::support::Run;

#[path = "roll_forward.rs"]
mod roll_forward;
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
    // The dispatched run moves on by itself (queued → waiting).
    if v["dispatched"].is_object() {
        v["dispatched"]["status"] = serde_json::Value::String("[status]".into());
    }
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
    // A roll forward: frozen again, the fix tagged without a deploy run.
    run(&["freeze", "--reason", "checkout errors", "--yes", "--json"]);
    let fix = gh.sim.add_commit("fix");
    gh.sim.add_tag("v1.2.4", &fix, true);
    insta::assert_json_snapshot!(
        "unfreeze_only_dry_run",
        run(&["unfreeze", "--only", "v1.2.4", "--dry-run", "--json"])
    );
    insta::assert_json_snapshot!(
        "unfreeze_only_done",
        run(&["unfreeze", "--only", "v1.2.4", "--yes", "--json"])
    );
}

/// Spawns `almarel --config almarel.toml ARGS`, waits until `ready`, sends
/// `signal` and returns the output.
fn signal_when(
    sb: &Sandbox,
    gh: &GhEnv,
    args: &[&str],
    signal: &str,
    ready: impl Fn() -> bool,
) -> std::process::Output {
    use std::time::{Duration, Instant};
    let child = sb
        .almarel_std(&gh.dir)
        .env("GH_TOKEN", crate::support::github::TOKEN)
        .args(["--config", "almarel.toml"])
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !ready() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(ready(), "the slow write never arrived");
    std::thread::sleep(Duration::from_millis(200));
    let killed = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    crate::support::check_next(&out);
    out
}

/// SIGTERM while a rejection is in flight: exit 143; done (the disable,
/// the record), in flight (that rejection, with the command that checks it)
/// and not started (the next rejection) are listed, the audit line says
/// interrupted; the exact re-run then finishes the freeze with the same
/// `next:` an uninterrupted run prints, and a third run finds nothing to do.
#[test]
fn sigterm_during_a_slow_rejection_lists_done_in_flight_and_not_started_and_a_rerun_converges() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let a = gh.sim.add_commit("a");
    let b = gh.sim.add_commit("b");
    let run_a = gh.sim.add_run(DEPLOY, &a, RunPlan::awaiting_approval());
    let run_b = gh.sim.add_run(DEPLOY, &b, RunPlan::awaiting_approval());
    gh.sim.slow(
        "POST",
        "/pending_deployments",
        std::time::Duration::from_secs(30),
    );
    let out = signal_when(
        &sb,
        &gh,
        &["freeze", "--reason", "bad deploy", "--yes", "--json"],
        "TERM",
        || gh.sim.slow_arrivals() >= 1,
    );
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(143), "{o}\n{e}");
    let v = json_stdout(&out);
    assert_eq!(v["error"]["code"], "interrupted");
    assert_eq!(v["signal"], "SIGTERM");
    assert_eq!(
        v["done"],
        serde_json::json!([
            "disable workflow Deploy to Production",
            "write the freeze record ALMAREL_FREEZE"
        ])
    );
    // Runs are listed newest first: run_b is rejected first.
    let first = format!(
        "reject the production deployment of run {run_b} ({})",
        &b[..7]
    );
    let second = format!(
        "reject the production deployment of run {run_a} ({})",
        &a[..7]
    );
    assert_eq!(v["in_flight"][0]["write"], first.as_str());
    assert_eq!(
        v["in_flight"][0]["check"],
        "almarel freeze --reason 'bad deploy' --dry-run"
    );
    assert_eq!(v["not_started"], serde_json::json!([second]));
    assert!(!e.contains("nothing was changed"), "{e}");
    assert!(
        e.contains("hint: re-run `almarel freeze --reason 'bad deploy'`"),
        "{e}"
    );
    assert_eq!(
        results(&sb.audit_lines()),
        ["started", "interrupted: SIGTERM"]
    );
    assert_eq!(
        gh.sim.workflow_state(DEPLOY).as_deref(),
        Some("disabled_manually")
    );
    assert!(gh.sim.variable("ALMAREL_FREEZE").is_some());

    // The exact re-run finishes the job.
    gh.sim.clear_slow();
    let out = gh
        .almarel(&sb)
        .args(["freeze", "--reason", "bad deploy", "--yes"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(e.ends_with("next: almarel unfreeze\n"), "{e}");
    assert!(!gh.sim.is_pending(run_a) && !gh.sim.is_pending(run_b));
    assert!(o.contains(&format!("run {run_a}")), "{o}");
    // Nothing is done twice: one disable, one record write.
    let puts = writes(&gh)
        .iter()
        .filter(|r| r.path.ends_with("/disable"))
        .count();
    assert_eq!(puts, 1);
    // And a third run: nothing left, nothing sent, the same next step.
    let before = writes(&gh).len();
    let out = gh
        .almarel(&sb)
        .args(["freeze", "--reason", "bad deploy", "--yes"])
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    assert!(e.ends_with("next: almarel unfreeze\n"), "{e}");
    assert_eq!(writes(&gh).len(), before);
}

/// The freeze record: who, when and why in the repository variable
/// `ALMAREL_FREEZE`, shown by a re-run and deleted by unfreeze.
#[test]
fn freeze_records_who_when_and_why_on_github_and_unfreeze_deletes_it() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let out = gh
        .almarel(&sb)
        .args(["freeze", "--reason", "checkout errors", "--yes"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    let value = gh.sim.variable("ALMAREL_FREEZE").expect("record written");
    let record: serde_json::Value = serde_json::from_str(&value).unwrap();
    assert_eq!(record["by"], "octocat");
    assert_eq!(record["reason"], "checkout errors");
    assert!(record["at"].as_str().unwrap().ends_with('Z'), "{record}");
    let post = gh
        .sim
        .recorder()
        .all()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/actions/variables"))
        .expect("POST variables");
    assert_eq!(post.status, 201);
    let body: serde_json::Value = serde_json::from_str(&post.body).unwrap();
    assert_eq!(body["name"], "ALMAREL_FREEZE");
    assert!(o.contains("recorded the freeze in ALMAREL_FREEZE: frozen by @octocat at "));

    // A teammate's view: a re-run (any clone) shows who, when and why.
    let out = gh
        .almarel(&sb)
        .args(["freeze", "--reason", "other", "--yes"])
        .run()
        .unwrap();
    let (o, _) = texts(&out);
    assert!(
        o.contains("releases are already frozen by @octocat at ")
            && o.contains(": checkout errors"),
        "{o}"
    );
    // The first freezer's reason stays.
    assert_eq!(
        gh.sim.variable("ALMAREL_FREEZE").as_deref(),
        Some(value.as_str())
    );

    let out = gh.almarel(&sb).args(["unfreeze", "--yes"]).run().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    assert_eq!(gh.sim.variable("ALMAREL_FREEZE"), None);
    assert_eq!(gh.sim.workflow_state(DEPLOY).as_deref(), Some("active"));
}

/// A record set by hand (`gh variable set ALMAREL_FREEZE --body ...`) is a
/// freeze too, even with the workflow active; unfreeze lifts it.
#[test]
fn a_record_set_by_hand_freezes_and_is_shown() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    gh.sim.set_variable("ALMAREL_FREEZE", "incident 42");
    let out = gh
        .almarel(&sb)
        .args(["unfreeze", "--dry-run", "--json"])
        .run()
        .unwrap();
    let v = json_stdout(&out);
    assert_eq!(v["state"], "frozen");
    assert_eq!(v["record"]["reason"], "incident 42");
    assert_eq!(v["plan"][0]["action"], "delete freeze record");
    let out = gh.almarel(&sb).args(["unfreeze", "--yes"]).run().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    assert_eq!(gh.sim.variable("ALMAREL_FREEZE"), None);
}

/// A token that may not use repository variables (403): the freeze still
/// disables and rejects, says the record was not written and what the token
/// needs; unfreeze likewise.
#[test]
fn without_variable_permission_the_freeze_degrades_to_the_workflow_state_and_says_so() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("x");
    let run = gh.sim.add_run(DEPLOY, &sha, RunPlan::awaiting_approval());
    gh.sim
        .fault(Fault::new("*", "/actions/variables", 100, 403));
    let out = gh
        .almarel(&sb)
        .args(["freeze", "--reason", "r", "--yes", "--json"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert_eq!(
        gh.sim.workflow_state(DEPLOY).as_deref(),
        Some("disabled_manually")
    );
    assert_eq!(gh.sim.approvals(run)[0].state, "rejected");
    let v = json_stdout(&out);
    assert_eq!(v["record"], serde_json::Value::Null);
    let note = v["record_note"].as_str().unwrap();
    assert!(
        note.contains("freeze record not written") && note.contains("Variables: Read and write"),
        "{note}"
    );
    assert!(
        e.contains("warning:") && e.contains("freeze record not written"),
        "{e}"
    );
    assert_no_token(&out);
    // Unfreeze: the workflow is enabled; the record could not be read.
    let out = gh
        .almarel(&sb)
        .args(["unfreeze", "--yes", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    assert_eq!(gh.sim.workflow_state(DEPLOY).as_deref(), Some("active"));
    let v = json_stdout(&out);
    assert!(
        v["record_note"]
            .as_str()
            .unwrap()
            .contains("could not be read")
    );
}

/// Readable but not writable (403 on the POST): frozen by the workflow
/// state, the write settled as failed, the note names the permission.
#[test]
fn a_record_write_refused_with_403_still_freezes_and_says_so() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    gh.sim
        .fault(Fault::new("POST", "/actions/variables", 1, 403));
    let out = gh
        .almarel(&sb)
        .args(["freeze", "--reason", "r", "--yes", "--json"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert_eq!(
        gh.sim.workflow_state(DEPLOY).as_deref(),
        Some("disabled_manually")
    );
    let v = json_stdout(&out);
    assert!(
        v["record_note"]
            .as_str()
            .unwrap()
            .contains("teammates see the workflow state only"),
        "{v}"
    );
    assert_eq!(
        v["done"],
        serde_json::json!(["disabled Deploy to Production"])
    );
    assert_eq!(gh.sim.variable("ALMAREL_FREEZE"), None);
    assert_eq!(results(&sb.audit_lines()), ["started", "ok"]);
}
