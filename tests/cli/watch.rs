//! Following a release to live (`status REF --watch`, `approve --watch`,
//! SPEC §8.1), the trigger diagnosis in the watch (§8.2), and the freeze
//! record shown by status and enforced by approve during a roll forward.

use std::time::Duration;

use almarel_sandbox::github::RunPlan;

use crate::support::github::{GhEnv, assert_no_token};
use crate::support::{Run, Sandbox, json_stdout, texts};

const DEPLOY: &str = "Deploy to Production";

fn ok(gh: &GhEnv, sb: &Sandbox, args: &[&str]) -> std::process::Output {
    let out = gh.almarel(sb).args(args).run().unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{args:?}\n{o}\n{e}");
    assert_no_token(&out);
    out
}

#[test]
fn status_shows_who_froze_when_and_why_and_approve_lets_only_the_roll_forward_through() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    ok(
        &gh,
        &sb,
        &["freeze", "--reason", "checkout errors", "--yes"],
    );
    let fix = gh.sim.add_commit("Fix checkout totals");
    gh.sim.add_tag("v1.2.4", &fix, true);
    gh.sim.add_run("CI", &fix, RunPlan::success());

    // Every teammate's status shows the record.
    let out = ok(&gh, &sb, &["status", "v1.2.4"]);
    let (o, _) = texts(&out);
    assert!(o.contains("FROZEN: frozen by @"), "{o}");
    assert!(o.contains(": checkout errors"), "{o}");
    let out = ok(&gh, &sb, &["status", "v1.2.4", "--json"]);
    let v = json_stdout(&out);
    assert_eq!(v["frozen"], true);
    assert_eq!(v["frozen_state"]["standing"], "frozen");
    assert_eq!(v["frozen_state"]["allows_ref"], false);
    assert!(
        v["frozen_state"]["description"]
            .as_str()
            .unwrap()
            .ends_with(": checkout errors"),
        "{v}"
    );

    // Roll the fix forward; a teammate's commit gets a waiting run meanwhile.
    ok(&gh, &sb, &["unfreeze", "--only", "v1.2.4", "--yes"]);
    let fix_run = gh
        .sim
        .runs_of(DEPLOY)
        .into_iter()
        .find(|(_, sha, _)| *sha == fix)
        .expect("a deploy run for the fix")
        .0;
    let other = gh.sim.add_commit("Unreviewed refactor");
    gh.sim.add_tag("v1.2.5", &other, true);
    gh.sim.add_run("CI", &other, RunPlan::success());
    let other_run = gh.sim.add_run(DEPLOY, &other, RunPlan::awaiting_approval());

    let out = ok(&gh, &sb, &["status", "v1.2.4", "--json"]);
    let v = json_stdout(&out);
    assert_eq!(v["frozen_state"]["standing"], "roll_forward");
    assert_eq!(v["frozen_state"]["allows_ref"], true);

    // Approving the other commit is refused with the record's words; nothing sent.
    let out = gh
        .almarel(&sb)
        .args([
            "approve",
            "--run",
            &other_run.to_string(),
            "--yes",
            "--json",
        ])
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{e}");
    let v = json_stdout(&out);
    assert_eq!(v["error"]["code"], "frozen", "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("checkout errors"), "{msg}");
    assert!(msg.contains("roll forward of v1.2.4"), "{msg}");
    assert!(gh.sim.approvals(other_run).is_empty());

    // The fix passes.
    let start = std::time::Instant::now();
    while !gh.sim.is_pending(fix_run) && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = ok(&gh, &sb, &["approve", "v1.2.4", "--yes"]);
    let (o, _) = texts(&out);
    assert!(o.contains("roll forward"), "{o}");
    assert_eq!(gh.sim.approvals(fix_run)[0].state, "approved");
}

// ---- watch until live ----

mod live {
    use std::io::{Read, Write};
    use std::time::Duration;

    use almarel_sandbox::coolify::{self as csim, AppSpec, Ending};
    use almarel_sandbox::github::RunPlan;
    use almarel_sandbox::production as prod;

    use crate::support::coolify::*;
    use crate::support::{Run, Sandbox, assert_no_panic, json_stdout, texts};

