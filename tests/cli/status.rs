//! `almarel status`: the ledger read from the GitHub simulator, and `--watch`
//! outcomes (0 / 1 / 5), conditional requests, and error mapping.

use crate::support::Run;
use std::time::Duration;

use almarel_sandbox::github::{Fault, Phase, RunPlan};

use crate::support::github::{GhEnv, TOKEN, assert_no_token};
use crate::support::{Sandbox, assert_no_panic, json_stdout, texts};

#[test]
fn ledger_shows_tag_runs_approval_and_release() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("Add login page");
    gh.sim.add_tag("v1.2.3", &sha, true);
    gh.sim.add_tag("v1.2.3-rc.1", &sha, false);
    gh.sim.add_release("v1.2.3", false);
    gh.sim.add_run("CI", &sha, RunPlan::success());
    gh.sim
        .add_run("Release", &sha, RunPlan::fixed(Phase::InProgress));
    gh.sim
        .add_run("Deploy to Production", &sha, RunPlan::awaiting_approval());
    let out = gh.almarel(&sb).args(["status", "1.2.3"]).run().unwrap();
    assert_no_panic(&out);
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(o.contains("v1.2.3 → ") && o.contains("annotated"), "{o}");
    assert!(o.contains("v1.2.3-rc.1"), "other tags at the commit: {o}");
    assert!(
        o.contains("completed/success") && o.contains("in_progress"),
        "{o}"
    );
    assert!(
        o.contains("production waiting for approval; you can approve"),
        "{o}"
    );
    assert!(o.contains("releases/tag/v1.2.3"), "{o}");
    assert!(e.contains("next: almarel approve v1.2.3"), "{e}");
    assert_no_token(&out);
}

#[test]
fn ledger_json_without_ref_uses_main_and_reports_frozen() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("Fix checkout");
    gh.sim
        .set_workflow_state("Deploy to Production", "disabled_manually");
    let out = gh
        .almarel(&sb)
        .args(["status", "--json", "-vv"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v = json_stdout(&out);
    assert_eq!(v["ok"], true);
    assert_eq!(v["sha"], sha.as_str());
    assert_eq!(v["frozen"], true);
    assert_eq!(v["runs"]["ci"]["run_id"], serde_json::Value::Null);
    assert_eq!(v["production"]["status"], "unknown");
    let (_, e) = texts(&out);
    assert!(
        e.contains("github: GET /repos/octo/app/git/ref/heads/main → 200"),
        "-vv logs requests: {e}"
    );
    assert!(e.contains("github token from GH_TOKEN"), "{e}");
    assert_no_token(&out);
}

#[test]
fn watch_exits_0_when_only_the_approval_is_left_and_uses_304s() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("Add login page");
    gh.sim.add_tag("v1.2.3", &sha, true);
    gh.sim.add_run("CI", &sha, RunPlan::success());
    gh.sim.add_run(
        "Release",
        &sha,
        RunPlan::completes_after(Duration::from_secs(6), "success"),
    );
    gh.sim.add_run(
        "Deploy to Production",
        &sha,
        RunPlan::waiting_after(Duration::from_secs(5)),
    );
    let out = gh
        .almarel(&sb)
        .args(["status", "v1.2.3", "--watch", "--timeout", "60s", "--json"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    let v = json_stdout(&out);
    assert_eq!(v["outcome"], "awaiting_approval");
    assert!(e.contains("next: almarel approve v1.2.3"), "{e}");
    // Progress went to stderr, one line per change.
    assert!(e.contains("Release: completed/success"), "{e}");
    assert!(
        gh.sim.not_modified_count() > 0,
        "polls while nothing changed must be answered 304"
    );
    assert!(v["watch"]["not_modified"].as_u64().unwrap() > 0, "{v}");
    // Every conditional poll carried If-None-Match.
    let polls = gh
        .sim
        .recorder()
        .matching("GET", "/repos/octo/app/actions/runs?head_sha=");
    assert!(polls.len() >= 2);
    assert!(
        polls[1..]
            .iter()
            .all(|r| r.headers.iter().any(|(k, _)| k == "if-none-match"))
    );
    assert_no_token(&out);
}

#[test]
fn watch_exits_0_when_everything_completed() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("Add login page");
    gh.sim.add_tag("v1.2.3", &sha, true);
    gh.sim.add_run("CI", &sha, RunPlan::success());
    gh.sim.add_run("Release", &sha, RunPlan::success());
    gh.sim
        .add_run("Deploy to Production", &sha, RunPlan::success());
    let out = gh
        .almarel(&sb)
        .args(["status", "v1.2.3", "--watch", "--timeout", "3s"])
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    assert!(e.contains("next: almarel verify --expect-sha"), "{e}");
}

#[test]
fn watch_exits_1_when_ci_fails() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("Break the build");
    gh.sim.add_tag("v1.2.4", &sha, true);
    gh.sim.add_run(
        "CI",
        &sha,
        RunPlan::completes_after(Duration::from_secs(3), "failure"),
    );
    gh.sim.add_run("Release", &sha, RunPlan::success());
    let out = gh
        .almarel(&sb)
        .args(["status", "v1.2.4", "--watch", "--timeout", "30s"])
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(
        e.contains("CI (CI) concluded failure: the deploy run will not start"),
        "{e}"
    );
}

