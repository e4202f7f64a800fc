//! Following a release to live (SPEC §8.1), shared by `status REF --watch`
//! and `approve --watch`: the deploy run to its end ([`follow_run`]), then
//! production's version SHA and every Coolify app until the release is
//! live, mixed, or the deadline passes ([`until_live`]).
//!
//! Only the configured parts decide "live": with `verify.version_url` unset
//! every Coolify app on the release is live; with Coolify unset production's
//! SHA alone decides; with neither there is nothing to follow after the runs
//! ([`End::default_for`] is `runs`).

use std::time::Duration;

use serde::Serialize;

use crate::clock::{self, Deadline, Poll, PollError};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::github::{Client, Run};
use crate::release::live::{self, AppPlace, AppsRead, LiveReport, Liveness};
use crate::version::ReleaseTag;

/// First poll interval.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Longest poll interval while nothing changes.
pub const POLL_MAX: Duration = Duration::from_secs(20);
/// How long one read of the Coolify apps may take.
const COOLIFY_BUDGET: Duration = Duration::from_secs(20);

/// Where a watch ends (`--until`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum End {
    /// At the production approval, pending or already given.
    Approval,
    /// When every expected run completed (or only the approval is left).
    Runs,
    /// When the release is live (production's SHA and every Coolify app).
    Live,
}

impl End {
    /// Parses `approval`, `runs` or `live`.
    pub fn parse(s: &str) -> Option<End> {
        match s {
            "approval" => Some(End::Approval),
            "runs" => Some(End::Runs),
            "live" => Some(End::Live),
            _ => None,
        }
    }

    /// Whether anything can say "live": Coolify or `verify.version_url` is
    /// configured.
    pub fn live_configured(settings: &crate::settings::Settings) -> bool {
        let c = &settings.coolify;
        (c.url.is_some() && !c.apps.is_empty()) || settings.verify.version_url.is_some()
    }

    /// The end when `--until` is not given: `live` when something can say
    /// it, else `runs`.
    pub fn default_for(settings: &crate::settings::Settings) -> End {
        if Self::live_configured(settings) {
            End::Live
        } else {
            End::Runs
        }
    }
}

/// Follows run `run_id` until it completes (or the deadline passes, exit 5).
/// `on_change` gets each new state text.
pub async fn follow_run(
    ctx: &Context,
    gh: &Client,
    run_id: u64,
    deadline: Deadline,
    on_change: &(dyn Fn(&Run) + Sync),
) -> Result<Run> {
    let last = std::sync::Mutex::new(String::new());
    let r = clock::poll_until(
        ctx.clock.as_ref(),
        deadline,
        POLL_INTERVAL,
        POLL_MAX,
        || async {
            let run = gh.run(run_id).await?;
            let text = run.state_text();
            let changed = last
                .lock()
                .map(|mut l| {
                    let c = *l != text;
                    *l = text.clone();
                    c
                })
                .unwrap_or(true);
            if changed {
                on_change(&run);
            }
            Ok::<_, Error>(if run.is_completed() {
                Poll::Ready(run)
            } else {
                Poll::Pending { changed }
            })
        },
    )
    .await;
    match r {
        Ok(run) => Ok(run),
        Err(PollError::Failed(e)) => Err(e),
        Err(PollError::TimedOut) => Err(Error::timeout(format!(
            "run {run_id} did not complete in time"
        ))
        .with_code("timed_out")),
    }
}

/// One read of production and the apps.
#[derive(Debug, Clone)]
pub struct Observed {
    /// Production's version SHA (`Ok(None)`: `verify.version_url` unset;
    /// `Err`: it could not be read).
    pub production: std::result::Result<Option<String>, String>,
    /// What was read of the apps.
    pub apps: AppsRead,
    /// The verdict for the watch (see [`judge`]).
    pub live: Option<LiveReport>,
}

