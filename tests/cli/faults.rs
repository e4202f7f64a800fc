//! Fault suite: every command that talks to a remote, against 5xx then
//! recovery, rate limits (429/403 with `retry-after` or `x-ratelimit-reset`),
//! a closed port, a server that never answers, malformed JSON, an HTML error
//! page and a body cut short. GETs recover; POSTs are never duplicated; the
//! exit code is 4 or 5 (1 for verify's failed checks); the message names the
//! remote and what to do; nothing panics.

use crate::support::Run;
use std::time::{Duration, Instant};

use almarel_sandbox::coolify::{self as csim, Fault as CFault};
use almarel_sandbox::github::{Fault, RunPlan};
use almarel_sandbox::production as prod;

use crate::support::coolify::{self as cs, NEW_SHA};
use crate::support::github::GhEnv;
use crate::support::raw::{Behaviour, RawServer, closed_port_url};
use crate::support::{Sandbox, assert_no_panic, texts};

/// Short request timeouts so the "never answers" cases stay fast.
const FAST: &str = "request_timeout = \"300ms\"\n";

/// The GitHub-only commands and their arguments.
fn github_commands() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("status", vec!["status", "v1.2.3"]),
        ("approve", vec!["approve", "v1.2.3", "--yes"]),
        ("freeze", vec!["freeze", "--reason", "incident", "--yes"]),
        ("unfreeze", vec!["unfreeze", "--yes"]),
    ]
}

/// The broken remotes, by name.
fn broken_remotes() -> Vec<(&'static str, Option<Behaviour>)> {
    vec![
        ("connection refused", None),
        ("never answers", Some(Behaviour::BlackHole)),
        (
            "malformed json",
            Some(Behaviour::respond(
                200,
                "application/json",
                "{\"total_count\": 1, \"workflow_runs\": [{\"id\": ",
            )),
        ),
        (
            "html error page",
            Some(Behaviour::respond(
                502,
                "text/html",
                "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>",
            )),
        ),
        ("body cut short", Some(Behaviour::CutShort)),
    ]
}

fn assert_names_remote_and_hint(case: &str, stderr: &str, remote: &str) {
    let lower = stderr.to_lowercase();
    assert!(
        lower.contains(remote),
        "{case}: the error must name {remote}:\n{stderr}"
    );
    assert!(
        stderr.contains("hint:"),
        "{case}: the error must say what to do:\n{stderr}"
    );
}

#[test]
fn github_commands_against_broken_github_exit_4_or_5_without_panicking() {
    // One thread per broken remote keeps the wall time low.
    let threads: Vec<_> = broken_remotes()
        .into_iter()
        .map(|(name, remote)| std::thread::spawn(move || github_case(name, remote)))
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

fn github_case(name: &'static str, remote: Option<Behaviour>) {
    let sb = Sandbox::new();
    {
        let server = remote.map(RawServer::start);
        let url = server
            .as_ref()
            .map_or_else(closed_port_url, |s| s.url.clone());
        let dir = sb.path().join(format!("gh-{}", name.replace(' ', "-")));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("almarel.toml"),
            format!("[github]\nrepository = \"octo/app\"\napi_url = \"{url}\"\n{FAST}"),
        )
        .unwrap();
        for (cmd, args) in github_commands() {
            let case = format!("{cmd} / {name}");
            let started = Instant::now();
            let out = sb
                .almarel(&dir)
                .env("GH_TOKEN", crate::support::github::TOKEN)
                .args(["--config", "almarel.toml"])
                .args(&args)
                .timeout(Duration::from_secs(60))
                .run()
                .unwrap();
            assert_no_panic(&out);
            let (o, e) = texts(&out);
            let code = out.status.code();
            assert!(
                matches!(code, Some(4 | 5)),
                "{case}: exit {code:?}\n{o}\n{e}"
            );
            assert_names_remote_and_hint(&case, &e, "github");
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{case}: took {:?}",
                started.elapsed()
            );
            if let Some(s) = &server {
                assert_eq!(s.count("POST"), 0, "{case}: a write was sent");
            }
        }
        // Only changes are audited, and nothing changed.
        assert!(sb.audit_lines().iter().all(|l| l["result"] != "ok"));
    }
}

