//! Red-team attacks on SPEC §7 ("Truth at the seams") that the per-command
//! modules do not already cover: a deploy interrupted with its PATCH in
//! flight, two deploys at once, and hostile REFs on the Coolify-side commands.

use std::time::{Duration, Instant};

use almarel_sandbox::coolify::{self as sim, AppSpec, Ending};

use crate::support::coolify::*;
use crate::support::{Run, Sandbox, assert_no_panic, texts};

const API: &str = "k8s0wccw4g0o0kw4okcs8wss";

/// SIGTERM while deploy's PATCH is in flight: exit 143, the PATCH listed as
/// in flight (never "nothing was changed"), the audit entry says so, and the
/// printed `next:` converges on the release asked for.
#[test]
fn sigterm_with_deploys_patch_in_flight_says_so_and_next_converges() {
    let rt = runtime();
    let apps = vec![AppSpec::docker("api", API, "v1.2.2").with_history(&["v1.2.2"])];
    let c = coolify(&rt, sim::Config::new(apps.clone()));
    c.slow("PATCH", "/api/v1/applications/", Duration::from_secs(30), 1);
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    let child = spawnable(&sb, &dir, sim::SENSITIVE_TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while c
        .recorder()
        .matching("PATCH", "/api/v1/applications/")
        .is_empty()
        && started.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
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
    eprintln!("--- interrupted deploy:\n{stdout}\n{stderr}");
    assert_eq!(out.status.code(), Some(143), "{stdout}\n{stderr}");
    assert!(!stderr.contains("nothing was changed"), "{stderr}");
    assert!(stderr.contains("in flight"), "{stderr}");
    let audit = sb.audit_lines();
    let results: Vec<&str> = audit
        .iter()
        .filter(|l| l["command"] == "deploy")
        .map(|l| l["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["started", "interrupted: SIGTERM"], "{audit:?}");
    let next = crate::support::next_lines(&out);
    assert_eq!(next.len(), 1, "{stderr}");
    let words = crate::support::shell_words(&next[0]).unwrap();
    let out = almarel(&sb, &dir, sim::SENSITIVE_TOKEN)
        .args(&words[1..])
        .arg("--yes")
        .run()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(c.image_tag(API).as_deref(), Some("v1.2.3"));
}

/// Two deploys of the same release at once: both exit 0 and end with the
/// app on the release; every deployment either triggered is of the release
/// and finished (neither restores the old tag over the other). Each run may
/// trigger its own deployment: the same tag twice, harmless.
#[test]
fn two_deploys_at_once_both_tell_the_truth() {
    let rt = runtime();
    let mut apps = vec![AppSpec::docker("api", API, "v1.2.2").with_history(&["v1.2.2"])];
    apps[0].ending = Ending::Finish;
    let c = coolify(&rt, sim::Config::new(apps.clone()));
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    let spawn = || {
        spawnable(&sb, &dir, sim::SENSITIVE_TOKEN)
            .args(["deploy", "--tag", "1.2.3", "--yes"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn();
    let b = spawn();
    let mut triggered = 0;
    for (name, child) in [("a", a), ("b", b)] {
        let out = child.wait_with_output().unwrap();
        crate::support::check_next(&out);
        assert_no_panic(&out);
        let (stdout, stderr) = texts(&out);
        eprintln!("--- deploy {name}:\n{stdout}\n{stderr}");
        assert_eq!(out.status.code(), Some(0), "{name}: {stdout}\n{stderr}");
        triggered += format!("{stdout}{stderr}")
            .matches("triggered deployment")
            .count();
    }
    assert_eq!(c.image_tag(API).as_deref(), Some("v1.2.3"));
    // Each claimed trigger is a deployment Coolify has, and the reverse.
    assert!(!c.deployments().is_empty());
    assert_eq!(triggered, c.deployments().len(), "{:?}", c.deployments());
    assert!(
        c.deployments()
            .iter()
            .all(|d| d.status == "finished" && d.image_tag.as_deref() == Some("v1.2.3")),
        "{:?}",
        c.deployments()
    );
}

/// A REF that is a path never reaches Coolify or GitHub: exit 2 before any
/// request, for every command that takes one.
#[test]
fn a_path_as_ref_is_exit_2_for_deploy_verify_and_rollback() {
    let rt = runtime();
    let apps = vec![AppSpec::docker("api", API, "v1.2.2").with_history(&["v1.2.2"])];
    let c = coolify(&rt, sim::Config::new(apps.clone()));
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    for args in [
        vec!["deploy", "--tag", "../../etc/passwd", "--yes"],
        vec!["deploy", "../../etc/passwd", "--yes"],
        vec!["verify", "--expect-tag", "../../etc/passwd"],
        vec!["rollback", "--to", "../../etc/passwd", "--yes"],
        vec!["approve", "../../etc/passwd", "--yes"],
        vec!["unfreeze", "--only", "../../etc/passwd", "--yes"],
    ] {
        let out = almarel(&sb, &dir, sim::SENSITIVE_TOKEN)
            .args(&args)
            .run()
            .unwrap();
        assert_no_panic(&out);
        let (stdout, stderr) = texts(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}\n{stdout}\n{stderr}");
    }
    assert!(c.recorder().all().is_empty(), "{:?}", c.recorder().all());
    assert!(
        dir.github.recorder().all().is_empty(),
        "{:?}",
        dir.github.recorder().all()
    );
}

/// Frozen, then a colleague re-enables the deploy workflow in the browser:
/// the freeze record still freezes (`status` says frozen), and `freeze`
/// again disables the workflow again (not "already frozen").
#[test]
fn a_workflow_re_enabled_in_the_browser_after_a_freeze() {
    use crate::support::github::GhEnv;
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("x");
    let out = gh
        .almarel(&sb)
        .args(["freeze", "--reason", "checkout errors", "--yes"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    gh.sim.set_workflow_state("Deploy to Production", "active");
    let out = gh
        .almarel(&sb)
        .args(["status", &sha, "--json"])
        .run()
        .unwrap();
    let v = crate::support::json_stdout(&out);
    assert_eq!(v["frozen"], true, "the record still freezes: {v}");
    let out = gh
        .almarel(&sb)
        .args(["freeze", "--reason", "again", "--yes"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert_eq!(
        gh.sim.workflow_state("Deploy to Production").as_deref(),
        Some("disabled_manually"),
        "{o}\n{e}"
    );
}

/// Coolify answers the PATCH with a 5xx: exit 4, the PATCH is not repeated,
/// it never claims nothing was changed, and the audit entry ends failed.
#[test]
fn a_patch_answered_5xx_is_not_called_unchanged() {
    let rt = runtime();
    let apps = vec![AppSpec::docker("api", API, "v1.2.2").with_history(&["v1.2.2"])];
    let c = coolify(&rt, sim::Config::new(apps.clone()));
    c.inject(sim::Fault {
        method: "PATCH".into(),
        path_prefix: "/api/v1/applications/".into(),
        status: 502,
        body: "bad gateway".into(),
        headers: vec![],
        times: 10,
    });
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    let out = almarel(&sb, &dir, sim::SENSITIVE_TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(4), "{o}\n{e}");
    assert!(
        !format!("{o}{e}").contains("nothing was changed"),
        "{o}\n{e}"
    );
    assert_eq!(
        c.recorder()
            .matching("PATCH", "/api/v1/applications/")
            .len(),
        1
    );
    assert!(c.recorder().matching("POST", "/api/v1/deploy").is_empty());
    let results: Vec<String> = sb
        .audit_lines()
        .iter()
        .map(|l| l["result"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(results[0], "started");
    assert!(results[1].starts_with("failed: "), "{results:?}");
    // The read-back after the error answer says where the app is.
    assert!(
        e.contains("read back after that answer: app `api` is on v1.2.2, not v1.2.3"),
        "{e}"
    );
}

/// Coolify saves the tag but a proxy answers the PATCH with 502: the app is
/// read back, the tag applied, so the deploy goes on (one PATCH, one
/// deployment, exit 0) and says what the answer was.
#[test]
fn a_patch_answered_502_after_coolify_applied_it_is_read_back_and_the_deploy_goes_on() {
    let rt = runtime();
    let apps = vec![AppSpec::docker("api", API, "v1.2.2").with_history(&["v1.2.2"])];
    let c = coolify(&rt, sim::Config::new(apps.clone()));
    c.lose_answers("PATCH", "/api/v1/applications/", 502, 1);
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    let out = almarel(&sb, &dir, sim::SENSITIVE_TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(
        format!("{o}{e}").contains("image tag is now v1.2.3 (read back; coolify answered the PATCH with an error, yet it applied"),
        "{o}\n{e}"
    );
    let patches = c.recorder().matching("PATCH", "/api/v1/applications/");
    assert_eq!(
        patches.iter().map(|p| p.status).collect::<Vec<_>>(),
        [502],
        "one PATCH, never repeated"
    );
    assert_eq!(c.recorder().matching("POST", "/api/v1/deploy").len(), 1);
    let results: Vec<String> = sb
        .audit_lines()
        .iter()
        .map(|l| l["result"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(results, ["started", "ok"], "{results:?}");
}

/// A freeze record on GitHub with the deploy workflow active (a colleague
/// re-enabled it in the browser, or `gh variable set ALMAREL_FREEZE` by
/// hand) is a freeze for `unfreeze` (see freeze.rs); `deploy` must agree and
/// refuse with exit 3 and nothing sent to Coolify.
#[test]
fn a_freeze_record_with_the_workflow_active_is_refused_by_deploy() {
    let rt = runtime();
    let apps = vec![AppSpec::docker("api", API, "v1.2.2").with_history(&["v1.2.2"])];
    let c = coolify(&rt, sim::Config::new(apps.clone()));
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    dir.github.set_variable("ALMAREL_FREEZE", "incident 42");
    let out = almarel(&sb, &dir, sim::SENSITIVE_TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{o}\n{e}");
    assert!(e.contains("incident 42"), "{e}");
    assert!(
        c.recorder()
            .matching("PATCH", "/api/v1/applications/")
            .is_empty()
            && c.recorder().matching("POST", "/api/v1/deploy").is_empty()
    );
}

/// The same for `approve`: a freeze record with the workflow active (the
/// deploy workflow re-enabled in the browser) refuses with exit 3 naming the
/// record, and no review is sent.
#[test]
fn a_freeze_record_with_the_workflow_active_is_refused_by_approve() {
    use crate::support::github::GhEnv;
    use almarel_sandbox::github::RunPlan;
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("x");
    gh.sim.add_tag("v1.2.3", &sha, true);
    gh.sim.add_run("CI", &sha, RunPlan::success());
    gh.sim
        .add_run("Deploy to Production", &sha, RunPlan::awaiting_approval());
    gh.sim.set_variable("ALMAREL_FREEZE", "incident 42");
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--yes"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{o}\n{e}");
    assert!(format!("{o}{e}").contains("incident 42"), "{o}\n{e}");
    assert!(
        !gh.sim
            .recorder()
            .all()
            .iter()
            .any(|r| r.method == "POST" && r.path.ends_with("/pending_deployments")),
        "no review sent"
    );
}

/// `status` shows the same freeze: a record with the workflow active is
/// `frozen`, naming the record.
#[test]
fn status_shows_a_freeze_record_with_the_workflow_active_as_frozen() {
    use crate::support::github::GhEnv;
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("x");
    gh.sim.set_variable("ALMAREL_FREEZE", "incident 42");
    let out = gh
        .almarel(&sb)
        .args(["status", &sha, "--json"])
        .run()
        .unwrap();
    let v = crate::support::json_stdout(&out);
    assert_eq!(v["frozen"], true, "{v}");
    // Named with the record's reason.
    assert!(v.to_string().contains("incident 42"), "{v}");
}

/// An unwritable audit log refuses every writer (not only approve) with exit
/// 2 before any request to GitHub or Coolify.
#[test]
fn an_unwritable_audit_log_refuses_deploy_freeze_unfreeze_and_rollback_before_any_request() {
    let rt = runtime();
    let apps = vec![AppSpec::docker("api", API, "v1.2.2").with_history(&["v1.2.2"])];
    let c = coolify(&rt, sim::Config::new(apps.clone()));
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    let blocked = sb.path().join("blocked");
    std::fs::write(&blocked, "").unwrap();
    for args in [
        vec!["deploy", "--tag", "1.2.3", "--yes"],
        vec!["freeze", "--reason", "x", "--yes"],
        vec!["unfreeze", "--yes"],
        vec!["rollback", "--to", "1.2.2", "--yes"],
    ] {
        let before_c = c.recorder().all().len();
        let out = almarel(&sb, &dir, sim::SENSITIVE_TOKEN)
            .env("ALMAREL_STATE_DIR", &blocked)
            .args(&args)
            .run()
            .unwrap();
        assert_no_panic(&out);
        let (o, e) = texts(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}\n{o}\n{e}");
        assert!(e.contains("audit.jsonl"), "{args:?}: {e}");
        let writes: Vec<_> = dir
            .github
            .recorder()
            .all()
            .into_iter()
            .filter(|r| r.method != "GET")
            .collect();
        assert!(writes.is_empty(), "{args:?}: {writes:?}");
        let cw: Vec<_> = c.recorder().all()[before_c..]
            .iter()
            .filter(|r| r.method != "GET")
            .cloned()
            .collect();
        assert!(cw.is_empty(), "{args:?}: {cw:?}");
    }
}

/// A token that is only whitespace is "not set" (exit 2 naming the
/// variable), never an empty `Authorization` header.
#[test]
fn a_whitespace_only_token_is_not_set() {
    use crate::support::github::GhEnv;
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("x");
    let out = gh
        .almarel(&sb)
        .env("GH_TOKEN", " \n")
        .args(["approve", &sha, "--yes"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(2), "{o}\n{e}");
    assert!(e.contains("GH_TOKEN"), "{e}");
    assert!(
        gh.sim.recorder().all().is_empty(),
        "{:?}",
        gh.sim.recorder().all()
    );
}

/// SIGTERM while unfreeze's enable is in flight: exit 143, the enable listed
/// in flight (never "nothing was changed"), the audit line interrupted, and
/// the printed continuation finishes the unfreeze.
#[test]
fn sigterm_during_unfreezes_enable_says_in_flight_and_the_rerun_converges() {
    use crate::support::github::GhEnv;
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let out = gh
        .almarel(&sb)
        .args(["freeze", "--reason", "x", "--yes"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    gh.sim.slow("PUT", "/enable", Duration::from_secs(30));
    let child = sb
        .almarel_std(&gh.dir)
        .env("GH_TOKEN", crate::support::github::TOKEN)
        .args(["--config", "almarel.toml", "unfreeze", "--yes"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while gh.sim.slow_arrivals() < 1 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(gh.sim.slow_arrivals() >= 1, "the enable never arrived");
    std::thread::sleep(Duration::from_millis(200));
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    crate::support::check_next(&out);
    assert_no_panic(&out);
    let (o, e) = texts(&out);
    eprintln!("--- interrupted unfreeze:\n{o}\n{e}");
    assert_eq!(out.status.code(), Some(143), "{o}\n{e}");
    assert!(!e.contains("nothing was changed"), "{e}");
    assert!(e.contains("in flight"), "{e}");
    let results: Vec<String> = sb
        .audit_lines()
        .iter()
        .filter(|l| l["command"] == "unfreeze")
        .map(|l| l["result"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(results, ["started", "interrupted: SIGTERM"]);
    gh.sim.clear_slow();
    let out = gh.almarel(&sb).args(["unfreeze", "--yes"]).run().unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert_eq!(
        gh.sim.workflow_state("Deploy to Production").as_deref(),
        Some("active")
    );
    assert_eq!(gh.sim.variable("ALMAREL_FREEZE"), None);
}

/// Two `approve` at once on the same waiting run: both exit 0, one review is
/// recorded, and neither claims a review it did not send.
#[test]
fn two_approves_at_once_both_tell_the_truth() {
    use crate::support::github::GhEnv;
    use almarel_sandbox::github::RunPlan;
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("x");
    gh.sim.add_tag("v1.2.3", &sha, true);
    gh.sim.add_run("CI", &sha, RunPlan::success());
    let run = gh
        .sim
        .add_run("Deploy to Production", &sha, RunPlan::awaiting_approval());
    gh.sim
        .slow_answer("POST", "/pending_deployments", Duration::from_millis(1500));
    let spawn = || {
        sb.almarel_std(&gh.dir)
            .env("GH_TOKEN", crate::support::github::TOKEN)
            .args(["--config", "almarel.toml", "approve", "v1.2.3", "--yes"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn();
    std::thread::sleep(Duration::from_millis(300));
    let b = spawn();
    let mut codes = Vec::new();
    let mut claims = 0;
    for (name, child) in [("a", a), ("b", b)] {
        let out = child.wait_with_output().unwrap();
        crate::support::check_next(&out);
        assert_no_panic(&out);
        let (o, e) = texts(&out);
        eprintln!("--- approve {name}: {:?}\n{o}\n{e}", out.status.code());
        codes.push(out.status.code());
        if o.contains("approved the production deployment") {
            claims += 1;
        } else {
            assert!(o.contains("already approved"), "{name}: {o}\n{e}");
        }
    }
    assert_eq!(codes, [Some(0), Some(0)]);
    assert_eq!(gh.sim.approvals(run).len(), 1);
    assert_eq!(
        claims, 1,
        "exactly one claims the one review that was recorded"
    );
}

/// Rollback whose PATCH Coolify answers 200 but does not apply: never
/// "rolled back", exit 4 (the PATCH did not stick), the app untouched.
#[test]
fn a_rollback_patch_answered_200_but_not_applied_is_not_rolled_back() {
    let mut apps = crate::rollback::apps_at("v1.3.0");
    apps[0].ignore_patch = true;
    let fx = crate::rollback::Fx::with_apps(false, apps);
    let out = fx.almarel().args(["rollback", "--yes"]).run().unwrap();
    assert_no_panic(&out);
    let (o, e) = texts(&out);
    assert!(!o.contains("rolled back: production runs"), "{o}\n{e}");
    assert_eq!(out.status.code(), Some(4), "{o}\n{e}");
    assert!(e.contains("did not apply"), "{e}");
    // The app whose tag did not stick was not redeployed on its old tag.
    let uuid = crate::rollback::apps_at("v1.3.0")[0].uuid.clone();
    assert!(
        fx.coolify
            .recorder()
            .matching("POST", &format!("/api/v1/deploy?uuid={uuid}"))
            .is_empty(),
        "{:?}",
        fx.coolify.recorder().all()
    );
}

/// A relative `HOME` (and no state directory otherwise) must not put the
/// audit log into the clone either: `tag` refuses before any change (exit 2
/// naming the variables) instead of leaving an untracked file that refuses
/// the next `tag` for a dirty tree.
#[test]
fn a_relative_home_never_writes_the_audit_log_into_the_clone() {
    let r = crate::support::git::Repos::new();
    let out = r
        .almarel()
        .env_remove("ALMAREL_STATE_DIR")
        .env_remove("XDG_STATE_HOME")
        .env("HOME", ".")
        .args(["tag", "1.2.3", "--no-push"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (o, e) = texts(&out);
    assert!(!r.work.join(".local").exists(), "wrote into the clone");
    assert_eq!(r.git(&["status", "--porcelain"]), "");
    assert_eq!(out.status.code(), Some(2), "{o}\n{e}");
    assert!(e.contains("HOME"), "{e}");
}

/// The same interruption with `--json`: exactly one object on stdout with
/// the three lists, the PATCH in `in_flight`, the deploy POST not started.
#[test]
fn sigterm_with_deploys_patch_in_flight_in_json_lists_the_three() {
    let rt = runtime();
    let apps = vec![AppSpec::docker("api", API, "v1.2.2").with_history(&["v1.2.2"])];
    let c = coolify(&rt, sim::Config::new(apps.clone()));
    c.slow("PATCH", "/api/v1/applications/", Duration::from_secs(30), 1);
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    let child = spawnable(&sb, &dir, sim::SENSITIVE_TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes", "--json"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while c
        .recorder()
        .matching("PATCH", "/api/v1/applications/")
        .is_empty()
        && started.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    crate::support::check_next(&out);
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(143), "{o}\n{e}");
    let v = crate::support::json_stdout(&out);
    assert_eq!(v["signal"], "SIGTERM", "{v}");
    assert!(v["done"].as_array().is_some(), "{v}");
    let in_flight = v["in_flight"].to_string();
    assert!(in_flight.contains("image tag"), "{v}");
    // Declared before the first write left: the trigger still to come.
    let not_started = v["not_started"].to_string();
    assert!(
        not_started.contains("triggered deployment of app `api`"),
        "{v}"
    );
    assert!(c.recorder().matching("POST", "/api/v1/deploy").is_empty());
}

/// SIGTERM while rollback's freeze (the workflow disable) is in flight:
/// exit 143, the disable in flight, nothing on Coolify; the printed `next:`
/// rolls back exactly one release (every PATCH sets v1.2.1).
#[test]
fn sigterm_during_rollbacks_freeze_then_next_rolls_back_once() {
    let fx = crate::rollback::Fx::new(false);
    fx.gh.slow("PUT", "/disable", Duration::from_secs(30));
    let child = fx
        .almarel_std()
        .args(["rollback", "--yes"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while fx.gh.slow_arrivals() < 1 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(fx.gh.slow_arrivals() >= 1, "the disable never arrived");
    std::thread::sleep(Duration::from_millis(200));
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    crate::support::check_next(&out);
    assert_no_panic(&out);
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(143), "{o}\n{e}");
    assert!(!e.contains("nothing was changed"), "{e}");
    assert!(e.contains("in flight"), "{e}");
    assert!(fx.patched_tags().is_empty());
    let next = crate::support::next_lines(&out);
    assert_eq!(next.len(), 1, "{e}");
    fx.gh.clear_slow();
    let words = crate::support::shell_words(&next[0]).unwrap();
    let out = fx.almarel().args(&words[1..]).arg("--yes").run().unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    let tags = fx.patched_tags();
    assert!(
        !tags.is_empty() && tags.iter().all(|t| t == "v1.2.1"),
        "{tags:?}"
    );
}

/// A review POST GitHub answers 200 without recording it: approve reads the
/// run's review history back and never says "approved" (exit 4,
/// `review_not_applied`, the run still waiting, the audit line failed).
#[test]
fn a_review_answered_200_but_not_recorded_is_not_called_approved() {
    use crate::support::github::GhEnv;
    use almarel_sandbox::github::{Fault, RunPlan};
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("x");
    gh.sim.add_tag("v1.2.3", &sha, true);
    gh.sim.add_run("CI", &sha, RunPlan::success());
    let run = gh
        .sim
        .add_run("Deploy to Production", &sha, RunPlan::awaiting_approval());
    let mut answered = Fault::new("POST", "/pending_deployments", 1, 200);
    answered.body = "[]".into();
    gh.sim.fault(answered);
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--yes", "--json"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(4), "{o}\n{e}");
    let v = crate::support::json_stdout(&out);
    assert_eq!(v["error"]["code"], "review_not_applied", "{v}");
    assert!(gh.sim.approvals(run).is_empty());
    assert!(gh.sim.is_pending(run));
    let audit = sb.audit_lines();
    assert!(
        audit
            .last()
            .is_some_and(|l| l["result"].as_str().unwrap_or("").starts_with("failed")),
        "{audit:?}"
    );
}
