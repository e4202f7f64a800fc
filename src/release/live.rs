//! Whether a release is live, mixed or not yet out (SPEC §7.4).
//!
//! A release is live only when production's version SHA is the release
//! commit **and** every configured Coolify app is on one of the release's
//! image tags with its latest deployment finished. An app on any of the
//! release's image tags counts (`image_tag` rendered for each release tag at
//! the commit, or `untagged_image_tag`). [`assess`] decides from plain data;
//! [`read_apps`] reads each configured app and [`observe`] does both, so
//! verify, status and checklist judge a release the same way.

use std::time::Duration;

use serde::Serialize;

use crate::clock::Deadline;
use crate::context::Context;
use crate::coolify::DeploymentStatus;
use crate::error::Error;
use crate::settings::CoolifySettings;
use crate::version::ReleaseTag;

/// The image tags an app may run for the release at `sha` with release tags
/// `tags`: `coolify.image_tag` rendered for each, and
/// `coolify.untagged_image_tag` for the commit (templates that cannot be
/// rendered for it are skipped).
pub fn release_image_tags(
    coolify: &CoolifySettings,
    tags: &[ReleaseTag],
    sha: &str,
) -> Vec<String> {
    let render = crate::release::target::render_image_tag;
    let mut out: Vec<String> = tags
        .iter()
        .filter_map(|t| render("coolify.image_tag", &coolify.image_tag, Some(t), Some(sha)).ok())
        .collect();
    if let Ok(t) = render(
        "coolify.untagged_image_tag",
        &coolify.untagged_image_tag,
        None,
        Some(sha),
    ) {
        out.push(t);
    }
    out.dedup();
    out
}

/// The image tag `coolify.image_tag` renders for release tag `tag` at `sha`
/// (what a deploy of that release sets), when it can be rendered.
pub fn image_tag_for(coolify: &CoolifySettings, tag: &ReleaseTag, sha: &str) -> Option<String> {
    crate::release::target::render_image_tag(
        "coolify.image_tag",
        &coolify.image_tag,
        Some(tag),
        Some(sha),
    )
    .ok()
}

/// What was read about one configured app.
#[derive(Debug, Clone)]
pub struct AppObservation {
    /// Its name in `coolify.apps`.
    pub app: String,
    /// Its configured image tag (`None`: unset).
    pub image_tag: Option<String>,
    /// Its latest deployment's status (`None`: it has none).
    pub latest: Option<DeploymentStatus>,
}

/// What [`read_apps`] found.
#[derive(Debug, Clone)]
pub enum AppsRead {
    /// `coolify.url` or `coolify.apps` is not set: only production's SHA decides.
    NotConfigured,
    /// `COOLIFY_TOKEN` is not set: the apps cannot be read.
    NoToken,
    /// Reading failed.
    Failed(Error),
    /// Each configured app, in configuration order.
    Read(Vec<AppObservation>),
}

/// Reads each configured Coolify app's image tag and latest deployment
/// (concurrently; `budget` bounds the whole read). Never writes.
pub async fn read_apps(ctx: &Context, budget: Option<Duration>) -> AppsRead {
    let coolify = &ctx.settings.coolify;
    if coolify.url.is_none() || coolify.apps.is_empty() {
        return AppsRead::NotConfigured;
    }
    if ctx.env.get(crate::env::COOLIFY_TOKEN).is_none() {
        return AppsRead::NoToken;
    }
    let client = match ctx.coolify() {
        Ok(c) => match budget {
            Some(b) => c.with_deadline(Deadline::after(ctx.clock.as_ref(), b)),
            None => c,
        },
        Err(e) => return AppsRead::Failed(e),
    };
    let reads = coolify.apps.iter().map(|a| {
        let client = &client;
        async move {
            let app = client.application(&a.name, &a.uuid).await?;
            let list = client.app_deployments(&a.name, &a.uuid, 1).await?;
            Ok::<_, Error>(AppObservation {
                app: a.name.clone(),
                image_tag: app.image_tag().map(str::to_owned),
                latest: list.deployments.first().map(|d| d.status.clone()),
            })
        }
    });
    let mut apps = Vec::new();
    for r in futures::future::join_all(reads).await {
        match r {
            Ok(a) => apps.push(a),
            Err(e) => return AppsRead::Failed(e),
        }
    }
    AppsRead::Read(apps)
}

