//! `almarel verify`: health 200, `/api/version` SHA = expected, web app
//! answers HTML, smoke steps (SPEC §3 verify). The checks live in
//! [`crate::probe`]; this file resolves the expected SHA and reports.

use serde_json::{Value, json};

use crate::cli::VerifyArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::probe::{self, Check, VerifyReport};
use crate::release::live::{self, AppPlace, AppsRead, LiveReport, Liveness};
use crate::release::tags::{release_tag_of, release_tags_at};
use crate::ui::{self, Tone};
use crate::version::ReleaseTag;

/// Runs `almarel verify`.
pub async fn run(ctx: &Context, args: &VerifyArgs) -> Result<Value> {
    let (expected, expected_tag) = match (&args.expect_sha, &args.expect_tag) {
        (Some(sha), _) => (probe::parse_sha(sha)?, None),
        (None, Some(tag)) => {
            let name = crate::version::parse_tag(tag, &ctx.settings.git.tag_prefix)?;
            let sha = super::deploy::tag_commit(ctx, &name).await?;
            (probe::parse_sha(&sha)?, Some(name))
        }
        (None, None) => {
            return Err(
                Error::usage("verify needs --expect-sha SHA or --expect-tag TAG")
                    .with_hint("e.g. almarel verify --expect-tag v1.2.3"),
            );
        }
    };
    let prober = ctx.prober(&expected)?;
    let what = match &expected_tag {
        Some(t) => format!("{t} ({})", crate::version::short_sha(&expected)),
        None => crate::version::short_sha(&expected).to_owned(),
    };
    ctx.ui
        .progress(&format!("verifying that production runs {what}"));
    let ui = ctx.ui.clone();
    let wait = args.wait;
    let interval = args.interval;
    let mut report = probe::verify(&prober, wait, interval, |n, checks| {
        let failing: Vec<String> = checks
            .iter()
            .filter(|c| !c.ok && !c.skipped)
            .map(|c| format!("{} ({})", c.name, c.detail))
            .collect();
        ui.progress(&format!(
            "attempt {n}: failing: {}; retrying in {} (waiting up to {})",
            failing.join(", "),
            humantime::format_duration(interval),
            humantime::format_duration(wait)
        ));
    })
    .await;
    annotate_running_tag(ctx, &mut report).await;
    let live = check_apps(ctx, &mut report, &expected, expected_tag.as_deref()).await?;
    print_checks(ctx, &report, "");
    summary(ctx, &report, &what)?;
    let data = json!({
        "expected_sha": expected,
        "expected_tag": expected_tag,
        "attempts": report.attempts,
        "checks": report.checks,
        "live": live,
    });
    if report.passed() {
        ctx.ui.result(&format!(
            "production runs {what}: all {} checks passed",
            report.checks.len()
        ));
        return Ok(data);
    }
    let failing = report.failing();
    let names: Vec<String> = failing.iter().map(|c| c.name.clone()).collect();
    if let Some(LiveReport {
        state: Liveness::Mixed { elsewhere, failed },
        apps,
        ..
    }) = &live
    {
        let mut parts: Vec<String> = Vec::new();
        for a in apps
            .iter()
            .filter(|a| elsewhere.contains(&a.app) || failed.contains(&a.app))
        {
            parts.push(format!("{} is {}", a.app, a.detail()));
        }
        return Err(Error::failed(format!(
            "the release {what} is mixed: {}; failing: {}",
            parts.join("; "),
            names.join(", ")
        ))
        .with_hint(format!(
            "finish it with `almarel deploy --tag {} --app {}`, or go back with `almarel rollback`",
            expected_tag.clone().unwrap_or_else(|| expected.clone()),
            elsewhere
                .iter()
                .chain(failed.iter())
                .next()
                .map_or("", String::as_str)
        ))
        .with_data(data));
    }
    let version_off = failing
        .iter()
        .find(|c| c.is_version() && c.running_sha.is_some());
    let message = match version_off {
        Some(c) => format!(
            "production runs {}{} instead of {what}; failing: {}",
            c.running_sha
                .as_deref()
                .map(crate::version::short_sha)
                .unwrap_or("?"),
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
    let hint = if version_off.is_some() {
        "the deployment has not switched yet or did not ship: check `almarel status`, or wait with --wait 5m"
    } else {
        "production is not healthy: check the app's logs in Coolify; `almarel rollback` if it stays down"
    };
    Err(Error::failed(message).with_hint(hint).with_data(data))
}

/// Checks every configured Coolify app against the release (SPEC §7.4) with
/// [`live::observe`]: each becomes a check `app: NAME`, passing only when it
/// is on one of the release's image tags with its latest deployment
/// finished. Skipped with a warning naming `COOLIFY_TOKEN` when no token is
/// set; skipped silently when Coolify is not configured.
async fn check_apps(
    ctx: &Context,
    report: &mut VerifyReport,
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

async fn annotate_running_tag(ctx: &Context, report: &mut VerifyReport) {
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

fn row(ui: &ui::Ui, c: &Check, indent: &str) -> Vec<String> {
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

/// Prints the check table (status, latency, detail), each line prefixed by
/// `indent` (rollback nests it under its step).
pub(crate) fn print_checks(ctx: &Context, report: &VerifyReport, indent: &str) {
    let rows: Vec<Vec<String>> = report
        .checks
        .iter()
        .map(|c| row(&ctx.ui, c, indent))
        .collect();
    for line in ui::table(&rows) {
        ctx.ui.result(&line);
    }
    if report.attempts > 1 {
        ctx.ui.progress(&format!("{} attempts", report.attempts));
    }
}

fn summary(ctx: &Context, report: &VerifyReport, what: &str) -> Result<()> {
    if !ctx.ui.in_github_actions() {
        return Ok(());
    }
    let mut md = format!(
        "### almarel verify {what}: {}\n\n| check | result | status | latency | detail |\n|---|---|---|---|---|\n",
        if report.passed() { "passed" } else { "failed" }
    );
    for c in &report.checks {
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
    ctx.ui.summary(&md)
}