#[test]
fn deploy_against_broken_coolify_exits_4_or_5_and_never_repeats_a_write() {
    let rt = cs::runtime();
    for (name, remote) in broken_remotes() {
        let sb = Sandbox::new();
        let server = remote.map(RawServer::start);
        let url = server
            .as_ref()
            .map_or_else(closed_port_url, |s| s.url.clone());
        // `request_timeout` right under `[coolify]`, before the app tables.
        let toml = cs::coolify_toml(&url, &cs::two_apps()).replacen('\n', &format!("\n{FAST}"), 1);
        let dir = cs::deploy_project(&sb, &rt, &toml);
        let started = Instant::now();
        let out = cs::almarel(&sb, &dir, csim::TOKEN)
            .args(["deploy", "--tag", "1.2.3", "--yes"])
            .run()
            .unwrap();
        assert_no_panic(&out);
        let (o, e) = texts(&out);
        let code = out.status.code();
        assert!(
            matches!(code, Some(4 | 5)),
            "deploy / {name}: exit {code:?}\n{o}\n{e}"
        );
        assert_names_remote_and_hint(name, &e, "coolify");
        assert!(started.elapsed() < Duration::from_secs(30), "{name}");
        if let Some(s) = &server {
            assert!(s.count("POST") <= 1, "{name}: {:?}", s.requests());
            assert!(s.count("PATCH") <= 1, "{name}: {:?}", s.requests());
        }
    }
}

#[test]
fn verify_against_broken_production_fails_its_checks_with_exit_1() {
    let sb = Sandbox::new();
    for (name, remote) in broken_remotes() {
        let server = remote.map(RawServer::start);
        let url = server
            .as_ref()
            .map_or_else(closed_port_url, |s| s.url.clone());
        let toml = cs::verify_toml(&url).replace("request_timeout = \"5s\"", FAST.trim());
        let dir = sb.path().join(format!("v-{}", name.replace(' ', "-")));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("almarel.toml"), toml).unwrap();
        let started = Instant::now();
        let out = cs::almarel(&sb, &dir, "")
            .args(["verify", "--expect-sha", NEW_SHA])
            .run()
            .unwrap();
        assert_no_panic(&out);
        let (o, e) = texts(&out);
        assert_eq!(out.status.code(), Some(1), "verify / {name}\n{o}\n{e}");
        assert!(
            e.contains("checks failed: ") && e.contains("hint:"),
            "verify / {name}: the failing checks and what to do\n{o}\n{e}"
        );
        if let Some(s) = &server {
            // The login POST only runs once the probes pass.
            assert_eq!(s.count("POST"), 0, "{name}: {:?}", s.requests());
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{name}");
    }
}

