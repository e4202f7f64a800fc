//! `almarel rehearse`: every scenario runs on its own sandbox, and the tests
//! assert the sandbox's end state (origin refs, what the simulators
//! received, what production serves), not only the verdict.

use crate::support::Run;
use std::time::{Duration, Instant};

use almarel::cli::{ColorChoice, Scenario};
use almarel::commands::rehearse::{RehearsalReport, RehearseOptions, run_scenario};
use almarel::settings::Global;
use almarel::ui::Ui;
use almarel_sandbox::Recorded;
use almarel_sandbox::world::GH_TOKEN;

use crate::support::{Sandbox, texts};

fn rehearse(scenario: Scenario) -> (RehearsalReport, String) {
    let rt = crate::support::coolify::runtime();
    let global = Global {
        json: false,
        yes: false,
        dry_run: false,
        quiet: false,
        verbose: 0,
        color: ColorChoice::Never,
    };
    let (ui, store) = Ui::captured(&global);
    let report = rt
        .block_on(run_scenario(scenario, RehearseOptions::captured(ui)))
        .expect("the sandbox starts");
    let narration = {
        let c = store.lock().unwrap();
        format!("{}{}", c.stdout, c.stderr)
    };
    assert!(
        !report.sandbox_dir.exists(),
        "sandbox dir {} left behind",
        report.sandbox_dir.display()
    );
    for s in &report.steps {
        assert!(
            !s.output.contains(GH_TOKEN),
            "token in {}:\n{}",
            s.command,
            s.output
        );
    }
    (report, narration)
}

fn exits(r: &RehearsalReport) -> Vec<Option<u8>> {
    r.steps.iter().map(|s| s.exit).collect()
}

fn tag_sha(r: &RehearsalReport, tag: &str) -> String {
    r.tags
        .iter()
        .find(|(t, _)| t == tag)
        .map(|(_, s)| s.clone())
        .unwrap_or_else(|| panic!("{tag} not on origin: {:?}", r.tags))
}

fn count(reqs: &[Recorded], method: &str, contains: &str) -> usize {
    reqs.iter()
        .filter(|r| r.method == method && r.path.contains(contains))
        .count()
}

fn image_tags(r: &RehearsalReport) -> Vec<(String, Option<String>)> {
    r.image_tags.clone()
}

fn tags_are(api: &str, web: &str) -> Vec<(String, Option<String>)> {
    vec![
        ("api".into(), Some(api.into())),
        ("web".into(), Some(web.into())),
    ]
}