    const API: &str = "k8s0wccw4g0o0kw4okcs8wss";
    const WEB: &str = "w3b0wccw4g0o0kw4okcs8wss";

    pub struct World {
        pub rt: tokio::runtime::Runtime,
        pub coolify: csim::CoolifySim,
        pub prod: prod::ProductionSim,
        pub dir: Project,
        pub sb: Sandbox,
    }

    impl World {
        pub fn almarel(&self) -> assert_cmd::Command {
            almarel(&self.sb, &self.dir, csim::TOKEN)
        }
    }

    /// Production on an old commit, both apps on v1.2.2; v1.2.3 is the release.
    pub fn world() -> World {
        let rt = runtime();
        let apps = vec![
            AppSpec::docker("api", API, "v1.2.2").with_history(&["v1.2.2"]),
            AppSpec::docker("web", WEB, "v1.2.2").with_history(&["v1.2.2"]),
        ];
        let coolify = coolify(&rt, csim::Config::new(apps.clone()));
        let prod = production(&rt, prod::Config::new(OLD_SHA));
        let sb = Sandbox::new();
        let toml = format!(
            "{}{}",
            coolify_toml(&coolify.url(), &apps),
            verify_toml(&prod.url())
        );
        let dir = deploy_project(&sb, &rt, &toml);
        dir.github.add_run("Release", &dir.v123, RunPlan::success());
        World {
            rt,
            coolify,
            prod,
            dir,
            sb,
        }
    }

    /// One HTTP/1.1 request to the Coolify simulator (what the deploy
    /// workflow's `almarel deploy` sends): set the image tag, then deploy.
    fn coolify_call(base: &str, method: &str, path: &str, body: Option<&str>) {
        let addr = base.trim_start_matches("http://").trim_end_matches('/');
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        let body = body.unwrap_or("");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            csim::TOKEN,
            body.len()
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        assert!(out.starts_with("HTTP/1.1 2"), "{method} {path}: {out}");
    }

    /// The deploy workflow's work, `after` from now: each app to `tag`
    /// (ending `ending`), production to `sha`.
    pub fn deploy_later(w: &World, after: Duration, tag: &str, sha: &str, web_ending: Ending) {
        let base = w.coolify.url();
        let control = w.prod.control();
        w.coolify.set_ending(WEB, web_ending);
        let tag = tag.to_owned();
        let sha = sha.to_owned();
        std::thread::spawn(move || {
            std::thread::sleep(after);
            for uuid in [API, WEB] {
                coolify_call(
                    &base,
                    "PATCH",
                    &format!("/api/v1/applications/{uuid}"),
                    Some(&format!("{{\"docker_registry_image_tag\":\"{tag}\"}}")),
                );
                coolify_call(&base, "POST", &format!("/api/v1/deploy?uuid={uuid}"), None);
            }
            control.set_sha(&sha);
        });
    }

    #[test]
    fn watch_follows_the_deploy_run_and_ends_0_when_the_release_is_live() {
        let w = world();
        let gh = &w.dir.github;
        let run = gh.add_run(
            "Deploy to Production",
            &w.dir.v123,
            RunPlan::completes_after(Duration::from_secs(2), "success"),
        );
        deploy_later(
            &w,
            Duration::from_secs(4),
            "v1.2.3",
            &w.dir.v123,
            Ending::Finish,
        );
        let out = w
            .almarel()
            .args(["status", "v1.2.3", "--watch", "--timeout", "30s", "--json"])
            .run()
            .unwrap();
        assert_no_panic(&out);
        let (_, e) = texts(&out);
        assert_eq!(out.status.code(), Some(0), "{e}");
        let v = json_stdout(&out);
        assert_eq!(v["outcome"], "live", "{v}");
        assert_eq!(v["until"], "live");
        assert_eq!(v["live"]["state"]["state"], "live", "{v}");
        assert_eq!(v["runs"]["deploy"]["run_id"], run);
        assert_eq!(v["production"]["sha"], w.dir.v123.as_str());
        assert_eq!(w.coolify.image_tag(WEB).as_deref(), Some("v1.2.3"));
        // The watch saw production switch to the release.
        assert!(
            e.contains(&format!("live: production runs {}", &w.dir.v123[..7])),
            "{e}"
        );
        assert!(
            e.contains(&format!("next: almarel verify --expect-sha {}", w.dir.v123)),
            "{e}"
        );
    }