/// What [`observe`] found: the image tags that count as the release, what
/// was read of the apps, and the verdict.
#[derive(Debug, Clone)]
pub struct Observation {
    /// The image tags an app may run for the release.
    pub accepted: Vec<String>,
    /// What was read of the apps.
    pub apps: AppsRead,
    /// The verdict; `None` when the apps are configured but could not be read.
    pub live: Option<LiveReport>,
}

impl Observation {
    /// Why the apps could not be read, in words (`None`: read, or not configured).
    pub fn apps_unknown(&self) -> Option<String> {
        match &self.apps {
            AppsRead::NoToken => Some(format!(
                "{} is not set, so the Coolify apps were not read",
                crate::env::COOLIFY_TOKEN
            )),
            AppsRead::Failed(e) => Some(e.message.clone()),
            AppsRead::NotConfigured | AppsRead::Read(_) => None,
        }
    }
}

/// Reads every configured app and judges the release at `release_sha` with
/// release tags `tags` against production's version SHA (`None`: not
/// known). With Coolify not configured, production's SHA alone decides.
pub async fn observe(
    ctx: &Context,
    release_sha: &str,
    tags: &[ReleaseTag],
    production_sha: Option<&str>,
    budget: Option<Duration>,
) -> Observation {
    let accepted = release_image_tags(&ctx.settings.coolify, tags, release_sha);
    let apps = read_apps(ctx, budget).await;
    let live = match &apps {
        AppsRead::NotConfigured => Some(assess(production_sha, release_sha, &accepted, &[])),
        AppsRead::Read(list) => Some(assess(production_sha, release_sha, &accepted, list)),
        AppsRead::NoToken | AppsRead::Failed(_) => None,
    };
    Observation {
        accepted,
        apps,
        live,
    }
}

/// Where one app stands relative to the release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum AppPlace {
    /// On a release image tag, latest deployment finished.
    OnRelease,
    /// On a release image tag, a deployment still queued or running.
    Deploying,
    /// On a release image tag, but its latest deployment failed or was cancelled.
    Failed {
        /// That deployment's status.
        status: String,
    },
    /// Configured with another image tag.
    Elsewhere {
        /// The tag it is on (`None`: unset).
        tag: Option<String>,
    },
    /// On a release image tag, never deployed.
    NeverDeployed,
}

/// One app's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct AppLive {
    /// App name.
    pub app: String,
    /// Configured image tag.
    pub image_tag: Option<String>,
    /// Latest deployment status.
    pub latest: Option<String>,
    /// Where it stands.
    pub place: AppPlace,
}

impl AppLive {
    /// A one-line description (`on v1.2.3, latest deployment finished`).
    pub fn detail(&self) -> String {
        let tag = self.image_tag.as_deref().unwrap_or("unset");
        match &self.place {
            AppPlace::OnRelease => format!("on {tag}, latest deployment finished"),
            AppPlace::Deploying => format!(
                "on {tag}, deployment still {}",
                self.latest.as_deref().unwrap_or("running")
            ),
            AppPlace::Failed { status } => {
                format!("configured {tag}, but its latest deployment {status}")
            }
            AppPlace::Elsewhere { .. } => format!("on {tag}, not this release"),
            AppPlace::NeverDeployed => format!("configured {tag}, never deployed"),
        }
    }
}