#[test]
fn release_scenario_tags_approves_deploys_and_verifies() {
    let (r, narration) = rehearse(Scenario::Release);
    assert!(r.passed(), "{:?}\n{narration}", r.deviation);
    assert_eq!(exits(&r), vec![Some(0); 5]);
    let commands: Vec<&str> = r.steps.iter().map(|s| s.command.as_str()).collect();
    // After the approval the person watches; the deploy run deploys.
    assert_eq!(
        commands,
        [
            "almarel tag 1.3.0",
            "almarel status v1.3.0 --watch --timeout 1m",
            "almarel approve v1.3.0 --yes",
            "almarel status v1.3.0 --watch --timeout 1m",
            "almarel verify --expect-tag v1.3.0",
        ]
    );
    // The tag is annotated, on origin, at origin's main.
    let main = r
        .origin_refs
        .iter()
        .find(|x| x.name == "refs/heads/main")
        .unwrap();
    let tag = r
        .origin_refs
        .iter()
        .find(|x| x.name == "refs/tags/v1.3.0")
        .unwrap();
    assert!(tag.annotated);
    assert_eq!(tag.commit, main.commit);
    // Exactly one approval sent; production runs the new commit.
    assert_eq!(count(&r.github_requests, "POST", "/pending_deployments"), 1);
    assert_eq!(r.reviews.len(), 1);
    assert_eq!(r.reviews[0].state, "approved");
    assert_eq!(r.production_sha, tag.commit);
    assert_eq!(image_tags(&r), tags_are("v1.3.0", "v1.3.0"));
    assert_eq!(count(&r.coolify_requests, "POST", "/api/v1/deploy?"), 2);
    assert!(
        r.coolify_requests
            .iter()
            .filter(|q| q.method == "POST")
            .all(|q| q.path.contains("force=true"))
    );
    assert!(count(&r.production_requests, "GET", "/api/version") >= 1);
    assert!(count(&r.production_requests, "GET", "/api/orders") >= 1);
    // The commands wrote their audit lines into the sandbox, not the user's home.
    let mut audited: Vec<&str> = r
        .audit
        .iter()
        .filter_map(|l| l["command"].as_str())
        .collect();
    audited.dedup(); // deploy writes one line per app
    assert_eq!(audited, ["tag", "approve", "deploy"]);
    deployed_by_the_run(&r, &narration, "v1.3.0");
    // Narration: runbook sections, the command lines, the sandbox's moves, the real output.
    assert!(
        narration.contains("── step 1/5 · Human steps 2"),
        "{narration}"
    );
    assert!(narration.contains("$ almarel approve v1.3.0 --yes"));
    assert!(narration.contains("GitHub saw v1.3.0 pushed"));
    assert!(narration.contains("ended as designed"));
    assert!(
        // 5 probes and smoke steps, and each of the 2 Coolify apps (SPEC §7.4).
        r.steps[4].output.contains("all 7 checks passed"),
        "{}",
        r.steps[4].output
    );
    assert!(r.elapsed < Duration::from_secs(60), "took {:?}", r.elapsed);
}

/// The approved deploy run did the deploy and the verify (GitHub Actions
/// mode), not the person: one job, concluded success; its log holds both
/// commands' output; every Coolify write happened in it (the deploy audit
/// lines are the workflow's identity, and no person's step deploys); the
/// narration names the run deploying and its conclusion.
fn deployed_by_the_run(r: &RehearsalReport, narration: &str, tag: &str) {
    assert_eq!(r.deploy_jobs.len(), 1, "{:?}", r.deploy_jobs);
    let job = &r.deploy_jobs[0];
    let id = job.info.id;
    let outcome = job.outcome.as_ref().expect("the job ended");
    assert_eq!(outcome.conclusion, "success", "{}", outcome.log);
    assert_eq!(
        outcome.summary,
        format!("deployed api, web ({tag}); verified {tag}")
    );
    assert_eq!(job.info.head_sha, tag_sha(r, tag));
    for line in [
        format!(
            "##[group]deploy to Coolify: almarel deploy {} --yes",
            job.info.head_sha
        ),
        format!(
            "##[group]verify production: almarel verify --expect-sha {}",
            job.info.head_sha
        ),
        "all 7 checks passed".to_owned(),
    ] {
        assert!(
            outcome.log.contains(&line),
            "{line:?} not in:\n{}",
            outcome.log
        );
    }
    assert!(!outcome.log.contains(GH_TOKEN));
    assert!(
        narration.contains(&format!(
            "GitHub: Deploy to Production run {id} approved by @rehearsal-lead: its deploy job is in progress"
        )),
        "{narration}"
    );
    assert!(
        narration.contains(&format!(
            "GitHub: Deploy to Production run {id} completed/success: deployed api, web ({tag}); verified {tag}"
        )),
        "{narration}"
    );
    // Every deploy audit line is the run's (the workflow's git identity);
    // no step the person ran is a deploy.
    let deploys: Vec<&serde_json::Value> = r
        .audit
        .iter()
        .filter(|l| l["command"] == "deploy")
        .collect();
    // Write-ahead: `started` then `ok`, for each of the two apps.
    assert_eq!(deploys.len(), 4, "{:?}", r.audit);
    assert!(
        deploys.iter().all(|l| l["actor"]["git"]
            .as_str()
            .unwrap_or("")
            .contains("github-actions[bot]")),
        "{deploys:?}"
    );
    assert!(
        r.steps
            .iter()
            .all(|s| !s.command.starts_with("almarel deploy")),
        "a person deployed"
    );
    // Two image tag PATCHes and two deployments, all to the tag.
    let patches: Vec<&Recorded> = r
        .coolify_requests
        .iter()
        .filter(|q| q.method == "PATCH")
        .collect();
    assert_eq!(patches.len(), 2, "{patches:?}");
    assert!(patches.iter().all(|q| q.body.contains(tag)), "{patches:?}");
    // The run the person approved is the run that deployed.
    let approved: Vec<&Recorded> = r
        .github_requests
        .iter()
        .filter(|q| q.method == "POST" && q.path.contains("/pending_deployments"))
        .collect();
    assert_eq!(approved.len(), 1);
    assert!(
        approved[0].path.contains(&format!("/runs/{id}/")),
        "{approved:?}"
    );
}

