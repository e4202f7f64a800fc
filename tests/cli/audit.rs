//! The audit log (SPEC §6), read back: every command that changes something
//! writes one line per attempted change (command, target, result, actor,
//! time); dry runs and refusals write none; no token ever lands in it. And
//! `almarel status` shows the entries for the REF it describes.

use crate::support::Run;
use almarel_sandbox::github::RunPlan;

use crate::rollback::Fx;
use crate::support::coolify::GH_TOKEN;
use crate::support::texts;

fn lines(fx: &Fx) -> Vec<serde_json::Value> {
    fx.repos.sb.audit_lines()
}

fn run_ok(fx: &Fx, args: &[&str]) -> String {
    let out = fx.almarel().args(args).run().unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{args:?}\n{stdout}\n{stderr}");
    stdout
}

fn run_code(fx: &Fx, args: &[&str]) -> i32 {
    fx.almarel()
        .args(args)
        .run()
        .unwrap()
        .status
        .code()
        .unwrap()
}

#[test]
fn every_change_is_logged_once_and_dry_runs_and_refusals_are_not() {
    let fx = Fx::new(false);

    // tag: a dry run and a refusal write nothing; the real tag two lines.
    let head = fx.repos.commit_and_push("Release 1.4.0");
    assert_eq!(run_code(&fx, &["tag", "1.4.0", "--dry-run"]), 0);
    assert_eq!(run_code(&fx, &["tag", "1.2.9"]), 3);
    assert!(lines(&fx).is_empty(), "{:?}", lines(&fx));
    run_ok(&fx, &["tag", "1.4.0"]);
    // Written ahead (SPEC §7.2): `started`, then the outcome.
    assert_eq!(lines(&fx).len(), 2);

    // approve (on GitHub's side of the story).
    let sha = fx.gh.add_commit("Release 1.4.0");
    fx.gh.add_tag("v1.4.0", &sha, true);
    fx.gh.add_run("CI", &sha, RunPlan::success());
    let run = fx
        .gh
        .add_run("Deploy to Production", &sha, RunPlan::awaiting_approval());
    assert_eq!(run_code(&fx, &["approve", "v1.4.0", "--dry-run"]), 0);
    assert_eq!(lines(&fx).len(), 2);
    run_ok(&fx, &["approve", "v1.4.0", "--yes"]);
    assert_eq!(lines(&fx).len(), 4);

    // freeze; then a deploy is refused (frozen) and logs nothing; unfreeze.
    assert_eq!(
        run_code(&fx, &["freeze", "--reason", "audit test", "--dry-run"]),
        0
    );
    run_ok(&fx, &["freeze", "--reason", "audit test", "--yes"]);
    assert_eq!(run_code(&fx, &["deploy", "--tag", "1.3.0", "--yes"]), 3);
    // freeze and unfreeze write ahead too: `started`, then `ok`.
    assert_eq!(lines(&fx).len(), 6);
    run_ok(&fx, &["unfreeze", "--yes"]);
    assert_eq!(lines(&fx).len(), 8);

    // deploy one app (CI passed for its commit: deploy's gate).
    fx.gh.add_run("CI", &fx.shas["v1.3.0"], RunPlan::success());
    assert_eq!(
        run_code(
            &fx,
            &["deploy", "--tag", "1.3.0", "--app", "api", "--dry-run"]
        ),
        0
    );
    run_ok(&fx, &["deploy", "--tag", "1.3.0", "--app", "api", "--yes"]);
    assert_eq!(lines(&fx).len(), 10, "deploy: started, then ok");

    // rollback: a dry run nothing; the real one its deploys and its own line.
    assert_eq!(run_code(&fx, &["rollback", "--dry-run"]), 0);
    assert_eq!(lines(&fx).len(), 10);
    run_ok(&fx, &["rollback", "--no-freeze", "--yes"]);

    // Converted commands write a `started` line ahead of their outcome line.
    let started: Vec<serde_json::Value> = lines(&fx)
        .into_iter()
        .filter(|l| l["result"] == "started")
        .collect();
    let started_commands: Vec<&str> = started
        .iter()
        .map(|l| l["command"].as_str().unwrap())
        .collect();
    assert_eq!(
        started_commands,
        [
            "tag", "approve", "freeze", "unfreeze", "deploy", "rollback", "deploy", "deploy"
        ],
        "{started:?}"
    );
    // Each started entry has its outcome line (same command and target).
    for st in &started {
        assert!(
            lines(&fx).iter().any(|l| l["result"] != "started"
                && l["command"] == st["command"]
                && l["target"] == st["target"]),
            "{st}"
        );
    }
    let all: Vec<serde_json::Value> = lines(&fx)
        .into_iter()
        .filter(|l| l["result"] != "started")
        .collect();
    let commands: Vec<&str> = all.iter().map(|l| l["command"].as_str().unwrap()).collect();
    assert_eq!(
        commands,
        vec![
            "tag", "approve", "freeze", "unfreeze", "deploy", "deploy", "deploy", "rollback"
        ],
        "{all:#?}"
    );
    let targets: Vec<&str> = all.iter().map(|l| l["target"].as_str().unwrap()).collect();
    assert_eq!(targets[0], "v1.4.0");
    assert!(
        targets[1].contains(&run.to_string()) || targets[1].contains("v1.4.0"),
        "{targets:?}"
    );
    assert_eq!(targets[2], "Deploy to Production");
    assert_eq!(targets[3], "Deploy to Production");
    assert_eq!(targets[4], "api@v1.3.0");
    assert_eq!(&targets[5..], ["api@v1.2.1", "web@v1.2.1", "v1.2.1"]);
    assert_eq!(all[0]["details"]["sha"], head.as_str());
    assert_eq!(all[5]["details"]["via"], "rollback");
    for l in &all {
        assert_eq!(l["result"], "ok", "{l}");
        assert!(l["time"].as_str().unwrap().ends_with('Z'), "{l}");
        let actor = &l["actor"];
        assert!(
            actor.get("git").is_some() || actor.get("github").is_some(),
            "no actor: {l}"
        );
    }
    assert_eq!(all[0]["actor"]["git"], "Jane Dev <jane@example.com>");
    assert_eq!(all[1]["actor"]["github"], "octocat");
    let raw = std::fs::read_to_string(fx.repos.sb.state_dir().join("audit.jsonl")).unwrap();
    assert!(!raw.contains(GH_TOKEN));
    assert!(!raw.contains(almarel_sandbox::coolify::TOKEN));
}