    /// Without COOLIFY_TOKEN the apps cannot be read: production's SHA
    /// alone says live (as verify skips the app check), not a wait until
    /// the deadline.
    #[test]
    fn without_a_coolify_token_production_alone_says_live() {
        let w = world();
        w.dir.github.add_run(
            "Deploy to Production",
            &w.dir.v123,
            RunPlan::completes_after(Duration::from_secs(1), "success"),
        );
        deploy_later(
            &w,
            Duration::from_secs(2),
            "v1.2.3",
            &w.dir.v123,
            Ending::Finish,
        );
        let out = w
            .almarel()
            .env_remove("COOLIFY_TOKEN")
            .args(["status", "v1.2.3", "--watch", "--timeout", "20s", "--json"])
            .run()
            .unwrap();
        assert_no_panic(&out);
        let (_, e) = texts(&out);
        assert_eq!(out.status.code(), Some(0), "{e}");
        assert_eq!(json_stdout(&out)["outcome"], "live");
        assert!(
            e.contains("COOLIFY_TOKEN is not set") && e.contains("production's version alone"),
            "{e}"
        );
    }

    #[test]
    fn a_failed_deploy_run_ends_the_watch_with_1() {
        let w = world();
        w.dir.github.add_run(
            "Deploy to Production",
            &w.dir.v123,
            RunPlan::completes_after(Duration::from_secs(1), "failure"),
        );
        let out = w
            .almarel()
            .args(["status", "v1.2.3", "--watch", "--timeout", "30s", "--json"])
            .run()
            .unwrap();
        let (_, e) = texts(&out);
        assert_eq!(out.status.code(), Some(1), "{e}");
        let v = json_stdout(&out);
        assert_eq!(v["outcome"], "failed");
        assert_eq!(v["error"]["code"], "run_failed");
        // Nothing was deployed: production and the apps untouched.
        assert_eq!(w.coolify.image_tag(WEB).as_deref(), Some("v1.2.2"));
    }

