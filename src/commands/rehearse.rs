//! `almarel rehearse [SCENARIO] [--interactive]`: the whole runbook, end to
//! end, on an embedded sandbox ([`almarel_sandbox::world`]).
//!
//! Each step is a real command line, parsed by the real command tree and run
//! in-process through [`super::run`] with a [`Context`] pointing at the
//! sandbox (its `almarel.toml`, its tokens, `-C` its clone), printed through
//! a normal [`Ui`], so the user sees exactly what a real release prints.
//! After each step the sandbox's remotes move on their own
//! ([`World::sync`]: a pushed tag starts the workflows). A step whose exit
//! code differs from the designed one, or an end state that differs from the
//! designed one (production's SHA, the Coolify image tags, the freeze, the
//! reviews), fails the rehearsal (exit 1) naming the step.
//!
//! [`run_scenario`] is the library entry point: it returns a
//! [`RehearsalReport`] with the sandbox's final state, for tests.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use almarel_sandbox::Recorded;
use almarel_sandbox::coolify::Ending;
use almarel_sandbox::git::OriginRef;
use almarel_sandbox::github::{JobOutcome, JobRecord, Review, RunInfo};
use almarel_sandbox::world::{
    API_UUID, ActionsRunner, DATABASE_RUNBOOK, SeedRelease, WEB_UUID, World, WorldSpec,
};
use almarel_sandbox::world::{STG_API_UUID, STG_WEB_UUID};

use crate::cli::{Cli, Command, Scenario};
use crate::context::Context;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::settings::Settings;
use crate::ui::{Tone, Ui};
use crate::version::short_sha;

/// A scripted change to the sandbox around a step (fault injection).
type Hook = fn(&World);
/// Checks the sandbox's end state; returns what differs from the design.
type EndCheck = fn(&World) -> Vec<String>;