#[test]
fn status_shows_the_last_audit_entries_for_its_ref() {
    let fx = Fx::new(false);
    run_ok(&fx, &["rollback", "--yes"]);
    // GitHub knows the tags too.
    fx.gh.add_tag("v1.2.0", &fx.shas["v1.2.0"], true);
    fx.gh.add_tag("v1.2.1", &fx.shas["v1.2.1"], true);
    fx.gh.add_tag("v1.3.0", &fx.shas["v1.3.0"], true);
    let out = fx
        .almarel()
        .args(["status", "v1.2.1", "--json"])
        .run()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let audit = v["audit"].as_array().unwrap();
    // Outcome lines (deploy and rollback also write `started` ahead).
    let commands: Vec<&str> = audit
        .iter()
        .filter(|l| l["result"] != "started")
        .map(|l| l["command"].as_str().unwrap())
        .collect();
    // The freeze line names neither the tag nor the SHA; the rest do.
    assert_eq!(commands, vec!["deploy", "deploy", "rollback"], "{audit:?}");

    let out = fx.almarel().args(["status", "v1.2.1"]).run().unwrap();
    let (stdout, _) = texts(&out);
    assert!(stdout.contains("audit"), "{stdout}");
    assert!(stdout.contains("rollback v1.2.1 ok"), "{stdout}");

    // Another release has no entries.
    let out = fx
        .almarel()
        .args(["status", "v1.3.0", "--json"])
        .run()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&texts(&out).0).unwrap();
    // The deploy lines name v1.3.0 as the image tag they replaced, the
    // rollback line as where it came from.
    let commands: Vec<&str> = v["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["result"] != "started")
        .map(|l| l["command"].as_str().unwrap())
        .collect();
    assert_eq!(
        commands,
        vec!["deploy", "deploy", "rollback"],
        "{}",
        v["audit"]
    );
    let out = fx
        .almarel()
        .args(["status", "v1.2.0", "--json"])
        .run()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&texts(&out).0).unwrap();
    assert_eq!(v["audit"], serde_json::json!([]));
}