/// How [`until_live`] ended.
#[derive(Debug, Clone)]
pub enum LiveEnd {
    /// Live: production runs the release and every app is on it.
    Live(Observed),
    /// A Coolify deployment of the release failed or was cancelled: the
    /// release ended mixed. The text names the apps.
    Mixed(Observed, String),
}

/// Reads production's SHA and every app once and judges the release at
/// `sha` (release tags `tags`).
pub async fn observe(ctx: &Context, sha: &str, tags: &[ReleaseTag]) -> Observed {
    let production = crate::probe::production_sha(&ctx.settings.verify).await;
    let prod = production.as_ref().ok().and_then(|p| p.as_deref());
    let obs = live::observe(ctx, sha, tags, prod, Some(COOLIFY_BUDGET)).await;
    let version_url = ctx.settings.verify.version_url.is_some();
    let live = match (&obs.apps, version_url) {
        // Without COOLIFY_TOKEN the apps cannot be read: as verify does,
        // production's SHA alone decides (the watch warned once).
        (AppsRead::NoToken, true) => Some(live::assess(prod, sha, &obs.accepted, &[])),
        _ => obs.live.map(|r| judge(r, version_url)),
    };
    Observed {
        production,
        apps: obs.apps,
        live,
    }
}

/// The assessment as the watch reads it: with `verify.version_url` unset,
/// every app on the release (latest deployment finished) is live.
pub fn judge(mut r: LiveReport, version_url: bool) -> LiveReport {
    if !version_url && !r.apps.is_empty() && r.apps.iter().all(|a| a.place == AppPlace::OnRelease) {
        r.state = Liveness::Live;
    }
    r
}

/// The apps whose deployment of the release failed or was cancelled.
pub fn failed_apps(r: &LiveReport) -> Vec<String> {
    r.apps
        .iter()
        .filter_map(|a| match &a.place {
            AppPlace::Failed { status } => Some(format!("{}'s deployment {status}", a.app)),
            _ => None,
        })
        .collect()
}

/// Polls production and the apps until the release at `sha` is live (or a
/// deployment of it failed: mixed). Apps still on another tag with nothing
/// in flight are "not yet" and waited for. `on_change` gets every read whose
/// verdict changed. At the deadline: exit 5 naming where things stand.
pub async fn until_live(
    ctx: &Context,
    sha: &str,
    tags: &[ReleaseTag],
    deadline: Deadline,
    on_change: &(dyn Fn(&Observed) + Sync),
) -> Result<LiveEnd> {
    let last = std::sync::Mutex::new(String::new());
    let latest: std::sync::Mutex<Option<Observed>> = std::sync::Mutex::new(None);
    let warned = std::sync::atomic::AtomicBool::new(false);
    let r = clock::poll_until(
        ctx.clock.as_ref(),
        deadline,
        POLL_INTERVAL,
        POLL_MAX,
        || async {
            let o = observe(ctx, sha, tags).await;
            if matches!(o.apps, AppsRead::NoToken) {
                // Nothing else can say "live": waiting would only end at the deadline.
                if ctx.settings.verify.version_url.is_none() {
                    return Err(Error::usage(format!(
                        "{} is not set and verify.version_url is not configured: nothing can tell whether the release is live",
                        crate::env::COOLIFY_TOKEN
                    ))
                    .with_code("live_unobservable")
                    .with_hint(format!(
                        "set {} (or verify.version_url), or watch with --until runs",
                        crate::env::COOLIFY_TOKEN
                    )));
                }
                if !warned.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    ctx.ui.warn(&format!(
                        "{} is not set: the Coolify apps cannot be read, so production's version alone says when the release is live",
                        crate::env::COOLIFY_TOKEN
                    ));
                }
            }
            let sig = format!("{:?}|{:?}", o.production, o.live);
            let changed = last
                .lock()
                .map(|mut l| {
                    let c = *l != sig;
                    *l = sig.clone();
                    c
                })
                .unwrap_or(true);
            if changed {
                on_change(&o);
            }
            if let Ok(mut l) = latest.lock() {
                *l = Some(o.clone());
            }
            let done = match &o.live {
                Some(r) if r.state == Liveness::Live => Some(LiveEnd::Live(o.clone())),
                Some(r) if !failed_apps(r).is_empty() => {
                    let why = failed_apps(r).join("; ");
                    Some(LiveEnd::Mixed(o.clone(), why))
                }
                _ => None,
            };
            Ok::<_, Error>(match done {
                Some(d) => Poll::Ready(d),
                None => Poll::Pending { changed },
            })
        },
    )
    .await;
    match r {
        Ok(end) => Ok(end),
        Err(PollError::Failed(e)) => Err(e),
        Err(PollError::TimedOut) => {
            let stands = latest
                .lock()
                .ok()
                .and_then(|l| l.clone())
                .map(|o| stands_text(&o))
                .unwrap_or_else(|| "nothing was read".into());
            Err(Error::timeout(format!(
                "timed out waiting for {} to be live: {stands}",
                crate::version::short_sha(sha)
            ))
            .with_code("timed_out"))
        }
    }
}