/// The release's overall state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Liveness {
    /// Production runs it and every app is on it, finished.
    Live,
    /// Part of it is out: these apps are elsewhere, or failed to deploy it.
    Mixed {
        /// Apps on another image tag.
        elsewhere: Vec<String>,
        /// Apps whose deployment of it failed or was cancelled.
        failed: Vec<String>,
    },
    /// Not out yet (nothing runs it, or a deployment is still in flight).
    NotYet,
    /// Cannot be told: why.
    Unknown {
        /// Why.
        why: String,
    },
}

/// [`assess`]'s answer with per-app detail.
#[derive(Debug, Clone, Serialize)]
pub struct LiveReport {
    /// The overall state.
    pub state: Liveness,
    /// Whether production's version SHA is the release commit (`None`: not known).
    pub production_on_release: Option<bool>,
    /// Each app, in the order given.
    pub apps: Vec<AppLive>,
}

impl LiveReport {
    /// The apps that make the release mixed: elsewhere or failed, in order.
    pub fn off_release(&self) -> Vec<&AppLive> {
        self.apps
            .iter()
            .filter(|a| {
                matches!(
                    a.place,
                    AppPlace::Elsewhere { .. } | AppPlace::Failed { .. }
                )
            })
            .collect()
    }

    /// Whether the release is mixed.
    pub fn is_mixed(&self) -> bool {
        matches!(self.state, Liveness::Mixed { .. })
    }
}

/// The command that finishes a mixed release on `app`: `deploy --tag TAG
/// --app APP`, or for a commit without a release tag `deploy SHA
/// --allow-untagged --app APP` (the other way out is `almarel rollback`).
pub fn finish_command(tag: Option<&str>, sha: &str, app: &str) -> crate::report::Next {
    match tag {
        Some(t) => crate::report::Next::new(["deploy", "--tag", t, "--app", app]),
        None => crate::report::Next::new(["deploy", sha, "--allow-untagged", "--app", app]),
    }
}