    #[test]
    fn a_deployment_of_the_release_failing_ends_mixed_with_1() {
        let w = world();
        w.dir
            .github
            .add_run("Deploy to Production", &w.dir.v123, RunPlan::success());
        deploy_later(
            &w,
            Duration::from_secs(2),
            "v1.2.3",
            &w.dir.v123,
            Ending::Fail,
        );
        let out = w
            .almarel()
            .args(["status", "v1.2.3", "--watch", "--timeout", "30s", "--json"])
            .run()
            .unwrap();
        let (_, e) = texts(&out);
        assert_eq!(out.status.code(), Some(1), "{e}");
        let v = json_stdout(&out);
        assert_eq!(v["outcome"], "mixed", "{v}");
        assert_eq!(v["error"]["code"], "release_mixed");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("web's deployment failed"),
            "{v}"
        );
    }

    #[test]
    fn nothing_moving_after_the_runs_is_not_yet_and_ends_5_at_the_deadline() {
        let w = world();
        w.dir
            .github
            .add_run("Deploy to Production", &w.dir.v123, RunPlan::success());
        let out = w
            .almarel()
            .args(["status", "v1.2.3", "--watch", "--timeout", "4s", "--json"])
            .run()
            .unwrap();
        let (_, e) = texts(&out);
        assert_eq!(out.status.code(), Some(5), "{e}");
        let v = json_stdout(&out);
        assert_eq!(v["outcome"], "timed_out");
        // Apps on the old tag with nothing in flight: not yet, not mixed.
        assert_eq!(v["live"]["state"]["state"], "not_yet", "{v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains("to be live"), "{msg}");
        assert!(msg.contains("api on v1.2.2"), "{msg}");
        // The way out names this release, never a bare `deploy` (branch head).
        let hints = v["error"]["hints"].to_string();
        assert!(
            hints.contains("finish it by hand with `almarel deploy --tag v1.2.3`"),
            "{hints}"
        );
    }

    #[test]
    fn until_runs_ends_when_the_runs_completed_and_until_approval_at_the_approval() {
        let w = world();
        let gh = &w.dir.github;
        let run = gh.add_run("Deploy to Production", &w.dir.v123, RunPlan::success());
        let out = w
            .almarel()
            .args([
                "status",
                "v1.2.3",
                "--watch",
                "--until",
                "runs",
                "--timeout",
                "10s",
                "--json",
            ])
            .run()
            .unwrap();
        let (_, e) = texts(&out);
        assert_eq!(out.status.code(), Some(0), "{e}");
        let v = json_stdout(&out);
        assert_eq!(v["outcome"], "completed");
        assert_eq!(v["until"], "runs");

        // --until approval: the approval was already given: it ends there.
        gh.review_as(run, "octocat", "approved", "ship it");
        let out = w
            .almarel()
            .args([
                "status",
                "v1.2.3",
                "--watch",
                "--until",
                "approval",
                "--timeout",
                "10s",
                "--json",
            ])
            .run()
            .unwrap();
        let (_, e) = texts(&out);
        assert_eq!(out.status.code(), Some(0), "{e}");
        let v = json_stdout(&out);
        assert_eq!(v["outcome"], "approved", "{v}");
        assert!(e.contains("next: almarel status v1.2.3 --watch"), "{e}");
    }

    #[test]
    fn approve_watch_follows_the_approved_run_to_live() {
        let w = world();
        let gh = &w.dir.github;
        let run = gh.add_run(
            "Deploy to Production",
            &w.dir.v123,
            RunPlan::awaiting_approval(),
        );
        let start = std::time::Instant::now();
        while !gh.is_pending(run) && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(100));
        }
        deploy_later(
            &w,
            Duration::from_secs(3),
            "v1.2.3",
            &w.dir.v123,
            Ending::Finish,
        );
        let out = w
            .almarel()
            .args([
                "approve",
                "v1.2.3",
                "--yes",
                "--watch",
                "--timeout",
                "30s",
                "--json",
            ])
            .run()
            .unwrap();
        let (_, e) = texts(&out);
        assert_eq!(out.status.code(), Some(0), "{e}");
        let v = json_stdout(&out);
        assert_eq!(v["reviewed"], "approved", "{v}");
        assert_eq!(v["run_conclusion"], "success", "{v}");
        assert_eq!(v["live"]["state"]["state"], "live", "{v}");
        assert_eq!(gh.approvals(run)[0].state, "approved");
        assert_eq!(w.coolify.image_tag(API).as_deref(), Some("v1.2.3"));
        let _ = &w.rt;
    }
}

// ---- a workflow that never starts (SPEC §8.2) ----

const RELEASE_YML: &str = ".github/workflows/release.yml";

/// A commit tagged v2.0.0 whose CI succeeded and whose deploy run waits for
/// the approval; the Release workflow has no run.
fn no_release_run(sb: &Sandbox) -> (GhEnv, String) {
    let gh = GhEnv::start(sb);
    let sha = gh.sim.add_commit("Ship it");
    gh.sim.add_tag("v2.0.0", &sha, true);
    gh.sim.add_run("CI", &sha, RunPlan::success());
    gh.sim.add_run(DEPLOY, &sha, RunPlan::awaiting_approval());
    (gh, sha)
}

#[test]
fn a_tag_filter_that_does_not_match_is_diagnosed_by_name_and_ends_the_watch_with_1() {
    let sb = Sandbox::new();
    let (gh, _) = no_release_run(&sb);
    gh.sim.set_file(
        RELEASE_YML,
        None,
        "name: Release\non:\n  push:\n    tags: ['release-*']\njobs:\n  r:\n    runs-on: ubuntu-latest\n    steps:\n      - run: true\n",
    );
    let out = gh
        .almarel(&sb)
        .args(["status", "v2.0.0", "--watch", "--timeout", "30s", "--json"])
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{e}");
    let v = json_stdout(&out);
    assert_eq!(v["outcome"], "never_starts", "{v}");
    assert_eq!(v["error"]["code"], "workflow_never_starts");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("Release"),
        "{v}"
    );
    let w = &v["trigger"]["workflows"][0];
    assert_eq!(w["status"], "never_starts", "{v}");
    let said = e.clone();
    assert!(said.contains("Release never starts for v2.0.0"), "{said}");
    assert!(said.contains("release-*"), "the filter is shown: {said}");
    // Well before the deadline: reported as soon as known.
    assert!(v["watch"]["requests"].as_u64().unwrap() > 0);
    assert_no_token(&out);
}

