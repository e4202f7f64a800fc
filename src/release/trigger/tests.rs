//! The diagnosis and the dispatch against the GitHub simulator: what GitHub
//! answers is the simulator's state; what was asked is its recorder.

use std::sync::Arc;

use almarel_sandbox::github::{GithubSim, Phase, RunPlan};
use secrecy::SecretString;

use super::*;
use crate::clock::SystemClock;
use crate::github::Config;

const REPO: &str = "octo/app";

async fn setup() -> (GithubSim, Client, String) {
    let sim = GithubSim::start(REPO).await.unwrap();
    let client = Client::new(Config {
        api_url: sim.url(),
        repository: REPO.into(),
        token: SecretString::from("test-token"),
        clock: Arc::new(SystemClock),
        request_timeout: Duration::from_secs(10),
        log: None,
        tag_prefix: "v".into(),
        branch: "main".into(),
        deploy_workflow: "Deploy to Production".into(),
    })
    .unwrap();
    let sha = sim.add_commit("Add login page");
    sim.add_tag("v1.3.0", &sha, true);
    (sim, client, sha)
}

fn request(sha: &str, missing: &[&str]) -> Request {
    Request {
        sha: sha.to_owned(),
        tag: Some("v1.3.0".into()),
        branch: "main".into(),
        missing: missing.iter().map(|m| (*m).to_owned()).collect(),
        clone: None,
    }
}

const RELEASE_PATH: &str = ".github/workflows/release.yml";
const CI_PATH: &str = ".github/workflows/ci.yml";

#[tokio::test]
async fn a_tag_filter_that_does_not_match_is_named_with_the_filter() {
    let (sim, client, sha) = setup().await;
    sim.set_file(
        RELEASE_PATH,
        None,
        "name: Release\non:\n  push:\n    tags: ['release-*']\njobs: {}\n",
    );
    let d = diagnose(&client, &request(&sha, &["Release"]))
        .await
        .unwrap();
    let w = &d.workflows[0];
    assert_eq!(w.status, Status::NeverStarts, "{w:#?}");
    assert_eq!(
        w.causes,
        vec![Cause::NotTriggered {
            detail: "on.push.tags ['release-*'] does not match v1.3.0; on.push has tags but no branches: a branch push does not trigger it".into()
        }]
    );
    assert_eq!(
        w.file,
        Some(FileRead {
            path: RELEASE_PATH.into(),
            at: sha.clone(),
            source: "contents API".into()
        })
    );
    assert!(!w.dispatchable);
    let lines = d.lines().join("\n");
    assert!(
        lines.contains(
            "Release never starts for v1.3.0: on.push.tags ['release-*'] does not match v1.3.0"
        ),
        "{lines}"
    );
    assert!(d.any_never_starts());
    assert_eq!(d.next("v1.3.0"), None);
    // The file was read at the tagged commit, not at a branch.
    let reads = sim
        .recorder()
        .matching("GET", &format!("/repos/{REPO}/contents/"));
    assert_eq!(reads.len(), 1);
    assert_eq!(
        reads[0].path,
        format!("/repos/{REPO}/contents/{RELEASE_PATH}?ref={sha}")
    );
    // JSON: the cause is tagged, the verdicts carry their reason.
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(v["workflows"][0]["status"], "never_starts");
    assert_eq!(v["workflows"][0]["causes"][0]["cause"], "not_triggered");
    assert_eq!(
        v["workflows"][0]["triggers"][0]["event"],
        "push of tag v1.3.0"
    );
    assert_eq!(v["workflows"][0]["triggers"][0]["verdict"], "not_triggered");
    assert_eq!(v["actions"]["actions"], "enabled");
}

#[tokio::test]
async fn a_disabled_workflow_is_a_cause_and_cannot_be_dispatched() {
    let (sim, client, sha) = setup().await;
    sim.set_file(
        RELEASE_PATH,
        None,
        "name: Release\non:\n  push:\n    tags: ['v*']\n  workflow_dispatch:\njobs: {}\n",
    );
    sim.set_workflow_state("Release", "disabled_inactivity");
    let d = diagnose(&client, &request(&sha, &["Release"]))
        .await
        .unwrap();
    let w = &d.workflows[0];
    assert_eq!(w.status, Status::NeverStarts);
    assert_eq!(w.state.as_deref(), Some("disabled_inactivity"));
    assert!(w.causes.contains(&Cause::WorkflowDisabled {
        state: "disabled_inactivity".into()
    }));
    assert!(!w.dispatchable, "a disabled workflow cannot be dispatched");
    let lines = d.lines().join("\n");
    assert!(
        lines.contains("the workflow is disabled_inactivity: GitHub disabled it after 60 days"),
        "{lines}"
    );
    assert!(lines.contains("fix: enable the workflow"), "{lines}");
}

