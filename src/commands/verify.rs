//! `almarel verify`: health 200, `/api/version` SHA = expected, web app
//! answers HTML, smoke steps (SPEC §3 verify). The checks live in
//! [`crate::probe`]; this file resolves the expected SHA and reports.

use serde::Serialize;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::probe::{self, Check, VerifyReport as Probed};
use crate::release::evidence::{self, Evidence, Recorded};
use crate::release::live::{self, AppPlace, AppsRead, LiveReport};
use crate::release::tags::{release_tag_of, release_tags_at};
use crate::report::Report;
use crate::ui::{self, Tone, Ui};
use crate::version::{ReleaseTag, short_sha};

/// What production must run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// This commit (full or abbreviated, lower-case).
    Sha(String),
    /// The commit of this release tag (the full tag name).
    Tag(String),
}

/// What `almarel verify` is asked to check (resolved from the flags by
/// [`crate::resolve::verify`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// What production must run.
    pub expect: Expect,
    /// Retry failing checks until they pass or this runs out (zero: one attempt).
    pub wait: std::time::Duration,
    /// Pause between attempts.
    pub interval: std::time::Duration,
    /// Record the verdict in GitHub (false with `--no-record`).
    pub record: bool,
}

/// The result of `almarel verify` (its `--json` object; see `docs/json.md`).
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// The commit production must run.
    pub expected_sha: String,
    /// The release tag it was given as (`null` with `--expect-sha`).
    pub expected_tag: Option<String>,
    /// How many attempts were made.
    pub attempts: u32,
    /// Every check of the last attempt, then one `app: NAME` per Coolify app.
    pub checks: Vec<Check>,
    /// Live / mixed / not yet (SPEC §7.4); `null` when Coolify is not
    /// configured or its token is not set.
    pub live: Option<LiveReport>,
    /// The verdict recorded as a GitHub deployment status (SPEC §8.3);
    /// absent with `--no-record`, `--dry-run`, or without GitHub.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<EvidenceOut>,
    #[serde(skip)]
    what: String,
    #[serde(skip)]
    place: String,
}

/// What verify recorded in GitHub (`evidence` in `--json`).
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceOut {
    /// The GitHub Environment.
    pub environment: String,
    /// `recorded`, `cannot_record` or `unknown`, with the ids.
    #[serde(flatten)]
    pub recorded: Recorded,
    /// Why it was not recorded (also printed as a warning).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl VerifyReport {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
}

impl Report for VerifyReport {
    fn render(&self, ui: &Ui) {
        for line in check_table(ui, &self.checks, "") {
            ui.result(&line);
        }
        if self.passed() {
            ui.result(&format!(
                "{} runs {}: all {} checks passed",
                self.place,
                self.what,
                self.checks.len()
            ));
        }
        if let Some(e) = &self.evidence {
            if let Recorded::Recorded { state, .. } = &e.recorded {
                ui.result(&format!(
                    "recorded as a deployment status for {} ({})",
                    e.environment,
                    state.as_str()
                ));
            }
        }
    }
    fn summary(&self) -> Option<String> {
        Some(summary_md(&self.checks, &self.what, self.passed()))
    }
}

/// Runs `almarel verify`.
pub async fn run(ctx: &Context, req: &Request) -> Result<VerifyReport> {
    let (expected, expected_tag) = match &req.expect {
        Expect::Sha(sha) => (sha.clone(), None),
        Expect::Tag(name) => {
            let sha = crate::release::target::tag_commit(ctx, name).await?;
            (probe::parse_sha(&sha)?, Some(name.clone()))
        }
    };
    let prober = ctx.prober(&expected)?;
    let what = match &expected_tag {
        Some(t) => format!("{t} ({})", short_sha(&expected)),
        None => short_sha(&expected).to_owned(),
    };
    ctx.ui
        .progress(&format!("verifying that {} runs {what}", place(ctx)));
    let (wait, interval) = (req.wait, req.interval);
    let line = LiveLine::new(&ctx.ui);
    let mut probed = probe::verify(&prober, wait, interval, |n, checks| {
        let failing: Vec<String> = checks
            .iter()
            .filter(|c| !c.ok && !c.skipped)
            .map(|c| format!("{} ({})", c.name, c.detail))
            .collect();
        line.show(&format!(
            "attempt {n}: failing: {}; retrying in {} (waiting up to {})",
            failing.join(", "),
            humantime::format_duration(interval),
            humantime::format_duration(wait)
        ));
    })
    .await;
    line.finish();
    annotate_running_tag(ctx, &mut probed).await;
    let live = check_apps(ctx, &mut probed, &expected, expected_tag.as_deref()).await?;
    if probed.attempts > 1 {
        ctx.ui.progress(&format!("{} attempts", probed.attempts));
    }
    let mut report = VerifyReport {
        expected_sha: expected.clone(),
        expected_tag: expected_tag.clone(),
        attempts: probed.attempts,
        checks: probed.checks,
        live,
        evidence: None,
        what: what.clone(),
        place: place(ctx),
    };
    report.evidence = record(ctx, req, &report).await;
    if report.passed() {
        return Ok(report);
    }
    let error = failure(&report, &what, &expected, expected_tag.as_deref());
    Err(super::fail_with(&ctx.ui, &report, error))
}

