use super::*;

fn parse(text: &str) -> Workflow {
    Workflow::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn not_triggered(v: Verdict) -> String {
    match v {
        Verdict::NotTriggered { reason } => reason,
        other => panic!("expected NotTriggered, got {other:?}"),
    }
}

fn unknown(v: Verdict) -> String {
    match v {
        Verdict::Unknown { reason } => reason,
        other => panic!("expected Unknown, got {other:?}"),
    }
}

fn tag(w: &Workflow, t: &str) -> Verdict {
    evaluate(w, &Event::tag_push(t))
}

fn branch(w: &Workflow, b: &str, files: &[&str]) -> Verdict {
    let files = files.iter().map(|f| (*f).to_owned()).collect();
    evaluate(w, &Event::branch_push(b, Some(files)))
}

fn branch_unknown_paths(w: &Workflow, b: &str) -> Verdict {
    evaluate(w, &Event::branch_push(b, None))
}

const FILES: &[&str] = &["src/main.rs"];

// ---- the three forms of on: -------------------------------------------------

#[test]
fn on_as_a_string() {
    let w = parse("name: CI\non: push\njobs: {}\n");
    assert_eq!(w.name.as_deref(), Some("CI"));
    assert_eq!(w.events, ["push"]);
    assert_eq!(w.push, Some(RefFilters::default()));
    assert_eq!(tag(&w, "v1.3.0"), Verdict::Triggers);
    assert_eq!(branch(&w, "main", FILES), Verdict::Triggers);
    assert!(!dispatchable(&w));
}

#[test]
fn on_as_a_list() {
    let w = parse("on: [push, workflow_dispatch]\n");
    assert_eq!(w.events, ["push", "workflow_dispatch"]);
    assert!(dispatchable(&w));
    assert_eq!(tag(&w, "v1.3.0"), Verdict::Triggers);
    assert_eq!(evaluate(&w, &Event::WorkflowDispatch), Verdict::Triggers);
}

#[test]
fn on_as_a_map() {
    let w = parse(
        "on:\n  push:\n    tags: ['v*']\n  workflow_dispatch:\n    inputs:\n      x: {type: string}\n  pull_request:\n    branches: [main]\n",
    );
    assert_eq!(w.events, ["push", "workflow_dispatch", "pull_request"]);
    assert!(dispatchable(&w));
    let pr = w.pull_request.as_ref().unwrap();
    assert!(pr.branches.as_ref().unwrap().selects("main"));
    assert_eq!(tag(&w, "v1.3.0"), Verdict::Triggers);
}

#[test]
fn quoted_on_key_and_block_lists_work_too() {
    let w = parse("'on':\n  push:\n    branches:\n      - main\n      - 'releases/**'\n");
    assert_eq!(branch(&w, "releases/1/x", FILES), Verdict::Triggers);
}

#[test]
fn a_single_scalar_filter_is_a_one_entry_list() {
    let w = parse("on:\n  push:\n    tags: v1.3.0\n");
    assert_eq!(tag(&w, "v1.3.0"), Verdict::Triggers);
}

#[test]
fn numeric_looking_names_stay_names() {
    let w = parse("on:\n  push:\n    branches: [1.0, 2]\n");
    assert_eq!(branch(&w, "1.0", FILES), Verdict::Triggers);
    assert_eq!(branch(&w, "2", FILES), Verdict::Triggers);
}

// ---- push: tags and branches ------------------------------------------------

#[test]
fn tag_filter_that_does_not_match_names_the_filter() {
    let w = parse("on:\n  push:\n    tags: ['release-*']\n");
    assert_eq!(
        not_triggered(tag(&w, "v1.3.0")),
        "on.push.tags ['release-*'] does not match v1.3.0"
    );
    assert_eq!(tag(&w, "release-7"), Verdict::Triggers);
}

#[test]
fn branches_without_tags_means_tag_pushes_do_not_trigger() {
    let w = parse("on:\n  push:\n    branches: [main]\n");
    assert_eq!(
        not_triggered(tag(&w, "v1.3.0")),
        "on.push has branches but no tags: a tag push does not trigger it"
    );
    let w = parse("on:\n  push:\n    branches-ignore: [wip]\n");
    assert_eq!(
        not_triggered(tag(&w, "v1.3.0")),
        "on.push has branches-ignore but no tags: a tag push does not trigger it"
    );
}

#[test]
fn tags_without_branches_means_branch_pushes_do_not_trigger() {
    let w = parse("on:\n  push:\n    tags: ['v*']\n");
    assert_eq!(
        not_triggered(branch(&w, "main", FILES)),
        "on.push has tags but no branches: a branch push does not trigger it"
    );
    let w = parse("on:\n  push:\n    tags-ignore: ['*-rc*']\n");
    assert_eq!(
        not_triggered(branch(&w, "main", FILES)),
        "on.push has tags-ignore but no branches: a branch push does not trigger it"
    );
    assert_eq!(tag(&w, "v1.3.0"), Verdict::Triggers);
}

#[test]
fn both_branches_and_tags_each_decide_their_own_ref_kind() {
    let w = parse("on:\n  push:\n    branches: [main]\n    tags: ['v*']\n");
    assert_eq!(tag(&w, "v1.3.0"), Verdict::Triggers);
    assert_eq!(branch(&w, "main", FILES), Verdict::Triggers);
    assert_eq!(
        not_triggered(branch(&w, "dev", FILES)),
        "on.push.branches ['main'] does not match dev"
    );
    assert_eq!(
        not_triggered(tag(&w, "1.3.0")),
        "on.push.tags ['v*'] does not match 1.3.0"
    );
}

#[test]
fn ignore_lists_name_the_pattern_that_ignored() {
    let w =
        parse("on:\n  push:\n    tags-ignore: ['v1.*', 'v0.*']\n    branches-ignore: ['wip/**']\n");
    assert_eq!(
        not_triggered(tag(&w, "v1.3.0")),
        "on.push.tags-ignore ['v1.*', 'v0.*'] ignores v1.3.0 (by 'v1.*')"
    );
    assert_eq!(tag(&w, "v2.0.0"), Verdict::Triggers);
    assert_eq!(
        not_triggered(branch(&w, "wip/a/b", FILES)),
        "on.push.branches-ignore ['wip/**'] ignores wip/a/b (by 'wip/**')"
    );
    assert_eq!(branch(&w, "main", FILES), Verdict::Triggers);
}

#[test]
fn negation_order_in_tags_and_branches() {
    // GitHub's example: releases/** but not releases/**-alpha.
    let w =
        parse("on:\n  push:\n    branches:\n      - 'releases/**'\n      - '!releases/**-alpha'\n");
    assert_eq!(branch(&w, "releases/10", FILES), Verdict::Triggers);
    assert_eq!(branch(&w, "releases/beta/mona", FILES), Verdict::Triggers);
    assert_eq!(
        not_triggered(branch(&w, "releases/10-alpha", FILES)),
        "on.push.branches ['releases/**', '!releases/**-alpha'] excludes releases/10-alpha (by '!releases/**-alpha')"
    );
    assert!(!matches!(
        branch(&w, "releases/beta/3-alpha", FILES),
        Verdict::Triggers
    ));

    // A later positive pattern includes again.
    let w = parse("on:\n  push:\n    tags: ['v*', '!v*-rc*', 'v1.3.0-rc.1']\n");
    assert_eq!(tag(&w, "v1.3.0"), Verdict::Triggers);
    assert_eq!(tag(&w, "v1.3.0-rc.1"), Verdict::Triggers);
    assert!(not_triggered(tag(&w, "v1.3.0-rc.2")).contains("excludes v1.3.0-rc.2 (by '!v*-rc*')"));
}

#[test]
fn semver_tag_filter_from_the_cheat_sheet() {
    let w = parse("on:\n  push:\n    tags: ['v[12].[0-9]+.[0-9]+']\n");
    assert_eq!(tag(&w, "v1.10.1"), Verdict::Triggers);
    assert_eq!(tag(&w, "v2.0.0"), Verdict::Triggers);
    assert!(!matches!(tag(&w, "v3.0.0"), Verdict::Triggers));
}

#[test]
fn a_ref_that_is_neither_branch_nor_tag_is_unknown() {
    let w = parse("on: push\n");
    let v = evaluate(
        &w,
        &Event::Push {
            git_ref: "refs/pull/3/head".into(),
            changed_paths: None,
        },
    );
    assert!(unknown(v).contains("refs/pull/3/head is neither a branch"));
}

// ---- push: paths ------------------------------------------------------------

#[test]
fn paths_with_unknown_changed_files_is_unknown() {
    let w = parse("on:\n  push:\n    branches: [main]\n    paths: ['src/**']\n");
    assert_eq!(
        unknown(branch_unknown_paths(&w, "main")),
        "on.push.paths ['src/**'] depends on the files the push changed, which are not known"
    );
    // The branch filter is decided first: a mismatch is known without paths.
    assert!(not_triggered(branch_unknown_paths(&w, "dev")).contains("does not match dev"));
}

#[test]
fn paths_decide_when_the_changed_files_are_known() {
    let w = parse("on:\n  push:\n    paths: ['src/**', '!src/**/*.md']\n");
    assert_eq!(
        branch(&w, "main", &["README.md", "src/lib.rs"]),
        Verdict::Triggers
    );
    assert_eq!(
        not_triggered(branch(
            &w,
            "main",
            &["README.md", "src/a/notes.md", "docs/x", "y"]
        )),
        "on.push.paths ['src/**', '!src/**/*.md'] matches none of the changed files (README.md, src/a/notes.md, docs/x, … 4 files in all)"
    );
}

#[test]
fn paths_ignore_runs_unless_every_file_is_ignored() {
    let w = parse("on:\n  push:\n    paths-ignore: ['docs/**']\n");
    assert_eq!(
        branch(&w, "main", &["docs/a.md", "src/lib.rs"]),
        Verdict::Triggers
    );
    assert_eq!(
        not_triggered(branch(&w, "main", &["docs/a.md", "docs/b/c.md"])),
        "on.push.paths-ignore ['docs/**'] ignores every changed file (docs/a.md, docs/b/c.md)"
    );
}

#[test]
fn no_changed_files_does_not_run_a_path_filtered_workflow() {
    let w = parse("on:\n  push:\n    paths-ignore: ['docs/**']\n");
    assert!(not_triggered(branch(&w, "main", &[])).contains("changed no files"));
}

#[test]
fn paths_are_not_evaluated_for_tag_pushes() {
    let w = parse("on:\n  push:\n    paths: ['src/**']\n");
    assert_eq!(tag(&w, "v1.3.0"), Verdict::Triggers);
    let w = parse("on:\n  push:\n    tags: ['v*']\n    paths: ['src/**']\n");
    assert_eq!(tag(&w, "v1.3.0"), Verdict::Triggers);
}

#[test]
fn only_the_first_300_changed_files_count() {
    let w = parse("on:\n  push:\n    paths: ['src/**']\n");
    let mut files: Vec<String> = (0..PATH_FILTER_FILE_LIMIT)
        .map(|i| format!("docs/{i}.md"))
        .collect();
    files.push("src/lib.rs".into());
    let v = evaluate(&w, &Event::branch_push("main", Some(files)));
    assert!(unknown(v).contains("GitHub compares only the first 300"));
}

// ---- triggers other than push -----------------------------------------------

#[test]
fn no_push_trigger_names_the_events_there_are() {
    let w = parse("on: [workflow_dispatch, pull_request]\n");
    assert_eq!(
        not_triggered(tag(&w, "v1.3.0")),
        "no push trigger (on: workflow_dispatch, pull_request)"
    );
}

#[test]
fn workflow_run_waits_for_the_named_workflow() {
    let w = parse(
        "on:\n  workflow_dispatch:\n  workflow_run:\n    workflows: [CI]\n    types: [completed]\n    branches: [main]\n",
    );
    assert_eq!(
        unknown(tag(&w, "v1.3.0")),
        "no push trigger (on: workflow_dispatch, workflow_run); on.workflow_run: it starts when a run of 'CI' is completed on a branch matching ['main'], not from the push"
    );
    let run = |workflow: &str, activity: &str, head: &str| Event::WorkflowRun {
        workflow: workflow.into(),
        activity: activity.into(),
        head_branch: head.into(),
    };
    assert_eq!(
        evaluate(&w, &run("CI", "completed", "main")),
        Verdict::Triggers
    );
    assert_eq!(
        not_triggered(evaluate(&w, &run("Build", "completed", "main"))),
        "on.workflow_run.workflows ['CI'] does not name 'Build'"
    );
    assert_eq!(
        not_triggered(evaluate(&w, &run("CI", "requested", "main"))),
        "on.workflow_run.types ['completed'] does not include requested"
    );
    // CI's run for a tag push has the tag as its head branch.
    assert_eq!(
        not_triggered(evaluate(&w, &run("CI", "completed", "v1.3.0"))),
        "on.workflow_run.branches ['main'] does not match v1.3.0"
    );
}

#[test]
fn workflow_run_branches_ignore_and_default_types() {
    let w =
        parse("on:\n  workflow_run:\n    workflows: [\"Build\"]\n    branches-ignore: [canary]\n");
    let run = |activity: &str, head: &str| Event::WorkflowRun {
        workflow: "Build".into(),
        activity: activity.into(),
        head_branch: head.into(),
    };
    assert_eq!(evaluate(&w, &run("requested", "main")), Verdict::Triggers);
    assert_eq!(evaluate(&w, &run("in_progress", "main")), Verdict::Triggers);
    assert!(not_triggered(evaluate(&w, &run("completed", "canary"))).contains("ignores canary"));
    assert!(
        unknown(tag(&w, "v1"))
            .contains("is requested, in progress or completed on a branch not matching ['canary']")
    );
}

#[test]
fn a_workflow_run_event_for_a_workflow_without_that_trigger() {
    let w = parse("on: push\n");
    let v = evaluate(
        &w,
        &Event::WorkflowRun {
            workflow: "CI".into(),
            activity: "completed".into(),
            head_branch: "main".into(),
        },
    );
    assert_eq!(not_triggered(v), "no workflow_run trigger (on: push)");
}

#[test]
fn a_push_filter_mismatch_is_unknown_when_another_trigger_may_start_it() {
    let w = parse("on:\n  push:\n    tags: ['release-*']\n  schedule:\n    - cron: '0 3 * * *'\n");
    assert_eq!(w.schedule, ["0 3 * * *"]);
    assert_eq!(
        unknown(tag(&w, "v1.3.0")),
        "on.push.tags ['release-*'] does not match v1.3.0; on.schedule: it starts by the clock ('0 3 * * *')"
    );
    assert_eq!(tag(&w, "release-1"), Verdict::Triggers);
}

#[test]
fn dispatch_event() {
    let w = parse("on:\n  push:\n    branches: [main]\n");
    assert!(!dispatchable(&w));
    assert_eq!(
        not_triggered(evaluate(&w, &Event::WorkflowDispatch)),
        "no workflow_dispatch trigger (on: push): it cannot be started by hand"
    );
}

// ---- jobs and environments ----------------------------------------------------

#[test]
fn environments_as_a_string_or_a_mapping() {
    let w = parse(
        "on: push\njobs:\n  a:\n    environment: production\n  b:\n    name: Stage\n    environment:\n      name: staging\n      url: https://x\n  c:\n    runs-on: x\n  d:\n    environment: production\n",
    );
    assert_eq!(w.environments(), ["production", "staging"]);
    assert_eq!(w.jobs.len(), 4);
    assert_eq!(w.jobs[1].name.as_deref(), Some("Stage"));
    assert_eq!(w.jobs[2].environment, None);
}

#[test]
fn display_name_falls_back_to_the_path() {
    let w = parse("on: push\n");
    assert_eq!(
        w.display_name(".github/workflows/ci.yml"),
        ".github/workflows/ci.yml"
    );
    let w = parse("name: CI\non: push\n");
    assert_eq!(w.display_name(".github/workflows/ci.yml"), "CI");
}

// ---- the workflows this repository documents ----------------------------------

fn doc_workflow(name: &str) -> Workflow {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/workflows")
        .join(name);
    parse(&std::fs::read_to_string(path).unwrap())
}

#[test]
fn the_documented_deploy_workflow() {
    let w = doc_workflow("deploy-production.yml");
    assert_eq!(w.name.as_deref(), Some("Deploy to Production"));
    assert_eq!(w.environments(), ["production"]);
    // A roll forward under a freeze dispatches it for the fix's tag.
    assert!(dispatchable(&w));
    let run = w.workflow_run.as_ref().unwrap();
    assert_eq!(run.workflows, ["CI"]);
    assert_eq!(run.types, ["completed"]);
    assert!(unknown(tag(&w, "v1.3.0")).contains("no push trigger (on: workflow_run, workflow_dispatch); on.workflow_run: it starts when a run of 'CI' is completed on a branch matching ['main']"));
    let after_ci = Event::WorkflowRun {
        workflow: "CI".into(),
        activity: "completed".into(),
        head_branch: "main".into(),
    };
    assert_eq!(evaluate(&w, &after_ci), Verdict::Triggers);
}

#[test]
fn a_deploy_workflow_in_the_same_shape_with_dispatch_and_a_named_environment() {
    let w = parse(
        r#"# Deploy to Production
name: Deploy to Production

on:
  workflow_dispatch:
  workflow_run:
    workflows: [CI]
    types: [completed]
    branches: [main]

concurrency:
  group: production
  cancel-in-progress: false

jobs:
  deploy:
    if: github.event.workflow_run.conclusion == 'success'
    runs-on: ubuntu-latest
    environment:
      name: production
      url: https://example.com
    env:
      SHA: ${{ github.event.workflow_run.head_sha }}
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{ env.SHA }}
      - uses: almafrica/almarel@v0.1.0
        with:
          args: deploy ${{ env.SHA }} --yes
"#,
    );
    assert!(dispatchable(&w));
    assert_eq!(w.environments(), ["production"]);
    assert_eq!(evaluate(&w, &Event::WorkflowDispatch), Verdict::Triggers);
}

