//! `almarel deploy` tests, against the Coolify simulator.

use crate::support::Run;
use std::time::Duration;

use almarel_sandbox::coolify::{self as sim, AppSpec, Ending, Fault};
use almarel_sandbox::production as prod;

use crate::support::coolify::*;
use crate::support::{Sandbox, assert_no_panic, json_stdout, texts};

const API: &str = "k8s0wccw4g0o0kw4okcs8wss";
const WEB: &str = "w3b0wccw4g0o0kw4okcs8wss";

fn changes(c: &almarel_sandbox::Recorder) -> (usize, usize) {
    (
        c.matching("PATCH", "/api/v1/applications/").len(),
        c.matching("POST", "/api/v1/deploy").len(),
    )
}

#[test]
fn patches_the_tag_and_deploys_each_app_with_force_then_exits_0() {
    let rt = runtime();
    let c = coolify(&rt, sim::Config::new(two_apps()));
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &two_apps()));
    let out = almarel(&sb, &dir, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");

    let rec = c.recorder();
    for uuid in [API, WEB] {
        let patches = rec.matching("PATCH", &format!("/api/v1/applications/{uuid}"));
        assert_eq!(patches.len(), 1, "{patches:?}");
        let body: serde_json::Value = serde_json::from_str(&patches[0].body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"docker_registry_image_tag": "v1.2.3"})
        );
        assert!(
            patches[0]
                .headers
                .contains(&("authorization".into(), "Bearer".into()))
        );
        assert!(
            patches[0]
                .headers
                .contains(&("accept".into(), "application/json".into()))
        );
        let posts = rec.matching("POST", &format!("/api/v1/deploy?uuid={uuid}&force=true"));
        assert_eq!(posts.len(), 1, "{:?}", rec.all());
        assert_eq!(c.image_tag(uuid).as_deref(), Some("v1.2.3"));
    }
    // Each app's deployment ran with the new tag and finished.
    let deps = c.deployments();
    assert_eq!(deps.len(), 2);
    assert!(
        deps.iter()
            .all(|d| d.status == "finished" && d.image_tag.as_deref() == Some("v1.2.3")),
        "{deps:?}"
    );
    assert!(stdout.contains("finished"), "{stdout}");
    assert!(stderr.contains("almarel verify"), "{stderr}");
    // Per app, written ahead: both `started` lines before any outcome, then ok.
    let audit = sb.audit_lines();
    let results: Vec<(&str, &str)> = audit
        .iter()
        .map(|l| (l["target"].as_str().unwrap(), l["result"].as_str().unwrap()))
        .collect();
    assert_eq!(
        results,
        [
            ("api@v1.2.3", "started"),
            ("web@v1.2.3", "started"),
            ("api@v1.2.3", "ok"),
            ("web@v1.2.3", "ok")
        ],
        "{audit:?}"
    );
    assert!(audit.iter().all(|l| l["command"] == "deploy"));
    assert!(
        !std::fs::read_to_string(sb.state_dir().join("audit.jsonl"))
            .unwrap()
            .contains("almarel-sim-token")
    );
}

#[test]
fn a_failed_deployment_exits_1_and_restores_the_previous_tag_without_redeploying() {
    let rt = runtime();
    let mut apps = two_apps();
    apps[1].ending = Ending::Fail;
    let c = coolify(&rt, sim::Config::new(apps.clone()));
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    let out = almarel(&sb, &dir, sim::SENSITIVE_TOKEN)
        .args(["deploy", "--tag", "v1.2.3", "--yes", "--json"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");

    let rec = c.recorder();
    let web_patches = rec.matching("PATCH", &format!("/api/v1/applications/{WEB}"));
    assert_eq!(web_patches.len(), 2, "set, then restore");
    assert!(
        web_patches[1].body.contains("v1.2.2"),
        "{:?}",
        web_patches[1]
    );
    assert_eq!(
        rec.matching("POST", &format!("/api/v1/deploy?uuid={WEB}"))
            .len(),
        1,
        "no extra deploy for the restore"
    );
    assert_eq!(c.image_tag(WEB).as_deref(), Some("v1.2.2"));
    assert_eq!(c.image_tag(API).as_deref(), Some("v1.2.3"));

    let v = json_stdout(&out);
    assert_eq!(v["ok"], false);
    let web = v["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["app"] == "web")
        .unwrap();
    assert_eq!(web["status"], "failed");
    assert_eq!(web["restored"], true);
    // The build log's last visible lines are shown; hidden entries are not.
    assert!(stderr.contains("Healthcheck failed"), "{stderr}");
    assert!(!stderr.contains("internal: pulling"), "{stderr}");
    assert!(stderr.contains("restored"), "{stderr}");
    let audit = sb.audit_lines();
    assert_eq!(audit.len(), 4, "two started, two outcomes: {audit:?}");
    assert!(audit.iter().any(
        |l| l["target"] == "web@v1.2.3" && l["result"].as_str().unwrap().starts_with("failed")
    ));
}

#[test]
fn the_deadline_exits_5_and_leaves_the_deployment_running() {
    let rt = runtime();
    let mut apps = vec![AppSpec::docker("api", API, "v1.2.2")];
    apps[0].ending = Ending::Hang;
    let c = coolify(&rt, sim::Config::new(apps.clone()));
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    let started = std::time::Instant::now();
    let out = almarel(&sb, &dir, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes", "--timeout", "3s"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(stderr.contains("left running"), "{stderr}");
    assert!(stderr.contains("Coolify dashboard"), "{stderr}");
    // Not restored: it may still finish.
    assert_eq!(changes(c.recorder()), (1, 1));
    assert_eq!(c.image_tag(API).as_deref(), Some("v1.2.3"));
    assert_eq!(c.deployments()[0].status, "in_progress");
}

#[test]
fn a_pre_release_is_refused_without_the_flag_and_nothing_is_sent() {
    let rt = runtime();
    let c = coolify(&rt, sim::Config::new(two_apps()));
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &two_apps()));
    let out = almarel(&sb, &dir, sim::TOKEN)
        .args(["deploy", "--tag", "1.3.0-rc.1", "--yes"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("pre-release"), "{stderr}");
    assert_eq!(changes(c.recorder()), (0, 0));
    assert!(sb.audit_lines().is_empty());

    // With the flag it goes through.
    let out = almarel(&sb, &dir, sim::TOKEN)
        .args([
            "deploy",
            "--tag",
            "1.3.0-rc.1",
            "--yes",
            "--allow-prerelease",
        ])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    assert_eq!(c.image_tag(API).as_deref(), Some("v1.3.0-rc.1"));
}

#[test]
fn an_app_that_is_not_a_docker_image_app_is_refused_before_any_change() {
    let rt = runtime();
    let mut apps = two_apps();
    apps[1].build_pack = "nixpacks".into();
    let c = coolify(&rt, sim::Config::new(apps.clone()));
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    let out = almarel(&sb, &dir, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("`web` is a `nixpacks` app"), "{stderr}");
    assert!(stderr.contains("full rebuild"), "{stderr}");
    assert_eq!(changes(c.recorder()), (0, 0));
    assert_eq!(c.image_tag(API).as_deref(), Some("v1.2.2"));
}

#[test]
fn without_a_terminal_and_without_yes_nothing_is_changed() {
    let rt = runtime();
    let c = coolify(&rt, sim::Config::new(two_apps()));
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &two_apps()));
    let out = almarel(&sb, &dir, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("--yes"), "{stderr}");
    assert_eq!(changes(c.recorder()), (0, 0));
    assert!(sb.audit_lines().is_empty());
}

#[test]
fn dry_run_reads_and_prints_the_writes_but_sends_none() {
    let rt = runtime();
    let c = coolify(&rt, sim::Config::new(two_apps()));
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &two_apps()));
    let out = almarel(&sb, &dir, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--dry-run"])
        .run()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains(&format!("PATCH /api/v1/applications/{API}")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("POST /api/v1/deploy?uuid={WEB}&force=true")),
        "{stdout}"
    );
    assert_eq!(changes(c.recorder()), (0, 0));
    assert!(
        !c.recorder()
            .matching("GET", &format!("/api/v1/applications/{API}"))
            .is_empty()
    );
    assert!(sb.audit_lines().is_empty());
    // The next step is the exact command without --dry-run.
    assert!(
        stderr.contains("next: almarel deploy --tag v1.2.3\n"),
        "{stderr}"
    );
}

