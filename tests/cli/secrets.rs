//! Secrets never leak: every command, on success and failure paths, with
//! `-vv` and `--json`, inside GitHub Actions, with recognisable tokens and
//! smoke credentials; none appears in stdout, stderr, the audit log, the step
//! summary or the outputs file. Plain http to a non-loopback host is refused
//! before any connection.

use crate::support::Run;
use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::time::Duration;

use almarel_sandbox::coolify as csim;
use almarel_sandbox::github::{GithubSim, RunPlan};
use almarel_sandbox::production as prod;

use crate::support::coolify::{self as cs, NEW_SHA, OLD_SHA};
use crate::support::{Sandbox, assert_no_panic, texts};

const GH_TOKEN: &str = "ghp_LEAKCANARYgithub0123456789abcd";
const GH_WRONG: &str = "ghp_LEAKCANARYwrong99999999999999";
const COOLIFY_TOKEN: &str = "9|LEAKCANARYcoolify-token-abcdef";
const COOLIFY_WRONG: &str = "9|LEAKCANARYcoolify-wrong-000000";
const SMOKE_PASSWORD: &str = "LEAKCANARY-smoke-pass-42";
const SESSION: &str = "LEAKCANARY-session-issued-77";

/// What must never be written anywhere.
const SECRETS: [&str; 6] = [
    GH_TOKEN,
    GH_WRONG,
    COOLIFY_TOKEN,
    COOLIFY_WRONG,
    SMOKE_PASSWORD,
    SESSION,
];

fn assert_clean(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what} contains the secret {s}:\n{text}");
    }
    assert!(
        !text.contains("LEAKCANARY"),
        "{what} contains part of a secret:\n{text}"
    );
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