#[test]
fn the_documented_ci_and_release_workflows() {
    let ci = doc_workflow("ci.yml");
    assert_eq!(branch(&ci, "main", FILES), Verdict::Triggers);
    assert_eq!(
        not_triggered(tag(&ci, "v1.3.0")),
        "on.push has branches but no tags: a tag push does not trigger it"
    );
    let release = doc_workflow("release.yml");
    assert_eq!(tag(&release, "v1.3.0"), Verdict::Triggers);
    assert_eq!(tag(&release, "v1.3.0-rc.1"), Verdict::Triggers);
    assert!(not_triggered(branch(&release, "main", FILES)).contains("has tags but no branches"));
}

// ---- files GitHub refuses, and files that are not YAML --------------------------

#[test]
fn malformed_yaml_is_an_error_not_a_verdict() {
    for text in [
        "on: [push\n",
        "on:\n  push:\n    branches: [ main, release/v[0-9].[0-9] ]\n",
        "on:\n  push:\n    paths:\n      - **/README.md\n",
        "name: \"unterminated\non: push\n",
        "on:\n  push: {branches: [main]\n",
        "on:\n  push\n  branches: [a]\n",
    ] {
        match Workflow::parse(text) {
            Err(ParseError::Yaml(msg)) => {
                assert!(!msg.is_empty());
                assert!(
                    ParseError::Yaml(msg)
                        .to_string()
                        .starts_with("the workflow file is not valid YAML: ")
                );
            }
            other => panic!("{text:?}: expected a YAML error, got {other:?}"),
        }
    }
}

