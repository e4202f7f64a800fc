//! Following a release to live (`status REF --watch`, `approve --watch`,
//! SPEC §8.1), the trigger diagnosis in the watch (§8.2), and the freeze
//! record shown by status and enforced by approve during a roll forward.

use std::time::Duration;

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

#[test]
fn status_shows_who_froze_when_and_why_and_approve_lets_only_the_roll_forward_through() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    ok(
        &gh,
        &sb,
        &["freeze", "--reason", "checkout errors", "--yes"],
    );
    let fix = gh.sim.add_commit("Fix checkout totals");
    gh.sim.add_tag("v1.2.4", &fix, true);
    gh.sim.add_run("CI", &fix, RunPlan::success());

    // Every teammate's status shows the record.
    let out = ok(&gh, &sb, &["status", "v1.2.4"]);
    let (o, _) = texts(&out);
    assert!(o.contains("FROZEN: frozen by @"), "{o}");
    assert!(o.contains(": checkout errors"), "{o}");
    let out = ok(&gh, &sb, &["status", "v1.2.4", "--json"]);
    let v = json_stdout(&out);
    assert_eq!(v["frozen"], true);
    assert_eq!(v["frozen_state"]["standing"], "frozen");
    assert_eq!(v["frozen_state"]["allows_ref"], false);
    assert!(
        v["frozen_state"]["description"]
            .as_str()
            .unwrap()
            .ends_with(": checkout errors"),
        "{v}"
    );

    // Roll the fix forward; a teammate's commit gets a waiting run meanwhile.
    ok(&gh, &sb, &["unfreeze", "--only", "v1.2.4", "--yes"]);
    let fix_run = gh
        .sim
        .runs_of(DEPLOY)
        .into_iter()
        .find(|(_, sha, _)| *sha == fix)
        .expect("a deploy run for the fix")
        .0;
    let other = gh.sim.add_commit("Unreviewed refactor");
    gh.sim.add_tag("v1.2.5", &other, true);
    gh.sim.add_run("CI", &other, RunPlan::success());
    let other_run = gh.sim.add_run(DEPLOY, &other, RunPlan::awaiting_approval());

    let out = ok(&gh, &sb, &["status", "v1.2.4", "--json"]);
    let v = json_stdout(&out);
    assert_eq!(v["frozen_state"]["standing"], "roll_forward");
    assert_eq!(v["frozen_state"]["allows_ref"], true);

    // Approving the other commit is refused with the record's words; nothing sent.
    let out = gh
        .almarel(&sb)
        .args([
            "approve",
            "--run",
            &other_run.to_string(),
            "--yes",
            "--json",
        ])
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{e}");
    let v = json_stdout(&out);
    assert_eq!(v["error"]["code"], "frozen", "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("checkout errors"), "{msg}");
    assert!(msg.contains("roll forward of v1.2.4"), "{msg}");
    assert!(gh.sim.approvals(other_run).is_empty());

    // The fix passes.
    let start = std::time::Instant::now();
    while !gh.sim.is_pending(fix_run) && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = ok(&gh, &sb, &["approve", "v1.2.4", "--yes"]);
    let (o, _) = texts(&out);
    assert!(o.contains("roll forward"), "{o}");
    assert_eq!(gh.sim.approvals(fix_run)[0].state, "approved");
}
