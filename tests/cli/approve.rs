//! `almarel approve`: evidence, gates (exit 3, nothing sent), exactly one
//! review POST, outcome of a lost answer settled by re-reading, audit lines.

use crate::support::Run;
use almarel_sandbox::github::{Fault, Phase, RunPlan};

use crate::support::github::{GhEnv, assert_no_token};
use crate::support::{Sandbox, assert_no_panic, json_stdout, texts};

const REVIEW: &str = "/pending_deployments";

/// A tagged commit with green CI and a deploy run waiting for production.
fn ready(sb: &Sandbox) -> (GhEnv, String, u64) {
    let gh = GhEnv::start(sb);
    gh.sim.add_commit("Previous release");
    let prev = gh.sim.head();
    gh.sim.add_tag("v1.2.2", &prev, true);
    let sha = gh.sim.add_commit("Add login page");
    gh.sim.add_tag("v1.2.3", &sha, true);
    gh.sim.add_run("CI", &sha, RunPlan::success());
    let run = gh
        .sim
        .add_run("Deploy to Production", &sha, RunPlan::awaiting_approval());
    (gh, sha, run)
}

/// A commit carrying `tags`, with a CI run following `ci` and a deploy run
/// waiting for the production approval.
fn candidate(sb: &Sandbox, tags: &[&str], ci: RunPlan) -> (GhEnv, String) {
    let gh = GhEnv::start(sb);
    let sha = gh.sim.add_commit("x");
    for tag in tags {
        gh.sim.add_tag(tag, &sha, true);
    }
    gh.sim.add_run("CI", &sha, ci);
    gh.sim
        .add_run("Deploy to Production", &sha, RunPlan::awaiting_approval());
    (gh, sha)
}

fn review_posts(gh: &GhEnv) -> Vec<almarel_sandbox::Recorded> {
    gh.sim
        .recorder()
        .all()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with(REVIEW))
        .collect()
}

#[test]
fn happy_path_sends_exactly_one_approval_and_audits_it() {
    let sb = Sandbox::new();
    let (gh, sha, run) = ready(&sb);
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--yes", "-vv"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    // Evidence before the review.
    assert!(o.contains(&sha[..7]) && o.contains("Add login page"), "{o}");
    assert!(
        o.contains("v1.2.3") && o.contains("completed/success"),
        "{o}"
    );
    assert!(o.contains("1 commit(s) since v1.2.2"), "{o}");
    assert!(
        o.contains("production (id 161088068)") && o.contains("@octocat"),
        "{o}"
    );
    let posts = review_posts(&gh);
    assert_eq!(posts.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&posts[0].body).unwrap();
    assert_eq!(body["state"], "approved");
    assert_eq!(body["environment_ids"], serde_json::json!([161088068]));
    assert!(
        body["comment"].as_str().unwrap().contains("CI for"),
        "{body}"
    );
    let reviews = gh.sim.approvals(run);
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0].state, "approved");
    assert!(!gh.sim.is_pending(run));
    // Written ahead (SPEC §7.2): `started` before the POST, then the outcome.
    let audit = sb.audit_lines();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0]["command"], "approve");
    assert_eq!(audit[0]["result"], "started");
    assert_eq!(audit[1]["result"], "ok");
    assert_eq!(audit[1]["actor"]["github"], "octocat");
    assert_eq!(audit[1]["details"]["run_id"], run);
    assert!(e.contains("next: almarel status v1.2.3 --watch"), "{e}");
    assert_no_token(&out);
    assert!(
        !std::fs::read_to_string(sb.state_dir().join("audit.jsonl"))
            .unwrap()
            .contains("sEcReT")
    );
}

fn refused(sb: &Sandbox, gh: &GhEnv, args: &[&str], expect: &str) {
    let out = gh.almarel(sb).args(args).run().unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{o}\n{e}");
    assert!(
        e.contains(expect) || o.contains(expect),
        "expected `{expect}`:\n{o}\n{e}"
    );
    assert!(
        review_posts(gh).is_empty(),
        "a refused approval must send nothing"
    );
    assert!(sb.audit_lines().is_empty(), "no audit line for a refusal");
    assert_no_token(&out);
}

#[test]
fn gate_ci_failed() {
    let sb = Sandbox::new();
    let (gh, _) = candidate(&sb, &["v1.0.0"], RunPlan::failure());
    refused(
        &sb,
        &gh,
        &["approve", "v1.0.0", "--yes"],
        "is completed/failure",
    );
}