#[test]
fn failed_deploy_scenario_freezes_rolls_back_and_unfreezes() {
    let (r, narration) = rehearse(Scenario::FailedDeploy);
    assert!(r.passed(), "{:?}\n{narration}", r.deviation);
    // tag, watch, approve, watch the deploy run (web fails), verify (mixed), status,
    // freeze, rollback --dry-run, rollback, verify v1.2.2, unfreeze.
    assert_eq!(
        exits(&r),
        [0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0].map(Some).to_vec()
    );
    // The person watched the deploy run fail; the run's job ran the deploy.
    assert_eq!(
        r.steps[3].command,
        "almarel status v1.3.0 --watch --timeout 1m"
    );
    assert!(
        r.steps[3]
            .error
            .as_deref()
            .unwrap()
            .contains("Deploy to Production concluded failure")
    );
    assert_eq!(r.deploy_jobs.len(), 1);
    let outcome = r.deploy_jobs[0].outcome.as_ref().expect("the job ended");
    assert_eq!(outcome.conclusion, "failure");
    assert!(
        outcome.summary.contains("web failed"),
        "{}",
        outcome.summary
    );
    assert!(
        !outcome.log.contains("##[group]verify production"),
        "the job stops at the failed step:\n{}",
        outcome.log
    );
    assert_eq!(r.production_sha, tag_sha(&r, "v1.2.2"));
    assert_eq!(image_tags(&r), tags_are("v1.2.2", "v1.2.2"));
    assert_eq!(r.deploy_workflow_state.as_deref(), Some("active"));
    // 2 deployments of v1.3.0, 2 of the rollback to v1.2.2 (none by the dry run).
    assert_eq!(count(&r.coolify_requests, "POST", "/api/v1/deploy?"), 4);
    assert_eq!(count(&r.github_requests, "PUT", "/disable"), 1);
    assert_eq!(count(&r.github_requests, "PUT", "/enable"), 1);
    let audited: Vec<&str> = r
        .audit
        .iter()
        .filter_map(|l| l["command"].as_str())
        .collect();
    assert!(
        audited.contains(&"rollback") && audited.contains(&"unfreeze"),
        "{audited:?}"
    );
}