#[test]
fn tag_writes_started_before_the_push_and_the_outcome_after() {
    let r = crate::support::git::Repos::new();
    let head = r.head();
    let out = r.almarel().args(["tag", "1.2.3"]).run().unwrap();
    assert_eq!(out.status.code(), Some(0), "{:?}", texts(&out));
    let audit = r.sb.audit_lines();
    let results: Vec<&str> = audit
        .iter()
        .map(|l| l["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["started", "ok"], "{audit:?}");
    assert_eq!(audit[0]["details"]["pushed"], false);
    assert_eq!(audit[1]["details"]["pushed"], true);
    assert_eq!(audit[1]["details"]["sha"], head.as_str());

    // A re-run that finds the tag already pushed logs that, once.
    let out = r.almarel().args(["tag", "1.2.3"]).run().unwrap();
    assert_eq!(out.status.code(), Some(0), "{:?}", texts(&out));
    let audit = r.sb.audit_lines();
    assert_eq!(audit.len(), 3, "{audit:?}");
    assert!(
        audit[2]["result"]
            .as_str()
            .unwrap()
            .starts_with("already done: v1.2.3 is already on origin at HEAD"),
        "{audit:?}"
    );
    // A dry run logs nothing.
    let out = r
        .almarel()
        .args(["tag", "1.2.3", "--dry-run"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(r.sb.audit_lines().len(), 3);
}

#[test]
fn an_unwritable_audit_log_refuses_with_exit_2_naming_the_path_before_any_request() {
    use crate::support::Sandbox;
    use crate::support::github::GhEnv;
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("Add login page");
    gh.sim.add_tag("v1.2.3", &sha, true);
    gh.sim.add_run("CI", &sha, RunPlan::success());
    let run = gh
        .sim
        .add_run("Deploy to Production", &sha, RunPlan::awaiting_approval());
    // The state "directory" is a file: the log cannot be created.
    let blocked = sb.path().join("blocked");
    std::fs::write(&blocked, "").unwrap();
    let out = gh
        .almarel(&sb)
        .env("ALMAREL_STATE_DIR", &blocked)
        .args(["approve", "v1.2.3", "--yes"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(2), "{o}\n{e}");
    assert!(
        e.contains(&blocked.join("audit.jsonl").display().to_string()),
        "{e}"
    );
    assert!(gh.sim.recorder().all().is_empty(), "a request was sent");
    assert!(gh.sim.approvals(run).is_empty());

    // A dry run changes nothing and needs no log.
    let out = gh
        .almarel(&sb)
        .env("ALMAREL_STATE_DIR", &blocked)
        .args(["approve", "v1.2.3", "--dry-run"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{:?}", texts(&out));
}

#[test]
fn a_relative_xdg_state_home_is_ignored_and_the_clone_stays_clean() {
    let r = crate::support::git::Repos::new();
    let out = r
        .almarel()
        .env_remove("ALMAREL_STATE_DIR")
        .env("XDG_STATE_HOME", "state")
        .args(["tag", "1.2.3", "--no-push"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{:?}", texts(&out));
    assert!(!r.work.join("state").exists(), "wrote into the clone");
    assert_eq!(r.git(&["status", "--porcelain"]), "");
    let log = r.sb.home().join(".local/state/almarel/audit.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
}

#[test]
fn a_relative_almarel_state_dir_is_refused_before_anything_is_sent() {
    let r = crate::support::git::Repos::new();
    let out = r
        .almarel()
        .env("ALMAREL_STATE_DIR", "state")
        .args(["tag", "1.2.3"])
        .run()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("ALMAREL_STATE_DIR is a relative path (state)")
            && stderr.contains("absolute path"),
        "{stderr}"
    );
    assert!(!r.work.join("state").exists(), "wrote into the clone");
    assert_eq!(r.git(&["status", "--porcelain"]), "");
    assert_eq!(r.git(&["tag", "--list"]), "", "no tag created");
    assert_eq!(r.git_origin(&["tag", "--list"]), "", "nothing pushed");
    // A dry run writes no audit line and still runs.
    let out = r
        .almarel()
        .env("ALMAREL_STATE_DIR", "state")
        .args(["tag", "1.2.3", "--dry-run"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{:?}", texts(&out));
}
