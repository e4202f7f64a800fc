//! Ctrl-C (SIGINT) during a watch: exit 130, what was already done, how to
//! resume. (`deploy` has its own interrupt test in deploy.rs.)

use std::process::Stdio;
use std::time::{Duration, Instant};

use almarel_sandbox::github::{Phase, RunPlan};

use crate::support::github::{GhEnv, TOKEN, assert_no_token};
use crate::support::{Sandbox, assert_no_panic, texts};

/// Spawns `almarel --config almarel.toml ARGS` against `gh`, waits until
/// `ready` says the watch is running, sends SIGINT and returns the output.
fn interrupt(
    sb: &Sandbox,
    gh: &GhEnv,
    args: &[&str],
    ready: impl Fn() -> bool,
) -> std::process::Output {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("almarel"))
        .current_dir(&gh.dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", sb.home())
        .env("ALMAREL_STATE_DIR", sb.state_dir())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "0")
        .env("GH_TOKEN", TOKEN)
        .args(["--config", "almarel.toml"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !ready() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the watch ended before the signal"
    );
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(25));
    out
}

#[test]
fn ctrl_c_during_status_watch_exits_130_and_says_how_to_resume() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("Add login page");
    gh.sim.add_tag("v1.2.3", &sha, true);
    gh.sim
        .add_run("CI", &sha, RunPlan::fixed(Phase::InProgress));
    let out = interrupt(
        &sb,
        &gh,
        &["status", "v1.2.3", "--watch", "--timeout", "5m"],
        || gh.sim.recorder().all().len() >= 3,
    );
    assert_no_panic(&out);
    assert_no_token(&out);
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(130), "{o}\n{e}");
    assert!(e.contains("interrupted"), "{e}");
    assert!(e.contains("nothing was changed"), "{e}");
    assert!(e.contains("hint: re-run the same command"), "{e}");
    // Read-only: nothing written, nothing audited.
    assert!(gh.sim.recorder().all().iter().all(|r| r.method == "GET"));
    assert!(sb.audit_lines().is_empty());
}

#[test]
fn ctrl_c_during_status_watch_with_json_still_prints_one_object() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("Add login page");
    gh.sim.add_tag("v1.2.3", &sha, true);
    gh.sim
        .add_run("CI", &sha, RunPlan::fixed(Phase::InProgress));
    let out = interrupt(
        &sb,
        &gh,
        &["status", "v1.2.3", "--watch", "--timeout", "5m", "--json"],
        || gh.sim.recorder().all().len() >= 3,
    );
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(130));
    let v = crate::support::json_stdout(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["kind"], "interrupted");
}

#[test]
fn ctrl_c_during_approve_watch_names_the_approval_already_sent() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let prev = gh.sim.add_commit("Previous release");
    gh.sim.add_tag("v1.2.2", &prev, true);
    let sha = gh.sim.add_commit("Add login page");
    gh.sim.add_tag("v1.2.3", &sha, true);
    gh.sim.add_run("CI", &sha, RunPlan::success());
    let run = gh
        .sim
        .add_run("Deploy to Production", &sha, RunPlan::awaiting_approval());
    let out = interrupt(
        &sb,
        &gh,
        &["approve", "v1.2.3", "--yes", "--watch", "--timeout", "5m"],
        || !gh.sim.recorder().matching("POST", "/repos/").is_empty(),
    );
    assert_no_panic(&out);
    let (o, e) = texts(&out);
    assert_eq!(gh.sim.approvals(run).len(), 1, "{o}\n{e}");
    assert_eq!(out.status.code(), Some(130), "{o}\n{e}");
    assert!(
        e.contains(&format!("already done: approved run {run}")),
        "{e}"
    );
    assert!(e.contains("hint: re-run the same command"), "{e}");
    // The approval was audited once; the interrupt added nothing.
    let audit = sb.audit_lines();
    assert_eq!(audit.len(), 1, "{audit:?}");
}