/// SPEC §7.4: after a deploy where web failed and api finished, the release
/// is mixed, and every command says so instead of calling it green; the
/// ways out are named; the rollback path ends verified.
#[test]
fn failed_deploy_scenario_shows_the_mixed_release_and_both_ways_out() {
    let (r, narration) = rehearse(Scenario::FailedDeploy);
    let step = |cmd: &str| {
        r.steps
            .iter()
            .find(|s| s.command == format!("almarel {cmd}"))
            .unwrap_or_else(|| panic!("no step `{cmd}`:\n{narration}"))
    };
    // The deploy run's failed deploy restored web's last finished tag and
    // named both ways out, in the job's log.
    let log = &r.deploy_jobs[0].outcome.as_ref().expect("ended").log;
    assert!(log.contains("image tag restored to v1.2.2"), "{log}");
    assert!(
        log.contains("almarel deploy --tag v1.3.0 --app web") && log.contains("almarel rollback"),
        "{log}"
    );
    assert!(
        narration.contains(&format!(
            "GitHub: Deploy to Production run {} completed/failure",
            r.deploy_jobs[0].info.id
        )),
        "{narration}"
    );
    // The web restore was a PATCH back to v1.2.2 before any rollback.
    let patches: Vec<&str> = r
        .coolify_requests
        .iter()
        .filter(|q| q.method == "PATCH" && q.path.contains("rh0web"))
        .map(|q| q.body.as_str())
        .collect();
    assert!(patches.len() >= 2, "{patches:?}");
    assert!(
        patches[0].contains("v1.3.0") && patches[1].contains("v1.2.2"),
        "{patches:?}"
    );

    // verify: production's SHA is v1.3.0's, but web is not: mixed, exit 1.
    let verify = step("verify --expect-tag v1.3.0");
    assert_eq!(verify.exit, Some(1), "{}", verify.output);
    let err = verify.error.as_deref().unwrap_or_default();
    assert!(
        err.contains("is mixed") && err.contains("web is on v1.2.2"),
        "{err}"
    );
    assert!(err.contains("almarel rollback"), "{err}");
    assert!(
        verify.output.contains("✓  app: api") && verify.output.contains("✗  app: web"),
        "{}",
        verify.output
    );

    // status: a report (exit 0) that shows the release mixed, not as live.
    let status = step("status v1.3.0");
    assert_eq!(status.exit, Some(0), "{}", status.output);
    let shown = status.output.to_lowercase();
    assert!(shown.contains("mixed"), "{}", status.output);
    assert!(
        shown.contains("almarel deploy --tag v1.3.0 --app web")
            && shown.contains("almarel rollback"),
        "{}",
        status.output
    );

    // The rollback dry run showed the target and changed nothing; the
    // rollback then ended verified, and the verify after it passes with both apps.
    let dry = step("rollback --dry-run");
    assert!(dry.output.contains("v1.2.2"), "{}", dry.output);
    assert!(dry.output.contains("nothing was changed"), "{}", dry.output);
    let after = step("verify --expect-tag v1.2.2");
    assert_eq!(after.exit, Some(0), "{}", after.output);
    assert!(
        after.output.contains("all 7 checks passed"),
        "{}",
        after.output
    );
    assert!(r.passed(), "{:?}\n{narration}", r.deviation);
}

#[test]
fn rc_to_production_scenario_refuses_the_rc_then_approves_the_final() {
    let (r, narration) = rehearse(Scenario::RcToProduction);
    assert!(r.passed(), "{:?}\n{narration}", r.deviation);
    assert_eq!(exits(&r), [0, 0, 3, 0, 0, 0, 0].map(Some).to_vec());
    assert!(r.steps[2].error.as_deref().unwrap().contains("pre-release"));
    let rc = tag_sha(&r, "v1.3.0-rc.1");
    assert_eq!(tag_sha(&r, "v1.3.0"), rc);
    // The refused approve sent nothing; the allowed one sent exactly one review.
    assert_eq!(count(&r.github_requests, "POST", "/pending_deployments"), 1);
    assert_eq!(r.reviews.len(), 1);
    assert_eq!(r.production_sha, rc);
    assert_eq!(image_tags(&r), tags_are("v1.3.0", "v1.3.0"));
    // The run deployed the final tag on the candidate's commit.
    deployed_by_the_run(&r, &narration, "v1.3.0");
}