#[tokio::test]
async fn actions_disabled_for_the_repository_is_a_cause() {
    let (sim, client, sha) = setup().await;
    sim.set_actions_permissions(false, "all");
    let d = diagnose(&client, &request(&sha, &["Release", "CI"]))
        .await
        .unwrap();
    assert_eq!(d.actions, ActionsCheck::Disabled);
    for w in &d.workflows {
        assert_eq!(w.status, Status::NeverStarts, "{w:#?}");
        assert!(w.causes.contains(&Cause::ActionsDisabled));
    }
    assert_eq!(
        sim.recorder()
            .matching("GET", &format!("/repos/{REPO}/actions/permissions"))
            .len(),
        1,
        "read once for all workflows"
    );
}

#[tokio::test]
async fn actions_permissions_unreadable_is_unknown_not_a_verdict() {
    let (sim, client, sha) = setup().await;
    sim.fault(almarel_sandbox::github::Fault::new(
        "GET",
        "/actions/permissions",
        1,
        403,
    ));
    let d = diagnose(&client, &request(&sha, &["Release"]))
        .await
        .unwrap();
    assert!(matches!(d.actions, ActionsCheck::Unknown { .. }), "{d:#?}");
    let w = &d.workflows[0];
    assert!(!w.causes.contains(&Cause::ActionsDisabled));
    assert!(
        w.notes
            .iter()
            .any(|n| n.contains("whether Actions is enabled for the repository is not known")),
        "{w:#?}"
    );
}

#[tokio::test]
async fn a_workflow_that_matches_gets_no_false_diagnosis() {
    let (sim, client, sha) = setup().await;
    // The default release.yml: on.push.tags ['v*'].
    let d = diagnose(&client, &request(&sha, &["Release"]))
        .await
        .unwrap();
    let w = &d.workflows[0];
    assert_eq!(w.status, Status::Unknown, "{w:#?}");
    assert!(w.causes.is_empty());
    assert_eq!(w.triggers[0].verdict, Verdict::Triggers);
    assert!(
        w.notes
            .iter()
            .any(|n| n.contains("who pushed v1.3.0 is not known")),
        "{w:#?}"
    );
    assert!(!d.any_never_starts());
    let lines = d.lines().join("\n");
    assert!(
        lines.contains("Release has not started for v1.3.0, and no check explains why"),
        "{lines}"
    );
    assert!(lines.contains("push of tag v1.3.0: triggers"), "{lines}");

    // Pushed by a person: a fact, still no cause.
    sim.add_tag_push_event("v1.3.0", "octocat");
    let d = diagnose(&client, &request(&sha, &["Release"]))
        .await
        .unwrap();
    assert_eq!(d.workflows[0].status, Status::Unknown);
    assert_eq!(d.tag_pushed_by.as_deref(), Some("octocat"));
}

#[tokio::test]
async fn a_tag_pushed_with_the_actions_token_is_a_cause() {
    let (sim, client, sha) = setup().await;
    sim.add_tag_push_event("v1.2.9", "octocat");
    sim.add_tag_push_event("v1.3.0", "github-actions[bot]");
    let d = diagnose(&client, &request(&sha, &["Release"]))
        .await
        .unwrap();
    let w = &d.workflows[0];
    assert_eq!(w.status, Status::NeverStarts);
    assert_eq!(
        w.causes,
        vec![Cause::PushedWithGithubToken {
            actor: "github-actions[bot]".into()
        }]
    );
    assert_eq!(d.tag_pushed_by.as_deref(), Some("github-actions[bot]"));
}

#[tokio::test]
async fn a_workflow_file_missing_at_the_commit_is_unknown_never_a_verdict() {
    let (sim, client, sha) = setup().await;
    sim.remove_file(RELEASE_PATH);
    let d = diagnose(&client, &request(&sha, &["Release"]))
        .await
        .unwrap();
    let w = &d.workflows[0];
    assert_eq!(w.status, Status::Unknown);
    assert!(w.causes.is_empty());
    assert!(w.file.is_none());
    assert!(
        w.notes[0].contains(".github/workflows/release.yml is not in commit"),
        "{w:#?}"
    );
}

