//! `almarel checklist` tests: each phase with passing and failing items, the
//! `--json` shape, and a remote that cannot be reached.

use crate::support::Run;
use std::time::Duration;

use almarel_sandbox::github::RunPlan;

use crate::rollback::{Fx, apps_at};
use crate::support::coolify::GH_TOKEN;
use crate::support::git::closed_port;
use crate::support::{assert_no_panic, json_stdout, texts};

const DEPLOY_WF: &str = "Deploy to Production";

fn items(v: &serde_json::Value) -> Vec<(String, String, String)> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["phase"].as_str().unwrap().to_owned(),
                i["name"].as_str().unwrap().to_owned(),
                i["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn status_of(v: &serde_json::Value, name_part: &str) -> String {
    items(v)
        .into_iter()
        .find(|(_, n, _)| n.contains(name_part))
        .unwrap_or_else(|| panic!("no item {name_part}: {v}"))
        .2
}

/// Coolify apps whose newest deployment has finished.
fn finished_apps() -> Vec<almarel_sandbox::coolify::AppSpec> {
    let mut apps = apps_at("v1.3.0");
    for a in &mut apps {
        a.in_flight_for = Some(Duration::from_millis(1));
    }
    apps
}

#[test]
fn before_tag_passes_on_a_clean_up_to_date_main_and_writes_no_ref() {
    let fx = Fx::new(false);
    let refs_before = fx.repos.local_refs();
    let out = fx
        .almarel()
        .args(["checklist", "before-tag", "--version", "1.3.1", "--json"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let v = json_stdout(&out);
    let it = items(&v);
    assert_eq!(it.len(), 4, "{v}");
    assert!(
        it.iter().all(|(p, _, s)| p == "before-tag" && s == "pass"),
        "{v}"
    );
    assert_eq!(fx.repos.local_refs(), refs_before, "peek writes no ref");

    // Without --version the version item is manual, and still exit 0.
    let out = fx
        .almarel()
        .args(["checklist", "before-tag", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(status_of(&json_stdout(&out), "semantic version"), "manual");
}

#[test]
fn before_tag_fails_off_main_dirty_behind_and_with_a_taken_version() {
    let fx = Fx::new(false);
    fx.repos.push_from_other("Someone else's change");
    fx.repos.git(&["switch", "-q", "-c", "feature"]);
    std::fs::write(fx.repos.work.join("notes.txt"), "wip\n").unwrap();
    let out = fx
        .almarel()
        .args(["checklist", "before-tag", "--version", "1.2.5", "--json"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(1));
    let v = json_stdout(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(status_of(&v, "You are on main"), "fail");
    assert_eq!(status_of(&v, "clean"), "fail");
    assert_eq!(status_of(&v, "up to date"), "fail");
    assert_eq!(status_of(&v, "semantic version"), "fail");
    let evidence = v["items"].to_string();
    assert!(evidence.contains("feature"), "{evidence}");
    assert!(evidence.contains("notes.txt"), "{evidence}");
    assert!(evidence.contains("1 commit behind"), "{evidence}");
    assert!(evidence.contains("v1.3.0"), "{evidence}");
}

#[test]
fn during_deploy_passes_with_ci_approval_and_finished_deployments() {
    let fx = Fx::with_apps(false, finished_apps());
    let sha = fx.shas["v1.3.0"].clone();
    fx.gh.add_run("CI", &sha, RunPlan::success());
    let run = fx.gh.add_run(DEPLOY_WF, &sha, RunPlan::awaiting_approval());
    // A reviewer approves on GitHub.
    let url = format!(
        "{}/repos/octo/app/actions/runs/{run}/pending_deployments",
        fx.gh.url()
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let status = fx.rt.block_on(async {
        reqwest::Client::new()
            .post(&url)
            .bearer_auth(GH_TOKEN)
            .header("accept", "application/vnd.github+json")
            .json(&serde_json::json!({"environment_ids": [161_088_068], "state": "approved", "comment": "lgtm"}))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert!(status.is_success(), "{status}");
    std::thread::sleep(Duration::from_millis(50));

    let out = fx
        .almarel()
        .args(["checklist", "during-deploy", "v1.3.0", "--json"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let v = json_stdout(&out);
    assert_eq!(v["sha"], sha.as_str());
    assert_eq!(status_of(&v, "CI finished"), "pass");
    assert_eq!(status_of(&v, "approval"), "pass");
    assert_eq!(status_of(&v, "Coolify"), "pass");
    assert!(
        v["items"].to_string().contains("approved by @octocat"),
        "{v}"
    );

    // Another commit: no CI run, no deploy run, and the apps' finished
    // deployments are of v1.3.0, not of this commit (SPEC §7.4).
    let out = fx
        .almarel()
        .args(["checklist", "during-deploy", "v1.2.1", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json_stdout(&out);
    assert_eq!(status_of(&v, "CI finished"), "fail");
    assert_eq!(status_of(&v, "approval"), "fail");
    assert_eq!(status_of(&v, "Coolify"), "fail");
    assert!(
        v["items"]
            .to_string()
            .contains("on v1.3.0, not this release"),
        "{v}"
    );
}

#[test]
fn during_deploy_fails_while_a_deployment_runs_and_ci_failed() {
    let mut apps = apps_at("v1.3.0");
    apps[1].in_flight_for = Some(Duration::from_secs(600));
    let fx = Fx::with_apps(false, apps);
    let sha = fx.shas["v1.3.0"].clone();
    fx.gh.add_run("CI", &sha, RunPlan::failure());
    let out = fx
        .almarel()
        .args(["checklist", "during-deploy", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json_stdout(&out);
    assert_eq!(v["ref"], "origin/main");
    assert_eq!(status_of(&v, "CI finished"), "fail");
    assert_eq!(status_of(&v, "Coolify"), "fail");
    let evidence = v["items"].to_string();
    assert!(evidence.contains("failure"), "{evidence}");
    assert!(
        evidence.contains("web: on v1.3.0, deployment still in_progress"),
        "{evidence}"
    );
    assert!(
        evidence.contains("api: configured v1.3.0, never deployed"),
        "{evidence}"
    );
}

#[test]
fn after_deploy_probes_production_for_the_ref() {
    let fx = Fx::with_apps(false, finished_apps());
    let out = fx
        .almarel()
        .args(["checklist", "after-deploy", "v1.3.0", "--json"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let v = json_stdout(&out);
    let it = items(&v);
    assert_eq!(it.len(), 5, "{v}");
    assert!(it.iter().all(|(_, _, s)| s == "pass"), "{v}");
    assert_eq!(status_of(&v, "Every app runs the release"), "pass");

    // Expecting another release: the version item fails.
    let out = fx
        .almarel()
        .args(["checklist", "after-deploy", "v1.2.1", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json_stdout(&out);
    assert_eq!(status_of(&v, "/api/version"), "fail");
    assert_eq!(status_of(&v, "health"), "pass");

    // Unhealthy: health fails, the smoke steps are skipped.
    fx.prod.control().set_health(500);
    let out = fx
        .almarel()
        .args(["checklist", "after-deploy", "v1.3.0", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json_stdout(&out);
    assert_eq!(status_of(&v, "health"), "fail");
    assert_eq!(status_of(&v, "Smoke"), "skipped");
}

#[test]
fn all_phases_json_shape_and_human_output() {
    let fx = Fx::with_apps(false, finished_apps());
    let out = fx.almarel().args(["checklist", "--json"]).run().unwrap();
    assert_no_panic(&out);
    let v = json_stdout(&out);
    let phases: Vec<String> = items(&v).into_iter().map(|(p, _, _)| p).collect();
    for p in [
        "before-merge",
        "before-tag",
        "during-deploy",
        "after-deploy",
    ] {
        assert!(phases.iter().any(|x| x == p), "{p} missing: {v}");
    }
    for i in v["items"].as_array().unwrap() {
        let keys: Vec<&str> = i.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 5, "{i}");
        for k in ["phase", "name", "kind", "status", "evidence"] {
            assert!(i.get(k).is_some(), "{k} missing in {i}");
        }
        let kind = i["kind"].as_str().unwrap();
        let status = i["status"].as_str().unwrap();
        assert!(["automated", "manual"].contains(&kind), "{i}");
        assert!(
            ["pass", "fail", "manual", "skipped", "not_due"].contains(&status),
            "{i}"
        );
        assert_eq!(kind == "manual", status == "manual", "{i}");
    }
    assert_eq!(status_of(&v, "Staging validation"), "manual");
    // No CI run and no approval for the commit: exit 1 with the counts.
    assert_eq!(out.status.code(), Some(1));
    assert!(v["failed"].as_u64().unwrap() >= 2, "{v}");

    let out = fx.almarel().args(["checklist"]).run().unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.contains("before-merge"), "{stdout}");
    assert!(stdout.contains("[ ]"), "{stdout}");
    assert!(stderr.contains("automated items failed"), "{stderr}");
}

#[test]
fn an_unreachable_remote_fails_its_items_with_the_reason() {
    let fx = Fx::new(false);
    let text = std::fs::read_to_string(&fx.config).unwrap();
    let dead = format!("http://127.0.0.1:{}", closed_port());
    std::fs::write(&fx.config, text.replace(&fx.gh.url(), &dead)).unwrap();
    let out = fx
        .almarel()
        .args(["checklist", "during-deploy", "v1.3.0", "--json"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(1));
    let v = json_stdout(&out);
    assert_eq!(status_of(&v, "CI finished"), "fail");
    assert_eq!(status_of(&v, "approval"), "fail");
    let evidence = v["items"].to_string();
    assert!(evidence.contains("github: GET"), "{evidence}");
    assert!(
        evidence.contains("Connection refused"),
        "the reason is given: {evidence}"
    );
    assert!(!evidence.contains("github: github:"), "{evidence}");
    // Coolify is reachable and was still checked.
    assert_ne!(status_of(&v, "Coolify"), "");
}

#[test]
fn an_unknown_phase_is_a_usage_error() {
    let fx = Fx::new(false);
    let out = fx
        .almarel()
        .args(["checklist", "after-lunch"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("before-merge, before-tag"), "{stderr}");
}

#[test]
fn after_deploy_fails_the_live_item_for_a_mixed_release() {
    use crate::verify::{Web, mixed_world};
    for web in [Web::Behind, Web::Failed] {
        let w = mixed_world(web);
        let out = w
            .almarel()
            .args(["checklist", "after-deploy", "v1.2.3", "--json"])
            .run()
            .unwrap();
        assert_no_panic(&out);
        let (_, stderr) = texts(&out);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        let v = json_stdout(&out);
        // Production answers the release's SHA: that item alone is fine.
        assert_eq!(status_of(&v, "/api/version"), "pass", "{v}");
        assert_eq!(status_of(&v, "Every app runs the release"), "fail", "{v}");
        let evidence = v["items"].to_string();
        assert!(evidence.contains("MIXED (web not on it)"), "{evidence}");

        let out = w
            .almarel()
            .args(["checklist", "during-deploy", "v1.2.3", "--json"])
            .run()
            .unwrap();
        let v = json_stdout(&out);
        assert_eq!(status_of(&v, "Coolify"), "fail", "{v}");
    }
    let w = mixed_world(Web::Live);
    let out = w
        .almarel()
        .args(["checklist", "after-deploy", "v1.2.3", "--json"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        status_of(&json_stdout(&out), "Every app runs the release"),
        "pass"
    );
}

#[test]
fn json_shapes_are_stable() {
    use crate::verify::{Web, mixed_world};
    let w = mixed_world(Web::Behind);
    let out = w
        .almarel()
        .args(["checklist", "after-deploy", "v1.2.3", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    insta::assert_json_snapshot!("checklist_after_deploy_mixed", w.stable(&out));
}

#[test]
fn right_after_merging_the_deploy_phases_are_not_yet_due_not_failures() {
    let fx = Fx::with_apps(false, finished_apps());
    // Production and both apps run v1.3.0; a new commit lands on main.
    let sha = fx.repos.commit_and_push("Fix a typo");
    let out = fx.almarel().args(["checklist", "--json"]).run().unwrap();
    assert_no_panic(&out);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let v = json_stdout(&out);
    assert_eq!(v["sha"], sha.as_str());
    assert_eq!(v["failed"], 0, "{v}");
    for (phase, name, status) in items(&v) {
        if phase == "during-deploy" || phase == "after-deploy" {
            assert!(
                status == "not_due" || status == "manual",
                "{name}: {status}: {v}"
            );
        }
    }
    assert_eq!(status_of(&v, "CI finished"), "not_due");
    assert_eq!(status_of(&v, "Every app runs the release"), "not_due");
    assert!(v["not_due"].as_u64().unwrap() >= 5, "{v}");
    assert!(
        v["items"]
            .to_string()
            .contains("not yet due: no Deploy to Production run"),
        "{v}"
    );

    // Human output: dimmed, said, and exit 0.
    let out = fx.almarel().args(["checklist"]).run().unwrap();
    let (stdout, _) = texts(&out);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout.contains("not yet due"), "{stdout}");
    assert!(!stdout.contains('✗'), "{stdout}");

    // A phase asked for by name is evaluated as asked.
    let out = fx
        .almarel()
        .args(["checklist", "after-deploy", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(status_of(&json_stdout(&out), "/api/version"), "fail");

    // Once a deploy run exists for the commit, the phases are due again.
    fx.gh.add_run(DEPLOY_WF, &sha, RunPlan::awaiting_approval());
    let out = fx.almarel().args(["checklist", "--json"]).run().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json_stdout(&out);
    assert_eq!(status_of(&v, "CI finished"), "fail");
    assert_eq!(status_of(&v, "Every app runs the release"), "fail");
}

#[test]
fn unset_urls_and_repository_are_manual_items_not_failures() {
    let fx = Fx::with_apps(false, finished_apps());
    // Only git: no [github], no [verify], no [coolify].
    std::fs::write(&fx.config, "").unwrap();
    let out = fx
        .almarel()
        .args(["checklist", "after-deploy", "v1.3.0", "--json"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let v = json_stdout(&out);
    assert_eq!(v["failed"], 0, "{v}");
    for (_, name, status) in items(&v) {
        assert_eq!(status, "manual", "{name}: {v}");
    }
    assert!(
        v["items"]
            .to_string()
            .contains("verify.version_url is not set"),
        "{v}"
    );
    let out = fx
        .almarel()
        .args(["checklist", "during-deploy", "v1.3.0", "--json"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let v = json_stdout(&out);
    for (_, name, status) in items(&v) {
        assert_eq!(status, "manual", "{name}: {v}");
    }
    let out = fx.almarel().args(["checklist", "v1.3.0"]).run().unwrap();
    let (stdout, _) = texts(&out);
    assert!(!stdout.contains('✗'), "{stdout}");
}