#[test]
fn migration_scenario_refuses_until_allow_migrations() {
    let (r, narration) = rehearse(Scenario::Migration);
    assert!(r.passed(), "{:?}\n{narration}", r.deviation);
    assert_eq!(exits(&r), [3, 0, 0, 0].map(Some).to_vec());
    let refusal = r.steps[0].error.as_deref().unwrap();
    assert!(
        refusal.contains("api/Migrations/20261120_add_order_exports.sql"),
        "{refusal}"
    );
    assert!(
        refusal.contains("docs/runbooks/database-rollback.md"),
        "{refusal}"
    );
    // The refusal changed nothing: one freeze (the allowed rollback's), one deploy round.
    assert_eq!(count(&r.github_requests, "PUT", "/disable"), 1);
    assert_eq!(count(&r.coolify_requests, "POST", "/api/v1/deploy?"), 2);
    assert_eq!(count(&r.coolify_requests, "PATCH", "/applications/"), 2);
    assert_eq!(r.production_sha, tag_sha(&r, "v1.2.2"));
    assert_eq!(image_tags(&r), tags_are("v1.2.2", "v1.2.2"));
    assert_eq!(r.deploy_workflow_state.as_deref(), Some("active"));
}

#[test]
fn red_ci_scenario_refuses_the_approval() {
    let (r, narration) = rehearse(Scenario::RedCi);
    assert!(r.passed(), "{:?}\n{narration}", r.deviation);
    assert_eq!(exits(&r), [0, 1, 3].map(Some).to_vec());
    assert!(r.steps[2].error.as_deref().unwrap().contains("CI for"));
    assert_eq!(count(&r.github_requests, "POST", "/pending_deployments"), 0);
    assert!(r.reviews.is_empty());
    assert!(
        r.coolify_requests.iter().all(|q| q.method == "GET"),
        "nothing deployed"
    );
    assert_eq!(r.production_sha, tag_sha(&r, "v1.2.2"));
    assert!(r.origin_refs.iter().any(|x| x.name == "refs/tags/v1.3.0"));
}

#[test]
fn the_binary_rehearses_a_release_in_well_under_a_minute() {
    let sb = Sandbox::new();
    let started = Instant::now();
    let out = sb
        .almarel(sb.path())
        .arg("rehearse")
        .timeout(Duration::from_secs(90))
        .run()
        .unwrap();
    let took = started.elapsed();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "stdout:\n{o}\nstderr:\n{e}");
    assert!(o.contains("rehearsal `release`"), "{o}");
    for line in [
        "$ almarel tag 1.3.0",
        "$ almarel status v1.3.0 --watch --timeout 1m",
        "$ almarel approve v1.3.0 --yes",
        "completed/success: deployed api, web (v1.3.0); verified v1.3.0",
        "$ almarel verify --expect-tag v1.3.0",
        "✓ exit 0, as designed",
        "ended as designed",
    ] {
        assert!(o.contains(line), "missing {line:?} in:\n{o}");
    }
    // The real commands' own output is there too.
    assert!(
        o.contains("approved the production deployment of v1.3.0"),
        "{o}"
    );
    assert!(e.contains("sandbox stopped and removed"), "{e}");
    assert!(!o.contains(GH_TOKEN) && !e.contains(GH_TOKEN));
    assert!(took < Duration::from_secs(60), "took {took:?}");
    // Nothing written to the user's state dir: the sandbox had its own.
    assert!(sb.audit_lines().is_empty());
}

#[test]
fn json_rehearsal_prints_one_object() {
    let sb = Sandbox::new();
    let out = sb
        .almarel(sb.path())
        .args(["rehearse", "red-ci", "--json"])
        .timeout(Duration::from_secs(90))
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v = crate::support::json_stdout(&out);
    assert_eq!(v["ok"], true);
    assert_eq!(v["scenario"], "red-ci");
    assert_eq!(v["steps"][2]["exit"], 3);
    // The keys docs/json.md lists, and nothing of the sandbox's internals.
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "deploy_runs",
            "deploy_workflow_state",
            "deviation",
            "elapsed_ms",
            "image_tags",
            "ok",
            "passed",
            "production_sha",
            "scenario",
            "steps",
            "tags"
        ]
    );
    assert_eq!(v["passed"], true);
    assert!(v["deviation"].is_null());
    assert!(v["elapsed_ms"].as_u64().unwrap() > 0);
    let apps: Vec<&str> = v["image_tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["app"].as_str().unwrap())
        .collect();
    assert_eq!(apps, ["api", "web"]);
    assert!(v["image_tags"][0].get("image_tag").is_some());
    let tags = v["tags"].as_array().unwrap();
    assert!(!tags.is_empty(), "{v}");
    for t in tags {
        assert!(t["tag"].as_str().unwrap().starts_with('v'), "{t}");
        assert_eq!(t["sha"].as_str().unwrap().len(), 40, "{t}");
    }
}