#[tokio::test]
async fn an_invalid_workflow_file_is_a_cause() {
    let (sim, client, sha) = setup().await;
    sim.set_file(
        RELEASE_PATH,
        Some(&sha),
        "on:\n  push:\n    tags: [v*]\n    tags-ignore: [x]\n",
    );
    let d = diagnose(&client, &request(&sha, &["Release"]))
        .await
        .unwrap();
    let w = &d.workflows[0];
    assert_eq!(w.status, Status::NeverStarts);
    assert!(
        matches!(&w.causes[0], Cause::InvalidWorkflowFile { detail } if detail.contains("both tags and tags-ignore")),
        "{w:#?}"
    );
}

#[tokio::test]
async fn ci_on_the_branch_only_is_unknown_with_the_reason_for_a_commit_on_the_branch() {
    let (_sim, client, sha) = setup().await;
    // The default ci.yml: on.push.branches [main]; the commit is main's head.
    let d = diagnose(&client, &request(&sha, &["CI"])).await.unwrap();
    let w = &d.workflows[0];
    assert_eq!(w.status, Status::Unknown, "{w:#?}");
    assert!(
        w.notes
            .iter()
            .any(|n| n.contains("it starts on pushes of main") && n.contains("head commit")),
        "{w:#?}"
    );
}

#[tokio::test]
async fn ci_filtered_to_another_branch_never_starts() {
    let (_sim, client, sha) = setup().await;
    // The default ci.yml: on.push.branches [main]; releases come from `release`.
    let mut req = request(&sha, &["CI"]);
    req.branch = "release".into();
    let d = diagnose(&client, &req).await.unwrap();
    let w = &d.workflows[0];
    assert_eq!(w.status, Status::NeverStarts, "{w:#?}");
    assert_eq!(
        w.causes,
        vec![Cause::NotTriggered {
            detail: "on.push has branches but no tags: a tag push does not trigger it; on.push.branches ['main'] does not match release".into()
        }]
    );
}

#[tokio::test]
async fn deploy_after_ci_waits_while_ci_runs_and_is_unexplained_once_it_completed() {
    let (sim, client, sha) = setup().await;
    let ci = sim.add_run("CI", &sha, RunPlan::fixed(Phase::InProgress));
    let d = diagnose(&client, &request(&sha, &["Deploy to Production"]))
        .await
        .unwrap();
    let w = &d.workflows[0];
    assert_eq!(w.status, Status::Waiting, "{w:#?}");
    assert!(
        w.notes[0].contains(&format!("it starts when run {ci} of 'CI' completes")),
        "{w:#?}"
    );
    assert!(!d.any_never_starts());

    sim.set_phase(ci, Phase::Completed("success".into()));
    let d = diagnose(&client, &request(&sha, &["Deploy to Production"]))
        .await
        .unwrap();
    let w = &d.workflows[0];
    assert_eq!(w.status, Status::Unknown, "{w:#?}");
    assert!(
        w.notes
            .iter()
            .any(|n| n.contains(&format!("run {ci} of 'CI' should have started it"))),
        "{w:#?}"
    );
}

#[tokio::test]
async fn deploy_after_ci_on_other_branches_never_starts() {
    let (sim, client, sha) = setup().await;
    sim.set_file(
        ".github/workflows/deploy.yml",
        None,
        "name: Deploy to Production\non:\n  workflow_run:\n    workflows: [CI]\n    types: [completed]\n    branches: [production]\njobs: {}\n",
    );
    sim.add_run("CI", &sha, RunPlan::success());
    let d = diagnose(&client, &request(&sha, &["Deploy to Production"]))
        .await
        .unwrap();
    let w = &d.workflows[0];
    assert_eq!(w.status, Status::NeverStarts, "{w:#?}");
    assert!(
        matches!(&w.causes[0], Cause::NotTriggered { detail }
            if detail.contains("on.workflow_run.branches ['production'] does not match main")
            && detail.contains("read from main")),
        "{w:#?}"
    );
}