#[test]
fn gate_ci_still_running() {
    let sb = Sandbox::new();
    let (gh, _) = candidate(&sb, &["v1.0.0"], RunPlan::fixed(Phase::InProgress));
    refused(&sb, &gh, &["approve", "v1.0.0", "--yes"], "is in_progress");
}

#[test]
fn gate_untagged_and_override() {
    let sb = Sandbox::new();
    let (gh, sha) = candidate(&sb, &[], RunPlan::success());
    refused(
        &sb,
        &gh,
        &["approve", &sha[..7], "--yes"],
        &format!("would ship prod-{sha}"),
    );
    let out = gh
        .almarel(&sb)
        .args(["approve", &sha, "--yes", "--allow-untagged"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    assert_eq!(review_posts(&gh).len(), 1);
}

#[test]
fn gate_prerelease_only() {
    let sb = Sandbox::new();
    let (gh, _) = candidate(&sb, &["v1.3.0-rc.1"], RunPlan::success());
    refused(
        &sb,
        &gh,
        &["approve", "v1.3.0-rc.1", "--yes"],
        "v1.3.0-rc.1 is a pre-release",
    );
}

#[test]
fn rc_and_final_on_the_same_commit_is_allowed() {
    let sb = Sandbox::new();
    let (gh, _) = candidate(&sb, &["v1.3.0-rc.1", "v1.3.0"], RunPlan::success());
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.3.0-rc.1", "--yes"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(o.contains("v1.3.0 is a final release"), "{o}");
    assert_eq!(review_posts(&gh).len(), 1);
}

#[test]
fn gate_frozen() {
    let sb = Sandbox::new();
    let (gh, _, _) = ready(&sb);
    gh.sim
        .set_workflow_state("Deploy to Production", "disabled_manually");
    refused(
        &sb,
        &gh,
        &["approve", "v1.2.3", "--yes"],
        "releases are frozen",
    );
}

#[test]
fn gate_cannot_approve_explains_prevent_self_review() {
    let sb = Sandbox::new();
    let (gh, _, run) = ready(&sb);
    gh.sim.set_environment(false, true, 0);
    gh.sim.set_run_actor(run, "octocat");
    refused(
        &sb,
        &gh,
        &["approve", "v1.2.3", "--yes"],
        "prevent_self_review",
    );
}

#[test]
fn gate_cannot_approve_names_the_actions_token() {
    let sb = Sandbox::new();
    let (gh, _, _) = ready(&sb);
    gh.sim.set_environment(false, false, 0);
    let out = gh
        .almarel(&sb)
        .env_remove("GH_TOKEN")
        .env("GITHUB_TOKEN", crate::support::github::TOKEN)
        .env("GITHUB_ACTIONS", "true")
        .args(["approve", "v1.2.3", "--yes"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{o}\n{e}");
    assert!(
        e.contains("GITHUB_TOKEN") && e.contains("cannot review"),
        "{e}"
    );
    assert!(review_posts(&gh).is_empty());
    assert_no_token(&out);
}

#[test]
fn no_yes_without_a_terminal_is_refused() {
    let sb = Sandbox::new();
    let (gh, _, _) = ready(&sb);
    refused(&sb, &gh, &["approve", "v1.2.3"], "--yes");
}

#[test]
fn lost_answer_502_not_applied_is_exit_4_and_not_resent() {
    let sb = Sandbox::new();
    let (gh, _, run) = ready(&sb);
    gh.sim.fault(Fault::new("POST", REVIEW, 5, 502));
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--yes", "--json"])
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(4), "{e}");
    assert_eq!(review_posts(&gh).len(), 1, "the POST must not be re-sent");
    assert!(gh.sim.is_pending(run));
    let v = json_stdout(&out);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("was not applied"),
        "{v}"
    );
    let audit = sb.audit_lines();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0]["result"], "started");
    assert!(
        audit[1]["result"].as_str().unwrap().starts_with("failed"),
        "{audit:?}"
    );
}

#[test]
fn lost_answer_502_applied_is_exit_0() {
    let sb = Sandbox::new();
    let (gh, _, run) = ready(&sb);
    gh.sim
        .fault(Fault::new("POST", REVIEW, 5, 502).after_applying());
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--yes"])
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    assert!(e.contains("was applied"), "{e}");
    assert_eq!(review_posts(&gh).len(), 1);
    assert_eq!(gh.sim.approvals(run).len(), 1);
}

