//! How deploy and rollback show the per-app deploy step: [`DeployProgress`]
//! renders [`DeployEvent`]s as they happen (one spinner line per app on a
//! terminal, plain lines otherwise); [`table_lines`] and [`probe_lines`] are
//! the result tables.

use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::probe::VerifyReport;
use crate::release::deploy::{AppState, AppsReport, DeployEvent, Outcome};
use crate::ui::{self, Tone, Ui};

/// The per-app result table, each line prefixed by `indent` (rollback nests
/// it under its step): result lines for stdout.
pub fn table_lines(ui: &Ui, report: &AppsReport, indent: &str) -> Vec<String> {
    let rows: Vec<Vec<String>> = report
        .apps
        .iter()
        .map(|a| {
            let tone = match a.outcome {
                Outcome::Finished | Outcome::Triggered => Tone::Ok,
                Outcome::TimedOut => Tone::Warn,
                _ => Tone::Fail,
            };
            vec![
                format!("{indent}{}", ui.mark(tone)),
                a.app.name.clone(),
                a.outcome.status().to_owned(),
                a.image_tag.clone(),
                a.deployment_uuid.clone().unwrap_or_else(|| "-".into()),
                a.detail(),
            ]
        })
        .collect();
    ui::table(&rows)
}

/// The log tail of each failed app (or where to read it), on stderr.
pub fn show_failures(ui: &Ui, report: &AppsReport) {
    for a in &report.apps {
        if matches!(a.outcome, Outcome::Failed | Outcome::Cancelled) {
            if a.logs_readable {
                ui.progress(&format!(
                    "last log lines of {} ({}):",
                    a.app.name,
                    a.deployment_uuid.as_deref().unwrap_or("?")
                ));
                for l in &a.log_tail {
                    ui.progress(&format!("  {l}"));
                }
            } else {
                ui.progress(&format!(
                    "the build log of {} is not readable with this token (it needs read:sensitive); \
                     read it in the Coolify dashboard",
                    a.app.name
                ));
            }
        }
    }
}

/// The verify check table (status, latency, detail), each line prefixed by `indent`.
pub fn probe_lines(ui: &Ui, report: &VerifyReport, indent: &str) -> Vec<String> {
    let rows: Vec<Vec<String>> = report
        .checks
        .iter()
        .map(|c| {
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
        })
        .collect();
    ui::table(&rows)
}

/// Renders [`DeployEvent`]s: one spinner line per app on a terminal, plain
/// `app: what` lines otherwise.
pub struct DeployProgress {
    multi: Option<MultiProgress>,
    bars: Vec<(String, ProgressBar)>,
    ui: ui::Ui,
}

impl DeployProgress {
    /// One live line per app on a terminal (none otherwise).
    pub fn new(ui: &ui::Ui, apps: &[AppState]) -> Self {
        let width = apps.iter().map(|a| a.app.name.len()).max().unwrap_or(0);
        let multi = ui.is_live().then(MultiProgress::new);
        let bars = match &multi {
            None => Vec::new(),
            Some(m) => apps
                .iter()
                .map(|a| {
                    let style =
                        ProgressStyle::with_template("{spinner} {prefix} {msg} ({elapsed})")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner());
                    let bar = m.add(ProgressBar::new_spinner().with_style(style));
                    bar.set_prefix(format!("{:width$}", a.app.name));
                    bar.set_message("reading");
                    bar.enable_steady_tick(Duration::from_millis(120));
                    (a.app.name.clone(), bar)
                })
                .collect(),
        };
        DeployProgress {
            multi,
            bars,
            ui: ui.clone(),
        }
    }

    fn say(&self, app: &str, msg: &str) {
        match self.bars.iter().find(|(n, _)| n == app) {
            Some((_, b)) => b.set_message(msg.to_owned()),
            None => self.ui.progress(&format!("{app}: {msg}")),
        }
    }

    /// Renders one event.
    pub fn show(&self, e: DeployEvent) {
        match e {
            DeployEvent::Reading { app } => self.say(&app, "reading the app again"),
            DeployEvent::Waiting {
                app,
                deployment,
                status,
                waiting: true,
            } => self.say(
                &app,
                &format!("waiting for deployment {deployment} ({status}, started before this run)"),
            ),
            DeployEvent::Waiting {
                app,
                deployment,
                status,
                waiting: false,
            } => self.say(
                &app,
                &format!(
                    "deployment {deployment} is already {status} (started before this run); ours queues after it"
                ),
            ),
            DeployEvent::WaitEnded {
                app,
                deployment,
                status,
            } => self.say(&app, &format!("earlier deployment {deployment} ended: {status}")),
            DeployEvent::Patching { app, from, to } => self.say(
                &app,
                &format!("setting image tag {to} (was {})", from.as_deref().unwrap_or("unset")),
            ),
            DeployEvent::Patched {
                app,
                to,
                error_answer,
                ..
            } => match error_answer {
                None => self.say(&app, &format!("image tag is now {to} (read back)")),
                Some(answer) => self.say(
                    &app,
                    &format!("image tag is now {to} (read back; coolify answered the PATCH with an error, yet it applied: {answer})"),
                ),
            },
            DeployEvent::Triggered { app, uuid } => {
                self.say(&app, &format!("triggered deployment {uuid}"));
            }
            DeployEvent::Adopted { app, uuid } => self.say(
                &app,
                &format!("coolify kept the already queued deployment {uuid}; it uses the new tag when it starts"),
            ),
            DeployEvent::Status {
                app,
                what,
                uuid,
                status,
            } => self.say(&app, &format!("{what} {uuid} {status}")),
            DeployEvent::Restored { app, tag } => self.say(
                &app,
                &format!(
                    "restored image tag {}, the tag it last finished deploying (no deploy: the old container keeps serving)",
                    tag.as_deref().unwrap_or("unset")
                ),
            ),
            DeployEvent::NotRestored { app, why } => {
                self.ui.warn(&format!("{app}: {why}"));
            }
            DeployEvent::Finished {
                app,
                outcome,
                elapsed,
            } => {
                let tone = match outcome {
                    Outcome::Finished | Outcome::Triggered => Tone::Ok,
                    Outcome::TimedOut => Tone::Warn,
                    _ => Tone::Fail,
                };
                let msg = format!(
                    "{} {} in {}",
                    self.ui.mark(tone),
                    outcome.status(),
                    humantime::format_duration(Duration::from_secs(elapsed.as_secs()))
                );
                match self.bars.iter().find(|(n, _)| *n == app) {
                    Some((_, b)) => {
                        if let Ok(style) = ProgressStyle::with_template("  {prefix} {msg}") {
                            b.set_style(style);
                        }
                        b.finish_with_message(msg);
                    }
                    None => self.ui.progress(&format!("{app}: {msg}")),
                }
            }
        }
    }

    /// Removes the live lines (before the result table is printed).
    pub fn clear(&self) {
        if let Some(m) = &self.multi {
            let _ = m.clear();
        }
    }
}