#[test]
fn a_bad_token_is_exit_4_and_never_echoed() {
    let rt = runtime();
    let c = coolify(&rt, sim::Config::new(two_apps()));
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &two_apps()));
    let bad = "99|not-a-real-token-value-zz";
    for extra in [vec![], vec!["--json"], vec!["-vv"]] {
        let out = almarel(&sb, &dir, bad)
            .args(["deploy", "--tag", "1.2.3", "--yes"])
            .args(&extra)
            .run()
            .unwrap();
        let (stdout, stderr) = texts(&out);
        assert_eq!(out.status.code(), Some(4), "{stderr}");
        assert!(
            format!("{stdout}{stderr}").contains("rejected the API token"),
            "{stdout}{stderr}"
        );
        assert!(!stdout.contains("not-a-real-token") && !stderr.contains("not-a-real-token"));
    }
    assert_eq!(changes(c.recorder()), (0, 0));
}

#[test]
fn a_token_without_the_write_ability_is_named() {
    let rt = runtime();
    let apps = vec![AppSpec::docker("api", API, "v1.2.2")];
    let token = "5|read-and-deploy-only";
    let c = coolify(
        &rt,
        sim::Config::new(apps.clone()).with_token(token, &["read", "deploy"]),
    );
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    let out = almarel(&sb, &dir, token)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("lacks the `write` ability"), "{stderr}");
    assert!(stderr.contains("read, deploy and write"), "{stderr}");
    assert!(c.recorder().matching("POST", "/api/v1/deploy").is_empty());

    // A deploy-only token fails on the first read, before any change.
    let token = "6|deploy-only";
    let c = coolify(
        &rt,
        sim::Config::new(apps.clone()).with_token(token, &["deploy"]),
    );
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    let out = almarel(&sb, &dir, token)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("lacks the `read` ability"), "{stderr}");
    assert_eq!(changes(c.recorder()), (0, 0));
}

#[test]
fn api_disabled_says_where_to_enable_it() {
    let rt = runtime();
    let mut config = sim::Config::new(two_apps());
    config.api_disabled = true;
    let c = coolify(&rt, config);
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &two_apps()));
    let out = almarel(&sb, &dir, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("API Access"), "{stderr}");
}

#[test]
fn an_unknown_app_name_or_uuid_is_reported() {
    let rt = runtime();
    let c = coolify(&rt, sim::Config::new(two_apps()));
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &two_apps()));
    let out = almarel(&sb, &dir, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes", "--app", "worker"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(c.recorder().all().is_empty(), "nothing sent");

    // A uuid Coolify does not know: exit 4 naming the app.
    let apps = vec![AppSpec::docker("api", "nosuchuuid000000000000000", "x")];
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    let out = almarel(&sb, &dir, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("app `api`"), "{stderr}");
}

#[test]
fn only_the_named_app_is_deployed() {
    let rt = runtime();
    let c = coolify(&rt, sim::Config::new(two_apps()));
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &two_apps()));
    let out = almarel(&sb, &dir, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes", "--app", "web"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    assert_eq!(c.image_tag(API).as_deref(), Some("v1.2.2"));
    assert_eq!(c.image_tag(WEB).as_deref(), Some("v1.2.3"));
    assert_eq!(changes(c.recorder()), (1, 1));
}