/// `production`, or `staging` with `--env staging`.
fn place(ctx: &Context) -> String {
    ctx.settings.environment.name.clone()
}

/// Records the verdict as one GitHub deployment status (SPEC §8.3), unless
/// `--no-record`, `--dry-run`, or GitHub is not configured (no repository or
/// no token). Never fails: what could not be recorded is a warning.
async fn record(ctx: &Context, req: &Request, report: &VerifyReport) -> Option<EvidenceOut> {
    let environment = ctx.settings.github.environment.clone();
    if !req.record {
        ctx.ui
            .detail(1, "--no-record: the verdict is not recorded in GitHub");
        return None;
    }
    if ctx.settings.global.dry_run {
        ctx.ui.progress(&format!(
            "dry run: the verdict is not recorded in GitHub environment {environment}"
        ));
        return None;
    }
    if ctx.settings.github.repository.is_none()
        || crate::auth::github_token(&ctx.env, &ctx.settings.github.api_url).is_err()
    {
        ctx.ui.detail(
            1,
            "the verdict is not recorded: GitHub is not configured (no repository or no token)",
        );
        return None;
    }
    let ok = report.passed();
    let gh = match ctx.github().await {
        Ok(gh) => gh,
        Err(e) => return Some(not_recorded(ctx, environment, e)),
    };
    // Staging: the digests of the images it runs, for production's
    // promotion check (release::artifact), when the registry answers.
    let what = match staging_digests(ctx, report).await {
        Some(images) => format!("{images}; {}", checked(report)),
        None => checked(report),
    };
    // GitHub's `sha=` filter matches full SHAs only: a short --expect-sha
    // would miss the deployment the approval created and record a second one.
    let sha = match full_sha(ctx, &gh, &report.expected_sha).await {
        Ok(sha) => sha,
        Err(e) => return Some(not_recorded(ctx, environment, e)),
    };
    let found = Evidence {
        environment: environment.clone(),
        sha,
        ok,
        description: ctx.ui.redact(&what),
        environment_url: ctx.settings.verify.web_url.clone(),
        log_url: evidence::actions_run_url(&ctx.env),
    };
    match evidence::record(&gh, &ctx.journal, &found).await {
        Ok(recorded) => {
            let warning = recorded.warning(&environment);
            if let Some(w) = &warning {
                ctx.ui.warn(w);
            }
            Some(EvidenceOut {
                environment,
                recorded,
                warning,
            })
        }
        Err(e) => Some(not_recorded(ctx, environment, e)),
    }
}

/// In staging, after a pass: `api@sha256:… web@sha256:…`, the digest of
/// each app's image tag for the release (`release::artifact`), so that
/// production can deploy exactly what was verified. `None` (and nothing
/// recorded) when this is not staging, Coolify or the registry does not
/// answer for every app, or the text would not fit.
async fn staging_digests(ctx: &Context, report: &VerifyReport) -> Option<String> {
    use crate::release::artifact::{self, AppImage, Lookup};
    let s = &ctx.settings;
    if s.environment.name != crate::settings::STAGING_ENVIRONMENT
        || !report.passed()
        || s.coolify.url.is_none()
        || s.coolify.apps.is_empty()
    {
        return None;
    }
    let coolify = ctx.coolify().ok()?;
    let tag = report
        .expected_tag
        .as_deref()
        .and_then(|t| ReleaseTag::from_name(t, &s.git.tag_prefix));
    let image_tag = artifact::release_tags(
        &s.coolify.image_tag,
        &s.coolify.untagged_image_tag,
        tag.as_ref(),
        &report.expected_sha,
    )
    .ok()?
    .into_iter()
    .next()?;
    let registry = ctx.registry().ok()?;
    let mut images = Vec::new();
    for app in &s.coolify.apps {
        let a = coolify.application(&app.name, &app.uuid).await.ok()?;
        let image = AppImage::from_application(&app.name, &a);
        match artifact::lookup(&registry, &image, &image_tag).await {
            Lookup::Found { digest } => images.push((app.name.clone(), digest)),
            Lookup::Missing => {
                ctx.ui.detail(
                    1,
                    &format!(
                        "{}: {image_tag} is not in the registry: no digest recorded",
                        app.name
                    ),
                );
                return None;
            }
            Lookup::Unknown { reason } => {
                ctx.ui.detail(
                    1,
                    &format!("{}: the image digest cannot be read: {reason}", app.name),
                );
                return None;
            }
        }
    }
    // Room: 140 characters less `almarel verify passed: ` and `; `.
    let room = crate::github::deployments::MAX_DESCRIPTION
        .saturating_sub(evidence::MARKER.len() + "passed: ".len() + 2);
    artifact::record_images(&images, room)
}