#[test]
fn no_command_writes_a_secret_anywhere() {
    let rt = cs::runtime();
    let sb = Sandbox::new();
    let github = rt.block_on(GithubSim::start("octo/app")).unwrap();
    github.require_token(GH_TOKEN);
    let prev = github.add_commit("Previous release");
    github.add_tag("v1.2.2", &prev, true);
    // v1.2.3 is the commit production serves once deployed (verify checks both).
    github.register_commit(NEW_SHA, "Add login page");
    let sha = NEW_SHA.to_owned();
    github.add_tag("v1.2.3", &sha, true);
    github.add_run("CI", &sha, RunPlan::success());
    github.add_run("Deploy to Production", &sha, RunPlan::awaiting_approval());
    let coolify = cs::coolify(
        &rt,
        csim::Config::new(cs::two_apps()).with_token(COOLIFY_TOKEN, &["read", "deploy", "write"]),
    );
    let mut pc = prod::Config::new(NEW_SHA);
    pc.password = SMOKE_PASSWORD.into();
    pc.session_token = SESSION.into();
    let production = cs::production(&rt, pc);
    let dir = cs::project(
        &sb,
        &format!(
            "[github]\nrepository = \"octo/app\"\napi_url = \"{}\"\n{}{}",
            github.url(),
            cs::coolify_toml(&coolify.url(), &cs::two_apps()),
            cs::verify_toml(&production.url())
        ),
    );
    let summary = sb.path().join("step_summary.md");
    let outputs = sb.path().join("github_output");

    let run = |args: &[&str], gh: &str, cf: &str, expect: &[i32]| {
        let out = sb
            .almarel(&dir)
            .args(["--config", "almarel.toml"])
            .args(args)
            .env("GH_TOKEN", gh)
            .env("COOLIFY_TOKEN", cf)
            .env("SMOKE_EMAIL", cs::SMOKE_EMAIL)
            .env("SMOKE_PASSWORD", SMOKE_PASSWORD)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_OUTPUT", &outputs)
            .timeout(Duration::from_secs(60))
            .run()
            .unwrap();
        assert_no_panic(&out);
        let (o, e) = texts(&out);
        let code = out.status.code().unwrap_or(-1);
        assert!(expect.contains(&code), "{args:?}: exit {code}\n{o}\n{e}");
        assert_clean(&format!("stdout of {args:?}"), &o);
        assert_clean(&format!("stderr of {args:?}"), &e);
        code
    };

    // Success paths.
    run(&["status", "v1.2.3", "-vv"], GH_TOKEN, COOLIFY_TOKEN, &[0]);
    run(
        &["status", "v1.2.3", "--json", "-vv"],
        GH_TOKEN,
        COOLIFY_TOKEN,
        &[0],
    );
    run(
        &["approve", "v1.2.3", "--yes", "-vv"],
        GH_TOKEN,
        COOLIFY_TOKEN,
        &[0],
    );
    run(
        &["deploy", "--tag", "1.2.3", "--yes", "-vv"],
        GH_TOKEN,
        COOLIFY_TOKEN,
        &[0],
    );
    run(
        &["verify", "--expect-sha", NEW_SHA, "-vv"],
        GH_TOKEN,
        COOLIFY_TOKEN,
        &[0],
    );
    run(
        &["verify", "--expect-sha", NEW_SHA, "--json", "-vv"],
        GH_TOKEN,
        COOLIFY_TOKEN,
        &[0],
    );
    run(
        &["freeze", "--reason", "incident", "--yes", "--json", "-vv"],
        GH_TOKEN,
        COOLIFY_TOKEN,
        &[0],
    );
    // Failure paths: frozen, wrong tokens, wrong SHA, nothing to approve, no git tree.
    run(
        &["deploy", "--tag", "1.2.3", "--yes", "--json", "-vv"],
        GH_TOKEN,
        COOLIFY_TOKEN,
        &[3],
    );
    run(&["unfreeze", "--yes", "-vv"], GH_TOKEN, COOLIFY_TOKEN, &[0]);
    run(
        &["deploy", "--tag", "1.2.3", "--yes", "-vv"],
        GH_TOKEN,
        COOLIFY_WRONG,
        &[4],
    );
    run(
        &["deploy", "--tag", "1.2.3", "--yes", "--json", "-vv"],
        GH_TOKEN,
        COOLIFY_WRONG,
        &[4],
    );
    run(&["status", "v1.2.3", "-vv"], GH_WRONG, COOLIFY_TOKEN, &[4]);
    run(
        &["approve", "v1.2.3", "--yes", "--json", "-vv"],
        GH_WRONG,
        COOLIFY_TOKEN,
        &[4],
    );
    run(
        &["freeze", "--reason", "x", "--yes", "-vv"],
        GH_WRONG,
        COOLIFY_TOKEN,
        &[4],
    );
    run(
        &["approve", "v1.2.3", "--yes", "-vv"],
        GH_TOKEN,
        COOLIFY_TOKEN,
        &[0, 1, 3],
    );
    run(
        &["verify", "--expect-sha", OLD_SHA, "-vv"],
        GH_TOKEN,
        COOLIFY_TOKEN,
        &[1],
    );
    run(
        &["verify", "--expect-sha", OLD_SHA, "--json", "-vv"],
        GH_TOKEN,
        COOLIFY_TOKEN,
        &[1],
    );
    run(
        &["tag", "1.2.4", "--dry-run", "-vv"],
        GH_TOKEN,
        COOLIFY_TOKEN,
        &[2, 3],
    );

    // The smoke steps really ran with the password and the captured token.
    assert!(
        !production
            .recorder()
            .matching("POST", "/api/auth/login")
            .is_empty()
    );
    assert!(
        !production
            .recorder()
            .matching("GET", "/api/orders")
            .is_empty()
    );
    // The audit log has lines (approve, deploy, freeze...) and no secret.
    let audit = read(&sb.state_dir().join("audit.jsonl"));
    assert!(audit.lines().count() >= 4, "{audit}");
    assert_clean("the audit log", &audit);
    let summary = read(&summary);
    assert!(!summary.is_empty(), "GITHUB_STEP_SUMMARY was written");
    assert_clean("GITHUB_STEP_SUMMARY", &summary);
    let outputs = read(&outputs);
    assert!(outputs.contains("sha="), "{outputs}");
    assert_clean("GITHUB_OUTPUT", &outputs);
}