/// One runbook step: a command line and what it must end with.
#[derive(Debug, Clone)]
struct Step {
    /// Runbook section.
    section: &'static str,
    /// The command line after `almarel`, as a user types it.
    line: String,
    /// The same, split into arguments.
    args: Vec<String>,
    /// The designed exit code.
    expect: u8,
    /// What the command checks and does here (narration).
    explain: &'static str,
    /// Text the error must contain when the step is designed to fail.
    reason: Option<&'static str>,
    /// Runs before the command (e.g. make the next web deployment fail).
    before: Option<(Hook, &'static str)>,
    /// Runs after the command.
    after: Option<(Hook, &'static str)>,
    /// More text the error must contain (e.g. both ways out of a mixed release).
    also: Vec<&'static str>,
    /// Text the command's output must contain; checked when the output is
    /// captured (tests, `--json`): how a report that exits 0 shows a state.
    shows: Vec<&'static str>,
}

fn step(section: &'static str, line: &str, expect: u8, explain: &'static str) -> Step {
    Step {
        section,
        line: line.to_owned(),
        args: split_line(line),
        expect,
        explain,
        reason: None,
        before: None,
        after: None,
        also: Vec::new(),
        shows: Vec::new(),
    }
}

impl Step {
    /// The error must contain `text` (a designed failure, for its reason).
    fn because(mut self, text: &'static str) -> Step {
        self.reason = Some(text);
        self
    }

    /// The error must also contain each of `texts`.
    fn naming(mut self, texts: &[&'static str]) -> Step {
        self.also.extend_from_slice(texts);
        self
    }

    /// The captured output must contain each of `texts`.
    fn showing(mut self, texts: &[&'static str]) -> Step {
        self.shows.extend_from_slice(texts);
        self
    }
}

/// A scenario: the world it starts from, its steps, its designed end state.
struct Plan {
    title: &'static str,
    spec: WorldSpec,
    steps: Vec<Step>,
    end: EndCheck,
}

const HUMAN_2: &str = "Human steps 2 · tag the merged commit";
const HUMAN_3: &str = "Human steps 3 · watch CI, Deploy to Production, Release";
const HUMAN_4: &str = "Human steps 4 · approve the production deployment";
const FLOW_JK: &str =
    "Flow J–L · the approved Deploy to Production run deploys and verifies; you watch it";
const HUMAN_5: &str = "Human steps 5 · verify production";
const WRONG_1: &str = "If something goes wrong 1 · stop further approvals/releases";
const WRONG_2: &str = "If something goes wrong 2–4 · roll back";
const WRONG_END: &str = "If something goes wrong · resume releases after the fix";
const WRONG_MIXED: &str = "If something goes wrong · a mixed release is not live";
const WRONG_DECIDE: &str =
    "If something goes wrong 2 · decide: roll forward (a fix release) or roll back";
const ROLL_FWD: &str = "If something goes wrong · roll the fix forward under the freeze";

fn seeds() -> Vec<SeedRelease> {
    vec![
        SeedRelease::new(
            "v1.2.1",
            "Orders list paginates",
            &[("api/orders.txt", "paginated\n")],
        ),
        SeedRelease::new(
            "v1.2.2",
            "Fix order totals rounding",
            &[("api/orders.txt", "paginated, rounded\n")],
        ),
    ]
}

fn unreleased() -> Vec<(String, Vec<(String, String)>)> {
    vec![(
        "Add order export (#142)".to_owned(),
        vec![("api/export.txt".to_owned(), "csv export\n".to_owned())],
    )]
}

fn plan(scenario: Scenario) -> Plan {
    let base = WorldSpec {
        releases: seeds(),
        production: "v1.2.2".into(),
        unreleased: unreleased(),
        ..WorldSpec::default()
    };
    let tag = step(
        HUMAN_2,
        "tag 1.3.0",
        0,
        "checked: on main, clean tree, up to date with origin/main, v1.3.0 new and above every release tag; did: annotated tag v1.3.0 on HEAD, pushed that one tag",
    );
    let watch = step(
        HUMAN_3,
        "status v1.3.0 --watch --timeout 1m",
        0,
        "followed CI, Release and Deploy to Production for the tagged commit until only the production approval was left",
    );
    let approve = step(
        HUMAN_4,
        "approve v1.3.0 --yes",
        0,
        "checked: CI green on that commit, a final release tag on it, releases not frozen, you may approve; did: approved the waiting production deployment once",
    );
    // After the approval the deploy run's job deploys and verifies (GitHub
    // Actions mode, see `install_deploy_job`); the person follows the run.
    // `status --watch` follows every run of the commit to its end, so it
    // ends once the deploy run concluded.
    let follow = step(
        FLOW_JK,
        "status v1.3.0 --watch --timeout 1m",
        0,
        "followed the approved deploy run to its end: its job ran `almarel deploy` (image tag v1.3.0 on api and web, each deployment followed to `finished`) and `almarel verify` in GitHub Actions mode, and the run concluded success",
    );
    let verify = |t: &str| {
        step(
            HUMAN_5,
            &format!("verify --expect-tag {t}"),
            0,
            "checked: health 200, /api/version runs the tag's commit, the web app answers HTML, smoke login + orders",
        )
    };
    match scenario {
        Scenario::Release => Plan {
            title: "a normal release of v1.3.0, from tag to verified production",
            spec: base,
            steps: vec![tag, watch, approve, follow, verify("v1.3.0")],
            end: |w| {
                let mut p = Vec::new();
                expect_production(w, "v1.3.0", &mut p);
                expect_image_tags(w, "v1.3.0", "v1.3.0", &mut p);
                expect_reviews(w, &["approved"], &mut p);
                expect_deploy_jobs(w, &["success"], &mut p);
                p
            },
        },
        Scenario::FailedDeploy => {
            // The deploy run's job deploys after the approval, and web fails.
            let mut approve = approve;
            approve.before = Some((
                |w: &World| w.coolify.set_ending(WEB_UUID, Ending::Fail),
                "sandbox: the v1.3.0 web image fails its healthcheck on Coolify",
            ));
            let mut failing = step(
                FLOW_JK,
                "status v1.3.0 --watch --timeout 1m",
                1,
                "followed the approved deploy run: its `almarel deploy` finished api on v1.3.0 but the web deployment failed, so deploy restored v1.2.2 (the image tag web last finished deploying) and exited 1; the job stopped before verify and the run concluded failure",
            )
            .because("Deploy to Production concluded failure");
            failing.after = Some((
                |w: &World| w.coolify.set_ending(WEB_UUID, Ending::Finish),
                "sandbox: older web images still deploy fine",
            ));
            Plan {
                title: "the web deploy of v1.3.0 fails: verify and status show the release mixed, not live; freeze, roll back to v1.2.2, verify, unfreeze",
                spec: WorldSpec {
                    // Both apps last finished deploying v1.2.2: that is what
                    // the failed deploy restores on web.
                    app_history: true,
                    ..base
                },
                steps: vec![
                    tag,
                    watch,
                    approve,
                    failing,
                    step(
                        WRONG_MIXED,
                        "verify --expect-tag v1.3.0",
                        1,
                        "production's /api/version runs v1.3.0 (api finished), but web is not on v1.3.0: the release is mixed, so verify fails, naming web and both ways out",
                    )
                    .because("is mixed")
                    .naming(&[
                        "web is",
                        "almarel deploy --tag v1.3.0 --app web",
                        "almarel rollback",
                    ]),
                    step(
                        WRONG_MIXED,
                        "status v1.3.0",
                        0,
                        "the ledger (a report: exit 0 whatever it shows): the Coolify apps are on different releases, shown as mixed, not as a ✓, with both ways out",
                    )
                    .showing(&["mixed", "almarel rollback"]),
                    step(
                        WRONG_1,
                        "freeze --reason \"web deploy of v1.3.0 failed\" --yes",
                        0,
                        "disabled the deploy workflow (GitHub starts no new deploy run) and rejected any waiting production deployment",
                    ),
                    step(
                        WRONG_DECIDE,
                        "rollback --dry-run",
                        0,
                        "the two ways out: roll forward (fix on main, `almarel tag 1.3.1`, approve, the deploy run deploys it, verify) or roll back; this rehearsal rolls back — the dry run shows the target v1.2.2, no migration in between, and every write, changing nothing",
                    )
                    .showing(&["v1.2.2"]),
                    step(
                        WRONG_2,
                        "rollback --wait 30s --yes",
                        0,
                        "checked: production runs v1.3.0, the previous final release is v1.2.2, no migration in between; did: freeze (already), deploy v1.2.2 on api and web, verify v1.2.2",
                    ),
                    verify("v1.2.2"),
                    step(
                        WRONG_END,
                        "unfreeze --yes",
                        0,
                        "enabled the deploy workflow again (after the fix forward is ready)",
                    ),
                ],
                end: |w| {
                    let mut p = Vec::new();
                    expect_production(w, "v1.2.2", &mut p);
                    expect_image_tags(w, "v1.2.2", "v1.2.2", &mut p);
                    expect_workflow(w, "active", &mut p);
                    expect_reviews(w, &["approved"], &mut p);
                    expect_deploy_jobs(w, &["failure"], &mut p);
                    p
                },
            }
        }
        Scenario::RcToProduction => Plan {
            title: "v1.3.0-rc.1 is refused for production until v1.3.0 sits on the same commit",
            spec: base,
            steps: vec![
                step(
                    HUMAN_2,
                    "tag 1.3.0-rc.1",
                    0,
                    "tagged HEAD as the release candidate v1.3.0-rc.1 and pushed it",
                ),
                step(
                    HUMAN_3,
                    "status v1.3.0-rc.1 --watch --timeout 1m",
                    0,
                    "followed the runs of the candidate's commit until only the production approval was left",
                ),
                step(
                    HUMAN_4,
                    "approve v1.3.0-rc.1 --yes",
                    3,
                    "refused, nothing sent: the commit's only release tag is a pre-release (the runbook's known gap, closed)",
                )
                .because("pre-release"),
                step(
                    HUMAN_2,
                    "tag 1.3.0",
                    0,
                    "promoted the candidate: v1.3.0 on the same commit (no new commits), pushed",
                ),
                approve,
                follow,
                verify("v1.3.0"),
            ],
            end: |w| {
                let mut p = Vec::new();
                expect_production(w, "v1.3.0", &mut p);
                expect_image_tags(w, "v1.3.0", "v1.3.0", &mut p);
                expect_reviews(w, &["approved"], &mut p);
                expect_deploy_jobs(w, &["success"], &mut p);
                if w.tag_sha("v1.3.0") != w.tag_sha("v1.3.0-rc.1") {
                    p.push("v1.3.0 and v1.3.0-rc.1 are not on the same commit".into());
                }
                p
            },
        },
        Scenario::Migration => {
            let mut releases = seeds();
            releases.push(SeedRelease::new(
                "v1.3.0",
                "Add order export with its table (#142)",
                &[
                    ("api/export.txt", "csv export\n"),
                    (
                        "api/Migrations/20261120_add_order_exports.sql",
                        "CREATE TABLE order_exports (id bigint primary key);\n",
                    ),
                ],
            ));
            Plan {
                title: "production runs v1.3.0, which added a DB migration: rollback is refused until --allow-migrations",
                spec: WorldSpec {
                    releases,
                    production: "v1.3.0".into(),
                    unreleased: Vec::new(),
                    ..WorldSpec::default()
                },
                steps: vec![
                    step(
                        WRONG_2,
                        "rollback --wait 30s --yes",
                        3,
                        "refused before any change (not even a freeze): a migration file changed between v1.2.2 and v1.3.0; the hint points at the database rollback runbook",
                    )
                    .because(DATABASE_RUNBOOK),
                    step(
                        WRONG_2,
                        "rollback --allow-migrations --wait 30s --yes",
                        0,
                        "after the database was handled per the runbook: froze releases, deployed v1.2.2 on api and web, verified it",
                    ),
                    verify("v1.2.2"),
                    step(
                        WRONG_END,
                        "unfreeze --yes",
                        0,
                        "enabled the deploy workflow again",
                    ),
                ],
                end: |w| {
                    let mut p = Vec::new();
                    expect_production(w, "v1.2.2", &mut p);
                    expect_image_tags(w, "v1.2.2", "v1.2.2", &mut p);
                    expect_workflow(w, "active", &mut p);
                    p
                },
            }
        }
        Scenario::RedCi => Plan {
            title: "CI fails on the tagged commit: the watch says so and approve is refused",
            spec: WorldSpec {
                ci_conclusion: "failure".into(),
                deploy_despite_red_ci: true,
                ..base
            },
            steps: vec![
                tag,
                step(
                    HUMAN_3,
                    "status v1.3.0 --watch --timeout 1m",
                    1,
                    "followed the runs: CI failed on the tagged commit, so the watch exits 1",
                )
                .because("concluded failure"),
                step(
                    HUMAN_4,
                    "approve v1.3.0 --yes",
                    3,
                    "refused, nothing sent: CI did not conclude `success` for that commit (this project's deploy workflow starts on push, so a deploy run is waiting anyway)",
                )
                .because("CI for"),
            ],
            end: |w| {
                let mut p = Vec::new();
                expect_production(w, "v1.2.2", &mut p);
                expect_image_tags(w, "v1.2.2", "v1.2.2", &mut p);
                expect_reviews(w, &[], &mut p);
                p
            },
        },
        Scenario::RollForward => roll_forward(base),
        Scenario::StagingToProduction => {
            staging_to_production(base, approve, follow, verify("v1.3.0"))
        }
    }
}

const STAGING: &str = "Release candidate tested in staging";

/// `staging-to-production` (SPEC §8.3): `tag 1.3.0-rc.1`, refused for
/// production, deployed and verified in staging (the verdict recorded in
/// GitHub), the final tag on the same commit, approve showing the staging
/// evidence, then production.
fn staging_to_production(base: WorldSpec, approve: Step, follow: Step, verify: Step) -> Plan {
    Plan {
        title: "v1.3.0-rc.1 is deployed and verified in staging (recorded in GitHub), then v1.3.0 on the same commit is approved with that evidence and goes to production",
        spec: WorldSpec {
            staging: true,
            ..base
        },
        steps: vec![
            step(
                HUMAN_2,
                "tag 1.3.0-rc.1",
                0,
                "tagged HEAD as the release candidate v1.3.0-rc.1 and pushed it",
            ),
            step(
                HUMAN_3,
                "status v1.3.0-rc.1 --watch --timeout 1m",
                0,
                "followed the candidate's runs until only the production approval was left",
            ),
            step(
                STAGING,
                "deploy --tag v1.3.0-rc.1 --timeout 1m --yes",
                3,
                "refused, nothing sent: production accepts final releases only, and the refusal names the environment that takes a pre-release",
            )
            .because("pre-release")
            .naming(&["--env staging"]),
            step(
                STAGING,
                "deploy --tag v1.3.0-rc.1 --env staging --timeout 1m --yes",
                0,
                "set image tag v1.3.0-rc.1 on staging's api and web (production's apps untouched) and followed each deployment to `finished`",
            ),
            step(
                STAGING,
                "verify --expect-tag v1.3.0-rc.1 --env staging",
                0,
                "checked staging: health 200, /api/version runs the candidate's commit, the web app answers HTML; did: recorded the verdict as a `success` deployment status for staging on that commit",
            )
            .showing(&["recorded as a deployment status for staging"]),
            step(
                HUMAN_2,
                "tag 1.3.0",
                0,
                "promoted the candidate: v1.3.0 on the same commit (no new commits), pushed",
            ),
            approve.showing(&["verified in staging at"]),
            // The approved deploy run's `almarel deploy` checks each image's
            // digest against the one verified in staging (its job log).
            follow,
            verify,
        ],
        end: |w| {
            let mut p = Vec::new();
            expect_production(w, "v1.3.0", &mut p);
            expect_image_tags(w, "v1.3.0", "v1.3.0", &mut p);
            expect_reviews(w, &["approved"], &mut p);
            expect_deploy_jobs(w, &["success"], &mut p);
            let logs: String = w
                .github
                .jobs()
                .iter()
                .filter_map(|j| j.outcome.as_ref().map(|o| o.log.clone()))
                .collect();
            if !logs.contains("the image verified in staging") {
                p.push("the deploy run did not check the images against the digests verified in staging".into());
            }
            if w.tag_sha("v1.3.0") != w.tag_sha("v1.3.0-rc.1") {
                p.push("v1.3.0 and v1.3.0-rc.1 are not on the same commit".into());
            }
            for (uuid, name) in [(STG_API_UUID, "api"), (STG_WEB_UUID, "web")] {
                let got = w.coolify.image_tag(uuid);
                if got.as_deref() != Some("v1.3.0-rc.1") {
                    p.push(format!(
                        "staging app {name} is configured with {} instead of v1.3.0-rc.1",
                        got.as_deref().unwrap_or("no image tag")
                    ));
                }
            }
            let sha = w.tag_sha("v1.3.0").unwrap_or_default();
            for env in ["staging", "production"] {
                let verified = w.github.deployments().iter().any(|d| {
                    d.environment == env
                        && d.sha == sha
                        && d.statuses.iter().any(|s| {
                            s.state == "success" && s.description.starts_with("almarel verify passed")
                        })
                });
                if !verified {
                    p.push(format!(
                        "no `success` verify status for {} in GitHub environment {env}",
                        short_sha(&sha)
                    ));
                }
            }
            p
        },
    }
}

/// `roll-forward`: production (v1.2.2) is frozen; the fix is merged and
/// tagged v1.2.3 (no deploy run starts: the workflow is disabled); `unfreeze
/// --only v1.2.3` records the exception, enables the workflow and starts
/// the fix's deploy run; a teammate's commit lands meanwhile and gets a
/// deploy run too; the fix is approved, deployed and verified; `unfreeze`
/// lifts the freeze and rejects the other run on the way.
fn roll_forward(base: WorldSpec) -> Plan {
    let approve = step(
        HUMAN_4,
        "approve v1.2.3 --yes",
        0,
        "checked: CI green on the fix's commit, a final release tag on it, the deploy workflow enabled for it; did: approved its waiting production deployment",
    );
    let deploy = step(
        FLOW_JK,
        "status v1.2.3 --watch --timeout 1m",
        0,
        "followed the fix's approved deploy run to its end: its job ran `almarel deploy` and `almarel verify` in GitHub Actions mode, and the run concluded success",
    );
    let verify = step(
        HUMAN_5,
        "verify --expect-tag v1.2.3",
        0,
        "checked: health 200, /api/version runs the fix's commit, the web app answers HTML, smoke login + orders",
    );
    let mut tag = step(
        ROLL_FWD,
        "tag 1.2.3",
        0,
        "tagged the fix v1.2.3 and pushed it; CI and Release start, but no deploy run: the deploy workflow is disabled",
    );
    tag.before = Some((
        |w: &World| {
            let _ = w
                .git
                .commit(
                    &[("api/checkout.txt", "totals fixed\n")],
                    "Fix checkout totals (#150)",
                )
                .and_then(|_| w.git.push(&["refs/heads/main:refs/heads/main"]));
        },
        "sandbox: the fix \"Fix checkout totals (#150)\" is merged to main",
    ));
    let mut only = step(
        ROLL_FWD,
        "unfreeze --only v1.2.3 --yes",
        0,
        "recorded the exception in ALMAREL_FREEZE, rejected other waiting deployments, enabled the deploy workflow and started its run for v1.2.3 (workflow_dispatch); every other release stays frozen",
    );
    only.after = Some((
        |w: &World| {
            let _ = w.push_commit(
                "Unreviewed refactor (#151)",
                &[("api/refactor.txt", "wip\n")],
            );
        },
        "sandbox: meanwhile a teammate's commit lands on main; with the workflow enabled, it gets a deploy run waiting for approval",
    ));
    Plan {
        title: "frozen after a bad release: the fix goes out under the freeze, another commit does not, then unfreeze",
        spec: base,
        steps: vec![
            step(
                WRONG_1,
                "freeze --reason \"checkout errors in v1.2.2\" --yes",
                0,
                "disabled the deploy workflow and recorded who froze, when and why in ALMAREL_FREEZE",
            ),
            tag,
            only,
            step(
                HUMAN_3,
                "status v1.2.3 --watch --timeout 1m",
                0,
                "followed the fix's runs until only the production approval was left",
            ),
            approve,
            deploy,
            verify,
            step(
                WRONG_END,
                "unfreeze --yes",
                0,
                "rejected the teammate's waiting deploy run (it came in during the freeze), deleted the freeze record; releases are not frozen",
            ),
        ],
        end: |w| {
            let mut p = Vec::new();
            expect_production(w, "v1.2.3", &mut p);
            expect_image_tags(w, "v1.2.3", "v1.2.3", &mut p);
            expect_workflow(w, "active", &mut p);
            expect_reviews(w, &["approved", "rejected"], &mut p);
            expect_deploy_jobs(w, &["success"], &mut p);
            if let Some(v) = w.github.variable("ALMAREL_FREEZE") {
                p.push(format!("the freeze record is still there: {v}"));
            }
            p
        },
    }
}

fn expect_production(w: &World, tag: &str, problems: &mut Vec<String>) {
    let serving = w.production.control().serving_sha();
    match w.tag_sha(tag) {
        Some(sha) if sha == serving => {}
        Some(sha) => problems.push(format!(
            "production serves {} instead of {tag} ({})",
            short_sha(&serving),
            short_sha(&sha)
        )),
        None => problems.push(format!("{tag} is not on the sandbox origin")),
    }
}

fn expect_image_tags(w: &World, api: &str, web: &str, problems: &mut Vec<String>) {
    for (name, uuid, want) in [("api", API_UUID, api), ("web", WEB_UUID, web)] {
        let got = w.coolify.image_tag(uuid);
        if got.as_deref() != Some(want) {
            problems.push(format!(
                "Coolify app {name} is configured with {} instead of {want}",
                got.as_deref().unwrap_or("no image tag")
            ));
        }
    }
}

fn expect_workflow(w: &World, state: &str, problems: &mut Vec<String>) {
    let got = w.github.workflow_state("Deploy to Production");
    if got.as_deref() != Some(state) {
        problems.push(format!(
            "the deploy workflow is {} instead of {state}",
            got.as_deref().unwrap_or("missing")
        ));
    }
}

/// The approved deploy runs' jobs ended with `conclusions`, in order (and
/// the runs show them: `completed` with that conclusion).
fn expect_deploy_jobs(w: &World, conclusions: &[&str], problems: &mut Vec<String>) {
    let got: Vec<String> = w
        .github
        .jobs()
        .iter()
        .map(|j| {
            let run = w
                .github
                .run_state(j.info.id)
                .map(|(s, c)| format!("{s}/{}", c.unwrap_or_default()));
            match (&j.outcome, run) {
                (Some(o), Some(r)) if r == format!("completed/{}", o.conclusion) => {
                    o.conclusion.clone()
                }
                (_, r) => format!("run {} {}", j.info.id, r.unwrap_or_default()),
            }
        })
        .collect();
    if got != conclusions {
        problems.push(format!(
            "deploy runs concluded [{}] instead of [{}]",
            got.join(", "),
            conclusions.join(", ")
        ));
    }
}

fn expect_reviews(w: &World, states: &[&str], problems: &mut Vec<String>) {
    let got: Vec<String> = w
        .deploy_runs()
        .into_iter()
        .flat_map(|r| w.github.approvals(r))
        .map(|r| r.state)
        .collect();
    if got != states {
        problems.push(format!(
            "production deployment reviews are [{}] instead of [{}]",
            got.join(", "),
            states.join(", ")
        ));
    }
}

/// How to run a rehearsal.
#[derive(Debug, Clone)]
pub struct RehearseOptions {
    /// Where the narration goes.
    pub ui: Ui,
    /// Record each command's output in the report instead of printing it
    /// (tests, `--json`).
    pub capture: bool,
    /// Pause before each command (needs a terminal on stdin).
    pub interactive: bool,
    /// Extra environment for the commands (e.g. `NO_COLOR`).
    pub extra_env: Vec<(String, String)>,
}

impl RehearseOptions {
    /// Captured commands, narration on `ui`, not interactive.
    pub fn captured(ui: Ui) -> Self {
        RehearseOptions {
            ui,
            capture: true,
            interactive: false,
            extra_env: Vec::new(),
        }
    }
}

/// One step as it ran.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepReport {
    /// Runbook section.
    pub section: String,
    /// The command line, as a user types it.
    pub command: String,
    /// The designed exit code.
    pub expected: u8,
    /// The exit code it ended with (`None` when a person ran it, interactive).
    pub exit: Option<u8>,
    /// The error message and hint, when it failed.
    pub error: Option<String>,
    /// What the sandbox did around it (runs started, faults injected).
    pub sandbox: Vec<String>,
    /// Whether it ended as designed.
    pub ok: bool,
    /// Captured stdout and stderr of the command (with `capture`).
    pub output: String,
}

/// The outcome of a rehearsal and the sandbox's final state. Its `--json`
/// object (see `docs/json.md`): `scenario`, `passed`, `deviation`, `steps`,
/// `production_sha`, `image_tags`, `deploy_workflow_state`, `tags`,
/// `deploy_runs`, `elapsed_ms`; the rest is for tests.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RehearsalReport {
    /// The scenario's name.
    pub scenario: String,
    /// Whether it ended as designed (`deviation` is `None`).
    passed: bool,
    /// Every step that ran, in order.
    pub steps: Vec<StepReport>,
    /// The first deviation from the design (`None`: ended as designed).
    pub deviation: Option<String>,
    /// Refs on the sandbox origin at the end.
    #[serde(skip)]
    pub origin_refs: Vec<OriginRef>,
    /// Requests the GitHub simulator received.
    #[serde(skip)]
    pub github_requests: Vec<Recorded>,
    /// Requests the Coolify simulator received.
    #[serde(skip)]
    pub coolify_requests: Vec<Recorded>,
    /// Requests the production simulator received.
    #[serde(skip)]
    pub production_requests: Vec<Recorded>,
    /// The commit production serves at the end.
    pub production_sha: String,
    /// Coolify image tags at the end: `(app, tag)`.
    #[serde(serialize_with = "json::image_tags")]
    pub image_tags: Vec<(String, Option<String>)>,
    /// The deploy workflow's state at the end.
    pub deploy_workflow_state: Option<String>,
    /// Reviews of the production deployments made during the rehearsal.
    #[serde(skip)]
    pub reviews: Vec<Review>,
    /// Release tag → commit on the sandbox origin.
    #[serde(serialize_with = "json::tags")]
    pub tags: Vec<(String, String)>,
    /// The audit log lines the commands wrote.
    #[serde(skip)]
    pub audit: Vec<Value>,
    /// The approved deploy runs whose job ran (deploy and verify in GitHub
    /// Actions mode): run, conclusion, what the job printed.
    #[serde(rename = "deploy_runs", serialize_with = "json::deploy_runs")]
    pub deploy_jobs: Vec<JobRecord>,
    /// The sandbox directory (removed by the time the report is returned).
    #[serde(skip)]
    pub sandbox_dir: PathBuf,
    /// How long it took.
    #[serde(rename = "elapsed_ms", serialize_with = "json::millis")]
    pub elapsed: Duration,
}

impl RehearsalReport {
    /// Whether the scenario ended as designed.
    pub fn passed(&self) -> bool {
        self.passed
    }
}

/// The typed JSON faces of [`RehearsalReport`]'s fields.
mod json {
    use std::time::Duration;

    use serde::{Serialize, Serializer};

    #[derive(Serialize)]
    struct ImageTag<'a> {
        app: &'a str,
        image_tag: Option<&'a str>,
    }

    /// `[{app, image_tag}]`.
    pub fn image_tags<S: Serializer>(
        v: &[(String, Option<String>)],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|(app, t)| ImageTag {
            app,
            image_tag: t.as_deref(),
        }))
    }

    #[derive(Serialize)]
    struct TagAt<'a> {
        tag: &'a str,
        sha: &'a str,
    }

    /// `[{tag, sha}]`.
    pub fn tags<S: Serializer>(v: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|(tag, sha)| TagAt { tag, sha }))
    }

    /// A duration in whole milliseconds.
    pub fn millis<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    #[derive(Serialize)]
    struct DeployRun<'a> {
        run_id: u64,
        conclusion: Option<&'a str>,
        summary: Option<&'a str>,
        log: Option<&'a str>,
    }

    /// `[{run_id, conclusion, summary, log}]`: each approved deploy run's job.
    pub fn deploy_runs<S: Serializer>(
        v: &[almarel_sandbox::github::JobRecord],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|j| DeployRun {
            run_id: j.info.id,
            conclusion: j.outcome.as_ref().map(|o| o.conclusion.as_str()),
            summary: j.outcome.as_ref().map(|o| o.summary.as_str()),
            log: j.outcome.as_ref().map(|o| o.log.as_str()),
        }))
    }
}

