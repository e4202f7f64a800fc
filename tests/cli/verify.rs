//! `almarel verify` tests, against the production simulator.

use crate::support::Run;
use std::time::{Duration, Instant};

use almarel_sandbox::production::{self as prod, WebMode};

use crate::support::coolify::*;
use crate::support::{Sandbox, assert_no_panic, json_stdout, texts};

fn check<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {v}"))
}

#[test]
fn all_checks_pass_when_production_runs_the_expected_sha() {
    let rt = runtime();
    let p = production(&rt, prod::Config::new(NEW_SHA));
    let sb = Sandbox::new();
    let dir = project(&sb, &verify_toml(&p.url()));
    let out = almarel(&sb, &dir, "")
        .args(["verify", "--expect-sha", NEW_SHA, "--json"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let v = json_stdout(&out);
    assert_eq!(v["ok"], true);
    let names: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec![
            "health",
            "version",
            "web",
            "smoke: login",
            "smoke: list orders"
        ]
    );
    for c in v["checks"].as_array().unwrap() {
        assert_eq!(c["ok"], true, "{c}");
        assert_eq!(c["status"], 200, "{c}");
        assert!(c["latency_ms"].is_u64(), "{c}");
    }
    // No token-bearing request went anywhere but production, and no Coolify call was needed.
    assert_eq!(p.recorder().matching("GET", "/api/orders").len(), 1);
}

#[test]
fn a_mismatch_names_the_sha_that_is_running() {
    let rt = runtime();
    let p = production(&rt, prod::Config::new(OLD_SHA));
    let sb = Sandbox::new();
    let dir = project(&sb, &verify_toml(&p.url()));
    let out = almarel(&sb, &dir, "")
        .args(["verify", "--expect-sha", NEW_SHA])
        .run()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("production runs 9f8e7d6 instead of 1a2b3c4"),
        "{stderr}"
    );
    assert!(
        stdout.contains("another build is still serving"),
        "{stdout}"
    );
    // Health and web pass: "old build still serving", not "down".
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("health") && l.contains('✓')),
        "{stdout}"
    );
}