/// Where production and the apps stand, in words.
pub fn stands_text(o: &Observed) -> String {
    let prod = match &o.production {
        Ok(Some(p)) => format!("production runs {}", crate::version::short_sha(p)),
        Ok(None) => "production's version is not configured".to_owned(),
        Err(why) => format!("production's version is unknown ({why})"),
    };
    let apps = match (&o.apps, &o.live) {
        (AppsRead::NotConfigured, _) => None,
        (AppsRead::NoToken, _) => Some(format!(
            "the apps were not read ({} is not set)",
            crate::env::COOLIFY_TOKEN
        )),
        (AppsRead::Failed(e), _) => Some(format!("the apps could not be read ({})", e.message)),
        (AppsRead::Read(_), Some(r)) => Some(
            r.apps
                .iter()
                .map(|a| format!("{} {}", a.app, a.detail()))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        (AppsRead::Read(_), None) => None,
    };
    match apps {
        Some(a) => format!("{prod}; {a}"),
        None => prod,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coolify::DeploymentStatus;
    use crate::release::live::{AppObservation, assess};

    const SHA: &str = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d";

    fn app(tag: &str, latest: &str) -> AppObservation {
        AppObservation {
            app: "web".into(),
            image_tag: Some(tag.into()),
            latest: Some(DeploymentStatus::parse(latest)),
        }
    }

    #[test]
    fn without_a_version_url_every_app_on_the_release_is_live() {
        let accepted = vec!["v1.3.0".to_owned()];
        let r = assess(None, SHA, &accepted, &[app("v1.3.0", "finished")]);
        assert_ne!(r.state, Liveness::Live);
        assert_eq!(judge(r.clone(), false).state, Liveness::Live);
        // With a version URL, production's SHA must say it too.
        assert_ne!(judge(r, true).state, Liveness::Live);
    }

    #[test]
    fn a_failed_deployment_of_the_release_is_named_and_an_old_tag_is_not() {
        let accepted = vec!["v1.3.0".to_owned()];
        let r = assess(Some(SHA), SHA, &accepted, &[app("v1.3.0", "failed")]);
        assert_eq!(failed_apps(&r), vec!["web's deployment failed".to_owned()]);
        let r = assess(None, SHA, &accepted, &[app("v1.2.9", "finished")]);
        assert!(failed_apps(&r).is_empty());
        assert_eq!(judge(r, false).state, Liveness::NotYet);
    }

    #[test]
    fn ends_parse() {
        assert_eq!(End::parse("live"), Some(End::Live));
        assert_eq!(End::parse("approval"), Some(End::Approval));
        assert_eq!(End::parse("runs"), Some(End::Runs));
        assert_eq!(End::parse("deployed"), None);
    }
}