/// The scenario's name as typed on the command line.
pub fn scenario_name(s: Scenario) -> &'static str {
    match s {
        Scenario::Release => "release",
        Scenario::FailedDeploy => "failed-deploy",
        Scenario::RcToProduction => "rc-to-production",
        Scenario::Migration => "migration",
        Scenario::RedCi => "red-ci",
        Scenario::RollForward => "roll-forward",
        Scenario::StagingToProduction => "staging-to-production",
    }
}

/// What `almarel rehearse` is asked to do (resolved by
/// [`crate::resolve::rehearse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// The scenario to run.
    pub scenario: Scenario,
    /// Pause before each command for a person to type it.
    pub interactive: bool,
}

/// The narration was printed while the rehearsal ran; nothing is left to
/// print at the end (`--json` gets the report).
impl crate::report::Report for RehearsalReport {
    fn render(&self, _ui: &Ui) {}
}

/// Runs `almarel rehearse`.
pub async fn run(ctx: &Context, req: &Request) -> Result<RehearsalReport> {
    if req.interactive && !std::io::stdin().is_terminal() {
        return Err(Error::usage(
            "--interactive needs a terminal on stdin (it waits for Enter before each command)",
        )
        .with_hint(
            "run it in a terminal, or drop --interactive to let the rehearsal run every command",
        ));
    }
    let mut extra_env = Vec::new();
    if let Some(v) = ctx.env.get(crate::env::NO_COLOR) {
        extra_env.push((crate::env::NO_COLOR.to_owned(), v.to_owned()));
    }
    let opts = RehearseOptions {
        ui: ctx.ui.clone(),
        capture: ctx.ui.is_json(),
        interactive: req.interactive,
        extra_env,
    };
    let report = run_scenario(req.scenario, opts).await?;
    match &report.deviation {
        None => Ok(report),
        Some(d) => Err(
            Error::failed(format!("the {} rehearsal deviated: {d}", report.scenario))
                .with_hint(if req.interactive {
            "type each command in the second terminal, with the environment printed at the start, before pressing Enter"
        } else {
            "a command no longer behaves as the runbook expects: see the step above"
        })
                .with_report(&report),
        ),
    }
}