/// Decides live / mixed / not yet / unknown from production's version SHA
/// (`None`: not known), the release commit, the release's accepted image
/// tags, and each configured app.
pub fn assess(
    production_sha: Option<&str>,
    release_sha: &str,
    accepted_tags: &[String],
    apps: &[AppObservation],
) -> LiveReport {
    let production_on_release = production_sha.map(|p| crate::probe::sha_matches(release_sha, p));
    let apps: Vec<AppLive> = apps
        .iter()
        .map(|a| {
            let on = a
                .image_tag
                .as_ref()
                .is_some_and(|t| accepted_tags.iter().any(|x| x == t));
            let place = if !on {
                AppPlace::Elsewhere {
                    tag: a.image_tag.clone(),
                }
            } else {
                match &a.latest {
                    None => AppPlace::NeverDeployed,
                    Some(DeploymentStatus::Finished) => AppPlace::OnRelease,
                    Some(s @ (DeploymentStatus::Failed | DeploymentStatus::CancelledByUser)) => {
                        AppPlace::Failed {
                            status: s.as_str().to_owned(),
                        }
                    }
                    Some(_) => AppPlace::Deploying,
                }
            };
            AppLive {
                app: a.app.clone(),
                image_tag: a.image_tag.clone(),
                latest: a.latest.as_ref().map(|s| s.as_str().to_owned()),
                place,
            }
        })
        .collect();
    let names = |f: &dyn Fn(&AppPlace) -> bool| -> Vec<String> {
        apps.iter()
            .filter(|a| f(&a.place))
            .map(|a| a.app.clone())
            .collect()
    };
    let elsewhere = names(&|p| matches!(p, AppPlace::Elsewhere { .. }));
    let failed = names(&|p| matches!(p, AppPlace::Failed { .. }));
    let on = names(&|p| *p == AppPlace::OnRelease);
    let deploying = names(&|p| *p == AppPlace::Deploying);
    let never = names(&|p| *p == AppPlace::NeverDeployed);
    let some_out = production_on_release == Some(true) || !on.is_empty() || !failed.is_empty();
    let state = if apps.is_empty() && production_on_release.is_none() {
        Liveness::Unknown {
            why: "neither what production runs nor any Coolify app is known".into(),
        }
    } else if on.len() == apps.len() && production_on_release == Some(true) {
        Liveness::Live
    } else if some_out && (!elsewhere.is_empty() || !failed.is_empty()) {
        Liveness::Mixed { elsewhere, failed }
    } else if !deploying.is_empty() || production_on_release == Some(false) || !some_out {
        Liveness::NotYet
    } else if !never.is_empty() {
        Liveness::Unknown {
            why: format!("never deployed: {}", never.join(", ")),
        }
    } else {
        Liveness::Unknown {
            why: "what production runs is not known".into(),
        }
    };
    LiveReport {
        state,
        production_on_release,
        apps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d";
    const OLD: &str = "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c";

    fn app(name: &str, tag: &str, latest: Option<&str>) -> AppObservation {
        AppObservation {
            app: name.into(),
            image_tag: Some(tag.into()),
            latest: latest.map(DeploymentStatus::parse),
        }
    }

    fn accepted() -> Vec<String> {
        vec!["v1.2.3".into(), "prod-1a2b3c4".into()]
    }

    #[test]
    fn live_needs_production_and_every_app() {
        let apps = [
            app("api", "v1.2.3", Some("finished")),
            app("web", "prod-1a2b3c4", Some("finished")),
        ];
        assert_eq!(
            assess(Some(SHA), SHA, &accepted(), &apps).state,
            Liveness::Live
        );
        assert_eq!(
            assess(Some(&SHA[..7]), SHA, &accepted(), &apps).state,
            Liveness::Live
        );
        assert!(matches!(
            assess(None, SHA, &accepted(), &apps).state,
            Liveness::Unknown { .. }
        ));
        assert_eq!(
            assess(Some(OLD), SHA, &accepted(), &apps).state,
            Liveness::NotYet
        );
    }

    #[test]
    fn an_app_elsewhere_or_failed_makes_it_mixed() {
        let apps = [
            app("api", "v1.2.3", Some("finished")),
            app("web", "v1.2.2", Some("failed")),
        ];
        let r = assess(Some(SHA), SHA, &accepted(), &apps);
        assert_eq!(
            r.state,
            Liveness::Mixed {
                elsewhere: vec!["web".into()],
                failed: vec![]
            }
        );
        assert!(r.apps[1].detail().contains("not this release"));
        let apps = [
            app("api", "v1.2.3", Some("finished")),
            app("web", "v1.2.3", Some("cancelled-by-user")),
        ];
        assert_eq!(
            assess(Some(SHA), SHA, &accepted(), &apps).state,
            Liveness::Mixed {
                elsewhere: vec![],
                failed: vec!["web".into()]
            }
        );
    }

    #[test]
    fn nothing_out_or_still_deploying_is_not_yet() {
        let apps = [
            app("api", "v1.2.2", Some("finished")),
            app("web", "v1.2.2", Some("finished")),
        ];
        assert_eq!(
            assess(Some(OLD), SHA, &accepted(), &apps).state,
            Liveness::NotYet
        );
        let apps = [
            app("api", "v1.2.3", Some("in_progress")),
            app("web", "v1.2.3", Some("queued")),
        ];
        assert_eq!(
            assess(Some(OLD), SHA, &accepted(), &apps).state,
            Liveness::NotYet
        );
    }

    #[test]
    fn without_apps_production_alone_decides_and_nothing_known_is_unknown() {
        assert_eq!(
            assess(Some(SHA), SHA, &accepted(), &[]).state,
            Liveness::Live
        );
        assert_eq!(
            assess(Some(OLD), SHA, &accepted(), &[]).state,
            Liveness::NotYet
        );
        assert!(matches!(
            assess(None, SHA, &accepted(), &[]).state,
            Liveness::Unknown { .. }
        ));
    }
}
