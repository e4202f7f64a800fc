//! The setup checks behind `almarel doctor` (and the doctor run that
//! `almarel init` ends with): whether a release could go through (SPEC
//! §9.2), each item with pass/fail and its fix. Nothing here writes: every
//! request is a GET, except the Coolify deploy-ability probe (a deploy
//! request naming no application, which deploys nothing).
//!
//! The checks, in order: the GitHub repository and token (where from, its
//! kind, a classic token's scopes), the three workflows (exist, active, and
//! triggered the way almarel expects, read from the clone's workflow files),
//! the environment and whether the caller can approve it (required
//! reviewer, `prevent_self_review`, a token kind that can review), Coolify
//! (answers, token accepted, `deploy` ability, each app a Docker Image app,
//! `read:sensitive` for build logs) and the verify URLs (health 200, version
//! JSON with a SHA field, web HTML).

mod coolify;
mod github;
mod verify;
mod workflows;

use serde::Serialize;

use crate::context::Context;
use crate::error::Error;
use crate::report::{Check, Report};
use crate::settings::Settings;
use crate::ui::{Tone, Ui, table};

pub use workflows::remote_workflow;

/// How long doctor may spend on GitHub's and Coolify's retries and rate
/// limits in all: an unreachable remote fails its check within this, instead
/// of each call waiting out the commands' usual two minutes.
const REMOTE_BUDGET: std::time::Duration = std::time::Duration::from_secs(30);

/// What doctor found.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    /// The config file that was read, if any.
    pub config_file: Option<String>,
    /// Every check, in order: `{name, ok, detail, fix}`.
    pub checks: Vec<Check>,
    /// How many passed.
    pub passed: usize,
    /// How many failed.
    pub failed: usize,
}

impl DoctorReport {
    pub(crate) fn new(settings: &Settings, checks: Vec<Check>) -> DoctorReport {
        let failed = checks.iter().filter(|c| !c.ok).count();
        DoctorReport {
            config_file: settings
                .config_file
                .as_ref()
                .map(|p| p.display().to_string()),
            passed: checks.len() - failed,
            failed,
            checks,
        }
    }

    /// Whether a release could go through (every check passed).
    pub fn ok(&self) -> bool {
        self.failed == 0
    }

    /// The closing line.
    pub fn verdict(&self) -> String {
        if self.ok() {
            format!("{} checks passed: a release could go through", self.passed)
        } else {
            format!(
                "{} of {} checks failed: a release would not go through until they are fixed",
                self.failed,
                self.checks.len()
            )
        }
    }
}

impl Report for DoctorReport {
    fn render(&self, ui: &Ui) {
        render_checks(ui, &self.checks);
        ui.result(&self.verdict());
    }
    fn summary(&self) -> Option<String> {
        let mut md = String::from("### almarel doctor\n\n| | check | detail |\n|---|---|---|\n");
        for c in &self.checks {
            let detail = match &c.fix {
                Some(f) => format!("{} — fix: {f}", c.detail),
                None => c.detail.clone(),
            };
            md.push_str(&format!(
                "| {} | {} | {} |\n",
                if c.ok { "✓" } else { "✗" },
                c.name,
                detail.replace('|', "\\|")
            ));
        }
        md.push_str(&format!("\n{}\n", self.verdict()));
        Some(md)
    }
}

/// Prints the checks as a table, each failing one followed by its fix.
pub fn render_checks(ui: &Ui, checks: &[Check]) {
    let rows: Vec<Vec<String>> = checks
        .iter()
        .map(|c| {
            vec![
                format!("  {}", ui.mark(if c.ok { Tone::Ok } else { Tone::Fail })),
                c.name.clone(),
                c.detail.clone(),
            ]
        })
        .collect();
    let name_width = checks
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0);
    for (line, c) in table(&rows).iter().zip(checks) {
        ui.result(line);
        if let Some(fix) = &c.fix {
            ui.result(&format!(
                "{}{} fix: {fix}",
                " ".repeat(5 + name_width + 2),
                ui.paint(Tone::Dim, "→")
            ));
        }
    }
}

/// Every check, with `ctx`'s settings. Never fails: a check that cannot be
/// made is a failing check saying why.
pub async fn examine(ctx: &Context) -> DoctorReport {
    let mut checks = Vec::new();
    ctx.ui.progress("checking GitHub…");
    github::checks(ctx, &mut checks).await;
    ctx.ui.progress("checking Coolify…");
    coolify::checks(ctx, &mut checks).await;
    ctx.ui.progress("checking the verify URLs…");
    verify::checks(ctx, &mut checks).await;
    DoctorReport::new(&ctx.settings, checks)
}

/// One GET without a token: `(status, content-type, body)` or why it failed.
async fn get(
    url: &str,
    timeout: std::time::Duration,
) -> std::result::Result<(u16, String, String), String> {
    let http = crate::probe::http_client(
        timeout,
        concat!("almarel/", env!("CARGO_PKG_VERSION"), " (doctor)"),
    )
    .map_err(|e| e.message)?;
    let resp = http.get(url).send().await.map_err(|e| {
        if e.is_timeout() {
            "no answer in time".to_owned()
        } else if e.is_connect() {
            "connection failed".to_owned()
        } else {
            "the connection broke".to_owned()
        }
    })?;
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = crate::transport::read_capped_text(resp, crate::transport::MAX_BODY)
        .await
        .map_err(|e| e.reason())?;
    Ok((status, ct, body))
}

/// `name: message` from an error, with its hint (or `fallback`) as the fix.
fn fail_from(name: &str, e: &Error, fallback: &str) -> Check {
    Check::fail(name, e.message.clone(), e.hint().unwrap_or(fallback))
}