/// Runs one scenario on a fresh sandbox and returns its report; the sandbox
/// is shut down and its directory removed before this returns (also when a
/// step fails). `Err` only when the sandbox itself cannot be built.
pub async fn run_scenario(scenario: Scenario, opts: RehearseOptions) -> Result<RehearsalReport> {
    run_plan(scenario_name(scenario), plan(scenario), opts).await
}

async fn run_plan(name: &str, plan: Plan, opts: RehearseOptions) -> Result<RehearsalReport> {
    let started = Instant::now();
    let ui = &opts.ui;
    ui.progress(&format!("starting the sandbox for `{name}`…"));
    let world = World::start(plan.spec.clone()).await?;
    let sandbox_dir = world.path().to_path_buf();
    install_deploy_job(&world, &opts);
    intro(ui, &world, name, plan.title, &opts);

    let total = plan.steps.len();
    let mut reports = Vec::new();
    let mut deviation = None;
    for (i, s) in plan.steps.iter().enumerate() {
        let n = i + 1;
        let r = run_one(&world, s, n, total, &opts).await;
        let ok = r.ok;
        let (cmd, exit, expected) = (r.command.clone(), r.exit, r.expected);
        reports.push(r);
        if !ok {
            deviation = Some(match exit {
                Some(code) if code == expected => format!(
                    "step {n}/{total} `{cmd}` exited {code} for another reason than designed"
                ),
                Some(code) => {
                    format!("step {n}/{total} `{cmd}` exited {code}, designed to exit {expected}")
                }
                None => format!(
                    "step {n}/{total} `{cmd}`: nothing reached the sandbox (was the command run?)"
                ),
            });
            break;
        }
    }
    // A deploy run's job still running ends before the end state is read
    // (and before the sandbox is removed under it).
    for note in world.settle_jobs(JOB_DEADLINE).await {
        ui.result(&format!(
            "   {}",
            ui.paint(Tone::Dim, &format!("sandbox: {note}"))
        ));
    }
    if deviation.is_none() {
        let problems = (plan.end)(&world);
        if problems.is_empty() {
            ui.result(&format!(
                "{} rehearsal `{name}` ended as designed: {total} steps, {} and the final state as the runbook expects",
                ui.mark(Tone::Ok),
                if opts.interactive {
                    "each reached the sandbox"
                } else {
                    "every exit code"
                }
            ));
        } else {
            for p in &problems {
                ui.result(&format!("{} end state: {p}", ui.mark(Tone::Fail)));
            }
            deviation = Some(format!(
                "after step {total}/{total}, the end state differs: {}",
                problems.join("; ")
            ));
        }
    }
    let report = RehearsalReport {
        scenario: name.to_owned(),
        passed: deviation.is_none(),
        steps: reports,
        deviation,
        origin_refs: world.origin_refs().unwrap_or_default(),
        github_requests: world.github.recorder().all(),
        coolify_requests: world.coolify.recorder().all(),
        production_requests: world.production.recorder().all(),
        production_sha: world.production.control().serving_sha(),
        image_tags: [("api", API_UUID), ("web", WEB_UUID)]
            .iter()
            .map(|(n, u)| ((*n).to_owned(), world.coolify.image_tag(u)))
            .collect(),
        deploy_workflow_state: world.github.workflow_state("Deploy to Production"),
        reviews: world
            .deploy_runs()
            .into_iter()
            .flat_map(|r| world.github.approvals(r))
            .collect(),
        tags: world
            .origin_refs()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| {
                r.name
                    .strip_prefix("refs/tags/")
                    .map(|t| (t.to_owned(), r.commit.clone()))
            })
            .collect(),
        audit: std::fs::read_to_string(world.state_dir.join("audit.jsonl"))
            .map(|t| {
                t.lines()
                    .filter_map(|l| serde_json::from_str(l).ok())
                    .collect()
            })
            .unwrap_or_default(),
        deploy_jobs: world.github.jobs(),
        sandbox_dir,
        elapsed: Duration::ZERO,
    };
    drop(world);
    ui.progress("sandbox stopped and removed");
    Ok(RehearsalReport {
        elapsed: started.elapsed(),
        ..report
    })
}