/// GitHub reads `workflow_run` triggers from the default branch, which
/// need not be `git.branch`: there, the deploy workflow only follows CI on
/// `production`, while the file at the commit (and on `main`) follows `main`.
#[tokio::test]
async fn workflow_run_is_read_from_the_default_branch_not_git_branch() {
    let (sim, client, sha) = setup().await;
    let dev = sim.add_commit("Work on develop");
    sim.set_default_branch("develop", &dev);
    sim.add_commit("More on main"); // main moves on; develop stays at `dev`
    sim.set_file(
        ".github/workflows/deploy.yml",
        Some(&dev),
        "name: Deploy to Production\non:\n  workflow_run:\n    workflows: [CI]\n    types: [completed]\n    branches: [production]\njobs: {}\n",
    );
    sim.add_run("CI", &sha, RunPlan::success());
    let d = diagnose(&client, &request(&sha, &["Deploy to Production"]))
        .await
        .unwrap();
    let w = &d.workflows[0];
    assert_eq!(w.status, Status::NeverStarts, "{w:#?}");
    assert!(
        matches!(&w.causes[0], Cause::NotTriggered { detail }
            if detail.contains("on.workflow_run.branches ['production'] does not match main")
            && detail.contains("read from develop")),
        "{w:#?}"
    );

    // The repository cannot be read: git.branch, and a note saying so.
    sim.fault(almarel_sandbox::github::Fault::new(
        "GET",
        "/repos/octo/app$",
        1,
        403,
    ));
    let d = diagnose(&client, &request(&sha, &["Deploy to Production"]))
        .await
        .unwrap();
    let w = &d.workflows[0];
    assert!(
        w.notes
            .iter()
            .any(|n| n.contains("the default branch could not be read")
                && n.contains("read from main (git.branch)")),
        "{w:#?}"
    );
    assert_eq!(
        w.status,
        Status::Unknown,
        "main's file follows CI on main: {w:#?}"
    );
}

#[tokio::test]
async fn a_dispatchable_workflow_offers_the_dispatch() {
    let (sim, client, sha) = setup().await;
    sim.set_file(
        RELEASE_PATH,
        None,
        "name: Release\non:\n  push:\n    tags: ['release-*']\n  workflow_dispatch:\njobs: {}\n",
    );
    let d = diagnose(&client, &request(&sha, &["Release"]))
        .await
        .unwrap();
    assert!(d.workflows[0].dispatchable);
    assert_eq!(d.to_dispatch(), ["Release"]);
    let next = d.next("v1.3.0").unwrap();
    assert_eq!(next.to_string(), "almarel status v1.3.0 --watch --dispatch");
    assert!(
        d.lines()
            .join("\n")
            .contains("it has workflow_dispatch: `almarel status v1.3.0 --watch --dispatch`")
    );
}

