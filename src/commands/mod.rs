//! One file per verb. Every command takes a resolved request and returns a
//! typed report (`run(ctx, request) -> Result<ItsReport>`, see
//! [`crate::report`]). [`finish`] renders the outcome once (human, `--json`
//! or Actions) and prints the `next:` line; failures are [`Error`]s whose
//! kind decides the exit code and whose `data` carries partial results.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::cli::Command;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::journal::Snapshot;
use crate::report::{Next, Outcome, Report};
use crate::signals::{Listener, Signal};
use crate::ui::Ui;

pub mod approve;
pub mod checklist;
pub mod completions;
pub mod deploy;
pub mod doctor;
pub mod freeze;
pub mod init;
pub mod rehearse;
pub mod rollback;
pub mod status;
pub mod tag;
pub mod verify;

/// Whether `command` changes something (its audit log must be writable
/// before its first request, unless it is a dry run).
fn changes_something(command: &Command) -> bool {
    matches!(
        command,
        Command::Tag(_)
            | Command::Approve(_)
            | Command::Deploy(_)
            | Command::Freeze(_)
            | Command::Unfreeze(_)
            | Command::Rollback(_)
    )
}

/// SPEC §7.2: a changing command (not a dry run) whose audit log cannot be
/// written refuses before its first request (exit 2, naming the path).
fn audit_guard(ctx: &Context, command: &Command) -> Result<()> {
    if changes_something(command) && !ctx.settings.global.dry_run {
        ctx.audit.check_writable()?;
    }
    Ok(())
}

/// Runs one command.
pub async fn run(ctx: &Context, command: &Command) -> Result<Outcome> {
    let outcome = dispatch(ctx, command).await?;
    // `--env NAME` carries over to the next step, so it acts on the same
    // environment (a staging verify's next step is not production's).
    Ok(match outcome {
        Outcome::Report(inner) if ctx.settings.environment_given => {
            Outcome::Report(Box::new(InEnvironment {
                inner,
                env: ctx.settings.environment.name.clone(),
            }))
        }
        other => other,
    })
}

/// A report whose `next` keeps the `--env` the command ran with.
struct InEnvironment {
    inner: Box<dyn crate::report::Rendered>,
    env: String,
}

impl crate::report::Rendered for InEnvironment {
    fn render(&self, ui: &Ui) {
        self.inner.render(ui);
    }
    fn next(&self) -> Option<Next> {
        let next = self.inner.next()?;
        Some(crate::release::environments::add_env(next, &self.env))
    }
    fn outputs(&self) -> Vec<(&'static str, String)> {
        self.inner.outputs()
    }
    fn summary(&self) -> Option<String> {
        self.inner.summary()
    }
    fn to_json(&self) -> Value {
        self.inner.to_json()
    }
}

async fn dispatch(ctx: &Context, command: &Command) -> Result<Outcome> {
    if !matches!(command, Command::Tag(_) | Command::Approve(_)) {
        audit_guard(ctx, command)?;
    }
    match command {
        Command::Tag(a) => {
            // Usage errors in the arguments first (exit 2, nothing read or sent).
            let request = crate::resolve::tag(a, &ctx.settings)?;
            audit_guard(ctx, command)?;
            tag::run(ctx, &request).await.map(Outcome::report)
        }
        Command::Status(a) => {
            let request = crate::resolve::status(a, &ctx.settings)?;
            status::run(ctx, &request).await.map(Outcome::report)
        }
        Command::Approve(a) => {
            let request = crate::resolve::approve(a, &ctx.settings)?;
            audit_guard(ctx, command)?;
            approve::run(ctx, &request).await.map(Outcome::report)
        }
        Command::Deploy(a) => {
            let request = crate::resolve::deploy(a, &ctx.settings)?;
            deploy::run(ctx, &request).await.map(Outcome::report)
        }
        Command::Verify(a) => {
            let request = crate::resolve::verify(a, &ctx.settings)?;
            verify::run(ctx, &request).await.map(Outcome::report)
        }
        Command::Freeze(a) => {
            let request = crate::resolve::freeze(a)?;
            freeze::run_freeze(ctx, &request).await.map(Outcome::report)
        }
        Command::Unfreeze(a) => {
            let request = crate::resolve::unfreeze(a, &ctx.settings)?;
            freeze::run_unfreeze(ctx, &request)
                .await
                .map(Outcome::report)
        }
        Command::Rollback(a) => {
            let request = crate::resolve::rollback(a, &ctx.settings)?;
            rollback::run(ctx, &request).await.map(Outcome::report)
        }
        Command::Checklist(a) => {
            let request = crate::resolve::checklist(a, &ctx.settings)?;
            checklist::run(ctx, &request).await.map(Outcome::report)
        }
        Command::Rehearse(a) => {
            let request = crate::resolve::rehearse(a, &ctx.settings)?;
            rehearse::run(ctx, &request).await.map(Outcome::report)
        }
        Command::Doctor(a) => {
            let request = crate::resolve::doctor(a, &ctx.settings)?;
            doctor::run(ctx, &request).await.map(Outcome::report)
        }
        Command::Init(a) => {
            let request = crate::resolve::init(a, &ctx.settings)?;
            init::run(ctx, &request).await.map(Outcome::report)
        }
        Command::Completions(a) => {
            let request = crate::resolve::completions(a)?;
            completions::run_completions(&request).map(Outcome::report)
        }
        Command::Man(a) => {
            let request = crate::resolve::man(a)?;
            completions::run_man(&request).map(Outcome::report)
        }
    }
}