fn intro(ui: &Ui, world: &World, name: &str, title: &str, opts: &RehearseOptions) {
    ui.result(&ui.paint(Tone::Bold, &format!("rehearsal `{name}`: {title}")));
    ui.result(&format!(
        "sandbox: git origin {}, clone {}; GitHub, Coolify and production simulated on 127.0.0.1; nothing real is touched",
        world.git.origin.display(),
        world.git.clone.display()
    ));
    if opts.interactive {
        ui.result("type each command in a second terminal, with this environment:");
        for line in env_lines(world) {
            ui.result(&format!("  {line}"));
        }
        ui.result("(the tokens are the sandbox's own, valid nowhere else)");
    }
}

fn env_lines(world: &World) -> Vec<String> {
    world
        .env_pairs()
        .into_iter()
        .map(|(k, v)| format!("export {k}={}", shell_quote(&v)))
        .collect()
}

fn shell_quote(v: &str) -> String {
    if v.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:@".contains(c))
    {
        v.to_owned()
    } else {
        format!("'{}'", v.replace('\'', "'\\''"))
    }
}

/// A fingerprint of everything a command could touch: did anything happen?
fn fingerprint(world: &World) -> (usize, usize, usize, Vec<OriginRef>) {
    (
        world.github.recorder().all().len(),
        world.coolify.recorder().all().len(),
        world.production.recorder().all().len(),
        world.origin_refs().unwrap_or_default(),
    )
}