#[test]
fn no_wait_returns_the_deployment_uuids() {
    let rt = runtime();
    let c = coolify(&rt, sim::Config::new(two_apps()));
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &two_apps()));
    let out = almarel(&sb, &dir, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes", "--no-wait", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let v = json_stdout(&out);
    let deps = v["deployments"].as_array().unwrap();
    assert_eq!(deps.len(), 2);
    let known: Vec<String> = c.deployments().into_iter().map(|d| d.uuid).collect();
    for d in deps {
        assert_eq!(d["status"], "triggered");
        assert!(
            known.contains(&d["uuid"].as_str().unwrap().to_owned()),
            "{d}"
        );
    }
    assert!(
        c.recorder()
            .matching("GET", "/api/v1/deployments/dpl")
            .is_empty()
    );
    let stderr = texts(&out).1;
    assert!(
        stderr.contains("next: almarel verify --expect-tag v1.2.3"),
        "{stderr}"
    );
}

#[test]
fn a_deployment_already_in_flight_is_waited_for_and_never_cancelled() {
    let rt = runtime();
    let mut apps = vec![AppSpec::docker("api", API, "v1.2.2")];
    apps[0].in_flight_for = Some(Duration::from_millis(1500));
    let c = coolify(&rt, sim::Config::new(apps.clone()));
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    let out = almarel(&sb, &dir, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("already in_progress") || stderr.contains("already in progress"),
        "{stderr}"
    );
    assert!(
        c.recorder()
            .matching("POST", "/api/v1/deployments/")
            .is_empty(),
        "no cancel"
    );
    let deps = c.deployments();
    assert_eq!(deps.len(), 2);
    assert_eq!(deps[0].status, "finished");
    assert_eq!(deps[0].image_tag.as_deref(), Some("v1.2.2"));
    assert_eq!(deps[1].image_tag.as_deref(), Some("v1.2.3"));
    // Ours was triggered only after the earlier one ended.
    let rec = c.recorder().all();
    let post = rec.iter().position(|r| r.method == "POST").unwrap();
    let earlier_done = rec
        .iter()
        .position(|r| r.path == format!("/api/v1/deployments/{}", deps[0].uuid) && r.status == 200)
        .unwrap();
    assert!(earlier_done < post);
}

#[test]
fn transient_errors_on_reads_are_retried_and_a_rate_limited_post_is_resent() {
    let rt = runtime();
    let apps = vec![AppSpec::docker("api", API, "v1.2.2")];
    let c = coolify(&rt, sim::Config::new(apps.clone()));
    c.inject(Fault {
        method: "GET".into(),
        path_prefix: format!("/api/v1/applications/{API}"),
        status: 502,
        body: "<html>bad gateway</html>".into(),
        headers: vec![],
        times: 1,
    });
    c.inject(Fault {
        method: "POST".into(),
        path_prefix: "/api/v1/deploy".into(),
        status: 429,
        body: r#"{"message":"Too Many Attempts."}"#.into(),
        headers: vec![("retry-after".into(), "1".into())],
        times: 1,
    });
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    let out = almarel(&sb, &dir, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let posts = c.recorder().matching("POST", "/api/v1/deploy");
    assert_eq!(
        posts.iter().map(|p| p.status).collect::<Vec<_>>(),
        vec![429, 200]
    );
    assert_eq!(c.deployments().len(), 1);
}

#[test]
fn a_post_that_fails_with_5xx_is_not_resent_and_the_tag_is_restored() {
    let rt = runtime();
    let apps = vec![AppSpec::docker("api", API, "v1.2.2").with_history(&["v1.2.2"])];
    let c = coolify(&rt, sim::Config::new(apps.clone()));
    c.inject(Fault {
        method: "POST".into(),
        path_prefix: "/api/v1/deploy".into(),
        status: 500,
        body: r#"{"message":"Server Error"}"#.into(),
        headers: vec![],
        times: 1,
    });
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    let out = almarel(&sb, &dir, sim::SENSITIVE_TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert_eq!(c.recorder().matching("POST", "/api/v1/deploy").len(), 1);
    assert_eq!(c.image_tag(API).as_deref(), Some("v1.2.2"));
}

#[test]
fn in_github_actions_outputs_and_summary_are_written() {
    let rt = runtime();
    let c = coolify(&rt, sim::Config::new(two_apps()));
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &two_apps()));
    let output = sb.path().join("gh_output");
    let summary = sb.path().join("gh_summary");
    let out = almarel(&sb, &dir, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let o = std::fs::read_to_string(&output).unwrap();
    assert!(
        o.contains("tag=v1.2.3\n") && o.contains("version=1.2.3\n"),
        "{o}"
    );
    assert!(o.contains(&format!("sha={}\n", dir.v123)), "{o}");
    let line = o.lines().find(|l| l.starts_with("deployments=")).unwrap();
    let deps: serde_json::Value = serde_json::from_str(&line["deployments=".len()..]).unwrap();
    assert_eq!(deps.as_array().unwrap().len(), 2);
    assert_eq!(deps[0]["app"], "api");
    assert_eq!(deps[0]["status"], "finished");
    assert!(deps[0]["uuid"].is_string());
    let s = std::fs::read_to_string(&summary).unwrap();
    assert!(s.contains("| api | finished |"), "{s}");
}

#[test]
fn deploy_then_verify_sees_production_switch() {
    let rt = runtime();
    let c = coolify(&rt, sim::Config::new(two_apps()));
    let p = production(&rt, prod::Config::new(OLD_SHA));
    let sb = Sandbox::new();
    let toml = format!(
        "{}{}",
        coolify_toml(&c.url(), &two_apps()),
        verify_toml(&p.url())
    );
    let dir = deploy_project(&sb, &rt, &toml);
    // Production serves v1.2.3's commit once api has deployed it.
    let (control, v123) = (p.control(), dir.v123.clone());
    c.on_finish(move |app, tag| {
        if app == "api" && tag == "v1.2.3" {
            control.set_sha(&v123);
        }
    });
    let before = almarel(&sb, &dir, sim::TOKEN)
        .args(["verify", "--expect-tag", "v1.2.3"])
        .run()
        .unwrap();
    assert_eq!(before.status.code(), Some(1));
    let out = almarel(&sb, &dir, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let after = almarel(&sb, &dir, sim::TOKEN)
        .args(["verify", "--expect-tag", "v1.2.3"])
        .run()
        .unwrap();
    assert_eq!(after.status.code(), Some(0), "{}", texts(&after).1);
}

#[test]
fn an_already_queued_answer_without_a_real_deployment_is_not_started_and_restored() {
    let rt = runtime();
    let apps = vec![AppSpec::docker("api", API, "v1.2.2").with_history(&["v1.2.2"])];
    let c = coolify(&rt, sim::Config::new(apps.clone()));
    // What Coolify answers when it skipped the request: a uuid it never stored.
    c.inject(Fault {
        method: "POST".into(),
        path_prefix: "/api/v1/deploy".into(),
        status: 200,
        body: format!(
            r#"{{"deployments":[{{"message":"Deployment already queued for this commit.","resource_uuid":"{API}","deployment_uuid":"bogus000000000000000000"}}]}}"#
        ),
        headers: vec![],
        times: 1,
    });
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    let out = almarel(&sb, &dir, sim::SENSITIVE_TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("already queued"), "{stderr}");
    assert!(
        c.recorder()
            .matching("GET", "/api/v1/deployments/bogus")
            .is_empty(),
        "the bogus uuid is never followed"
    );
    assert_eq!(c.image_tag(API).as_deref(), Some("v1.2.2"), "restored");
}

#[test]
fn configuration_mistakes_are_exit_2_before_any_request() {
    let rt = runtime();
    let c = coolify(&rt, sim::Config::new(two_apps()));
    let sb = Sandbox::new();
    // An unknown placeholder in the image tag template.
    let toml = format!(
        "[coolify]\nurl = \"{}\"\nimage_tag = \"{{tags}}\"\n[[coolify.apps]]\nname = \"api\"\nuuid = \"{API}\"\n",
        c.url()
    );
    let dir = deploy_project(&sb, &rt, &toml);
    let out = almarel(&sb, &dir, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("coolify.image_tag") && stderr.contains("{tags}"),
        "{stderr}"
    );
    // No token.
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &two_apps()));
    let out = sb
        .almarel(&dir)
        .args([
            "--config",
            "almarel.toml",
            "deploy",
            "--tag",
            "1.2.3",
            "--yes",
        ])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(texts(&out).1.contains("COOLIFY_TOKEN"));
    // The token would travel over plain http to a remote host.
    let dir = project(
        &sb,
        &coolify_toml("http://coolify.example.com", &two_apps()),
    );
    let out = almarel(&sb, &dir, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("plain http"), "{stderr}");
    assert!(c.recorder().all().is_empty());
}