/// A tagged commit with green CI and a deploy run waiting for production.
fn ready(sb: &Sandbox) -> GhEnv {
    let gh = GhEnv::start_with(sb, FAST);
    let prev = gh.sim.add_commit("Previous release");
    gh.sim.add_tag("v1.2.2", &prev, true);
    let sha = gh.sim.add_commit("Add login page");
    gh.sim.add_tag("v1.2.3", &sha, true);
    gh.sim.add_run("CI", &sha, RunPlan::success());
    gh.sim
        .add_run("Deploy to Production", &sha, RunPlan::awaiting_approval());
    gh
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Transient answers to GETs, then recovery: every read-only run ends 0.
fn transient_get_faults() -> Vec<(&'static str, Fault)> {
    let reset = (unix_now() + 1).to_string();
    vec![
        ("500 twice", Fault::new("GET", "", 2, 500)),
        ("502 twice", Fault::new("GET", "", 2, 502)),
        ("503 twice", Fault::new("GET", "", 2, 503)),
        (
            "429 retry-after",
            Fault::new("GET", "", 1, 429).header("retry-after", "1"),
        ),
        (
            "429 x-ratelimit-reset",
            Fault::new("GET", "", 1, 429)
                .header("x-ratelimit-remaining", "0")
                .header("x-ratelimit-reset", &reset),
        ),
        (
            "403 retry-after",
            Fault::new("GET", "", 1, 403).header("retry-after", "1"),
        ),
        (
            "403 x-ratelimit-reset",
            Fault::new("GET", "", 1, 403)
                .header("x-ratelimit-remaining", "0")
                .header("x-ratelimit-reset", &reset),
        ),
    ]
}

#[test]
fn github_reads_recover_from_5xx_and_rate_limits() {
    let threads: Vec<_> = transient_get_faults()
        .into_iter()
        .map(|(name, fault)| {
            std::thread::spawn(move || {
                for args in [
                    vec!["status", "v1.2.3"],
                    vec!["approve", "v1.2.3", "--yes"],
                    vec!["freeze", "--reason", "incident", "--yes"],
                    vec!["unfreeze", "--yes"],
                ] {
                    let sb = Sandbox::new();
                    let gh = ready(&sb);
                    gh.sim.fault(fault.clone());
                    let out = gh.almarel(&sb).args(&args).run().unwrap();
                    assert_no_panic(&out);
                    let (o, e) = texts(&out);
                    assert_eq!(out.status.code(), Some(0), "{args:?} / {name}\n{o}\n{e}");
                    // Each write went out exactly once (a GraphQL query,
                    // peeling tags, is a read).
                    let writes = gh
                        .sim
                        .recorder()
                        .all()
                        .into_iter()
                        .filter(|r| r.method != "GET" && r.path != "/graphql")
                        .count();
                    let expected = match args[0] {
                        "status" => 0,
                        "approve" => 1,
                        "freeze" => 3, // disable + write the freeze record + reject the waiting run
                        _ => 0,        // not frozen: nothing to enable
                    };
                    assert_eq!(
                        writes,
                        expected,
                        "{args:?} / {name}: {:?}",
                        gh.sim.recorder().all()
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn a_review_post_is_never_repeated_after_a_5xx_or_a_lost_answer() {
    for (name, fault) in [
        ("502", Fault::new("POST", "/pending_deployments", 1, 502)),
        ("503", Fault::new("POST", "/pending_deployments", 1, 503)),
        (
            "lost answer",
            Fault::new("POST", "/pending_deployments", 1, 502).after_applying(),
        ),
    ] {
        let sb = Sandbox::new();
        let gh = ready(&sb);
        gh.sim.fault(fault);
        let out = gh
            .almarel(&sb)
            .args(["approve", "v1.2.3", "--yes"])
            .run()
            .unwrap();
        assert_no_panic(&out);
        let (o, e) = texts(&out);
        let posts = gh.sim.recorder().matching("POST", "/repos/");
        assert_eq!(posts.len(), 1, "{name}: the review POST was repeated");
        if name == "lost answer" {
            // Re-reading shows the approval landed: done, not an error.
            assert!(matches!(out.status.code(), Some(0 | 4)), "{name}\n{o}\n{e}");
        } else {
            assert_eq!(out.status.code(), Some(4), "{name}\n{o}\n{e}");
            assert!(e.contains("hint:"), "{name}: {e}");
        }
    }
    // A 429 means nothing was processed: sent again once, approved once.
    let sb = Sandbox::new();
    let gh = ready(&sb);
    gh.sim
        .fault(Fault::new("POST", "/pending_deployments", 1, 429).header("retry-after", "1"));
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--yes"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert_eq!(gh.sim.recorder().matching("POST", "/repos/").len(), 2);
}

fn coolify_fault(method: &str, prefix: &str, status: u16, times: u32) -> CFault {
    CFault {
        method: method.into(),
        path_prefix: prefix.into(),
        status,
        body: "{\"message\":\"boom\"}".into(),
        headers: Vec::new(),
        times,
    }
}

#[test]
fn deploy_reads_recover_and_the_deploy_post_is_never_repeated() {
    let rt = cs::runtime();
    let fast_toml =
        |url: &str| cs::coolify_toml(url, &cs::two_apps()).replacen('\n', &format!("\n{FAST}"), 1);
    // Reads: 5xx twice, then a rate limit; the deployment still finishes.
    for (name, fault) in [
        (
            "503 on reads",
            coolify_fault("GET", "/api/v1/applications", 503, 2),
        ),
        (
            "500 on polls",
            coolify_fault("GET", "/api/v1/deployments", 500, 2),
        ),
        ("429 on reads", {
            let mut f = coolify_fault("GET", "/api/v1/applications", 429, 1);
            f.headers.push(("retry-after".into(), "1".into()));
            f
        }),
    ] {
        let c = cs::coolify(&rt, csim::Config::new(cs::two_apps()));
        c.inject(fault);
        let sb = Sandbox::new();
        let dir = cs::deploy_project(&sb, &rt, &fast_toml(&c.url()));
        let out = cs::almarel(&sb, &dir, csim::TOKEN)
            .args(["deploy", "--tag", "1.2.3", "--yes"])
            .run()
            .unwrap();
        assert_no_panic(&out);
        let (o, e) = texts(&out);
        assert_eq!(out.status.code(), Some(0), "{name}\n{o}\n{e}");
        assert_eq!(
            c.recorder().matching("POST", "/api/v1/deploy").len(),
            2,
            "{name}"
        );
    }
    // The deploy POST answered 502: the outcome is unknown, never re-sent.
    let c = cs::coolify(&rt, csim::Config::new(cs::two_apps()));
    c.inject(coolify_fault("POST", "/api/v1/deploy", 502, 1));
    let sb = Sandbox::new();
    let dir = cs::deploy_project(&sb, &rt, &fast_toml(&c.url()));
    let out = cs::almarel(&sb, &dir, csim::TOKEN)
        .args(["deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(4), "{o}\n{e}");
    assert!(e.contains("coolify") && e.contains("hint:"), "{e}");
    // One POST per app: the failed one was not sent again.
    let posts = c.recorder().matching("POST", "/api/v1/deploy?uuid=k8s0");
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(c.recorder().matching("POST", "/api/v1/deploy").len() <= 2);
}

#[test]
fn verify_probes_answering_5xx_fail_the_checks_with_exit_1() {
    let rt = cs::runtime();
    let p = cs::production(&rt, prod::Config::new(NEW_SHA));
    p.control().set_health(503);
    let sb = Sandbox::new();
    let dir = cs::project(&sb, &cs::verify_toml(&p.url()));
    let out = cs::almarel(&sb, &dir, "")
        .args(["verify", "--expect-sha", NEW_SHA])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{o}\n{e}");
    assert!(o.contains("503") && e.contains("health"), "{o}\n{e}");
    // Smoke steps (the login POST) never run against an unhealthy production.
    assert!(p.recorder().matching("POST", "/api/auth/login").is_empty());
}

#[test]
fn rollback_reads_recover_and_its_deploy_posts_are_never_repeated() {
    use crate::rollback::Fx;
    // GitHub and Coolify reads fail twice each, then recover: the rollback completes.
    let fx = Fx::new(false);
    fx.gh.fault(Fault::new("GET", "", 2, 502));
    fx.coolify
        .inject(coolify_fault("GET", "/api/v1/applications", 503, 2));
    let out = fx.almarel().args(["rollback", "--yes"]).run().unwrap();
    assert_no_panic(&out);
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    let (disables, patches, posts) = fx.changes();
    assert_eq!((disables, posts), (1, 2), "{o}\n{e}");
    assert!(patches >= 2);

    // The deploy POST of the first app answers 502: not re-sent, exit 4, and
    // the error says what was done and how to continue.
    let fx = Fx::new(false);
    fx.coolify
        .inject(coolify_fault("POST", "/api/v1/deploy", 502, 1));
    let out = fx.almarel().args(["rollback", "--yes"]).run().unwrap();
    assert_no_panic(&out);
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(4), "{o}\n{e}");
    assert!(e.contains("coolify") && e.contains("hint:"), "{e}");
    let api_posts = fx
        .coolify
        .recorder()
        .matching("POST", "/api/v1/deploy?uuid=k8s0");
    assert_eq!(api_posts.len(), 1, "{api_posts:?}");
}

#[test]
fn checklist_against_a_broken_github_reports_instead_of_panicking() {
    use crate::rollback::Fx;
    let fx = Fx::new(false);
    fx.gh.fault(Fault::new("GET", "", 50, 503));
    let out = fx
        .almarel()
        .args(["checklist", "during-deploy", "v1.3.0"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (o, e) = texts(&out);
    // A checklist item that cannot be evaluated is a failure of the run (1)
    // or of the remote (4), never a crash or a pass.
    assert!(matches!(out.status.code(), Some(1 | 4)), "{o}\n{e}");
    assert!(
        (o + &e).to_lowercase().contains("github"),
        "the output names GitHub"
    );
}