#[test]
fn interactive_without_a_terminal_is_a_usage_error() {
    let sb = Sandbox::new();
    let out = sb
        .almarel(sb.path())
        .args(["rehearse", "--interactive"])
        .write_stdin("\n")
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(e.contains("--interactive needs a terminal"), "{e}");
}

#[test]
fn an_unknown_scenario_is_a_usage_error() {
    let sb = Sandbox::new();
    let out = sb
        .almarel(sb.path())
        .args(["rehearse", "hotfix"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn ctrl_c_stops_the_rehearsal_and_removes_the_sandbox() {
    let sb = Sandbox::new();
    let tmp = sb.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("almarel"))
        .current_dir(sb.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", sb.home())
        .env("TMPDIR", &tmp)
        .env("NO_COLOR", "1")
        .arg("rehearse")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the sandbox exists (its directory under TMPDIR).
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_dir(&tmp).unwrap().next().is_none() {
        assert!(Instant::now() < deadline, "no sandbox appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    crate::support::check_next(&out);
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{e}");
    assert!(e.contains("sandbox was stopped and removed"), "{e}");
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn interactive_with_json_is_a_usage_error() {
    let sb = Sandbox::new();
    let out = sb
        .almarel(sb.path())
        .args(["rehearse", "--interactive", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v = crate::support::json_stdout(&out);
    assert_eq!(v["error"]["kind"], "usage");
}

#[test]
fn staging_to_production_scenario_verifies_the_rc_in_staging_then_ships_the_final() {
    let (r, narration) = rehearse(Scenario::StagingToProduction);
    assert!(
        r.passed(),
        "{:?}\n{:?}\n{narration}",
        r.deviation,
        r.steps.iter().map(|s| s.error.clone()).collect::<Vec<_>>()
    );
    assert_eq!(exits(&r), [0, 0, 3, 0, 0, 0, 0, 0, 0].map(Some).to_vec());
    // Production refused the rc, naming staging.
    assert!(r.steps[2].error.as_deref().unwrap().contains("pre-release"));
    // The staging verify recorded its verdict; approve showed it.
    assert!(
        r.steps[4]
            .output
            .contains("recorded as a deployment status for staging"),
        "{}",
        r.steps[4].output
    );
    assert!(
        r.steps[6].output.contains("verified in staging at"),
        "{}",
        r.steps[6].output
    );
    // The approved deploy run deployed the digests staging verified (a
    // loopback registry): its job's `almarel deploy` says so.
    let job_log: String = r
        .deploy_jobs
        .iter()
        .filter_map(|j| j.outcome.as_ref().map(|o| o.log.clone()))
        .collect();
    assert!(
        job_log.contains("api: v1.3.0 is sha256:") && job_log.contains("web: v1.3.0 is sha256:"),
        "{job_log}"
    );
    let rc = tag_sha(&r, "v1.3.0-rc.1");
    assert_eq!(tag_sha(&r, "v1.3.0"), rc);
    // One status per verify: staging's, the deploy run's verify in
    // production, then the person's.
    let statuses = r
        .github_requests
        .iter()
        .filter(|q| q.method == "POST" && q.path.ends_with("/statuses"))
        .count();
    assert_eq!(statuses, 3, "{narration}");
    assert_eq!(r.reviews.len(), 1);
    assert_eq!(r.production_sha, rc);
    assert_eq!(image_tags(&r), tags_are("v1.3.0", "v1.3.0"));
}