async fn run_one(
    world: &World,
    s: &Step,
    n: usize,
    total: usize,
    opts: &RehearseOptions,
) -> StepReport {
    let ui = &opts.ui;
    let command = format!("almarel {}", s.line);
    ui.result("");
    ui.result(&ui.paint(Tone::Bold, &format!("── step {n}/{total} · {}", s.section)));
    let mut sandbox = Vec::new();
    if let Some((hook, what)) = s.before {
        hook(world);
        ui.result(&format!("   {}", ui.paint(Tone::Dim, what)));
        sandbox.push(what.to_owned());
    }
    ui.result(&format!("$ {command}"));

    let (exit, error, output) = if opts.interactive {
        let before = fingerprint(world);
        interactive_pause(ui, world, &command).await;
        let after = fingerprint(world);
        if before == after {
            (None, None, String::new())
        } else {
            (Some(s.expect), None, String::new())
        }
    } else {
        execute(world, s, opts).await
    };

    // The remotes move on their own after a command (a pushed tag starts runs).
    match world.sync() {
        Ok(notes) => {
            for note in notes {
                ui.result(&format!(
                    "   {}",
                    ui.paint(Tone::Dim, &format!("sandbox: {note}"))
                ));
                sandbox.push(note);
            }
        }
        Err(e) => ui.warn(&format!("sandbox: {e}")),
    }
    if let Some((hook, what)) = s.after {
        hook(world);
        ui.result(&format!("   {}", ui.paint(Tone::Dim, what)));
        sandbox.push(what.to_owned());
    }

    let reason_ok = match (s.reason, &error) {
        (Some(want), Some(got)) => got.contains(want),
        (Some(_), None) => opts.interactive,
        (None, _) => true,
    };
    // The error names everything designed, and the captured output shows it.
    let missing: Option<String> = if opts.interactive {
        None
    } else {
        s.also
            .iter()
            .find(|t| !error.as_deref().is_some_and(|e| e.contains(**t)))
            .map(|t| format!("the error should mention `{t}`"))
            .or_else(|| {
                // Case-insensitive: `MIXED` in a table row shows it too.
                let seen = output.to_lowercase();
                s.shows
                    .iter()
                    .find(|t| !seen.contains(&t.to_lowercase()))
                    .map(|t| format!("the output should show `{t}`"))
            })
    };
    let reason_ok = reason_ok && missing.is_none();
    let ok = exit == Some(s.expect) && reason_ok;
    let verdict = match (exit, opts.interactive) {
        (Some(code), false) if exit == Some(s.expect) && !reason_ok => format!(
            "{} exit {code} as designed, but not for the designed reason ({})",
            ui.mark(Tone::Fail),
            missing.clone().unwrap_or_else(|| format!(
                "the error should mention `{}`",
                s.reason.unwrap_or_default()
            ))
        ),
        (Some(code), false) if ok => format!(
            "{} exit {code}, as designed — {}",
            ui.mark(Tone::Ok),
            s.explain
        ),
        (Some(_), true) => format!(
            "{} the sandbox saw the command (designed exit code: {}) — {}",
            ui.mark(Tone::Ok),
            s.expect,
            s.explain
        ),
        (Some(code), false) => format!(
            "{} exit {code}, designed to exit {} — {}",
            ui.mark(Tone::Fail),
            s.expect,
            s.explain
        ),
        (None, _) => format!(
            "{} nothing reached the sandbox: was `{command}` run with the environment above?",
            ui.mark(Tone::Fail)
        ),
    };
    ui.result(&verdict);
    StepReport {
        section: s.section.to_owned(),
        command,
        expected: s.expect,
        exit: if opts.interactive { None } else { exit },
        error,
        sandbox,
        ok,
        output,
    }
}

async fn interactive_pause(ui: &Ui, world: &World, command: &str) {
    ui.result(&format!(
        "   in your second terminal: almarel -C {} {}",
        shell_quote(&world.git.clone.display().to_string()),
        command.trim_start_matches("almarel ")
    ));
    ui.progress("press Enter once it has finished…");
    let _ = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    })
    .await;
}