#[test]
fn a_disabled_workflow_is_diagnosed() {
    let sb = Sandbox::new();
    let (gh, _) = no_release_run(&sb);
    gh.sim.set_workflow_state("Release", "disabled_manually");
    let out = gh
        .almarel(&sb)
        .args(["status", "v2.0.0", "--watch", "--timeout", "30s"])
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(e.contains("Release never starts for v2.0.0"), "{e}");
    assert!(e.contains("disabled"), "{e}");
}

#[test]
fn dispatch_starts_the_workflow_that_will_not_start_and_follows_its_run() {
    let sb = Sandbox::new();
    let (gh, sha) = no_release_run(&sb);
    gh.sim.set_file(
        RELEASE_YML,
        None,
        "name: Release\non:\n  push:\n    tags: ['release-*']\n  workflow_dispatch:\njobs:\n  r:\n    runs-on: ubuntu-latest\n    steps:\n      - run: true\n",
    );
    // Without --dispatch: the next step is the dispatch.
    let out = gh
        .almarel(&sb)
        .args(["status", "v2.0.0", "--watch", "--timeout", "30s"])
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(
        e.contains("hint: fix the cause above and push the tag again, or start it by hand: `almarel status v2.0.0 --watch --dispatch`"),
        "{e}"
    );
    assert!(gh.sim.dispatched_runs("Release").is_empty());

    let out = gh
        .almarel(&sb)
        .args([
            "status",
            "v2.0.0",
            "--watch",
            "--dispatch",
            "--timeout",
            "30s",
            "--json",
        ])
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    let v = json_stdout(&out);
    let runs = gh.sim.dispatched_runs("Release");
    assert_eq!(runs.len(), 1, "one run started");
    assert_eq!(runs[0].1, sha);
    assert_eq!(v["dispatched"][0]["run_id"], runs[0].0, "{v}");
    assert_eq!(v["runs"]["release"]["run_id"], runs[0].0, "{v}");
    assert_eq!(
        v["runs"]["release"]["conclusion"], "success",
        "followed to its end: {v}"
    );
    assert_eq!(v["outcome"], "awaiting_approval");
    let post = gh
        .sim
        .recorder()
        .all()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/dispatches"))
        .expect("dispatch POST");
    let body: serde_json::Value = serde_json::from_str(&post.body).unwrap();
    assert_eq!(body["ref"], "v2.0.0");
}

#[test]
fn deploy_of_another_commit_during_a_roll_forward_is_refused_with_the_record() {
    let w = live::world();
    let ok = |args: &[&str]| {
        let out = w.almarel().args(args).run().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}\n{}", texts(&out).1);
    };
    ok(&["freeze", "--reason", "db migration stuck", "--yes"]);
    ok(&["unfreeze", "--only", "v1.2.3", "--yes"]);
    let before = w.coolify.recorder().all().len();
    let out = w
        .almarel()
        .args(["deploy", "--tag", "v1.2.2", "--yes", "--json"])
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{e}");
    let v = json_stdout(&out);
    assert_eq!(v["error"]["code"], "frozen", "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("db migration stuck"), "{msg}");
    assert!(msg.contains("roll forward of v1.2.3"), "{msg}");
    // Nothing written to Coolify.
    let writes = w.coolify.recorder().all()[before..]
        .iter()
        .filter(|r| r.method != "GET")
        .count();
    assert_eq!(writes, 0);

    // The fix is not refused by the freeze (its dry run plans the writes;
    // its dispatched run may already wait for the approval, a later gate).
    let out = w
        .almarel()
        .args([
            "deploy",
            "--tag",
            "v1.2.3",
            "--dry-run",
            "--skip-approval",
            "--json",
        ])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let v = json_stdout(&out);
    assert_eq!(v["image_tag"], "v1.2.3", "{v}");
    assert!(v["plan"].as_array().is_some_and(|p| !p.is_empty()), "{v}");
}