/// Runs one command; SIGINT, SIGTERM or SIGHUP stop it with an interrupted
/// error (exit 130 / 143 / 129) listing what was done, what was in flight and
/// what was not started (SPEC §7.1), and finishing open audit entries.
pub async fn run_interruptible(ctx: &Context, command: &Command) -> Result<Outcome> {
    let mut signals = Listener::install();
    tokio::select! {
        r = run(ctx, command) => r,
        sig = signals.recv() => Err(interrupted(ctx, command, sig)),
    }
}

/// An interruption's `--json` data: the journal (`done`, `in_flight`,
/// `not_started`, `failed`), the signal, and the exact continuation when the
/// command set one.
#[derive(Serialize)]
struct Interruption<'a> {
    #[serde(flatten)]
    journal: &'a Snapshot,
    signal: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<&'a Next>,
}

/// The interruption error for `command`, stopped by `sig`.
fn interrupted(ctx: &Context, command: &Command, sig: Signal) -> Error {
    if matches!(command, Command::Rehearse(_)) {
        // The rehearsal's future (and its sandbox) is dropped by now.
        return Error::interrupted_by(
            sig,
            format!(
                "rehearsal interrupted ({sig}); its sandbox was stopped and removed, nothing outside it was touched"
            ),
        )
        .with_hint("re-run `almarel rehearse` to start over");
    }
    ctx.audit_interrupted(sig);
    let snap = ctx.journal.snapshot();
    // The command set the exact continuation once its targets were decided;
    // it acts on the same environment (`--env`) as this run.
    let next = ctx
        .journal
        .resume()
        .filter(|_| !snap.nothing_sent())
        .map(|n| crate::release::environments::next_with_env(&ctx.settings, n));
    let mut error =
        Error::interrupted_by(sig, interruption_message(sig, &snap)).with_report(&Interruption {
            journal: &snap,
            signal: sig.name(),
            next: next.as_ref(),
        });
    for w in &snap.in_flight {
        error = error.with_hint(match &w.check {
            Some(check) => format!("{} may have been applied; check with `{check}`", w.write),
            None => format!("{} may have been applied", w.write),
        });
    }
    if let Some(next) = next {
        ctx.ui.next(&next.to_string());
        return error.with_hint(format!(
            "continue with `{next}`: the target stays the one already decided"
        ));
    }
    error.with_hint(resume_hint(command, &snap))
}

fn interruption_message(sig: Signal, snap: &Snapshot) -> String {
    let by = match sig {
        Signal::Int => "interrupted".to_owned(),
        other => format!("interrupted by {other}"),
    };
    if snap.nothing_sent() {
        let planned = if snap.not_started.is_empty() {
            String::new()
        } else {
            format!(" (not started: {})", snap.not_started.join("; "))
        };
        return format!("{by}; nothing was changed yet{planned}");
    }
    let mut parts = Vec::new();
    if !snap.done.is_empty() {
        parts.push(format!("already done: {}", snap.done.join("; ")));
    }
    if !snap.in_flight.is_empty() {
        let writes: Vec<&str> = snap.in_flight.iter().map(|w| w.write.as_str()).collect();
        parts.push(format!(
            "in flight (may have been applied): {}",
            writes.join("; ")
        ));
    }
    if !snap.failed.is_empty() {
        let failed: Vec<String> = snap
            .failed
            .iter()
            .map(|f| format!("{} ({})", f.write, f.why))
            .collect();
        parts.push(format!("failed: {}", failed.join("; ")));
    }
    if !snap.not_started.is_empty() {
        parts.push(format!("not started: {}", snap.not_started.join("; ")));
    }
    format!("{by}; {}", parts.join("; "))
}