/// Runs the step's command in-process against the sandbox; returns the exit
/// code, the error text and (when captured) the output.
async fn execute(
    world: &World,
    s: &Step,
    opts: &RehearseOptions,
) -> (Option<u8>, Option<String>, String) {
    let mut argv = vec!["almarel".to_owned()];
    argv.extend(s.args.iter().cloned());
    let cli = match <Cli as clap::Parser>::try_parse_from(&argv) {
        Ok(c) => c,
        Err(e) => {
            let msg = format!("the rehearsal's command line does not parse: {e}");
            opts.ui.error(&Error::local(msg.clone()));
            return (Some(2), Some(msg), String::new());
        }
    };
    if matches!(cli.command, Command::Rehearse(_)) {
        return (
            Some(2),
            Some("a rehearsal cannot nest".into()),
            String::new(),
        );
    }
    let mut global = cli.global.clone();
    global.dir = Some(world.git.clone.clone());
    global.config = Some(world.config.clone());
    let mut pairs = world.env_pairs();
    pairs.extend(opts.extra_env.iter().cloned());
    let env = Env::from_pairs(pairs);
    // `--env NAME` picks the environment, as in `crate::run`.
    let settings = match Settings::resolve(&global, &env, &world.git.clone)
        .and_then(|s| s.select_environment(cli.environment.env.as_deref()))
    {
        Ok(s) => s,
        Err(e) => {
            opts.ui.error(&e);
            return (Some(e.exit_code()), Some(e.message), String::new());
        }
    };
    // A step that must show something is captured to be checked, then echoed.
    let echo = !opts.capture && !s.shows.is_empty();
    let (ui, store) = if opts.capture || echo {
        let (ui, store) = Ui::captured(&settings.global);
        (ui, Some(store))
    } else {
        (Ui::new(&settings.global, &env), None)
    };
    let ctx = Context::new(settings, ui.clone(), env);
    let outcome = Box::pin(super::run(&ctx, &cli.command)).await;
    let error = outcome.as_ref().err().map(|e| match e.hint() {
        Some(h) => format!("{} (hint: {h})", e.message),
        None => e.message.clone(),
    });
    let code = super::finish(&ui, outcome);
    let output = store
        .and_then(|s| {
            s.lock().ok().map(|c| {
                if echo {
                    c.stdout.lines().for_each(|l| opts.ui.result(l));
                    c.stderr.lines().for_each(|l| opts.ui.progress(l));
                }
                format!("{}{}", c.stdout, c.stderr)
            })
        })
        .unwrap_or_default();
    (Some(code), error, output)
}

/// How long the rehearsal waits, at the end, for a deploy run's job.
const JOB_DEADLINE: Duration = Duration::from_secs(120);

/// The deploy workflow whose approved runs deploy in the sandbox.
const DEPLOY_WORKFLOW: &str = "Deploy to Production";

/// Makes every approved deploy run do what `docs/workflows/deploy-production.yml`
/// does after the approval: check out the run's commit, then `almarel deploy
/// <sha> --yes --timeout 20m` and, when it succeeded, `almarel verify
/// --expect-sha <sha> --wait 5m`, both in GitHub Actions mode (no prompts,
/// step summary, outputs) — the same code, run in-process. The run is
/// `in_progress` meanwhile and concludes `success` only when both exited 0.
fn install_deploy_job(world: &World, opts: &RehearseOptions) {
    let runner = world.actions_runner();
    let config = world.config.clone();
    let extra = opts.extra_env.clone();
    world.github.on_approved(
        DEPLOY_WORKFLOW,
        std::sync::Arc::new(move |run: RunInfo| {
            let (runner, config, extra) = (runner.clone(), config.clone(), extra.clone());
            Box::pin(async move {
                // The job runs on its own thread and runtime, as on a runner
                // (the commands' futures are not `Send`). A job that panics
                // drops its sender: the run concludes failure.
                let (tx, rx) = tokio::sync::oneshot::channel();
                let spawned = std::thread::Builder::new()
                    .name(format!("deploy-run-{}", run.id))
                    .spawn(move || {
                        let outcome = match tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                        {
                            Ok(rt) => rt.block_on(deploy_job(runner, config, extra, run)),
                            Err(e) => JobOutcome::failure(&format!("no runner: {e}")),
                        };
                        let _ = tx.send(outcome);
                    });
                match spawned {
                    Ok(_) => rx.await.unwrap_or_else(|_| {
                        JobOutcome::failure("the job ended without a result (it panicked)")
                    }),
                    Err(e) => JobOutcome::failure(&format!("no runner: {e}")),
                }
            }) as almarel_sandbox::github::JobFuture
        }),
    );
}

/// The deploy job of one approved run (see [`install_deploy_job`]).
async fn deploy_job(
    runner: ActionsRunner,
    config: PathBuf,
    extra: Vec<(String, String)>,
    run: RunInfo,
) -> JobOutcome {
    let workspace = match runner.checkout(&run) {
        Ok(w) => w,
        Err(e) => return JobOutcome::failure(&format!("actions/checkout failed: {e}")),
    };
    let sha = run.head_sha.clone();
    let steps = [
        (
            "deploy to Coolify",
            format!("deploy {sha} --yes --timeout 20m"),
        ),
        (
            "verify production",
            format!("verify --expect-sha {sha} --wait 5m"),
        ),
    ];
    let mut log = String::new();
    let mut did: Vec<String> = Vec::new();
    let mut tag: Option<String> = None;
    for (i, (name, line)) in steps.iter().enumerate() {
        let (mut env, files) = runner.step_env(&run, i + 1);
        env.extend(extra.iter().cloned());
        log.push_str(&format!("##[group]{name}: almarel {line}\n"));
        let (code, error, output) = run_actions_step(&workspace, &config, env, line).await;
        log.push_str(&output);
        log.push_str("##[endgroup]\n");
        let outputs = read_outputs(&files.output);
        if i == 0 {
            tag = outputs
                .iter()
                .find(|(k, _)| k == "tag")
                .map(|(_, v)| v.clone());
            did.push(deployed(code, error.as_deref(), &outputs));
        } else {
            let what = tag.clone().unwrap_or_else(|| short_sha(&sha).to_owned());
            did.push(match code {
                0 => format!("verified {what}"),
                c => format!(
                    "`almarel verify` exited {c}: {}",
                    error.as_deref().unwrap_or("see the log")
                ),
            });
        }
        if code != 0 {
            log.push_str(&format!(
                "##[error]Process completed with exit code {code}.\n"
            ));
            return JobOutcome {
                conclusion: "failure".into(),
                summary: did.join("; "),
                log,
            };
        }
    }
    JobOutcome {
        conclusion: "success".into(),
        summary: did.join("; "),
        log,
    }
}