#[test]
fn review_422_is_cannot_approve_exit_3() {
    let sb = Sandbox::new();
    let (gh, _, _) = ready(&sb);
    gh.sim.fault(Fault::new("POST", REVIEW, 1, 422));
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--yes"])
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{e}");
    assert!(
        e.contains("cannot approve run") && e.contains("problem approving one of the gates"),
        "{e}"
    );
    assert_eq!(review_posts(&gh).len(), 1);
}

#[test]
fn rate_limited_post_is_resent_after_the_wait() {
    let sb = Sandbox::new();
    let (gh, _, run) = ready(&sb);
    gh.sim
        .fault(Fault::new("POST", REVIEW, 1, 429).header("retry-after", "1"));
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--yes"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let statuses: Vec<u16> = review_posts(&gh).iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![429, 200]);
    assert_eq!(gh.sim.approvals(run).len(), 1);
}

#[test]
fn already_approved_is_exit_0_naming_who() {
    let sb = Sandbox::new();
    let (gh, _, _) = ready(&sb);
    let first = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--yes"])
        .run()
        .unwrap();
    assert_eq!(first.status.code(), Some(0));
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--yes"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(
        o.contains("already approved") && o.contains("@octocat"),
        "{o}"
    );
    assert_eq!(review_posts(&gh).len(), 1);
}

#[test]
fn nothing_waiting_lists_the_waiting_runs() {
    let sb = Sandbox::new();
    let (gh, _, other) = ready(&sb);
    let sha = gh.sim.add_commit("newer");
    gh.sim.add_run("CI", &sha, RunPlan::success());
    let out = gh
        .almarel(&sb)
        .args(["approve", &sha, "--yes"])
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{e}");
    assert!(e.contains(&format!("run {other}")), "{e}");
    assert!(review_posts(&gh).is_empty());
}

#[test]
fn dry_run_prints_the_post_and_sends_nothing() {
    let sb = Sandbox::new();
    let (gh, _, run) = ready(&sb);
    let out = gh
        .almarel(&sb)
        .args(["approve", "--run", &run.to_string(), "--dry-run"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    assert!(
        o.contains("would POST") && o.contains("\"state\":\"approved\""),
        "{o}"
    );
    assert!(review_posts(&gh).is_empty());
    assert!(
        e.contains(&format!("next: almarel approve --run {run}")),
        "{e}"
    );
    assert!(sb.audit_lines().is_empty());
}

#[test]
fn reject_skips_the_gates_and_audits() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("x");
    gh.sim.add_run("CI", &sha, RunPlan::failure());
    let run = gh
        .sim
        .add_run("Deploy to Production", &sha, RunPlan::awaiting_approval());
    let out = gh
        .almarel(&sb)
        .args([
            "approve",
            &sha,
            "--reject",
            "--yes",
            "--comment",
            "bad build",
        ])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let posts = review_posts(&gh);
    assert_eq!(posts.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&posts[0].body).unwrap();
    assert_eq!(body["state"], "rejected");
    assert_eq!(body["comment"], "bad build");
    assert_eq!(gh.sim.run_state(run).unwrap().1.as_deref(), Some("failure"));
    let audit = sb.audit_lines();
    assert_eq!(audit[0]["command"], "reject");
}

#[test]
fn watch_follows_the_run_after_approval() {
    let sb = Sandbox::new();
    let (gh, sha, _) = ready(&sb);
    let out = gh
        .almarel(&sb)
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
    assert_eq!(v["run_conclusion"], "success");
    assert!(
        e.contains(&format!("next: almarel verify --expect-sha {sha}")),
        "{e}"
    );
    assert_no_token(&out);
}

#[test]
fn run_of_another_workflow_is_refused() {
    let sb = Sandbox::new();
    let (gh, sha, _) = ready(&sb);
    let ci = gh.sim.add_run("CI", &sha, RunPlan::awaiting_approval());
    let out = gh
        .almarel(&sb)
        .args(["approve", "--run", &ci.to_string(), "--yes"])
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{e}");
    assert!(e.contains("not to the deploy workflow"), "{e}");
    assert!(review_posts(&gh).is_empty());
}

#[test]
fn evidence_names_what_production_runs_and_the_commits_since() {
    let sb = Sandbox::new();
    let (gh, _, _) = ready(&sb);
    // Production runs v1.2.2's commit (read it through status).
    let out = gh
        .almarel(&sb)
        .args(["status", "v1.2.2", "--json"])
        .run()
        .unwrap();
    let v2 = json_stdout(&out);
    let prev_sha = v2["sha"].as_str().unwrap().to_owned();
    let version = crate::support::github::serve_version(&gh.rt, &prev_sha);
    std::fs::write(
        gh.dir.join("almarel.toml"),
        format!(
            "[github]\nrepository = \"octo/app\"\napi_url = \"{}\"\n[verify]\nversion_url = \"{}/api/version\"\n",
            gh.sim.url(),
            version.url()
        ),
    )
    .unwrap();
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--dry-run"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(
        o.contains(&format!("runs {} (v1.2.2)", &prev_sha[..7])),
        "{o}"
    );
    assert!(
        o.contains(&format!(
            "1 commit(s) since {} (v1.2.2): Add login page",
            &prev_sha[..7]
        )),
        "{o}"
    );
}