#[test]
fn files_github_refuses_are_invalid_naming_the_key() {
    let cases = [
        ("", "the file is empty"),
        ("- a\n- b\n", "the top level is not a mapping"),
        ("name: x\njobs: {}\n", "no 'on:' triggers"),
        ("on: push\n---\non: push\n", "more than one YAML document"),
        (
            "on:\n  push:\n    branches: [main]\n    branches-ignore: [dev]\n",
            "on.push has both branches and branches-ignore",
        ),
        (
            "on:\n  push:\n    tags: ['v*']\n    tags-ignore: [x]\n",
            "on.push has both tags and tags-ignore",
        ),
        (
            "on:\n  push:\n    paths: [a]\n    paths-ignore: [b]\n",
            "on.push has both paths and paths-ignore",
        ),
        (
            "on:\n  workflow_run:\n    workflows: [CI]\n    branches: [a]\n    branches-ignore: [b]\n",
            "on.workflow_run has both branches and branches-ignore",
        ),
        (
            "on:\n  push:\n    branches: ['!dev']\n",
            "on.push.branches ['!dev'] has only '!' patterns",
        ),
        (
            "on:\n  push:\n    tags: ['v[0-9']\n",
            "on.push.tags: pattern 'v[0-9': '[' is never closed by ']'",
        ),
        ("on:\n  push: yes-please\n", "on.push is not a mapping"),
        (
            "on:\n  push:\n    branches: {a: b}\n",
            "on.push.branches is not a list",
        ),
        ("on:\n  schedule: daily\n", "on.schedule is not a list"),
        ("on: push\njobs: [a]\n", "jobs is not a mapping"),
    ];
    for (text, expected) in cases {
        match Workflow::parse(text) {
            Err(ParseError::Invalid(msg)) => assert!(msg.contains(expected), "{text:?}: {msg}"),
            other => panic!("{text:?}: expected Invalid, got {other:?}"),
        }
    }
}

#[test]
fn verdicts_serialize_for_json_reports() {
    let v = Verdict::NotTriggered { reason: "r".into() };
    assert_eq!(
        serde_json::to_value(&v).unwrap(),
        serde_json::json!({"verdict": "not_triggered", "reason": "r"})
    );
    assert_eq!(
        serde_json::to_value(Verdict::Triggers).unwrap(),
        serde_json::json!({"verdict": "triggers"})
    );
    assert_eq!(v.reason(), Some("r"));
    assert_eq!(v.to_string(), "not triggered: r");
}