#[test]
fn watch_times_out_with_exit_5_and_names_the_causes() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("Quiet commit");
    gh.sim.add_tag("v2.0.0", &sha, true);
    let out = gh
        .almarel(&sb)
        .args(["status", "v2.0.0", "--watch", "--timeout", "3s", "--json"])
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(5), "{e}");
    let v = json_stdout(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["kind"], "timeout");
    assert_eq!(v["outcome"], "timed_out");
    let hint = v["error"]["hint"].as_str().unwrap();
    assert!(
        hint.contains("never started") && hint.contains("token that triggers no workflows"),
        "{hint}"
    );
}

#[test]
fn get_500_500_200_succeeds() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("x");
    gh.sim.add_tag("v1.0.0", &sha, false);
    gh.sim
        .fault(Fault::new("GET", "/git/matching-refs/tags/v", 2, 500));
    let out = gh.almarel(&sb).args(["status", "v1.0.0"]).run().unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    let hits = gh
        .sim
        .recorder()
        .matching("GET", "/repos/octo/app/git/matching-refs/tags/v");
    let statuses: Vec<u16> = hits.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![500, 500, 200]);
}

#[test]
fn rate_limit_429_with_retry_after_waits_and_succeeds() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("x");
    gh.sim.add_tag("v1.0.0", &sha, false);
    gh.sim
        .fault(Fault::new("GET", "/git/matching-refs/tags/v", 1, 429).header("retry-after", "1"));
    let started = std::time::Instant::now();
    let out = gh.almarel(&sb).args(["status", "v1.0.0"]).run().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retry-after was not honoured"
    );
    let hits = gh
        .sim
        .recorder()
        .matching("GET", "/repos/octo/app/git/matching-refs/tags/v");
    assert_eq!(
        hits.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![429, 200]
    );
}

#[test]
fn bad_token_is_exit_4_naming_the_variables() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let out = gh
        .almarel(&sb)
        .env("GH_TOKEN", "ghp_wrongwrongwrong")
        .args(["status", "-vv"])
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(4), "{e}");
    assert!(
        e.contains("bad credentials") && e.contains("GH_TOKEN"),
        "{e}"
    );
    assert!(!e.contains("ghp_wrongwrongwrong"), "{e}");
    // Exactly one API version header and the GitHub media type on every request.
    for r in gh.sim.recorder().all() {
        let versions = r
            .headers
            .iter()
            .filter(|(k, _)| k == "x-github-api-version")
            .count();
        assert_eq!(versions, 1, "{r:?}");
        assert!(
            r.headers
                .iter()
                .any(|(k, v)| k == "accept" && v == "application/vnd.github+json"),
            "{r:?}"
        );
    }
}