#[tokio::test]
async fn dispatch_starts_the_workflow_and_finds_the_new_run() {
    let (sim, client, sha) = setup().await;
    sim.set_file(
        RELEASE_PATH,
        None,
        "name: Release\non:\n  push:\n    tags: ['release-*']\n  workflow_dispatch:\njobs: {}\n",
    );
    let clock = SystemClock;
    let first = dispatch(
        &client,
        &clock,
        "Release",
        "v1.3.0",
        &sha,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let runs = sim.dispatched_runs("Release");
    assert_eq!(runs, vec![(first.run_id, sha.clone(), "v1.3.0".to_owned())]);
    assert_eq!(first.workflow, "Release");
    let posts = sim
        .recorder()
        .matching("POST", &format!("/repos/{REPO}/actions/workflows/"));
    assert_eq!(posts.len(), 1);
    assert!(posts[0].path.ends_with("/dispatches"));
    assert_eq!(posts[0].body, r#"{"ref":"v1.3.0"}"#);
    // A second dispatch finds its own run, not the first one.
    let second = dispatch(
        &client,
        &clock,
        "Release",
        "v1.3.0",
        &sha,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert_ne!(second.run_id, first.run_id);
    assert_eq!(sim.dispatched_runs("Release").len(), 2);
    // And the run is found by the run lookups the watch uses.
    let w = client.workflow("Release").await.unwrap();
    let ids: Vec<u64> = client
        .runs_for_commit(w.id, &sha)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert!(ids.contains(&first.run_id) && ids.contains(&second.run_id));
}

#[tokio::test]
async fn dispatch_of_a_workflow_without_workflow_dispatch_is_refused_once() {
    let (sim, client, sha) = setup().await;
    let err = dispatch(
        &client,
        &SystemClock,
        "Release",
        "v1.3.0",
        &sha,
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, Some("dispatch_refused"));
    assert!(
        err.message
            .contains("Workflow does not have 'workflow_dispatch' trigger"),
        "{}",
        err.message
    );
    assert_eq!(
        sim.recorder()
            .matching("POST", &format!("/repos/{REPO}/actions/workflows/"))
            .len(),
        1
    );
    assert!(sim.dispatched_runs("Release").is_empty());
}

#[tokio::test]
async fn dispatch_after_a_lost_answer_still_finds_the_run_without_resending() {
    let (sim, client, sha) = setup().await;
    sim.set_file(
        CI_PATH,
        None,
        "name: CI\non:\n  push:\n    branches: [main]\n  workflow_dispatch:\njobs: {}\n",
    );
    sim.fault(almarel_sandbox::github::Fault::new("POST", "/dispatches", 1, 502).after_applying());
    let found = dispatch(
        &client,
        &SystemClock,
        "CI",
        "v1.3.0",
        &sha,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert_eq!(sim.dispatched_runs("CI").len(), 1);
    assert_eq!(sim.dispatched_runs("CI")[0].0, found.run_id);
    assert_eq!(
        sim.recorder()
            .matching("POST", &format!("/repos/{REPO}/actions/"))
            .len(),
        1,
        "a POST is never re-sent after a 5xx"
    );
}

#[tokio::test]
async fn the_local_clone_is_read_first_when_it_has_the_commit() {
    let (sim, client, _) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    git(&["init", "-q", "-b", "main"]);
    std::fs::create_dir_all(dir.path().join(".github/workflows")).unwrap();
    std::fs::write(
        dir.path().join(RELEASE_PATH),
        "name: Release\non:\n  push:\n    tags: ['prod-*']\njobs: {}\n",
    )
    .unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "release workflow"]);
    let sha = git(&["rev-parse", "HEAD"]);
    // The work tree changes afterwards: the commit's version is what counts.
    std::fs::write(dir.path().join(RELEASE_PATH), "on: push\njobs: {}\n").unwrap();
    sim.register_commit(&sha, "release workflow");
    sim.add_tag("v1.3.0", &sha, true);
    let mut req = request(&sha, &["Release"]);
    req.clone = Some(dir.path().to_path_buf());
    let d = diagnose(&client, &req).await.unwrap();
    let w = &d.workflows[0];
    assert_eq!(w.file.as_ref().unwrap().source, "local git");
    assert!(
        matches!(&w.causes[0], Cause::NotTriggered { detail } if detail.contains("on.push.tags ['prod-*'] does not match v1.3.0")),
        "{w:#?}"
    );
    assert!(
        sim.recorder()
            .matching("GET", &format!("/repos/{REPO}/contents/"))
            .is_empty(),
        "no contents API call when the clone has the commit"
    );
}

#[tokio::test]
async fn due_reports_never_starts_at_once_unknown_after_15s_waiting_at_the_deadline() {
    let (sim, client, sha) = setup().await;
    sim.set_file(
        RELEASE_PATH,
        None,
        "name: Release\non:\n  push:\n    tags: ['release-*']\njobs: {}\n",
    );
    sim.add_run("CI", &sha, RunPlan::fixed(Phase::InProgress));
    // Release never starts, CI's absence is unexplained, Deploy waits for CI.
    let mut req = request(&sha, &["Release", "Deploy to Production"]);
    let d = diagnose(&client, &req).await.unwrap();
    let names =
        |d: &Diagnosis| -> Vec<String> { d.workflows.iter().map(|w| w.workflow.clone()).collect() };
    assert_eq!(names(&d.due(GRACE, false)), ["Release"]);
    assert_eq!(
        names(&d.due(Duration::from_secs(60), true)),
        ["Release", "Deploy to Production"]
    );
    req.missing = vec!["Release".into()];
    sim.set_file(RELEASE_PATH, None, "name: Release\non: push\njobs: {}\n");
    let d = diagnose(&client, &req).await.unwrap();
    assert_eq!(d.workflows[0].status, Status::Unknown);
    assert!(d.due(GRACE, false).workflows.is_empty());
    assert_eq!(names(&d.due(UNEXPLAINED_AFTER, false)), ["Release"]);
}