#[test]
fn lost_race_to_another_approver_is_exit_0_naming_who() {
    let sb = Sandbox::new();
    let (gh, _, run) = ready(&sb);
    gh.sim.race_review("alice", "approved");
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--yes"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(
        o.contains("already approved") && o.contains("@alice"),
        "{o}"
    );
    assert!(e.contains("next: almarel status v1.2.3 --watch"), "{e}");
    let posts = review_posts(&gh);
    assert_eq!(posts.len(), 1, "exactly one review POST");
    assert_eq!(posts[0].status, 422);
    assert_eq!(gh.sim.approvals(run).len(), 1);
}

#[test]
fn lost_race_to_another_rejecter_is_exit_3_naming_who() {
    let sb = Sandbox::new();
    let (gh, _, _) = ready(&sb);
    gh.sim.race_review("bob", "rejected");
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--yes", "--json"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{o}\n{e}");
    let v = json_stdout(&out);
    assert_eq!(v["error"]["code"], "rejected", "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("@bob"),
        "{v}"
    );
    assert_eq!(review_posts(&gh).len(), 1, "exactly one review POST");
}

fn refusal_json(sb: &Sandbox, gh: &GhEnv, args: &[&str]) -> serde_json::Value {
    let out = gh.almarel(sb).args(args).arg("--json").run().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", texts(&out).1);
    assert!(review_posts(gh).is_empty());
    json_stdout(&out)
}

#[test]
fn gate_refusals_carry_a_code_and_name_the_override_flag() {
    let sb = Sandbox::new();
    let (gh, sha) = candidate(&sb, &[], RunPlan::success());
    let v = refusal_json(&sb, &gh, &["approve", &sha, "--yes"]);
    assert_eq!(v["error"]["code"], "untagged", "{v}");
    assert!(
        v["error"]["hints"].to_string().contains("--allow-untagged"),
        "{v}"
    );

    let sb = Sandbox::new();
    let (gh, _) = candidate(&sb, &["v1.3.0-rc.1"], RunPlan::success());
    let v = refusal_json(&sb, &gh, &["approve", "v1.3.0-rc.1", "--yes"]);
    assert_eq!(v["error"]["code"], "prerelease", "{v}");
    assert!(
        v["error"]["hints"]
            .to_string()
            .contains("--allow-prerelease"),
        "{v}"
    );

    let sb = Sandbox::new();
    let (gh, _) = candidate(&sb, &["v1.0.0"], RunPlan::failure());
    let v = refusal_json(&sb, &gh, &["approve", "v1.0.0", "--yes"]);
    assert_eq!(v["error"]["code"], "ci_not_green", "{v}");

    let sb = Sandbox::new();
    let (gh, _, _) = ready(&sb);
    gh.sim
        .set_workflow_state("Deploy to Production", "disabled_manually");
    let v = refusal_json(&sb, &gh, &["approve", "v1.2.3", "--yes"]);
    assert_eq!(v["error"]["code"], "frozen", "{v}");
    assert!(
        v["error"]["hints"].to_string().contains("almarel unfreeze"),
        "{v}"
    );

    let sb = Sandbox::new();
    let (gh, _, _) = ready(&sb);
    gh.sim.set_environment(false, false, 0);
    let v = refusal_json(&sb, &gh, &["approve", "v1.2.3", "--yes"]);
    assert_eq!(v["error"]["code"], "cannot_approve", "{v}");
}

