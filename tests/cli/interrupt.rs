//! Signals: Ctrl-C (SIGINT) during a watch or at a prompt → 130, SIGTERM →
//! 143, SIGHUP → 129; what was done, what was in flight (a write that may
//! have been applied, with the command that checks it), what was not
//! started, and an honest resume hint. (`deploy` has its own interrupt test
//! in deploy.rs.)

use std::process::Stdio;
use std::time::{Duration, Instant};

use almarel_sandbox::github::{Phase, RunPlan};

use crate::support::git::{GitDaemon, Repos};
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
    crate::support::check_next(&out);
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
        e.contains(&format!(
            "already done: review POST: approve run {run} for production"
        )),
        "{e}"
    );
    assert!(e.contains("hint: re-run the same command"), "{e}");
    // The approval was audited (started, ok); the interrupt added nothing.
    let audit = sb.audit_lines();
    let results: Vec<&str> = audit.iter().filter_map(|a| a["result"].as_str()).collect();
    assert_eq!(results, ["started", "ok"], "{audit:?}");
}

fn spawnable(sb: &Sandbox, dir: &std::path::Path) -> std::process::Command {
    sb.almarel_std(dir)
}

/// Spawns `cmd`, waits until `ready`, sends `signal` (`TERM`, `HUP`, `INT`)
/// and returns the output.
fn signal_when(
    mut cmd: std::process::Command,
    signal: &str,
    ready: impl Fn() -> bool,
) -> std::process::Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !ready() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(ready(), "never got ready");
    std::thread::sleep(Duration::from_millis(200));
    let killed = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    crate::support::check_next(&out);
    assert!(started.elapsed() < Duration::from_secs(40));
    out
}

/// A clone whose origin is served by `git daemon` with a pre-receive hook
/// that marks `pushing` and then holds the push for 20 seconds.
fn slow_push_repo() -> (Repos, GitDaemon, std::path::PathBuf) {
    let r = Repos::new();
    let daemon = GitDaemon::start(&r.sb.home(), r.origin.parent().unwrap());
    r.git(&["remote", "set-url", "origin", &daemon.url("origin.git")]);
    let marker = r.sb.path().join("pushing");
    let hook = r.origin.join("hooks").join("pre-receive");
    std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\ntouch '{}'\nsleep 20\nexit 1\n",
            marker.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    (r, daemon, marker)
}