/// Says "re-run" only where a re-run continues safely; otherwise names what to check.
fn resume_hint(command: &Command, snap: &Snapshot) -> String {
    if snap.nothing_sent() {
        return "re-run the same command: nothing was changed, it starts over".to_owned();
    }
    match command {
        Command::Tag(a) => {
            // The overrides given stay: a re-run checks the gap and the commit again.
            let mut words = vec!["tag", a.version.as_str()];
            if a.allow_gap {
                words.push("--allow-gap");
            }
            if a.allow_same_commit {
                words.push("--allow-same-commit");
            }
            format!(
                "re-run `{}`: it says \"already tagged\" if the push landed, else pushes the tag",
                Next::new(words)
            )
        }
        Command::Approve(_) => approve::resume_hint(snap),
        Command::Freeze(a) => {
            let mut words = vec!["freeze", "--reason", a.reason.as_str()];
            if a.cancel_running {
                words.push("--cancel-running");
            }
            format!(
                "re-run `{}`: it finds what was already done (the workflow disabled, the record written, deployments rejected) and does the rest",
                Next::new(words)
            )
        }
        Command::Unfreeze(a) => {
            let mut words = vec!["unfreeze"];
            if let Some(t) = &a.only {
                words.extend(["--only", t.as_str()]);
            }
            format!(
                "re-run `{}`: it finds what was already done and does the rest",
                Next::new(words)
            )
        }
        Command::Deploy(_) | Command::Rollback(_) => {
            "a re-run decides anew: check what production runs with `almarel status` before deploying again".to_owned()
        }
        Command::Init(_) => {
            "the config file was written: check it with `almarel doctor` (re-running init needs --force)".to_owned()
        }
        _ => "re-run the same command: it changes nothing".to_owned(),
    }
}

/// Prints the outcome (human, `--json`, Actions; the `next:` line) and
/// returns the exit code. A failed write to stdout is reported on stderr
/// and exits 1; a reader that closed the pipe early is not an error.
pub fn finish(ui: &Ui, outcome: Result<Outcome>) -> u8 {
    let code = match outcome {
        Ok(Outcome::Report(report)) => {
            let next = report.next();
            if ui.is_json() {
                let mut obj = Map::new();
                obj.insert("ok".into(), Value::Bool(true));
                merge(&mut obj, report.to_json());
                if let Some(n) = &next {
                    obj.insert("next".into(), Value::String(n.to_string()));
                }
                ui.emit_json(&Value::Object(obj));
            } else {
                report.render(ui);
            }
            if ui.in_github_actions() {
                for (k, v) in report.outputs() {
                    if let Err(e) = ui.output(k, &v) {
                        ui.warn(&e.message);
                    }
                }
                if let Some(md) = report.summary() {
                    if let Err(e) = ui.summary(&md) {
                        ui.warn(&e.message);
                    }
                }
            }
            if let Some(n) = &next {
                ui.next(&n.to_string());
            }
            0
        }
        Err(e) => {
            ui.error(&e);
            if ui.is_json() {
                ui.emit_json(&error_json(&e));
            }
            e.exit_code()
        }
    };
    if let Some(why) = ui.stdout_failure() {
        ui.error(
            &Error::local(format!("cannot write the results to stdout: {why}"))
                .with_code("stdout_failed"),
        );
        return if code == 0 { 1 } else { code };
    }
    code
}

/// The `error` member of a failure's `--json` object (`docs/json.md`).
#[derive(Serialize)]
struct ErrorObject<'a> {
    kind: &'static str,
    code: Option<&'static str>,
    message: &'a str,
    hints: &'a [String],
    hint: Option<&'a str>,
}

/// The `--json` object for an error.
pub fn error_json(e: &Error) -> Value {
    let mut obj = Map::new();
    obj.insert("ok".into(), Value::Bool(false));
    let error = ErrorObject {
        kind: e.kind.name(),
        code: e.code,
        message: &e.message,
        hints: &e.hints,
        hint: e.hint(),
    };
    obj.insert(
        "error".into(),
        serde_json::to_value(error).unwrap_or(Value::Null),
    );
    if let Some(data) = &e.data {
        merge(&mut obj, (**data).clone());
    }
    Value::Object(obj)
}

fn merge(obj: &mut Map<String, Value>, data: Value) {
    match data {
        Value::Object(m) => {
            for (k, v) in m {
                if k != "ok" && k != "error" {
                    obj.insert(k, v);
                }
            }
        }
        Value::Null => {}
        other => {
            obj.insert("result".into(), other);
        }
    }
}

/// A failure that carries a typed report: the report is rendered for humans
/// (a failed check list is still shown), its Actions outputs and summary are
/// written, and it becomes the error's `--json` data. `finish` then prints
/// the error.
pub(crate) fn fail_with<R: Report>(ui: &Ui, report: &R, error: Error) -> Error {
    if !ui.is_json() {
        report.render(ui);
    }
    if ui.in_github_actions() {
        for (k, v) in report.outputs() {
            if let Err(e) = ui.output(k, &v) {
                ui.warn(&e.message);
            }
        }
        if let Some(md) = report.summary() {
            if let Err(e) = ui.summary(&md) {
                ui.warn(&e.message);
            }
        }
    }
    error.with_report(report)
}