/// What the deploy step did, from its `deployments` output (`[{app, uuid,
/// status}]`) and exit code.
fn deployed(code: u8, error: Option<&str>, outputs: &[(String, String)]) -> String {
    let get = |k: &str| {
        outputs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let apps: Vec<(String, String)> = get("deployments")
        .and_then(|d| serde_json::from_str::<Vec<Value>>(d).ok())
        .unwrap_or_default()
        .iter()
        .map(|d| {
            (
                d["app"].as_str().unwrap_or("?").to_owned(),
                d["status"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect();
    let tag = get("tag").map(|t| format!(" ({t})")).unwrap_or_default();
    if code == 0 {
        let names: Vec<&str> = apps.iter().map(|(a, _)| a.as_str()).collect();
        return format!("deployed {}{tag}", names.join(", "));
    }
    let states: Vec<String> = apps.iter().map(|(a, s)| format!("{a} {s}")).collect();
    let why = if states.is_empty() {
        error.unwrap_or("see the log").to_owned()
    } else {
        states.join(", ")
    };
    format!("`almarel deploy` exited {code}{tag}: {why}")
}

/// Reads a `$GITHUB_OUTPUT` file: `key=value` lines and the
/// `key<<DELIMITER` … `DELIMITER` form.
fn read_outputs(path: &std::path::Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((key, delim)) = line.split_once("<<") {
            let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delim).collect();
            out.push((key.to_owned(), value.join("\n")));
        } else if let Some((key, value)) = line.split_once('=') {
            out.push((key.to_owned(), value.to_owned()));
        }
    }
    out
}

/// Runs one workflow step's `almarel` command line in-process, in GitHub
/// Actions mode (`env` has `GITHUB_ACTIONS=true`), in `workspace`, output
/// captured; returns the exit code, the error text and the output.
async fn run_actions_step(
    workspace: &std::path::Path,
    config: &std::path::Path,
    env: Vec<(String, String)>,
    line: &str,
) -> (u8, Option<String>, String) {
    let mut argv = vec!["almarel".to_owned()];
    argv.extend(split_line(line));
    let cli = match <Cli as clap::Parser>::try_parse_from(&argv) {
        Ok(c) => c,
        Err(e) => {
            return (
                2,
                Some(format!("the step does not parse: {e}")),
                String::new(),
            );
        }
    };
    let mut global = cli.global.clone();
    global.dir = Some(workspace.to_path_buf());
    global.config = Some(config.to_path_buf());
    let env = Env::from_pairs(env);
    let settings = match Settings::resolve(&global, &env, workspace) {
        Ok(s) => s,
        Err(e) => return (e.exit_code(), Some(e.message), String::new()),
    };
    let (ui, store) = Ui::captured(&settings.global);
    let ui = ui.with_actions_env(&env);
    let ctx = Context::new(settings, ui.clone(), env);
    let outcome = Box::pin(super::run(&ctx, &cli.command)).await;
    let error = outcome.as_ref().err().map(|e| match e.hint() {
        Some(h) => format!("{} (hint: {h})", e.message),
        None => e.message.clone(),
    });
    let code = super::finish(&ui, outcome);
    let output = store
        .lock()
        .map(|c| format!("{}{}", c.stdout, c.stderr))
        .unwrap_or_default();
    (code, error, output)
}

/// Splits a command line on spaces, keeping `"double quoted"` words whole.
fn split_line(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::ColorChoice;
    use crate::settings::Global;

    fn quiet_ui() -> (Ui, std::sync::Arc<std::sync::Mutex<crate::ui::Captured>>) {
        Ui::captured(&Global {
            json: false,
            yes: false,
            dry_run: false,
            quiet: false,
            verbose: 0,
            color: ColorChoice::Never,
        })
    }

    #[test]
    fn command_lines_split_like_a_shell_for_double_quotes() {
        assert_eq!(
            split_line(r#"freeze --reason "web deploy failed" --yes"#),
            ["freeze", "--reason", "web deploy failed", "--yes"]
        );
        assert_eq!(split_line("tag  1.3.0 "), ["tag", "1.3.0"]);
        assert_eq!(split_line(r#"x """#), ["x", ""]);
    }

    #[test]
    fn every_scenario_line_parses_with_the_real_command_tree() {
        for s in [
            Scenario::Release,
            Scenario::FailedDeploy,
            Scenario::RcToProduction,
            Scenario::Migration,
            Scenario::RedCi,
            Scenario::RollForward,
        ] {
            for st in plan(s).steps {
                let mut argv = vec!["almarel".to_owned()];
                argv.extend(st.args.clone());
                assert!(
                    <Cli as clap::Parser>::try_parse_from(&argv).is_ok(),
                    "{}: {}",
                    scenario_name(s),
                    st.line
                );
            }
        }
    }

    /// A step that ends otherwise than designed stops the rehearsal, names
    /// the step, and the sandbox is still removed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_deviating_step_is_named_and_the_sandbox_removed() {
        let mut p = plan(Scenario::RedCi);
        p.steps.truncate(1);
        p.steps[0].expect = 3; // `tag 1.3.0` succeeds: exit 0
        let (ui, store) = quiet_ui();
        let r = run_plan("red-ci", p, RehearseOptions::captured(ui))
            .await
            .expect("sandbox");
        assert_eq!(
            r.deviation.as_deref(),
            Some("step 1/1 `almarel tag 1.3.0` exited 0, designed to exit 3")
        );
        assert!(!r.sandbox_dir.exists());
        let out = store.lock().map(|c| c.stdout.clone()).unwrap_or_default();
        assert!(out.contains("✗ exit 0, designed to exit 3"), "{out}");
        // The tag really was pushed before the deviation was noticed.
        assert!(r.origin_refs.iter().any(|x| x.name == "refs/tags/v1.3.0"));
    }

    /// A step whose output must show a text that it does not show deviates,
    /// and so does one whose error does not name everything designed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_step_that_does_not_show_or_name_what_is_designed_deviates() {
        let mut p = plan(Scenario::RedCi);
        p.steps.truncate(1);
        p.steps[0] = p.steps[0].clone().showing(&["no such text"]);
        let (ui, store) = quiet_ui();
        let r = run_plan("red-ci", p, RehearseOptions::captured(ui))
            .await
            .expect("sandbox");
        assert_eq!(
            r.deviation.as_deref(),
            Some("step 1/1 `almarel tag 1.3.0` exited 0 for another reason than designed")
        );
        let out = store.lock().map(|c| c.stdout.clone()).unwrap_or_default();
        assert!(
            out.contains("the output should show `no such text`"),
            "{out}"
        );

        let mut p = plan(Scenario::Migration);
        p.steps.truncate(1);
        p.steps[0] = p.steps[0].clone().naming(&["no such hint"]);
        let (ui, store) = quiet_ui();
        let r = run_plan("migration", p, RehearseOptions::captured(ui))
            .await
            .expect("sandbox");
        assert!(r.deviation.is_some());
        let out = store.lock().map(|c| c.stdout.clone()).unwrap_or_default();
        assert!(
            out.contains("the error should mention `no such hint`"),
            "{out}"
        );
    }

    /// A designed refusal for another reason than designed is a deviation.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refusal_for_another_reason_is_a_deviation() {
        let mut p = plan(Scenario::Migration);
        p.steps.truncate(1);
        p.steps[0].reason = Some("no such reason");
        let (ui, _) = quiet_ui();
        let r = run_plan("migration", p, RehearseOptions::captured(ui))
            .await
            .expect("sandbox");
        assert_eq!(
            r.deviation.as_deref(),
            Some(
                "step 1/1 `almarel rollback --wait 30s --yes` exited 3 for another reason than designed"
            )
        );
    }
}