/// The full SHA of `sha` (which may be abbreviated): the clone when it has
/// the commit, else GitHub.
async fn full_sha(ctx: &Context, gh: &crate::github::Client, sha: &str) -> Result<String> {
    if sha.len() == 40 {
        return Ok(sha.to_owned());
    }
    let local = crate::git::Repo::discover(&ctx.settings.workdir)
        .and_then(|r| r.commit_info(sha))
        .map(|c| c.sha);
    match local {
        Ok(full) => Ok(full),
        Err(_) => gh.commit(sha).await.map(|c| c.sha),
    }
}

fn not_recorded(ctx: &Context, environment: String, e: Error) -> EvidenceOut {
    let warning = format!(
        "verify's verdict was not recorded in GitHub environment {environment}: {}",
        e.message
    );
    ctx.ui.warn(&warning);
    EvidenceOut {
        environment,
        recorded: Recorded::CannotRecord {
            reason: e.message,
            deployment_id: None,
        },
        warning: Some(warning),
    }
}

/// What was checked, for the status's description: `v1.3.0 (abc1234) in
/// staging: health, version, web passed` / `… failing: version (…); passed: health`.
fn checked(report: &VerifyReport) -> String {
    let names = |ok: bool| -> Vec<String> {
        report
            .checks
            .iter()
            .filter(|c| c.ok == ok && !c.skipped)
            .map(|c| c.name.clone())
            .collect()
    };
    let passed = names(true);
    if report.passed() {
        return format!("{}: {} passed", report.what, passed.join(", "));
    }
    let failing: Vec<String> = report
        .checks
        .iter()
        .filter(|c| !c.ok && !c.skipped)
        .map(|c| format!("{} ({})", c.name, c.detail))
        .collect();
    let mut text = format!("{}: failing {}", report.what, failing.join(", "));
    if !passed.is_empty() {
        text.push_str(&format!("; passed {}", passed.join(", ")));
    }
    text
}

/// `--wait`'s progress: on a terminal one line redrawn in place per
/// attempt; elsewhere (a pipe, a CI log) one line per attempt.
struct LiveLine {
    ui: Ui,
    bar: Option<indicatif::ProgressBar>,
}

impl LiveLine {
    fn new(ui: &Ui) -> LiveLine {
        let bar = ui.is_live().then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {wide_msg}") {
                b.set_style(style);
            }
            b.enable_steady_tick(std::time::Duration::from_millis(200));
            b
        });
        LiveLine {
            ui: ui.clone(),
            bar,
        }
    }
    fn show(&self, text: &str) {
        match &self.bar {
            Some(b) => b.set_message(self.ui.redact(text)),
            None => self.ui.progress(text),
        }
    }
    /// The attempts are over: the line goes (the check table follows).
    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Drop for LiveLine {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            if !b.is_finished() {
                b.abandon();
            }
        }
    }
}

/// The error for a failed verification: a mixed release names both ways
/// out; a version mismatch names what runs; otherwise the failing checks.
fn failure(report: &VerifyReport, what: &str, expected: &str, tag: Option<&str>) -> Error {
    let failing: Vec<&Check> = report.checks.iter().filter(|c| !c.ok).collect();
    let names: Vec<String> = failing.iter().map(|c| c.name.clone()).collect();
    if let Some(live) = report.live.as_ref().filter(|l| l.is_mixed()) {
        let off = live.off_release();
        let parts: Vec<String> = off
            .iter()
            .map(|a| format!("{} is {}", a.app, a.detail()))
            .collect();
        let app = off.first().map_or("", |a| a.app.as_str());
        return Error::failed(format!(
            "the release {what} is mixed: {}; failing: {}",
            parts.join("; "),
            names.join(", ")
        ))
        .with_code("release_mixed")
        .with_hint(format!(
            "finish it with `{}`, or go back with `almarel rollback`",
            live::finish_command(tag, expected, app)
        ));
    }
    let version_off = failing
        .iter()
        .find(|c| c.is_version() && c.running_sha.is_some());
    let message = match version_off {
        Some(c) => format!(
            "{} runs {}{} instead of {what}; failing: {}",
            report.place,
            c.running_sha.as_deref().map(short_sha).unwrap_or("?"),
            c.running_tag
                .as_ref()
                .map(|t| format!(" ({t})"))
                .unwrap_or_default(),
            names.join(", ")
        ),
        None => format!(
            "{} of {} checks failed: {}",
            failing.len(),
            report.checks.len(),
            names.join(", ")
        ),
    };
    match version_off {
        Some(_) => Error::failed(message)
            .with_code("version_mismatch")
            .with_hint("the deployment has not switched yet or did not ship: check `almarel status`, or wait with --wait 5m"),
        None => Error::failed(message)
            .with_code("checks_failed")
            .with_hint(format!("{} is not healthy: check the app's logs in Coolify; `almarel rollback` if it stays down", report.place)),
    }
}

