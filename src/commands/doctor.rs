//! `almarel doctor`: runs the setup checks ([`crate::setup`]) and exits 0
//! when a release could go through, 1 otherwise (SPEC §9.2). It changes
//! nothing anywhere.

use crate::context::Context;
use crate::error::{Error, Result};
use crate::report::Report;
use crate::setup::{DoctorReport, examine, render_checks};

/// `almarel doctor` takes no options of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {}

/// Runs doctor: exit 0 when every check passes, else 1 (`doctor_failed`)
/// with the report (`checks`) in `--json`.
pub async fn run(ctx: &Context, _req: &Request) -> Result<DoctorReport> {
    let report = examine(ctx).await;
    if report.ok() {
        return Ok(report);
    }
    // `finish` prints only the error for a failure: the checks (and, in
    // Actions, the job summary) go out here.
    render_checks(&ctx.ui, &report.checks);
    if ctx.ui.in_github_actions() {
        if let Some(md) = report.summary() {
            if let Err(e) = ctx.ui.summary(&md) {
                ctx.ui.warn(&e.message);
            }
        }
    }
    Err(Error::failed(report.verdict())
        .with_code("doctor_failed")
        .with_hint("fix each ✗ as its `fix:` says, then run `almarel doctor` again")
        .with_report(&report))
}