#[test]
fn a_short_sha_matches_as_a_prefix_case_insensitively() {
    let rt = runtime();
    let p = production(&rt, prod::Config::new(NEW_SHA));
    let sb = Sandbox::new();
    let dir = project(&sb, &verify_toml(&p.url()));
    for sha in ["1a2b3c4", "1A2B3C4D5E", NEW_SHA] {
        let out = almarel(&sb, &dir, "")
            .args(["verify", "--expect-sha", sha])
            .run()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{sha}: {}", texts(&out).1);
    }
    // Production reports a short SHA: still a match.
    p.control().set_sha("1a2b3c4d");
    let out = almarel(&sb, &dir, "")
        .args(["verify", "--expect-sha", NEW_SHA])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let out = almarel(&sb, &dir, "")
        .args(["verify", "--expect-sha", "1a2b3c5"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn health_500_fails_and_the_smoke_steps_are_skipped() {
    let rt = runtime();
    let p = production(&rt, prod::Config::new(NEW_SHA));
    p.control().set_health(500);
    let sb = Sandbox::new();
    let dir = project(&sb, &verify_toml(&p.url()));
    let out = almarel(&sb, &dir, "")
        .args(["verify", "--expect-sha", NEW_SHA, "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json_stdout(&out);
    assert_eq!(v["ok"], false);
    let h = check(&v, "health");
    assert_eq!(h["ok"], false);
    assert_eq!(h["status"], 500);
    assert!(h["detail"].as_str().unwrap().contains("500"));
    assert_eq!(check(&v, "smoke: login")["skipped"], true);
    assert!(p.recorder().matching("POST", "/api/auth/login").is_empty());
}

#[test]
fn a_web_url_that_answers_json_fails() {
    let rt = runtime();
    let p = production(&rt, prod::Config::new(NEW_SHA));
    p.control().set_web(WebMode::Json);
    let sb = Sandbox::new();
    let dir = project(&sb, &verify_toml(&p.url()));
    let out = almarel(&sb, &dir, "")
        .args(["verify", "--expect-sha", NEW_SHA, "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json_stdout(&out);
    let w = check(&v, "web");
    assert_eq!(w["ok"], false);
    assert_eq!(w["status"], 200);
    assert!(w["detail"].as_str().unwrap().contains("not HTML"), "{w}");
}

#[test]
fn a_smoke_capture_reaches_the_next_step() {
    let rt = runtime();
    let p = production(&rt, prod::Config::new(NEW_SHA));
    let sb = Sandbox::new();
    let dir = project(&sb, &verify_toml(&p.url()));
    let out = almarel(&sb, &dir, "")
        .args(["verify", "--expect-sha", NEW_SHA])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let login = p.recorder().matching("POST", "/api/auth/login");
    assert_eq!(login.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&login[0].body).unwrap();
    assert_eq!(body["email"], SMOKE_EMAIL);
    let orders = p.recorder().matching("GET", "/api/orders");
    assert_eq!(
        orders[0].status, 200,
        "the simulator accepted the captured bearer token"
    );

    // Wrong credentials: login fails, the next step is skipped.
    let out = almarel(&sb, &dir, "")
        .env("SMOKE_PASSWORD", "wrong-password-zz")
        .args(["verify", "--expect-sha", NEW_SHA, "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json_stdout(&out);
    assert_eq!(check(&v, "smoke: login")["status"], 401);
    assert_eq!(check(&v, "smoke: list orders")["skipped"], true);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("wrong-password-zz"));
}

#[test]
fn wait_succeeds_once_production_switches_to_the_new_sha() {
    let rt = runtime();
    let p = production(&rt, prod::Config::new(OLD_SHA));
    p.control()
        .switch_sha_after(NEW_SHA, Duration::from_secs(2));
    let sb = Sandbox::new();
    let dir = project(&sb, &verify_toml(&p.url()));
    let started = Instant::now();
    let out = almarel(&sb, &dir, "")
        .args([
            "verify",
            "--expect-sha",
            NEW_SHA,
            "--wait",
            "20s",
            "--interval",
            "500ms",
            "--json",
        ])
        .run()
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(8),
        "{elapsed:?}"
    );
    let v = json_stdout(&out);
    assert!(v["attempts"].as_u64().unwrap() >= 3, "{v}");
    assert!(
        texts(&out).1.contains("attempt 1: failing: version"),
        "{}",
        texts(&out).1
    );
    // Passing probes were not re-run on every attempt.
    let health = p.recorder().matching("GET", "/health").len();
    let version = p.recorder().matching("GET", "/api/version").len();
    assert_eq!(health, 1);
    assert!(version >= 3);
}

#[test]
fn wait_gives_up_with_exit_1_when_the_deadline_passes() {
    let rt = runtime();
    let p = production(&rt, prod::Config::new(OLD_SHA));
    let sb = Sandbox::new();
    let dir = project(&sb, &verify_toml(&p.url()));
    let started = Instant::now();
    let out = almarel(&sb, &dir, "")
        .args([
            "verify",
            "--expect-sha",
            NEW_SHA,
            "--wait",
            "1500ms",
            "--interval",
            "500ms",
        ])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(6));
}

#[test]
fn the_three_probes_run_concurrently() {
    let rt = runtime();
    let p = production(&rt, prod::Config::new(NEW_SHA));
    for path in ["/health", "/api/version", "/"] {
        p.control().set_latency(path, Duration::from_secs(1));
    }
    let sb = Sandbox::new();
    // Probes only: the smoke steps run after them, in order, by design.
    let toml = format!(
        "[verify]\nhealth_url = \"{u}/health\"\nversion_url = \"{u}/api/version\"\nweb_url = \"{u}/\"\n",
        u = p.url()
    );
    let dir = project(&sb, &toml);
    let started = Instant::now();
    let out = almarel(&sb, &dir, "")
        .args(["verify", "--expect-sha", NEW_SHA, "--json"])
        .run()
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let v = json_stdout(&out);
    for name in ["health", "version", "web"] {
        assert!(check(&v, name)["latency_ms"].as_u64().unwrap() >= 1000);
    }
    // Serially this takes 3 s; concurrently 1 s plus process start-up.
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[test]
fn secrets_never_reach_the_output() {
    let rt = runtime();
    let p = production(&rt, prod::Config::new(NEW_SHA));
    let sb = Sandbox::new();
    let dir = project(&sb, &verify_toml(&p.url()));
    let session = prod::Config::new(NEW_SHA).session_token;
    let coolify_token = "4|coolify-secret-never-printed";
    let runs: Vec<Vec<&str>> = vec![
        vec!["verify", "--expect-sha", NEW_SHA, "-vv"],
        vec!["verify", "--expect-sha", NEW_SHA, "--json"],
        vec!["verify", "--expect-sha", NEW_SHA, "--json", "-vv"],
        vec!["verify", "--expect-sha", OLD_SHA, "-vv"],
    ];
    for args in runs {
        let out = almarel(&sb, &dir, coolify_token).args(&args).run().unwrap();
        let (stdout, stderr) = texts(&out);
        let all = format!("{stdout}{stderr}");
        for secret in [
            SMOKE_PASSWORD,
            session.as_str(),
            coolify_token,
            "coolify-secret-never-printed",
        ] {
            assert!(
                !all.contains(secret),
                "{secret} leaked with {args:?}:\n{all}"
            );
        }
    }
    assert!(p.recorder().matching("GET", "/api/orders").len() >= 3);
}

#[test]
fn a_smoke_secret_over_plain_http_to_a_remote_host_is_refused_before_any_request() {
    let rt = runtime();
    let p = production(&rt, prod::Config::new(NEW_SHA));
    let sb = Sandbox::new();
    let toml = format!(
        "{}[[verify.smoke]]\nname = \"remote login\"\nmethod = \"POST\"\nurl = \"http://smoke.example.com/api/auth/login\"\njson = {{ password = \"${{SMOKE_PASSWORD}}\" }}\n",
        verify_toml(&p.url())
    );
    let dir = project(&sb, &toml);
    let out = almarel(&sb, &dir, "")
        .args(["verify", "--expect-sha", NEW_SHA])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("remote login") && stderr.contains("plain http"),
        "{stderr}"
    );
    assert!(p.recorder().all().is_empty(), "no request at all");

    // allow_insecure_http = true lifts the refusal (the host then fails to resolve: exit 1).
    let dir = project(&sb, &format!("allow_insecure_http = true\n{toml}"));
    let out = almarel(&sb, &dir, "")
        .args(["verify", "--expect-sha", NEW_SHA])
        .run()
        .unwrap();
    assert_ne!(out.status.code(), Some(2), "{}", texts(&out).1);
}

#[test]
fn a_malformed_expected_sha_is_exit_2_and_probes_nothing() {
    let rt = runtime();
    let p = production(&rt, prod::Config::new(NEW_SHA));
    let sb = Sandbox::new();
    let dir = project(&sb, &verify_toml(&p.url()));
    for bad in ["abc", "abcdefz", "12345 6"] {
        let out = almarel(&sb, &dir, "")
            .args(["verify", "--expect-sha", bad, "--json"])
            .run()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert_eq!(json_stdout(&out)["error"]["kind"], "usage");
    }
    assert!(p.recorder().all().is_empty());
}

#[test]
fn an_unset_smoke_variable_is_exit_2_naming_it() {
    let rt = runtime();
    let p = production(&rt, prod::Config::new(NEW_SHA));
    let sb = Sandbox::new();
    let dir = project(&sb, &verify_toml(&p.url()));
    let out = almarel(&sb, &dir, "")
        .env_remove("SMOKE_PASSWORD")
        .args(["verify", "--expect-sha", NEW_SHA])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("${SMOKE_PASSWORD}"), "{stderr}");
    assert!(p.recorder().all().is_empty());
}

#[test]
fn an_unreachable_production_fails_with_the_reason() {
    let sb = Sandbox::new();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let dir = project(&sb, &verify_toml(&url));
    let out = almarel(&sb, &dir, "")
        .args(["verify", "--expect-sha", NEW_SHA, "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json_stdout(&out);
    let h = check(&v, "health");
    assert!(
        h["detail"].as_str().unwrap().contains("connection failed"),
        "{h}"
    );
    assert!(h["status"].is_null());
}

#[test]
fn in_github_actions_a_summary_table_is_written() {
    let rt = runtime();
    let p = production(&rt, prod::Config::new(NEW_SHA));
    let sb = Sandbox::new();
    let dir = project(&sb, &verify_toml(&p.url()));
    let summary = sb.path().join("summary.md");
    let out = almarel(&sb, &dir, "")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["verify", "--expect-sha", NEW_SHA])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let s = std::fs::read_to_string(summary).unwrap();
    assert!(s.contains("| version | pass | 200 |"), "{s}");
    assert!(s.contains("| smoke: list orders | pass |"), "{s}");
}

#[test]
fn expect_tag_resolves_through_github_and_a_mismatch_names_the_running_release() {
    let rt = runtime();
    let sb = Sandbox::new();
    let p0 = production(&rt, prod::Config::new(OLD_SHA));
    let proj = deploy_project(&sb, &rt, &verify_toml(&p0.url()));
    let old = proj.github.add_commit("release 1.2.2");
    proj.github.add_tag("v1.2.2", &old, true);
    let new = proj.github.add_commit("release 1.2.3");
    proj.github.add_tag("v1.2.3", &new, true);
    p0.control().set_sha(&old);
    let out = almarel(&sb, &proj, "")
        .args(["verify", "--expect-tag", "1.2.3"])
        .run()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "production runs {} (v1.2.2) instead of v1.2.3",
            &old[..7]
        )),
        "{stderr}"
    );
    assert!(stdout.contains("(running v1.2.2)"), "{stdout}");

    p0.control().set_sha(&new);
    let out = almarel(&sb, &proj, "")
        .args(["verify", "--expect-tag", "v1.2.3"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let out = almarel(&sb, &proj, "")
        .args(["verify", "--expect-tag", "v9.9.9"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", texts(&out).1);
    assert!(p0.recorder().matching("GET", "/api/version").len() == 2);
}

#[test]
fn expect_tag_resolves_through_local_git_without_github() {
    let rt = runtime();
    let r = crate::support::git::Repos::new();
    let old = r.commit("release 1.2.2");
    r.tag("v1.2.2", &old);
    let new = r.commit("release 1.2.3");
    r.tag("v1.2.3", &new);
    let p = production(&rt, prod::Config::new(&old));
    // No [github] section: only the clone can answer.
    std::fs::write(r.work.join("almarel.toml"), verify_toml(&p.url())).unwrap();
    let out = almarel(&r.sb, &r.work, "")
        .args(["verify", "--expect-tag", "1.2.3"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "production runs {} (v1.2.2) instead of v1.2.3",
            &old[..7]
        )),
        "{stderr}"
    );
    p.control().set_sha(&new);
    let out = almarel(&r.sb, &r.work, "")
        .args(["verify", "--expect-tag", "v1.2.3"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
}

/// A whole response with no `content-length` (the body ends when the connection closes).
fn unsized_response(status: u16, extra: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!("HTTP/1.1 {status} X\r\n{extra}connection: close\r\n\r\n").into_bytes();
    r.extend_from_slice(body);
    r
}

#[test]
fn a_redirect_to_another_origin_is_the_answer_and_the_other_host_receives_nothing() {
    use crate::support::raw::{Behaviour, RawServer};
    let rt = runtime();
    let p = production(&rt, prod::Config::new(NEW_SHA));
    // Another origin (same host, another port) that must never be contacted.
    let elsewhere = RawServer::start(Behaviour::respond(200, "application/json", "{}"));
    let location = format!("location: {}/steal\r\ncontent-length: 0\r\n", elsewhere.url);
    let redirector = RawServer::start(Behaviour::Respond(unsized_response(307, &location, b"")));
    let toml = format!(
        r#"[verify]
version_url = "{p}/api/version"
health_url = "{r}/health"
request_timeout = "5s"
[[verify.smoke]]
name = "keyed"
method = "POST"
url = "{r}/api/login"
headers = {{ X-Api-Key = "${{SMOKE_PASSWORD}}" }}
json = {{ password = "${{SMOKE_PASSWORD}}" }}
expect_status = 200
"#,
        p = p.url(),
        r = redirector.url
    );
    let sb = Sandbox::new();
    let dir = project(&sb, &toml);
    let out = almarel(&sb, &dir, "")
        .args(["verify", "--expect-sha", NEW_SHA, "--json"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let v = json_stdout(&out);
    let health = check(&v, "health");
    assert_eq!(health["status"], 307, "{health}");
    assert!(
        health["detail"]
            .as_str()
            .unwrap()
            .contains("another origin"),
        "{health}"
    );
    assert!(redirector.count("GET") >= 1);
    assert_eq!(
        elsewhere.requests(),
        Vec::<String>::new(),
        "nothing reached the other origin"
    );
    assert!(!stdout.contains(SMOKE_PASSWORD) && !stderr.contains(SMOKE_PASSWORD));

    // With the probes passing, the smoke step's 307 is its answer: expect_status decides.
    let toml = toml.replace(&format!("health_url = \"{}/health\"\n", redirector.url), "");
    std::fs::write(dir.join("almarel.toml"), &toml).unwrap();
    let out = almarel(&sb, &dir, "")
        .args(["verify", "--expect-sha", NEW_SHA, "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", texts(&out).1);
    let v = json_stdout(&out);
    let smoke = check(&v, "smoke: keyed");
    assert_eq!(smoke["status"], 307, "{smoke}");
    assert!(redirector.count("POST") >= 1);
    assert_eq!(
        elsewhere.requests(),
        Vec::<String>::new(),
        "no header, no body went elsewhere"
    );
    std::fs::write(
        dir.join("almarel.toml"),
        toml.replace("expect_status = 200", "expect_status = 307"),
    )
    .unwrap();
    let out = almarel(&sb, &dir, "")
        .args(["verify", "--expect-sha", NEW_SHA])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    assert_eq!(elsewhere.requests(), Vec::<String>::new());
}

#[test]
fn a_probe_answer_over_32_mib_fails_the_check_with_that_reason() {
    use crate::support::raw::{Behaviour, RawServer};
    let rt = runtime();
    let p = production(&rt, prod::Config::new(NEW_SHA));
    let huge = vec![b'x'; 33 * 1024 * 1024];
    let big = RawServer::start(Behaviour::Respond(unsized_response(
        200,
        "content-type: text/html\r\n",
        &huge,
    )));
    let toml = format!(
        "[verify]\nversion_url = \"{}/api/version\"\nweb_url = \"{}/\"\nrequest_timeout = \"20s\"\n",
        p.url(),
        big.url
    );
    let sb = Sandbox::new();
    let dir = project(&sb, &toml);
    let out = almarel(&sb, &dir, "")
        .args(["verify", "--expect-sha", NEW_SHA, "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", texts(&out).1);
    let v = json_stdout(&out);
    let web = check(&v, "web");
    assert!(web["detail"].as_str().unwrap().contains("32 MiB"), "{web}");
}

#[test]
fn a_redirect_within_the_same_origin_is_followed() {
    let rt = runtime();
    let p = production(&rt, prod::Config::new(NEW_SHA));
    let toml = verify_toml(&p.url())
        .replace("/health\"", "/moved/health\"")
        .replace("/api/orders\"", "/moved/api/orders\"");
    let sb = Sandbox::new();
    let dir = project(&sb, &toml);
    let out = almarel(&sb, &dir, "")
        .args(["verify", "--expect-sha", NEW_SHA, "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let v = json_stdout(&out);
    assert_eq!(check(&v, "health")["status"], 200);
    assert_eq!(check(&v, "smoke: list orders")["status"], 200);
    // The header went to the same origin only, and reached the final path.
    assert_eq!(p.recorder().matching("GET", "/moved/api/orders").len(), 1);
    assert_eq!(p.recorder().matching("GET", "/api/orders").len(), 1);
}

/// A release half out (SPEC §7.4): GitHub has v1.2.2 and v1.2.3, production
/// answers v1.2.3's SHA, api runs v1.2.3 (its deployment finished), and web
/// is either still on v1.2.2 (its PATCH did not stick, or a failed
/// deployment was restored) or on v1.2.3 with that deployment failed.
pub struct MixedWorld {
    /// Keeps the simulators serving.
    pub _rt: tokio::runtime::Runtime,
    pub coolify: almarel_sandbox::coolify::CoolifySim,
    pub prod: almarel_sandbox::production::ProductionSim,
    pub dir: Project,
    pub sb: Sandbox,
}

/// How web stands in a [`MixedWorld`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Web {
    /// On v1.2.3, finished: the release is live.
    Live,
    /// Still on v1.2.2.
    Behind,
    /// On v1.2.3, its deployment failed.
    Failed,
}

pub fn mixed_world(web: Web) -> MixedWorld {
    use almarel_sandbox::coolify::{self as csim, AppSpec, Ending};
    let rt = runtime();
    let api = AppSpec::docker("api", "k8s0wccw4g0o0kw4okcs8wss", "v1.2.3")
        .with_history(&["v1.2.2", "v1.2.3"]);
    let mut webapp =
        match web {
            Web::Live => AppSpec::docker("web", "w3b0wccw4g0o0kw4okcs8wss", "v1.2.3")
                .with_history(&["v1.2.2", "v1.2.3"]),
            Web::Behind => AppSpec::docker("web", "w3b0wccw4g0o0kw4okcs8wss", "v1.2.2")
                .with_history(&["v1.2.2"]),
            Web::Failed => AppSpec::docker("web", "w3b0wccw4g0o0kw4okcs8wss", "v1.2.3")
                .with_history(&["v1.2.2"]),
        };
    if web == Web::Failed {
        webapp.in_flight_for = Some(Duration::from_millis(1));
        webapp.in_flight_ending = Ending::Fail;
    }
    let apps = vec![api, webapp];
    let coolify = coolify(&rt, csim::Config::new(apps.clone()));
    let prod = production(&rt, prod::Config::new(OLD_SHA));
    let sb = Sandbox::new();
    let toml = format!(
        "{}{}",
        coolify_toml(&coolify.url(), &apps),
        verify_toml(&prod.url())
    );
    let dir = deploy_project(&sb, &rt, &toml);
    prod.control().set_sha(&dir.v123);
    // Let the failed deployment end before anyone looks.
    std::thread::sleep(Duration::from_millis(50));
    MixedWorld {
        _rt: rt,
        coolify,
        prod,
        dir,
        sb,
    }
}

impl MixedWorld {
    /// `almarel --config almarel.toml` with both tokens.
    pub fn almarel(&self) -> assert_cmd::Command {
        almarel(&self.sb, &self.dir, almarel_sandbox::coolify::TOKEN)
    }
}

#[test]
fn a_half_out_release_is_mixed_and_verify_fails_naming_both_ways_out() {
    for web in [Web::Behind, Web::Failed] {
        let w = mixed_world(web);
        let out = w
            .almarel()
            .args(["verify", "--expect-tag", "v1.2.3", "--json"])
            .run()
            .unwrap();
        assert_no_panic(&out);
        let (_, stderr) = texts(&out);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        let v = json_stdout(&out);
        assert_eq!(v["live"]["state"]["state"], "mixed", "{v}");
        assert_eq!(check(&v, "version")["ok"], true, "{v}");
        assert_eq!(check(&v, "app: api")["ok"], true, "{v}");
        assert_eq!(check(&v, "app: web")["ok"], false, "{v}");
        let hints = v["error"]["hints"].to_string();
        assert!(
            hints.contains("almarel deploy --tag v1.2.3 --app web"),
            "{hints}"
        );
        assert!(hints.contains("almarel rollback"), "{hints}");
        // Verify only reads.
        assert!(w.coolify.recorder().all().iter().all(|r| r.method == "GET"));
    }
    // Both apps on the release: live, exit 0.
    let w = mixed_world(Web::Live);
    let out = w
        .almarel()
        .args(["verify", "--expect-tag", "v1.2.3", "--json"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(json_stdout(&out)["live"]["state"]["state"], "live");
}

/// `--json` output with what changes between runs replaced: each `(from,
/// to)` string, and every `latency_ms`, `created_at`, `time` value.
pub fn scrub(out: &std::process::Output, subs: &[(&str, &str)]) -> serde_json::Value {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(o) => {
                for (k, x) in o.iter_mut() {
                    if ["latency_ms", "created_at", "time"].contains(&k.as_str()) && !x.is_null() {
                        *x = serde_json::json!(format!("[{k}]"));
                    } else {
                        walk(x);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    for (from, to) in subs {
        text = text.replace(from, to);
    }
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    walk(&mut v);
    v
}

impl MixedWorld {
    /// The substitutions that make this world's JSON stable.
    pub fn subs(&self) -> Vec<(String, String)> {
        vec![
            (self.dir.v123.clone(), "[v123]".into()),
            (self.dir.v123[..7].to_owned(), "[v123-short]".into()),
            (self.prod.url(), "[production]".into()),
            (self.coolify.url(), "[coolify]".into()),
            (self.dir.github.url(), "[github]".into()),
        ]
    }
    /// [`scrub`] with [`MixedWorld::subs`].
    pub fn stable(&self, out: &std::process::Output) -> serde_json::Value {
        let subs = self.subs();
        let pairs: Vec<(&str, &str)> = subs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        scrub(out, &pairs)
    }
}

#[test]
fn json_shapes_are_stable() {
    let w = mixed_world(Web::Behind);
    let out = w
        .almarel()
        .args(["verify", "--expect-tag", "v1.2.3", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    insta::assert_json_snapshot!("verify_mixed", w.stable(&out));
    let w = mixed_world(Web::Live);
    let out = w
        .almarel()
        .args(["verify", "--expect-tag", "v1.2.3", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    insta::assert_json_snapshot!("verify_live", w.stable(&out));
}

#[test]
fn wait_on_a_terminal_is_one_live_line_and_elsewhere_a_line_per_attempt() {
    let rt = runtime();
    let p = production(&rt, prod::Config::new(OLD_SHA));
    let sb = Sandbox::new();
    let dir = project(&sb, &verify_toml(&p.url()));
    let args = [
        "verify",
        "--expect-sha",
        NEW_SHA,
        "--wait",
        "2s",
        "--interval",
        "300ms",
    ];
    let (code, text) = crate::status::on_terminal(
        &sb,
        &dir,
        &[
            ("SMOKE_EMAIL", SMOKE_EMAIL),
            ("SMOKE_PASSWORD", SMOKE_PASSWORD),
        ],
        &args,
        None,
    );
    assert_eq!(code, Some(1), "{text:?}");
    assert!(text.contains("attempt 3:"), "several attempts: {text:?}");
    let attempt_lines = text.split('\n').filter(|l| l.contains("attempt ")).count();
    assert_eq!(attempt_lines, 1, "one line redrawn in place: {text:?}");
    // The check table and the error follow on their own lines.
    assert!(text.contains("version"), "{text:?}");
    assert!(text.contains("error: production runs"), "{text:?}");

    // Not a terminal: one line per attempt (a CI log keeps them all).
    let out = almarel(&sb, &dir, "").args(args).run().unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.lines().filter(|l| l.starts_with("attempt ")).count() >= 3,
        "{stderr}"
    );
}

#[test]
fn a_patch_coolify_answered_but_did_not_apply_is_green_nowhere() {
    use almarel_sandbox::coolify::{self as csim};
    let rt = runtime();
    let mut apps = two_apps();
    apps[1].ignore_patch = true;
    let c = coolify(&rt, csim::Config::new(apps.clone()));
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
    let out = almarel(&sb, &dir, csim::SENSITIVE_TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", texts(&out).1);
    // Let any deployment the run started end.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        c.image_tag("w3b0wccw4g0o0kw4okcs8wss").as_deref(),
        Some("v1.2.2")
    );

    let out = almarel(&sb, &dir, csim::TOKEN)
        .args(["verify", "--expect-tag", "v1.2.3", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", texts(&out).1);
    assert_eq!(check(&json_stdout(&out), "app: web")["ok"], false);

    let out = almarel(&sb, &dir, csim::TOKEN)
        .args(["status", "v1.2.3"])
        .run()
        .unwrap();
    let (o, _) = texts(&out);
    let row = o
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("production"))
        .unwrap_or_else(|| panic!("{o}"));
    assert!(!row.trim_start().starts_with('✓'), "{row}");

    let out = almarel(&sb, &dir, csim::TOKEN)
        .args(["checklist", "after-deploy", "v1.2.3", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", texts(&out).1);
    let items = json_stdout(&out)["items"].to_string();
    assert!(items.contains("web on v1.2.2"), "{items}");
}