#[test]
fn sigterm_during_a_slow_tag_push_exits_143_and_lists_the_push_in_flight() {
    let (r, _daemon, marker) = slow_push_repo();
    let mut cmd = spawnable(&r.sb, &r.work);
    cmd.args(["tag", "1.2.3"]);
    let out = signal_when(cmd, "TERM", || marker.exists());
    assert_no_panic(&out);
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(143), "{o}\n{e}");
    assert!(e.contains("interrupted by SIGTERM"), "{e}");
    assert!(!e.contains("nothing was changed"), "{e}");
    assert!(e.contains("already done: created local tag v1.2.3"), "{e}");
    assert!(
        e.contains(
            "in flight (may have been applied): push refs/tags/v1.2.3:refs/tags/v1.2.3 to origin"
        ),
        "{e}"
    );
    assert!(
        e.contains("hint: push refs/tags/v1.2.3:refs/tags/v1.2.3 to origin may have been applied; check with `git ls-remote --tags origin v1.2.3`"),
        "{e}"
    );
    // A re-run of tag is safe (it says "already tagged" or pushes): the hint says so exactly.
    assert!(e.contains("hint: re-run `almarel tag 1.2.3`"), "{e}");
    // The audit log: started ahead, then the interruption.
    let audit = r.sb.audit_lines();
    let results: Vec<&str> = audit
        .iter()
        .map(|l| l["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["started", "interrupted: SIGTERM"], "{audit:?}");
    assert!(audit.iter().all(|l| l["target"] == "v1.2.3"));
    // With an override, the re-run keeps it (it would be refused without).
    let (r2, _daemon2, marker2) = slow_push_repo();
    let mut cmd = spawnable(&r2.sb, &r2.work);
    cmd.args(["tag", "1.2.3", "--allow-same-commit"]);
    let out = signal_when(cmd, "TERM", || marker2.exists());
    let (_, e2) = texts(&out);
    assert_eq!(out.status.code(), Some(143), "{e2}");
    assert!(
        e2.contains("hint: re-run `almarel tag 1.2.3 --allow-same-commit`"),
        "{e2}"
    );
}

#[test]
fn sighup_during_a_slow_tag_push_exits_129_with_the_three_lists_in_json() {
    let (r, _daemon, marker) = slow_push_repo();
    let mut cmd = spawnable(&r.sb, &r.work);
    cmd.args(["tag", "1.2.3", "--json"]);
    let out = signal_when(cmd, "HUP", || marker.exists());
    assert_no_panic(&out);
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(129), "{o}\n{e}");
    let v = crate::support::json_stdout(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["kind"], "interrupted");
    assert_eq!(v["error"]["code"], "interrupted");
    assert_eq!(v["signal"], "SIGHUP");
    assert_eq!(
        v["done"],
        serde_json::json!(["created local tag v1.2.3 at ".to_owned() + &r.head()[..7]])
    );
    assert_eq!(
        v["in_flight"],
        serde_json::json!([{
            "write": "push refs/tags/v1.2.3:refs/tags/v1.2.3 to origin",
            "check": "git ls-remote --tags origin v1.2.3",
        }])
    );
    assert_eq!(v["not_started"], serde_json::json!([]));
    assert!(
        !v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nothing was changed")
    );
    let audit = r.sb.audit_lines();
    assert_eq!(
        audit.last().unwrap()["result"],
        "interrupted: SIGHUP",
        "{audit:?}"
    );
}

#[test]
fn sigterm_before_any_write_says_nothing_was_changed_and_exits_143() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("Add login page");
    gh.sim.add_tag("v1.2.3", &sha, true);
    gh.sim
        .add_run("CI", &sha, RunPlan::fixed(Phase::InProgress));
    let mut cmd = spawnable(&sb, &gh.dir);
    cmd.env("GH_TOKEN", TOKEN).args([
        "--config",
        "almarel.toml",
        "status",
        "v1.2.3",
        "--watch",
        "--timeout",
        "5m",
    ]);
    let out = signal_when(cmd, "TERM", || gh.sim.recorder().all().len() >= 3);
    assert_no_panic(&out);
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(143), "{o}\n{e}");
    assert!(
        e.contains("interrupted by SIGTERM; nothing was changed"),
        "{e}"
    );
    assert!(sb.audit_lines().is_empty());
}

#[test]
fn ctrl_c_at_a_confirmation_prompt_exits_130_at_once() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("Add login page");
    gh.sim.add_tag("v1.2.3", &sha, true);
    gh.sim.add_run("CI", &sha, RunPlan::success());
    let run = gh
        .sim
        .add_run("Deploy to Production", &sha, RunPlan::awaiting_approval());
    // A real pseudo-terminal; \x03 is Ctrl-C. No Enter is ever pressed: the
    // command must end on the Ctrl-C alone (the driver gives up after 40 s).
    let started = Instant::now();
    let (code, text) = crate::support::on_terminal_steps(
        &sb,
        &gh.dir,
        &[("GH_TOKEN", TOKEN)],
        &["--config", "almarel.toml", "approve", "v1.2.3"],
        &[("[y/N]", b"\x03")],
    );
    assert!(
        code.is_some() && started.elapsed() < Duration::from_secs(30),
        "still waiting for Enter after Ctrl-C:\n{text}"
    );
    assert_eq!(code, Some(130), "{text}");
    assert!(text.contains("nothing was changed"), "{text}");
    assert!(!text.contains(TOKEN));
    assert!(gh.sim.approvals(run).is_empty());
    assert!(sb.audit_lines().is_empty());
}