/// Checks every configured Coolify app against the release (SPEC §7.4) with
/// [`live::observe`]: each becomes a check `app: NAME`, passing only when it
/// is on one of the release's image tags with its latest deployment
/// finished. Skipped with a warning naming `COOLIFY_TOKEN` when no token is
/// set; skipped silently when Coolify is not configured.
async fn check_apps(
    ctx: &Context,
    report: &mut Probed,
    expected: &str,
    expected_tag: Option<&str>,
) -> Result<Option<LiveReport>> {
    let coolify = &ctx.settings.coolify;
    if coolify.url.is_none() || coolify.apps.is_empty() {
        return Ok(None);
    }
    let mut tags = release_tags_at(ctx, expected).await;
    if let Some(t) =
        expected_tag.and_then(|t| ReleaseTag::from_name(t, &ctx.settings.git.tag_prefix))
    {
        if !tags.iter().any(|x| x.name == t.name) {
            tags.push(t);
        }
    }
    let running = report
        .checks
        .iter()
        .find(|c| c.is_version())
        .and_then(|c| c.running_sha.clone());
    let seen = live::observe(ctx, expected, &tags, running.as_deref(), None).await;
    let live = match seen.apps {
        AppsRead::NotConfigured => return Ok(None),
        AppsRead::NoToken => {
            ctx.ui.warn(&format!(
                "the Coolify app check was skipped: {} is not set, so a mixed release cannot be seen",
                crate::env::COOLIFY_TOKEN
            ));
            return Ok(None);
        }
        AppsRead::Failed(e) => return Err(e),
        AppsRead::Read(_) => seen.live,
    };
    let Some(live) = live else {
        return Ok(None);
    };
    for a in &live.apps {
        report.checks.push(Check {
            name: format!("app: {}", a.app),
            ok: a.place == AppPlace::OnRelease,
            skipped: false,
            status: None,
            latency_ms: None,
            detail: a.detail(),
            url: String::new(),
            running_sha: None,
            running_tag: None,
        });
    }
    Ok(Some(live))
}

async fn annotate_running_tag(ctx: &Context, report: &mut Probed) {
    for c in report.checks.iter_mut() {
        if c.is_version() && !c.ok {
            if let Some(sha) = c.running_sha.clone() {
                if let Some(tag) = release_tag_of(ctx, &sha).await {
                    c.detail.push_str(&format!(" (running {tag})"));
                    c.running_tag = Some(tag);
                }
            }
        }
    }
}

fn row(ui: &Ui, c: &Check, indent: &str) -> Vec<String> {
    let tone = if c.ok {
        Tone::Ok
    } else if c.skipped {
        Tone::Dim
    } else {
        Tone::Fail
    };
    vec![
        format!("{indent}{}", ui.mark(tone)),
        c.name.clone(),
        c.status.map_or_else(|| "-".into(), |s| s.to_string()),
        c.latency_ms
            .map_or_else(|| "-".into(), |ms| format!("{ms} ms")),
        c.detail.clone(),
    ]
}

/// The check table (status, latency, detail), each line prefixed by `indent`.
fn check_table(ui: &Ui, checks: &[Check], indent: &str) -> Vec<String> {
    let rows: Vec<Vec<String>> = checks.iter().map(|c| row(ui, c, indent)).collect();
    ui::table(&rows)
}

/// The Actions job summary: one table row per check.
fn summary_md(checks: &[Check], what: &str, passed: bool) -> String {
    let mut md = format!(
        "### almarel verify {what}: {}\n\n| check | result | status | latency | detail |\n|---|---|---|---|---|\n",
        if passed { "passed" } else { "failed" }
    );
    for c in checks {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            c.name,
            if c.ok {
                "pass"
            } else if c.skipped {
                "skipped"
            } else {
                "fail"
            },
            c.status.map_or_else(|| "-".into(), |s| s.to_string()),
            c.latency_ms
                .map_or_else(|| "-".into(), |ms| format!("{ms} ms")),
            c.detail.replace('|', "\\|")
        ));
    }
    md
}