#[test]
fn frozen_releases_are_refused_and_nothing_is_changed() {
    let rt = runtime();
    let c = coolify(&rt, sim::Config::new(two_apps()));
    let sb = Sandbox::new();
    let proj = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &two_apps()));
    proj.github
        .set_workflow_state("Deploy to Production", "disabled_manually");
    let out = almarel(&sb, &proj, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("frozen"), "{stderr}");
    assert!(stderr.contains("unfreeze"), "{stderr}");
    assert_eq!(changes(c.recorder()), (0, 0));
    assert!(sb.audit_lines().is_empty());
}

#[test]
fn ref_deploys_its_release_tag_and_a_final_tag_wins_over_an_rc() {
    let rt = runtime();
    let c = coolify(&rt, sim::Config::new(two_apps()));
    let sb = Sandbox::new();
    let proj = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &two_apps()));
    let sha = proj.github.add_commit("release 1.2.3");
    proj.github
        .add_run("CI", &sha, almarel_sandbox::github::RunPlan::success());
    proj.github.add_tag("v1.2.3-rc.1", &sha, true);
    proj.github.add_tag("v1.2.3", &sha, true);
    let out = almarel(&sb, &proj, sim::TOKEN)
        .args(["deploy", &sha[..7], "--yes", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    assert_eq!(c.image_tag(API).as_deref(), Some("v1.2.3"));
    let v = json_stdout(&out);
    assert_eq!(v["target"]["tag"], "v1.2.3");
    assert_eq!(v["target"]["sha"], sha.as_str());
    // The audit line names who deployed (the token's GitHub login).
    let audit = sb.audit_lines();
    assert_eq!(audit[0]["actor"]["github"], "octocat", "{audit:?}");
}

#[test]
fn an_untagged_commit_is_refused_unless_allowed_and_then_ships_prod_sha() {
    let rt = runtime();
    let c = coolify(&rt, sim::Config::new(two_apps()));
    let sb = Sandbox::new();
    let proj = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &two_apps()));
    let sha = proj.github.add_commit("hotfix without a tag");
    proj.github
        .add_run("CI", &sha, almarel_sandbox::github::RunPlan::success());
    let out = almarel(&sb, &proj, sim::TOKEN)
        .args(["deploy", &sha, "--yes"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("no release tag") && stderr.contains("--allow-untagged"),
        "{stderr}"
    );
    assert_eq!(changes(c.recorder()), (0, 0));

    let out = almarel(&sb, &proj, sim::TOKEN)
        .args(["deploy", &sha, "--yes", "--allow-untagged"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let expected = format!("prod-{sha}");
    assert_eq!(c.image_tag(API).as_deref(), Some(expected.as_str()));
    assert!(
        texts(&out)
            .1
            .contains(&format!("almarel verify --expect-sha {sha}"))
    );
}

#[test]
fn a_sha_placeholder_resolves_the_tag_through_github() {
    let rt = runtime();
    let c = coolify(&rt, sim::Config::new(two_apps()));
    let sb = Sandbox::new();
    let toml = coolify_toml(&c.url(), &two_apps()).replace(
        "[coolify]\n",
        "[coolify]\nimage_tag = \"{version}-{short_sha}\"\n",
    );
    let proj = deploy_project(&sb, &rt, &toml);
    let sha = proj.github.add_commit("release 1.2.3");
    proj.github.add_tag("v1.2.3", &sha, true);
    proj.github
        .add_run("CI", &sha, almarel_sandbox::github::RunPlan::success());
    let out = almarel(&sb, &proj, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let expected = format!("1.2.3-{}", &sha[..7]);
    assert_eq!(c.image_tag(WEB).as_deref(), Some(expected.as_str()));

    // A tag that exists nowhere: exit 2, nothing changed.
    let out = almarel(&sb, &proj, sim::TOKEN)
        .args(["deploy", "--tag", "9.9.9", "--yes"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", texts(&out).1);
    assert_eq!(changes(c.recorder()), (2, 2));
}

#[test]
fn ctrl_c_reports_what_was_already_done() {
    let rt = runtime();
    let mut apps = vec![AppSpec::docker("api", API, "v1.2.2")];
    apps[0].ending = Ending::Hang;
    let c = coolify(&rt, sim::Config::new(apps.clone()));
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    let child = spawnable(&sb, &dir, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the deployment was triggered, then interrupt.
    let started = std::time::Instant::now();
    while c.deployments().is_empty() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    crate::support::check_next(&out);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("already done"), "{stderr}");
    assert!(
        stderr.contains("set the image tag of app `api` to v1.2.3"),
        "{stderr}"
    );
    assert!(stderr.contains("triggered deployment"), "{stderr}");
    // The continuation names the target decided (a re-run waits for the
    // deployment this one started).
    assert_eq!(
        crate::support::next_lines(&out),
        ["almarel deploy --tag v1.2.3"],
        "{stderr}"
    );
}

#[test]
fn without_read_sensitive_the_failure_says_where_the_log_is() {
    let rt = runtime();
    let mut apps = vec![AppSpec::docker("api", API, "v1.2.2")];
    apps[0].ending = Ending::Fail;
    let c = coolify(&rt, sim::Config::new(apps.clone()));
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    let out = almarel(&sb, &dir, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("read:sensitive"), "{stderr}");
    assert!(!stderr.contains("Healthcheck failed"), "{stderr}");
}

#[test]
fn in_a_clone_the_tag_commit_comes_from_local_git_and_the_actor_is_the_git_identity() {
    let rt = runtime();
    let c = coolify(&rt, sim::Config::new(two_apps()));
    let r = crate::support::git::Repos::new();
    let sha = r.commit("release 1.2.3");
    r.tag("v1.2.3", &sha);
    // GitHub knows nothing of v1.2.3: the SHA can only come from the clone.
    let toml = coolify_toml(&c.url(), &two_apps()).replace(
        "[coolify]\n",
        "[coolify]\nimage_tag = \"{tag}-{short_sha}\"\n",
    );
    let proj = deploy_project(&r.sb, &rt, &toml);
    proj.github
        .add_run("CI", &sha, almarel_sandbox::github::RunPlan::success());
    std::fs::copy(proj.dir.join("almarel.toml"), r.work.join("almarel.toml")).unwrap();
    let out = almarel(&r.sb, &r.work, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let expected = format!("v1.2.3-{}", &sha[..7]);
    assert_eq!(c.image_tag(API).as_deref(), Some(expected.as_str()));
    let audit = r.sb.audit_lines();
    assert_eq!(
        audit[0]["actor"]["git"], "Jane Dev <jane@example.com>",
        "{audit:?}"
    );
    assert_eq!(audit[0]["actor"]["github"], "octocat");
}

#[test]
fn a_rate_limit_that_resets_after_the_deadline_is_exit_4_naming_the_time() {
    let rt = runtime();
    let apps = vec![AppSpec::docker("api", API, "v1.2.2").with_history(&["v1.2.2"])];
    let c = coolify(&rt, sim::Config::new(apps.clone()));
    c.inject(Fault {
        method: "POST".into(),
        path_prefix: "/api/v1/deploy".into(),
        status: 429,
        body: r#"{"message":"Deployment queue is full. Please wait for existing deployments to complete."}"#.into(),
        headers: vec![("retry-after".into(), "3600".into())],
        times: 1,
    });
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    let started = std::time::Instant::now();
    let out = almarel(&sb, &dir, sim::SENSITIVE_TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes", "--timeout", "1m"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(stderr.contains("rate limited until"), "{stderr}");
    assert!(stderr.contains("queue is full"), "{stderr}");
    assert_eq!(c.recorder().matching("POST", "/api/v1/deploy").len(), 1);
    assert_eq!(c.image_tag(API).as_deref(), Some("v1.2.2"), "restored");
}

fn patch_tags(c: &sim::CoolifySim, uuid: &str) -> Vec<String> {
    c.recorder()
        .matching("PATCH", &format!("/api/v1/applications/{uuid}"))
        .iter()
        .map(|p| {
            let v: serde_json::Value = serde_json::from_str(&p.body).unwrap();
            v["docker_registry_image_tag"]
                .as_str()
                .unwrap_or("null")
                .to_owned()
        })
        .collect()
}

#[test]
fn a_failure_restores_the_tag_last_finished_not_the_one_configured_at_the_start() {
    let rt = runtime();
    // An interrupted run left v1.2.4 configured; v1.2.2 is what last finished.
    let mut apps = vec![AppSpec::docker("api", API, "v1.2.4").with_history(&["v1.2.1", "v1.2.2"])];
    apps[0].ending = Ending::Fail;
    let c = coolify(&rt, sim::Config::new(apps.clone()));
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    let out = almarel(&sb, &dir, sim::SENSITIVE_TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes", "--json"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(patch_tags(&c, API), vec!["v1.2.3", "v1.2.2"]);
    assert_eq!(c.image_tag(API).as_deref(), Some("v1.2.2"));
    assert_eq!(c.recorder().matching("POST", "/api/v1/deploy").len(), 1);
    let v = json_stdout(&out);
    assert_eq!(v["apps"][0]["restored"], true);
    assert_eq!(v["apps"][0]["last_finished_image_tag"], "v1.2.2");
    assert!(stderr.contains("last finished deploying"), "{stderr}");
}

#[test]
fn when_the_last_finished_tag_cannot_be_known_nothing_is_restored_and_it_says_so() {
    let rt = runtime();
    let mut apps = vec![AppSpec::docker("api", API, "v1.2.2").with_history(&["v1.2.2"])];
    apps[0].ending = Ending::Fail;
    let c = coolify(&rt, sim::Config::new(apps.clone()));
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    // This token cannot read build logs, and production is not configured.
    let out = almarel(&sb, &dir, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(patch_tags(&c, API), vec!["v1.2.3"], "no guessed restore");
    assert_eq!(c.image_tag(API).as_deref(), Some("v1.2.3"));
    let all = format!("{stdout}{stderr}");
    assert!(all.contains("nothing was restored"), "{all}");
    assert!(all.contains("read:sensitive"), "{all}");
}

#[test]
fn a_patch_answered_200_but_not_applied_is_exit_4_and_nothing_is_deployed() {
    let rt = runtime();
    let mut apps = vec![AppSpec::docker("api", API, "v1.2.2").with_history(&["v1.2.2"])];
    apps[0].ignore_patch = true;
    let c = coolify(&rt, sim::Config::new(apps.clone()));
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    let out = almarel(&sb, &dir, sim::SENSITIVE_TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(4), "{stdout}\n{stderr}");
    assert!(stderr.contains("did not apply"), "{stderr}");
    assert!(!stdout.contains("running v1.2.3"), "{stdout}");
    assert!(c.recorder().matching("POST", "/api/v1/deploy").is_empty());
    assert_eq!(c.image_tag(API).as_deref(), Some("v1.2.2"));
    assert_eq!(patch_tags(&c, API), vec!["v1.2.3"], "nothing to restore");
}

#[test]
fn an_earlier_deployment_is_waited_for_before_deciding_what_to_restore() {
    let rt = runtime();
    // Someone else's v1.2.4 is running when we start; it fails, then ours fails.
    let mut apps = vec![AppSpec::docker("api", API, "v1.2.4").with_history(&["v1.2.2"])];
    apps[0].in_flight_for = Some(Duration::from_millis(1200));
    apps[0].in_flight_ending = Ending::Fail;
    apps[0].ending = Ending::Fail;
    let c = coolify(&rt, sim::Config::new(apps.clone()));
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    let out = almarel(&sb, &dir, sim::SENSITIVE_TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let deps = c.deployments();
    assert_eq!(
        deps[0].status, "failed",
        "the earlier one ran to its end: {deps:?}"
    );
    // Nothing was written before the earlier deployment ended.
    let rec = c.recorder().all();
    let first_write = rec.iter().position(|r| r.method != "GET").unwrap();
    let earlier_done = rec
        .iter()
        .position(|r| {
            r.path == format!("/api/v1/deployments/{}", deps[0].uuid)
                && r.body.is_empty()
                && r.status == 200
        })
        .unwrap();
    assert!(earlier_done < first_write);
    assert_eq!(patch_tags(&c, API), vec!["v1.2.3", "v1.2.2"]);
    assert_eq!(c.image_tag(API).as_deref(), Some("v1.2.2"));
}

#[test]
fn an_earlier_deployment_that_outlasts_the_timeout_is_exit_5_and_nothing_is_changed() {
    let rt = runtime();
    let mut apps = vec![AppSpec::docker("api", API, "v1.2.2").with_history(&["v1.2.2"])];
    apps[0].in_flight_for = Some(Duration::from_millis(100));
    apps[0].in_flight_ending = Ending::Hang;
    let c = coolify(&rt, sim::Config::new(apps.clone()));
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &apps));
    let out = almarel(&sb, &dir, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes", "--timeout", "2s"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert_eq!(changes(c.recorder()), (0, 0));
    assert_eq!(c.image_tag(API).as_deref(), Some("v1.2.2"));
}

#[test]
fn a_coolify_answer_over_32_mib_is_exit_4() {
    use crate::support::raw::{Behaviour, RawServer};
    let mut r =
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n".to_vec();
    r.extend(std::iter::repeat_n(b'4', 33 * 1024 * 1024));
    let big = RawServer::start(Behaviour::Respond(r));
    let rt = runtime();
    let apps = vec![AppSpec::docker("api", API, "v1.2.2")];
    let sb = Sandbox::new();
    let dir = deploy_project(&sb, &rt, &coolify_toml(&big.url, &apps));
    let out = almarel(&sb, &dir, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("32 MiB"), "{stderr}");
    assert_eq!(big.count("PATCH") + big.count("POST"), 0);
}

#[test]
fn a_deploy_where_web_failed_and_api_finished_is_mixed_and_verify_fails_naming_web() {
    let rt = runtime();
    let mut apps = two_apps();
    apps[1].ending = Ending::Fail;
    let c = coolify(&rt, sim::Config::new(apps.clone()));
    let p = production(&rt, prod::Config::new(OLD_SHA));
    let sb = Sandbox::new();
    let toml = format!("{}{}", coolify_toml(&c.url(), &apps), verify_toml(&p.url()));
    let dir = deploy_project(&sb, &rt, &toml);
    let (control, v123) = (p.control(), dir.v123.clone());
    c.on_finish(move |app, tag| {
        if app == "api" && tag == "v1.2.3" {
            control.set_sha(&v123);
        }
    });
    let out = almarel(&sb, &dir, sim::SENSITIVE_TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", texts(&out).1);
    // Production (api) answers with the release's SHA, but web is not on it.
    let out = almarel(&sb, &dir, sim::TOKEN)
        .args(["verify", "--expect-tag", "v1.2.3", "--json"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let v = json_stdout(&out);
    assert_eq!(v["live"]["state"]["state"], "mixed", "{v}");
    let checks = v["checks"].as_array().unwrap();
    let version = checks.iter().find(|c| c["name"] == "version").unwrap();
    assert_eq!(version["ok"], true, "{version}");
    let web = checks.iter().find(|c| c["name"] == "app: web").unwrap();
    assert_eq!(web["ok"], false, "{web}");
    let api = checks.iter().find(|c| c["name"] == "app: api").unwrap();
    assert_eq!(api["ok"], true, "{api}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("web"),
        "{v}"
    );

    // Without COOLIFY_TOKEN the app check is skipped, with a warning naming it.
    let out = almarel(&sb, &dir, "")
        .args(["verify", "--expect-tag", "v1.2.3"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("COOLIFY_TOKEN"), "{stderr}");
}

#[test]
fn without_readable_logs_the_release_production_runs_is_what_a_failure_restores() {
    let rt = runtime();
    let mut apps = vec![AppSpec::docker("api", API, "v1.2.4").with_history(&["v1.2.1"])];
    apps[0].ending = Ending::Fail;
    let c = coolify(&rt, sim::Config::new(apps.clone()));
    let p = production(&rt, prod::Config::new(OLD_SHA));
    let sb = Sandbox::new();
    let toml = format!("{}{}", coolify_toml(&c.url(), &apps), verify_toml(&p.url()));
    let dir = deploy_project(&sb, &rt, &toml);
    let sha = dir.github.add_commit("release v1.2.1");
    dir.github.add_tag("v1.2.1", &sha, true);
    p.control().set_sha(&sha);
    let out = almarel(&sb, &dir, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(patch_tags(&c, API), vec!["v1.2.3", "v1.2.1"]);
    assert_eq!(c.image_tag(API).as_deref(), Some("v1.2.1"));
    assert!(
        stderr.contains("almarel rollback") || stderr.contains("--app api"),
        "{stderr}"
    );
}

/// A deploy project whose v1.2.3 commit has CI concluding `ci` (instead of
/// the default success) and, optionally, a deploy run waiting for approval.
fn gated_project(
    sb: &Sandbox,
    rt: &tokio::runtime::Runtime,
    c: &sim::CoolifySim,
    ci: &str,
    waiting_deploy: bool,
) -> (Project, Option<u64>) {
    use almarel_sandbox::github::{Phase, RunPlan};
    let proj = deploy_project(sb, rt, &coolify_toml(&c.url(), &two_apps()));
    let sha = proj.github.add_commit("release 1.4.0");
    proj.github.add_tag("v1.4.0", &sha, true);
    proj.github
        .add_run("CI", &sha, RunPlan::fixed(Phase::Completed(ci.into())));
    let run = waiting_deploy.then(|| {
        proj.github
            .add_run("Deploy to Production", &sha, RunPlan::awaiting_approval())
    });
    (proj, run)
}

#[test]
fn failed_ci_is_refused_with_nothing_sent_unless_allowed() {
    let rt = runtime();
    let c = coolify(&rt, sim::Config::new(two_apps()));
    let sb = Sandbox::new();
    let (proj, _) = gated_project(&sb, &rt, &c, "failure", false);
    let out = almarel(&sb, &proj, sim::TOKEN)
        .args(["deploy", "--tag", "1.4.0", "--yes", "--json"])
        .run()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("--allow-failed-ci"), "{stderr}");
    assert!(stdout.contains("ci_not_green"), "{stdout}");
    assert_eq!(changes(c.recorder()), (0, 0));

    let out = almarel(&sb, &proj, sim::TOKEN)
        .args(["deploy", "--tag", "1.4.0", "--yes", "--allow-failed-ci"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    assert_eq!(c.image_tag(API).as_deref(), Some("v1.4.0"));
}

#[test]
fn a_pending_approval_is_refused_and_both_gates_are_reported_together() {
    let rt = runtime();
    let c = coolify(&rt, sim::Config::new(two_apps()));
    let sb = Sandbox::new();
    let (proj, _) = gated_project(&sb, &rt, &c, "failure", true);
    let out = almarel(&sb, &proj, sim::TOKEN)
        .args(["deploy", "--tag", "1.4.0", "--yes"])
        .run()
        .unwrap();
    let stderr = texts(&out).1;
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("--allow-failed-ci") && stderr.contains("--skip-approval"),
        "{stderr}"
    );
    assert_eq!(changes(c.recorder()), (0, 0));
    // GITHUB_ACTIONS=true alone does not stand for an approval.
    let out = almarel(&sb, &proj, sim::TOKEN)
        .args(["deploy", "--tag", "1.4.0", "--yes", "--allow-failed-ci"])
        .env("GITHUB_ACTIONS", "true")
        .run()
        .unwrap();
    let stderr = texts(&out).1;
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("waits for the production approval"),
        "{stderr}"
    );
    assert_eq!(changes(c.recorder()), (0, 0));
    // --skip-approval goes ahead and the audit line says so.
    let out = almarel(&sb, &proj, sim::TOKEN)
        .args([
            "deploy",
            "--tag",
            "1.4.0",
            "--yes",
            "--allow-failed-ci",
            "--skip-approval",
        ])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    assert!(
        sb.audit_lines()
            .iter()
            .any(|l| l["details"]["skip_approval"] == true),
        "{:?}",
        sb.audit_lines()
    );
}

#[test]
fn inside_the_deploy_run_of_the_commit_its_approval_stands() {
    let rt = runtime();
    let c = coolify(&rt, sim::Config::new(two_apps()));
    let sb = Sandbox::new();
    let (proj, run) = gated_project(&sb, &rt, &c, "success", true);
    let run = run.unwrap().to_string();
    // Another run id is not this commit's deploy run.
    let out = almarel(&sb, &proj, sim::TOKEN)
        .args(["deploy", "--tag", "1.4.0", "--yes"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_RUN_ID", "999999")
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", texts(&out).1);
    assert_eq!(changes(c.recorder()), (0, 0));
    let out = almarel(&sb, &proj, sim::TOKEN)
        .args(["deploy", "--tag", "1.4.0", "--yes"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_RUN_ID", &run)
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    assert_eq!(c.image_tag(API).as_deref(), Some("v1.4.0"));
}

#[test]
fn a_rejected_approval_is_refused_naming_skip_approval() {
    let rt = runtime();
    let c = coolify(&rt, sim::Config::new(two_apps()));
    let sb = Sandbox::new();
    let (proj, run) = gated_project(&sb, &rt, &c, "success", true);
    let run = run.unwrap();
    // The lead rejects the production deployment (through almarel itself).
    let out = almarel(&sb, &proj, sim::TOKEN)
        .args([
            "approve",
            "v1.4.0",
            "--reject",
            "--comment",
            "checkout errors in staging",
            "--yes",
        ])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    assert!(
        proj.github
            .approvals(run)
            .iter()
            .any(|r| r.state == "rejected"),
        "{:?}",
        proj.github.approvals(run)
    );
    let out = almarel(&sb, &proj, sim::TOKEN)
        .args(["deploy", "--tag", "1.4.0", "--yes", "--json"])
        .run()
        .unwrap();
    let stderr = texts(&out).1;
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("was rejected for production"), "{stderr}");
    assert!(
        stderr.contains("hint: pass --skip-approval to deploy anyway"),
        "{stderr}"
    );
    let v = json_stdout(&out);
    assert_eq!(v["error"]["code"], "approval_rejected");
    let approval = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "approval")
        .unwrap()
        .clone();
    assert_eq!(approval["ok"], false);
    assert_eq!(approval["fix"], "pass --skip-approval to deploy anyway");
    assert_eq!(changes(c.recorder()), (0, 0));
    // Only deploy's own audit lines count: the refusal wrote none.
    assert!(sb.audit_lines().iter().all(|l| l["command"] != "deploy"));
}

#[test]
fn an_approved_run_whose_job_then_failed_is_not_a_rejection() {
    use almarel_sandbox::github::Phase;
    let rt = runtime();
    let c = coolify(&rt, sim::Config::new(two_apps()));
    let sb = Sandbox::new();
    let (proj, run) = gated_project(&sb, &rt, &c, "success", true);
    let run = run.unwrap();
    let out = almarel(&sb, &proj, sim::TOKEN)
        .args(["approve", "v1.4.0", "--yes"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    // The approved deploy job then failed (e.g. the runner died).
    proj.github
        .set_phase(run, Phase::Completed("failure".into()));
    assert_eq!(
        proj.github.run_state(run),
        Some(("completed".into(), Some("failure".into())))
    );
    let out = almarel(&sb, &proj, sim::TOKEN)
        .args(["deploy", "--tag", "1.4.0", "--yes", "--json"])
        .run()
        .unwrap();
    let stderr = texts(&out).1;
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let v = json_stdout(&out);
    let approval = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "approval")
        .unwrap()
        .clone();
    assert_eq!(approval["ok"], true, "{approval}");
    assert!(
        approval["detail"]
            .as_str()
            .unwrap()
            .contains("approved by @"),
        "{approval}"
    );
    assert_eq!(changes(c.recorder()), (2, 2));
    assert_eq!(c.image_tag(API).as_deref(), Some("v1.4.0"));
    assert!(
        sb.audit_lines()
            .iter()
            .filter(|l| l["command"] == "deploy" && l["result"] == "ok")
            .all(|l| l["details"]["skip_approval"] == false)
    );
}

/// `text` with every `(from, to)` replaced, parsed; `elapsed_secs` and
/// `latency_ms` (timing) and deployment `uuid`s (numbered in the order the
/// concurrent apps reach Coolify) set to a marker.
pub fn stable_json(text: &str, replace: &[(String, String)]) -> serde_json::Value {
    let mut t = text.to_owned();
    for (from, to) in replace {
        t = t.replace(from.as_str(), to);
    }
    let mut v: serde_json::Value = serde_json::from_str(&t).unwrap();
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if (k == "elapsed_secs" || k == "latency_ms") && !x.is_null() {
                        *x = serde_json::json!("[timing]");
                    } else if k == "uuid" && x.is_string() {
                        *x = serde_json::json!("[deployment]");
                    } else {
                        walk(x);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

#[test]
fn json_shapes_are_stable() {
    let rt = runtime();
    let c = coolify(&rt, sim::Config::new(two_apps()));
    let sb = Sandbox::new();
    let proj = deploy_project(&sb, &rt, &coolify_toml(&c.url(), &two_apps()));
    let replace = |extra: &[(String, String)]| {
        let mut r = vec![
            (proj.github.url(), "[github]".to_owned()),
            (c.url(), "[coolify]".to_owned()),
            (proj.v123.clone(), "[sha]".to_owned()),
            (proj.v123[..7].to_owned(), "[short]".to_owned()),
        ];
        r.extend_from_slice(extra);
        r
    };
    let out = almarel(&sb, &proj, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--dry-run", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    insta::assert_json_snapshot!("deploy_dry_run", stable_json(&texts(&out).0, &replace(&[])));

    let out = almarel(&sb, &proj, sim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    insta::assert_json_snapshot!(
        "deploy_finished",
        stable_json(&texts(&out).0, &replace(&[]))
    );

    // A refusal: CI failed for the commit (nothing sent).
    let sb = Sandbox::new();
    let c2 = coolify(&rt, sim::Config::new(two_apps()));
    let (proj2, _) = gated_project(&sb, &rt, &c2, "failure", false);
    let out = almarel(&sb, &proj2, sim::TOKEN)
        .args(["deploy", "--tag", "1.4.0", "--yes", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", texts(&out).1);
    let sha = json_stdout(&out)["target"]["sha"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = vec![
        (proj2.github.url(), "[github]".to_owned()),
        (sha.clone(), "[sha]".to_owned()),
        (sha[..7].to_owned(), "[short]".to_owned()),
    ];
    insta::assert_json_snapshot!("deploy_refused_ci", stable_json(&texts(&out).0, &r));
    assert_eq!(changes(c2.recorder()), (0, 0));
}
