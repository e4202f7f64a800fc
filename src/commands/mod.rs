//! One file per verb. Each exposes `run(ctx, args) -> Result<Value>`: the
//! `Value` is a JSON object of the command's results (printed with `--json`,
//! merged under `"ok": true`); failures are [`Error`]s whose kind decides the
//! exit code and whose `data` carries partial results.

use serde_json::{Map, Value, json};

use crate::cli::Command;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::ui::Ui;

pub mod approve;
pub mod checklist;
pub mod completions;
pub mod deploy;
pub mod freeze;
pub mod rehearse;
pub mod rollback;
pub mod status;
pub mod tag;
pub mod verify;

/// Runs one command.
pub async fn run(ctx: &Context, command: &Command) -> Result<Value> {
    match command {
        Command::Tag(a) => tag::run(ctx, a).await,
        Command::Status(a) => status::run(ctx, a).await,
        Command::Approve(a) => approve::run(ctx, a).await,
        Command::Deploy(a) => deploy::run(ctx, a).await,
        Command::Verify(a) => verify::run(ctx, a).await,
        Command::Freeze(a) => freeze::run_freeze(ctx, a).await,
        Command::Unfreeze(a) => freeze::run_unfreeze(ctx, a).await,
        Command::Rollback(a) => rollback::run(ctx, a).await,
        Command::Checklist(a) => checklist::run(ctx, a).await,
        Command::Rehearse(a) => rehearse::run(ctx, a).await,
        Command::Completions(a) => completions::run_completions(ctx, a),
        Command::Man(a) => completions::run_man(ctx, a),
    }
}

/// Runs one command, turning Ctrl-C into an interrupted error (exit 130) that
/// lists what was already done and how to resume.
pub async fn run_interruptible(ctx: &Context, command: &Command) -> Result<Value> {
    tokio::select! {
        r = run(ctx, command) => r,
        _ = tokio::signal::ctrl_c() => {
            if matches!(command, Command::Rehearse(_)) {
                // The rehearsal's future (and its sandbox) is dropped by now.
                return Err(Error::interrupted(
                    "rehearsal interrupted; its sandbox was stopped and removed, nothing outside it was touched",
                )
                .with_hint("re-run `almarel rehearse` to start over"));
            }
            let done = ctx.journal();
            let what = if done.is_empty() {
                "nothing was changed yet".to_owned()
            } else {
                format!("already done: {}", done.join("; "))
            };
            Err(Error::interrupted(format!("interrupted; {what}"))
                .with_hint("re-run the same command: it picks up from where it stopped")
                .with_data(json!({ "done": done })))
        }
    }
}

/// Prints the outcome (human or `--json`) and returns the exit code.
pub fn finish(ui: &Ui, outcome: Result<Value>) -> u8 {
    match outcome {
        Ok(data) => {
            if ui.is_json() {
                let mut obj = Map::new();
                obj.insert("ok".into(), Value::Bool(true));
                merge(&mut obj, data);
                ui.emit_json(&Value::Object(obj));
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
    }
}

/// The `--json` object for an error.
pub fn error_json(e: &Error) -> Value {
    let mut obj = Map::new();
    obj.insert("ok".into(), Value::Bool(false));
    obj.insert(
        "error".into(),
        json!({ "kind": e.kind.name(), "message": e.message, "hint": e.hint }),
    );
    if let Some(data) = &e.data {
        merge(&mut obj, data.clone());
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