#[test]
fn forbidden_without_rate_limit_headers_is_a_permission_error() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    gh.sim.fault(
        Fault::new("GET", "/git/ref/heads/main", 1, 403)
            .header("x-accepted-github-permissions", "contents=read"),
    );
    let out = gh.almarel(&sb).args(["status"]).run().unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(4), "{e}");
    assert!(
        e.contains("permission denied (403)") && e.contains("contents=read"),
        "{e}"
    );
    assert!(e.contains("X-Accepted-GitHub-Permissions"), "{e}");
}

#[test]
fn unknown_repository_is_exit_4() {
    let sb = Sandbox::new();
    let gh = GhEnv::start_with(&sb, "");
    std::fs::write(
        gh.dir.join("almarel.toml"),
        format!(
            "[github]\nrepository = \"octo/nope\"\napi_url = \"{}\"\n",
            gh.sim.url()
        ),
    )
    .unwrap();
    let out = gh.almarel(&sb).args(["status", "abcdef1"]).run().unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(4), "{e}");
    assert!(
        e.contains("octo/nope") && e.contains("cannot access"),
        "{e}"
    );
    let _ = TOKEN;
}

#[test]
fn run_lists_follow_link_pagination() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("busy commit");
    for _ in 0..105 {
        gh.sim.add_run("CI", &sha, RunPlan::failure());
    }
    // Created last, so the newest: the one status must show.
    let newest = gh.sim.add_run("CI", &sha, RunPlan::success());
    let out = gh
        .almarel(&sb)
        .args(["status", &sha, "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let v = json_stdout(&out);
    assert_eq!(v["runs"]["ci"]["run_id"], newest);
    let pages = gh
        .sim
        .recorder()
        .matching("GET", "/repos/octo/app/actions/runs?head_sha=");
    assert!(pages.iter().any(|r| r.path.contains("page=2")), "{pages:?}");
    assert!(pages.iter().all(|r| r.path.contains("per_page=100")));
}

#[test]
fn rate_limit_resetting_after_the_deadline_is_exit_4_naming_the_reset() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    gh.sim.fault(
        Fault::new("GET", "/git/ref/heads/main", 1, 403)
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", "4102444800"),
    );
    let started = std::time::Instant::now();
    let out = gh.almarel(&sb).args(["status"]).run().unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(4), "{e}");
    assert!(e.contains("rate limited until 2100-01-01T00:00:00Z"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn token_is_never_sent_over_plain_http_to_a_remote_host() {
    let sb = Sandbox::new();
    let dir = sb.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("almarel.toml"),
        "[github]\nrepository = \"octo/app\"\napi_url = \"http://github.example.com/api/v3\"\n",
    )
    .unwrap();
    let out = sb
        .almarel(&dir)
        .env("GH_TOKEN", TOKEN)
        .args(["--config", "almarel.toml", "status", "-vv"])
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(
        e.contains("github.api_url") && e.contains("plain http"),
        "{e}"
    );
    assert!(
        !e.contains("github token from"),
        "the token must not even be read: {e}"
    );
    assert_no_token(&out);
}

#[test]
fn github_actions_gets_outputs_and_a_summary() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("x");
    gh.sim.add_tag("v1.4.0", &sha, true);
    gh.sim.add_run("CI", &sha, RunPlan::success());
    let output = sb.path().join("gh_output");
    let summary = sb.path().join("gh_summary");
    let out = gh
        .almarel(&sb)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["status", "v1.4.0"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let o = std::fs::read_to_string(&output).unwrap();
    assert!(
        o.contains(&format!("sha={sha}\n")) && o.contains("tag=v1.4.0\n"),
        "{o}"
    );
    let s = std::fs::read_to_string(&summary).unwrap();
    assert!(
        s.contains("almarel status v1.4.0") && s.contains("completed/success"),
        "{s}"
    );
    assert!(!s.contains(TOKEN) && !o.contains(TOKEN));
}

#[test]
fn watch_follows_the_whole_release_flow_to_the_approval() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("Release me");
    gh.sim.add_tag("v3.0.0", &sha, true);
    let (_, _, deploy) = gh.sim.start_release_runs(
        &sha,
        Duration::from_secs(2),
        "success",
        Duration::from_secs(3),
    );
    let out = gh
        .almarel(&sb)
        .args(["status", "v3.0.0", "--watch", "--timeout", "60s"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(gh.sim.is_pending(deploy.unwrap()));
    assert!(
        e.contains("CI: queued") || e.contains("CI: in_progress"),
        "{e}"
    );
    assert!(
        e.contains("Deploy to Production: waiting for approval"),
        "{e}"
    );
}

#[test]
fn production_row_reads_version_url() {
    let sb = Sandbox::new();
    let gh0 = GhEnv::start(&sb);
    let prev = gh0.sim.add_commit("Previous");
    gh0.sim.add_tag("v1.2.2", &prev, true);
    let sha = gh0.sim.add_commit("New");
    gh0.sim.add_tag("v1.2.3", &sha, true);
    let version = crate::support::github::serve_version(&gh0.rt, &prev);
    std::fs::write(
        gh0.dir.join("almarel.toml"),
        format!(
            "[github]\nrepository = \"octo/app\"\napi_url = \"{}\"\n[verify]\nversion_url = \"{}/api/version\"\n",
            gh0.sim.url(),
            version.url()
        ),
    )
    .unwrap();
    let out = gh0
        .almarel(&sb)
        .args(["status", "v1.2.3", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let v = json_stdout(&out);
    assert_eq!(v["production"]["sha"], prev.as_str());
    assert_eq!(v["production"]["matches_ref"], false);
    assert_eq!(v["production"]["tags"], serde_json::json!(["v1.2.2"]));
    let out = gh0.almarel(&sb).args(["status", "v1.2.2"]).run().unwrap();
    let (o, _) = texts(&out);
    assert!(o.contains("this release"), "{o}");
    drop(version);
    let out = gh0
        .almarel(&sb)
        .args(["status", "v1.2.2", "--json"])
        .run()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "production down does not fail status"
    );
    let v = json_stdout(&out);
    assert_eq!(v["production"]["status"], "unknown");
    assert!(
        v["production"]["why"]
            .as_str()
            .unwrap()
            .contains("cannot read what production runs"),
        "{v}"
    );
}

#[test]
fn ledger_shows_each_coolify_app_image_tag_and_warns_when_they_differ() {
    use almarel_sandbox::coolify::{self as csim, AppSpec};
    let sb = Sandbox::new();
    let apps = vec![
        AppSpec::docker("api", "api0wccw4g0o0kw4okcs8wss", "v1.2.3"),
        AppSpec::docker("web", "web0wccw4g0o0kw4okcs8wss", "v1.2.2"),
    ];
    // Start Coolify first so the config can point at it.
    let rt = crate::support::coolify::runtime();
    let coolify = crate::support::coolify::coolify(&rt, csim::Config::new(apps.clone()));
    let gh = GhEnv::start_with(
        &sb,
        &crate::support::coolify::coolify_toml(&coolify.url(), &apps),
    );
    let sha = gh.sim.add_commit("Release 1.2.3");
    gh.sim.add_tag("v1.2.3", &sha, true);
    let out = gh
        .almarel(&sb)
        .env("COOLIFY_TOKEN", csim::TOKEN)
        .args(["status", "v1.2.3", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let v = json_stdout(&out);
    assert_eq!(v["coolify"]["status"], "differ", "{v}");
    assert_eq!(v["coolify"]["expected_image_tag"], "v1.2.3");
    assert_eq!(v["coolify"]["apps"][0]["image_tag"], "v1.2.3");
    assert_eq!(v["coolify"]["apps"][1]["image_tag"], "v1.2.2");
    // Human output warns; no write reached Coolify.
    let out = gh
        .almarel(&sb)
        .env("COOLIFY_TOKEN", csim::TOKEN)
        .args(["status", "v1.2.3"])
        .run()
        .unwrap();
    let (o, _) = texts(&out);
    assert!(
        o.contains("image tags differ: api v1.2.3, web v1.2.2"),
        "{o}"
    );
    assert!(
        coolify.recorder().all().iter().all(|r| r.method == "GET"),
        "status only reads"
    );
    assert!(!o.contains(csim::TOKEN));
}

#[test]
fn ledger_says_why_coolify_is_unknown_without_a_token() {
    let sb = Sandbox::new();
    let gh = GhEnv::start_with(
        &sb,
        "[coolify]\nurl = \"http://127.0.0.1:9\"\n[[coolify.apps]]\nname = \"api\"\nuuid = \"x\"\n",
    );
    let sha = gh.sim.add_commit("Release 1.2.3");
    gh.sim.add_tag("v1.2.3", &sha, true);
    let out = gh
        .almarel(&sb)
        .args(["status", "v1.2.3", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "a report, not a gate");
    let v = json_stdout(&out);
    assert_eq!(v["coolify"]["status"], "unknown");
    assert!(
        v["coolify"]["why"]
            .as_str()
            .unwrap()
            .contains("Coolify token"),
        "{v}"
    );
}

#[test]
fn without_ref_the_next_step_names_the_commit_not_the_branch_label() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("x");
    // `.run()` fails on a next line that does not parse ("main on GitHub").
    let out = gh.almarel(&sb).args(["status"]).run().unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(!e.contains("on GitHub --watch"), "{e}");
    assert!(
        e.contains(&format!("next: almarel status {sha} --watch")),
        "{e}"
    );
}

#[test]
fn a_mixed_release_is_a_failure_on_the_production_row_not_a_check_mark() {
    use crate::verify::{Web, mixed_world};
    for web in [Web::Behind, Web::Failed] {
        let w = mixed_world(web);
        let out = w.almarel().args(["status", "v1.2.3"]).run().unwrap();
        assert_no_panic(&out);
        let (o, e) = texts(&out);
        assert_eq!(out.status.code(), Some(0), "a ledger, not a gate: {e}");
        let row = o
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some("production"))
            .unwrap_or_else(|| panic!("no production row: {o}"));
        assert!(row.trim_start().starts_with('✗'), "{row}");
        assert!(row.contains("MIXED") && row.contains("web"), "{row}");
        assert!(!o.contains("✓ production"), "{o}");
        assert!(
            e.contains("next: almarel deploy --tag v1.2.3 --app web"),
            "{e}"
        );
        assert!(o.contains("almarel rollback"), "{o}");
        let coolify_row = o
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some("coolify"))
            .unwrap();
        assert!(!coolify_row.trim_start().starts_with('✓'), "{coolify_row}");
        if web == Web::Failed {
            assert!(
                coolify_row.contains("web's latest deployment failed"),
                "{coolify_row}"
            );
        }

        let out = w
            .almarel()
            .args(["status", "v1.2.3", "--json"])
            .run()
            .unwrap();
        let v = json_stdout(&out);
        assert_eq!(v["live"]["state"]["state"], "mixed", "{v}");
        assert_eq!(v["production"]["matches_ref"], true, "{v}");
    }
    let w = mixed_world(Web::Live);
    let out = w.almarel().args(["status", "v1.2.3"]).run().unwrap();
    let (o, _) = texts(&out);
    let row = o
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("production"))
        .unwrap();
    assert!(row.trim_start().starts_with('✓'), "{row}");
    assert!(row.contains("this release"), "{row}");
}

#[test]
fn json_shapes_are_stable() {
    use crate::verify::{Web, mixed_world};
    let w = mixed_world(Web::Behind);
    w.dir
        .github
        .add_run("Deploy to Production", &w.dir.v123, RunPlan::success());
    let out = w
        .almarel()
        .args(["status", "v1.2.3", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    insta::assert_json_snapshot!("status_mixed", w.stable(&out));
}

/// Runs `almarel --config almarel.toml ARGS` on a pseudo-terminal;
/// `type_after` is typed once `wait_for` has been seen
/// ([`crate::support::on_terminal_steps`]).
pub fn on_terminal(
    sb: &Sandbox,
    dir: &std::path::Path,
    env: &[(&str, &str)],
    args: &[&str],
    wait_for: Option<(&str, &[u8])>,
) -> (Option<i32>, String) {
    let mut all = vec!["--config", "almarel.toml"];
    all.extend_from_slice(args);
    let steps: Vec<(&str, &[u8])> = wait_for.into_iter().collect();
    crate::support::on_terminal_steps(sb, dir, env, &all, &steps)
}

#[test]
fn ctrl_c_during_watch_keeps_the_last_table_on_screen() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("Add login page");
    gh.sim.add_tag("v1.2.3", &sha, true);
    gh.sim
        .add_run("CI", &sha, RunPlan::fixed(Phase::InProgress));
    let (code, text) = on_terminal(
        &sb,
        &gh.dir,
        &[("GH_TOKEN", TOKEN)],
        &["status", "v1.2.3", "--watch"],
        Some(("no pending production approval", b"\x03")),
    );
    assert_eq!(code, Some(130), "{text:?}");
    // After the last line the terminal cleared, the table is still drawn,
    // then the interruption is reported below it.
    let tail = &text[text.rfind("\x1b[2K").unwrap_or(0)..];
    assert!(
        tail.contains("CI") && tail.contains("frozen"),
        "the live table was wiped: {tail:?}"
    );
    assert!(tail.contains("error: interrupted"), "{tail:?}");
    let table_at = tail.find("frozen").unwrap();
    assert!(tail[table_at..].contains("error: interrupted"), "{tail:?}");
    assert!(!text.contains(TOKEN));
}

#[test]
fn watch_ends_1_when_every_run_succeeded_but_the_release_is_mixed() {
    use crate::verify::{Web, mixed_world};
    let w = mixed_world(Web::Failed);
    let gh = &w.dir.github;
    gh.add_run("Release", &w.dir.v123, RunPlan::success());
    gh.add_run(
        "Deploy to Production",
        &w.dir.v123,
        RunPlan::completes_after(Duration::from_secs(3), "success"),
    );
    let out = w
        .almarel()
        .args(["status", "v1.2.3", "--watch", "--timeout", "60s", "--json"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{e}");
    let v = json_stdout(&out);
    assert_eq!(v["outcome"], "mixed", "{v}");
    assert_eq!(v["error"]["code"], "release_mixed", "{v}");
    assert_eq!(v["live"]["state"]["state"], "mixed", "{v}");
    let hints = v["error"]["hints"].to_string();
    assert!(
        hints.contains("almarel deploy --tag v1.2.3 --app web"),
        "{hints}"
    );
    assert!(hints.contains("almarel rollback"), "{hints}");
    assert_eq!(v["runs"]["deploy"]["conclusion"], "success", "{v}");

    // Both apps on it: the same watch ends 0, completed.
    let w = mixed_world(Web::Live);
    let gh = &w.dir.github;
    gh.add_run("Release", &w.dir.v123, RunPlan::success());
    gh.add_run("Deploy to Production", &w.dir.v123, RunPlan::success());
    let out = w
        .almarel()
        .args(["status", "v1.2.3", "--watch", "--timeout", "60s", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    assert_eq!(json_stdout(&out)["outcome"], "live");
}