/// This machine's address on its default route (not loopback), if it has one.
fn non_loopback_ip() -> Option<std::net::IpAddr> {
    let s = UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:80").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn plain_http_to_a_non_loopback_host_is_refused_before_any_connection() {
    let sb = Sandbox::new();
    // A listener on every interface: any connection attempt would show up.
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let host =
        non_loopback_ip().map_or_else(|| "github.example.com".to_owned(), |ip| ip.to_string());
    let url = format!("http://{host}:{port}");
    let dir = cs::project(
        &sb,
        &format!(
            "[github]\nrepository = \"octo/app\"\napi_url = \"{url}\"\n{}{}",
            cs::coolify_toml(&url, &cs::two_apps()),
            cs::verify_toml(&url)
        ),
    );
    for args in [
        vec!["status", "v1.2.3"],
        vec!["approve", "v1.2.3", "--yes"],
        vec!["freeze", "--reason", "x", "--yes"],
        vec!["unfreeze", "--yes"],
        vec!["deploy", "--tag", "1.2.3", "--yes"],
        vec!["verify", "--expect-sha", NEW_SHA],
    ] {
        let out = cs::almarel(&sb, &dir, COOLIFY_TOKEN)
            .env("GH_TOKEN", GH_TOKEN)
            .env("SMOKE_PASSWORD", SMOKE_PASSWORD)
            .args(&args)
            .run()
            .unwrap();
        assert_no_panic(&out);
        let (o, e) = texts(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}\n{o}\n{e}");
        assert!(e.contains("plain http"), "{args:?}: {e}");
        assert_clean("stderr", &e);
        assert!(
            listener.accept().is_err(),
            "{args:?}: a connection was made to {url}"
        );
    }
}

#[test]
fn rollback_and_checklist_write_no_secret_anywhere() {
    use crate::rollback::Fx;
    let fx = Fx::new(false);
    let summary = fx.repos.sb.path().join("step_summary.md");
    let outputs = fx.repos.sb.path().join("github_output");
    let secrets = [
        cs::GH_TOKEN,
        csim::TOKEN,
        cs::SMOKE_PASSWORD,
        "sess-0a1b2c3d4e5f-issued",
    ];
    for args in [
        vec!["checklist", "--json", "-vv"],
        vec!["checklist", "after-deploy", "v1.3.0", "-vv"],
        vec!["rollback", "--dry-run", "-vv"],
        vec!["rollback", "--yes", "--json", "-vv"],
        vec!["rollback", "--yes", "-vv"],
    ] {
        let out = fx
            .almarel()
            .args(&args)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_OUTPUT", &outputs)
            .run()
            .unwrap();
        assert_no_panic(&out);
        let (o, e) = texts(&out);
        for s in secrets {
            assert!(
                !o.contains(s) && !e.contains(s),
                "{args:?} leaked {s}:\n{o}\n{e}"
            );
        }
    }
    // The smoke login really ran (verify inside rollback and checklist).
    assert!(
        !fx.prod
            .recorder()
            .matching("POST", "/api/auth/login")
            .is_empty()
    );
    for (what, text) in [
        (
            "audit log",
            read(&fx.repos.sb.state_dir().join("audit.jsonl")),
        ),
        ("GITHUB_STEP_SUMMARY", read(&summary)),
        ("GITHUB_OUTPUT", read(&outputs)),
    ] {
        for s in secrets {
            assert!(!text.contains(s), "{what} contains {s}:\n{text}");
        }
    }
}