#[test]
fn dry_run_reject_next_is_a_real_command() {
    let sb = Sandbox::new();
    let (gh, _, _) = ready(&sb);
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--reject", "--dry-run"])
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    assert!(e.contains("next: almarel approve v1.2.3 --reject"), "{e}");
    assert!(!e.contains("almarel reject"), "{e}");
}

#[test]
fn lost_race_is_audited_with_who_reviewed_first() {
    let sb = Sandbox::new();
    let (gh, _, _) = ready(&sb);
    gh.sim.race_review("alice", "approved");
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--yes"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let audit = sb.audit_lines();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0]["result"], "started");
    assert!(
        audit[1]["result"]
            .as_str()
            .unwrap()
            .contains("approved by @alice first"),
        "{audit:?}"
    );
}

/// `--json` with what changes from run to run replaced: SHAs and the
/// simulator's address.
fn stable_json(gh: &GhEnv, out: &std::process::Output, shas: &[&str]) -> serde_json::Value {
    let mut text = String::from_utf8_lossy(&out.stdout).replace(&gh.sim.url(), "[github]");
    for sha in shas {
        text = text.replace(sha, "[sha]").replace(&sha[..7], "[short]");
    }
    serde_json::from_str(&text).unwrap()
}

#[test]
fn json_shapes_are_stable() {
    // Approved by this run.
    let sb = Sandbox::new();
    let (gh, sha, _) = ready(&sb);
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--yes", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let v = json_stdout(&out);
    assert_eq!(v["reviewed"], "approved", "{v}");
    assert_eq!(v["next"], "almarel status v1.2.3 --watch", "{v}");
    insta::assert_json_snapshot!("approve_approved", stable_json(&gh, &out, &[&sha]));

    // Approved already (a colleague, in the browser): nothing sent.
    let sb = Sandbox::new();
    let (gh, sha, run) = ready(&sb);
    gh.sim.review_as(run, "alice", "approved", "ship it");
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--yes", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    assert!(review_posts(&gh).is_empty());
    insta::assert_json_snapshot!("approve_already_approved", stable_json(&gh, &out, &[&sha]));

    // A refusal: CI failed and the commit is untagged (two gates).
    let sb = Sandbox::new();
    let (gh, sha) = candidate(&sb, &[], RunPlan::failure());
    let out = gh
        .almarel(&sb)
        .args(["approve", &sha, "--yes", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", texts(&out).1);
    assert!(review_posts(&gh).is_empty());
    insta::assert_json_snapshot!("approve_refused_checks", stable_json(&gh, &out, &[&sha]));

    // A dry run: the plan, nothing sent.
    let sb = Sandbox::new();
    let (gh, sha, _) = ready(&sb);
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--dry-run", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    assert!(review_posts(&gh).is_empty());
    insta::assert_json_snapshot!("approve_dry_run", stable_json(&gh, &out, &[&sha]));
}

#[test]
fn approved_in_the_browser_first_is_exit_0_naming_who_and_sends_nothing() {
    let sb = Sandbox::new();
    let (gh, _, run) = ready(&sb);
    gh.sim.review_as(run, "alice", "approved", "lgtm");
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--yes"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(
        o.contains(&format!(
            "run {run} was already approved for production by @alice (\"lgtm\"); nothing was sent"
        )),
        "{o}"
    );
    assert!(e.contains("next: almarel status v1.2.3 --watch"), "{e}");
    assert!(review_posts(&gh).is_empty(), "no review POST");
    assert_eq!(gh.sim.approvals(run).len(), 1);
    // The re-run that found the change made is audited (one line, no `started`).
    let audit = sb.audit_lines();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["command"], "approve");
    assert_eq!(
        audit[0]["result"],
        format!("already done: run {run} was already approved by @alice")
    );
    assert_eq!(audit[0]["details"]["by"], "alice");

    // By run id, the same.
    let out = gh
        .almarel(&sb)
        .args(["approve", "--run", &run.to_string(), "--yes", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let v = json_stdout(&out);
    assert_eq!(v["already"], "approved", "{v}");
    assert_eq!(v["by"], "alice", "{v}");
    assert!(v.get("reviewed").is_none(), "{v}");
    assert!(review_posts(&gh).is_empty());
}

#[test]
fn a_dry_run_of_an_approved_run_audits_nothing() {
    let sb = Sandbox::new();
    let (gh, _, run) = ready(&sb);
    gh.sim.review_as(run, "alice", "approved", "");
    let out = gh
        .almarel(&sb)
        .args(["approve", "--run", &run.to_string(), "--dry-run"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(
        o.contains("already approved for production by @alice"),
        "{o}"
    );
    assert!(sb.audit_lines().is_empty());
}

#[test]
fn rejected_in_the_browser_first_is_exit_3_naming_who() {
    let sb = Sandbox::new();
    let (gh, _, run) = ready(&sb);
    gh.sim.review_as(run, "bob", "rejected", "not today");
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--yes", "--json"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{o}\n{e}");
    let v = json_stdout(&out);
    assert_eq!(v["error"]["code"], "rejected", "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("by @bob"),
        "{v}"
    );
    assert!(
        v["error"]["hints"]
            .to_string()
            .contains("no flag overrides a rejection"),
        "{v}"
    );
    assert_eq!(v["already"], "rejected");
    assert!(review_posts(&gh).is_empty());
    assert!(sb.audit_lines().is_empty());
}

#[test]
fn rejecting_an_approved_run_is_refused_naming_the_way_to_stop_it() {
    let sb = Sandbox::new();
    let (gh, _, run) = ready(&sb);
    gh.sim.review_as(run, "alice", "approved", "");
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--reject", "--yes", "--json"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{o}\n{e}");
    let v = json_stdout(&out);
    assert_eq!(v["error"]["code"], "already_approved", "{v}");
    let hints = v["error"]["hints"].to_string();
    assert!(hints.contains("no flag overrides this"), "{v}");
    assert!(
        hints.contains("almarel freeze --reason 'approved by mistake' --cancel-running"),
        "{v}"
    );
    assert!(review_posts(&gh).is_empty());
}

#[test]
fn rejecting_a_rejected_run_is_exit_0_already_rejected() {
    let sb = Sandbox::new();
    let (gh, sha, run) = ready(&sb);
    gh.sim.review_as(run, "bob", "rejected", "");
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--reject", "--yes"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(o.contains("already rejected for production by @bob"), "{o}");
    assert!(
        e.contains(&format!("next: almarel status {}", &sha[..7])),
        "{e}"
    );
    assert!(review_posts(&gh).is_empty());
    assert_eq!(sb.audit_lines()[0]["command"], "reject");
}

#[test]
fn lost_race_json_says_who_decided_and_that_ours_was_not_recorded() {
    let sb = Sandbox::new();
    let (gh, _, _) = ready(&sb);
    gh.sim.race_review("alice", "approved");
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--yes", "--json"])
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    let v = json_stdout(&out);
    assert_eq!(v["already"], "approved", "{v}");
    assert_eq!(v["by"], "alice", "{v}");
    assert!(v.get("reviewed").is_none(), "ours was not applied: {v}");
    assert_eq!(v["review"]["state"], "approved", "the review we sent: {v}");
}

#[test]
fn a_reject_that_loses_the_race_to_an_approver_is_refused() {
    let sb = Sandbox::new();
    let (gh, _, _) = ready(&sb);
    gh.sim.race_review("alice", "approved");
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--reject", "--yes", "--json"])
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{e}");
    let v = json_stdout(&out);
    assert_eq!(v["error"]["code"], "already_approved", "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("@alice"),
        "{v}"
    );
    assert_eq!(review_posts(&gh).len(), 1);
}

#[test]
fn lost_answer_after_a_colleague_reviewed_names_them_not_us() {
    // The POST's answer is lost (502) and it was not applied, but a colleague
    // approved meanwhile: the run is no longer pending, and it is theirs.
    let sb = Sandbox::new();
    let (gh, _, run) = ready(&sb);
    gh.sim.race_review("alice", "approved");
    gh.sim
        .fault(Fault::new("POST", REVIEW, 1, 502).after_applying());
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--yes"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(
        o.contains("already approved") && o.contains("@alice"),
        "{o}"
    );
    assert!(!o.contains("approved the production deployment"), "{o}");
    assert_eq!(gh.sim.approvals(run).len(), 1);
    let audit = sb.audit_lines();
    assert!(
        audit[1]["result"]
            .as_str()
            .unwrap()
            .contains("@alice first"),
        "{audit:?}"
    );
}

#[test]
fn lost_answer_after_a_colleague_cancelled_the_run_is_not_called_approved() {
    // The run is cancelled just before our review arrives (GitHub refuses
    // it), and the answer is lost (502): the deployment is no longer
    // pending, yet nobody reviewed it. Not "approved".
    let sb = Sandbox::new();
    let (gh, _, run) = ready(&sb);
    gh.sim.race_cancel();
    gh.sim
        .fault(Fault::new("POST", REVIEW, 1, 502).after_applying());
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--yes", "--json"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(4), "{o}\n{e}");
    let v = crate::support::json_stdout(&out);
    assert_eq!(v["error"]["code"], "review_not_applied", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no longer waiting, and the run's history has no review"),
        "{v}"
    );
    assert!(gh.sim.approvals(run).is_empty());
    let audit = sb.audit_lines();
    assert!(
        audit[1]["result"].as_str().unwrap().starts_with("failed"),
        "{audit:?}"
    );
}

#[test]
fn ref_and_run_together_is_a_usage_error_before_any_request() {
    let sb = Sandbox::new();
    let (gh, _, run) = ready(&sb);
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--run", &run.to_string(), "--yes"])
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(e.contains("not both"), "{e}");
    assert!(
        gh.sim.recorder().all().is_empty(),
        "nothing was read or sent"
    );
}

#[test]
fn every_refusal_names_its_override_or_says_there_is_none() {
    let hints = |v: &serde_json::Value| v["error"]["hints"].to_string();
    // CI: no override.
    let sb = Sandbox::new();
    let (gh, _) = candidate(&sb, &["v1.0.0"], RunPlan::failure());
    let v = refusal_json(&sb, &gh, &["approve", "v1.0.0", "--yes"]);
    assert!(hints(&v).contains("no flag overrides this gate"), "{v}");
    // Cannot approve: no override, the way out named.
    let sb = Sandbox::new();
    let (gh, _, _) = ready(&sb);
    gh.sim.set_environment(false, false, 0);
    let v = refusal_json(&sb, &gh, &["approve", "v1.2.3", "--yes"]);
    assert!(hints(&v).contains("no flag overrides this"), "{v}");
    assert_eq!(v["checks"][4]["name"], "can_approve", "{v}");
    assert!(v["checks"][4]["fix"].is_string(), "{v}");
    // Several gates: checks_failed, each fix a hint.
    let sb = Sandbox::new();
    let (gh, _) = candidate(&sb, &["v1.3.0-rc.1"], RunPlan::failure());
    let v = refusal_json(&sb, &gh, &["approve", "v1.3.0-rc.1", "--yes"]);
    assert_eq!(v["error"]["code"], "checks_failed", "{v}");
    assert!(hints(&v).contains("--allow-prerelease"), "{v}");
    assert!(hints(&v).contains("no flag overrides this gate"), "{v}");
    // Nothing waiting.
    let sb = Sandbox::new();
    let (gh, _, _) = ready(&sb);
    let sha = gh.sim.add_commit("newer");
    let v = refusal_json(&sb, &gh, &["approve", &sha, "--yes"]);
    assert_eq!(v["error"]["code"], "no_waiting_run", "{v}");
    assert!(hints(&v).contains("--run ID"), "{v}");
    assert_eq!(v["waiting_runs"].as_array().unwrap().len(), 1, "{v}");
    // A run of another workflow.
    let sb = Sandbox::new();
    let (gh, sha, _) = ready(&sb);
    let ci = gh.sim.add_run("CI", &sha, RunPlan::awaiting_approval());
    let v = refusal_json(&sb, &gh, &["approve", "--run", &ci.to_string(), "--yes"]);
    assert_eq!(v["error"]["code"], "not_deploy_run", "{v}");
    assert!(hints(&v).contains("no flag overrides this"), "{v}");
    // Not confirmed: --yes.
    let sb = Sandbox::new();
    let (gh, _, _) = ready(&sb);
    let v = refusal_json(&sb, &gh, &["approve", "v1.2.3"]);
    assert_eq!(v["error"]["code"], "not_confirmed", "{v}");
    assert!(hints(&v).contains("--yes"), "{v}");
    // GitHub's own 422.
    let sb = Sandbox::new();
    let (gh, _, _) = ready(&sb);
    gh.sim.fault(Fault::new("POST", REVIEW, 1, 422));
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--yes", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let v = json_stdout(&out);
    assert_eq!(v["error"]["code"], "review_refused", "{v}");
    assert!(hints(&v).contains("no flag overrides"), "{v}");
}

/// Spawns approve against a simulator whose review POST is applied at once
/// but answered only after 20 s; sends `signal` once the POST has arrived.
fn interrupted_during_the_post(
    sb: &Sandbox,
    gh: &GhEnv,
    signal: &str,
    extra: &[&str],
) -> std::process::Output {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    gh.sim.slow_answer("POST", REVIEW, Duration::from_secs(20));
    let child = sb
        .almarel_std(&gh.dir)
        .env("GH_TOKEN", crate::support::github::TOKEN)
        .args(["--config", "almarel.toml", "approve", "v1.2.3", "--yes"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while review_posts(gh).is_empty() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(review_posts(gh).len(), 1, "the POST never arrived");
    std::thread::sleep(Duration::from_millis(200));
    let killed = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    crate::support::check_next(&out);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the signal did not end the command at once"
    );
    out
}

/// The commands quoted in backticks in `text`.
fn quoted_commands(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|c| c.starts_with("almarel "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn sigterm_while_the_review_is_in_flight_says_so_and_the_rerun_finds_it_approved() {
    let sb = Sandbox::new();
    let (gh, _, run) = ready(&sb);
    let out = interrupted_during_the_post(&sb, &gh, "TERM", &[]);
    assert_no_panic(&out);
    assert_no_token(&out);
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(143), "{o}\n{e}");
    let write = format!("review POST: approve run {run} for production");
    assert!(
        e.contains(&format!("in flight (may have been applied): {write}")),
        "{e}"
    );
    assert!(!e.contains("nothing was changed"), "{e}");
    let check = format!("almarel approve --run {run} --dry-run");
    assert!(
        e.contains(&format!(
            "{write} may have been applied; check with `{check}`"
        )),
        "{e}"
    );
    let rerun = format!("almarel approve --run {run}");
    assert!(e.contains(&format!("`{rerun}` is safe to re-run")), "{e}");
    for cmd in quoted_commands(&e) {
        crate::support::next_problem(&cmd).unwrap_or_else(|why| panic!("`{cmd}`: {why}"));
    }
    // The audit line was written ahead and finished by the interruption.
    let audit = sb.audit_lines();
    let results: Vec<&str> = audit.iter().filter_map(|a| a["result"].as_str()).collect();
    assert_eq!(results, ["started", "interrupted: SIGTERM"], "{audit:?}");

    // The check says it landed, reading only.
    let out = gh
        .almarel(&sb)
        .args(["approve", "--run", &run.to_string(), "--dry-run"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(
        o.contains("already approved for production by @octocat"),
        "{o}"
    );
    // The resume command (with --yes, as a script would) sends nothing again.
    let out = gh
        .almarel(&sb)
        .args(["approve", "--run", &run.to_string(), "--yes"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(
        o.contains("already approved for production by @octocat"),
        "{o}"
    );
    assert_eq!(review_posts(&gh).len(), 1, "never a second review");
    assert_eq!(gh.sim.approvals(run).len(), 1);
    let audit = sb.audit_lines();
    assert!(
        audit[2]["result"]
            .as_str()
            .unwrap()
            .starts_with("already done:"),
        "{audit:?}"
    );
}

#[test]
fn ctrl_c_while_the_review_is_in_flight_is_130_with_the_write_in_json() {
    let sb = Sandbox::new();
    let (gh, _, run) = ready(&sb);
    let out = interrupted_during_the_post(&sb, &gh, "INT", &["--json"]);
    assert_no_panic(&out);
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(130), "{o}\n{e}");
    let v = json_stdout(&out);
    assert_eq!(v["error"]["code"], "interrupted", "{v}");
    assert_eq!(v["signal"], "SIGINT");
    assert_eq!(
        v["in_flight"][0]["write"],
        format!("review POST: approve run {run} for production"),
        "{v}"
    );
    assert_eq!(
        v["in_flight"][0]["check"],
        format!("almarel approve --run {run} --dry-run"),
        "{v}"
    );
    assert_eq!(v["done"], serde_json::json!([]), "{v}");
}

#[test]
fn watch_on_a_run_approved_in_the_browser_follows_it() {
    let sb = Sandbox::new();
    let (gh, sha, run) = ready(&sb);
    gh.sim.review_as(run, "alice", "approved", "");
    let out = gh
        .almarel(&sb)
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
    assert_eq!(v["already"], "approved", "{v}");
    assert_eq!(v["run_conclusion"], "success", "{v}");
    assert_eq!(
        v["next"],
        format!("almarel verify --expect-sha {sha}"),
        "{v}"
    );
    assert!(review_posts(&gh).is_empty());
}
