//! Promotion by identity (issue #14): which image digest a release's tags
//! point at, whether `prod-<sha>` and `vX.Y.Z` are the same artifact, and
//! whether production is about to deploy exactly the digest that was
//! verified in staging.
//!
//! The image of each app is the one Coolify runs: a Docker Image app's
//! `docker_registry_image_name` (e.g. `ghcr.io/owner/api`), read from the
//! Coolify API — there is nothing to configure. The registry host comes
//! from the image name; for `ghcr.io` the GitHub token is the credential
//! (it needs `read:packages`), other registries are read anonymously. The
//! tags are the release's image tags ([`crate::release::live::release_image_tags`]:
//! `coolify.image_tag` for each release tag, `coolify.untagged_image_tag`
//! for the commit).
//!
//! Nothing here is decided silently: when the registry does not answer
//! (no image name, an app Coolify builds itself, 401/403, network), the
//! result says "cannot be checked" and why, and the caller shows it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::coolify::Application;
use crate::error::{Error, Result};
use crate::registry::{Client, Digest, ImageRef};
use crate::report::Check;
use crate::version::ReleaseTag;

/// The flag that lets production deploy a digest staging did not verify.
pub const ALLOW_UNVERIFIED_DIGEST: &str = "--allow-unverified-digest";

/// The release's image tags, in the order they are compared: `image_tag`
/// (the `coolify.image_tag` template) rendered for the release tag when
/// there is one (`v1.3.0`), then `untagged_image_tag` rendered for the
/// commit (`prod-<sha>`); duplicates dropped. A template that cannot be
/// rendered is a usage error (exit 2), as it is for deploy.
pub fn release_tags(
    image_tag: &str,
    untagged_image_tag: &str,
    tag: Option<&ReleaseTag>,
    sha: &str,
) -> Result<Vec<String>> {
    let render = crate::release::target::render_image_tag;
    let mut out = Vec::new();
    if let Some(t) = tag {
        out.push(render("coolify.image_tag", image_tag, Some(t), Some(sha))?);
    }
    let untagged = render(
        "coolify.untagged_image_tag",
        untagged_image_tag,
        None,
        Some(sha),
    )?;
    if !out.contains(&untagged) {
        out.push(untagged);
    }
    Ok(out)
}

/// One app's image, as Coolify knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppImage {
    /// Its name in `coolify.apps`.
    pub app: String,
    /// The image name without tag (`ghcr.io/owner/api`); `None` when
    /// Coolify has none (the app is built by Coolify from a repository).
    pub image: Option<String>,
    /// Coolify's build pack (`dockerimage`, `nixpacks`, …), for the reason
    /// when there is no image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_pack: Option<String>,
}

impl AppImage {
    /// The image of app `app` from its Coolify application.
    pub fn from_application(app: &str, a: &Application) -> AppImage {
        AppImage {
            app: app.to_owned(),
            image: a
                .docker_registry_image_name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned),
            build_pack: a.build_pack.clone(),
        }
    }

    /// The parsed image, or why there is none to check.
    fn image_ref(&self) -> std::result::Result<ImageRef, String> {
        let Some(name) = &self.image else {
            return Err(match self.build_pack.as_deref() {
                Some(bp) if bp != "dockerimage" => format!(
                    "app `{}` is built by Coolify ({bp}), not pulled from a registry",
                    self.app
                ),
                _ => format!("app `{}` has no image name in Coolify", self.app),
            });
        };
        ImageRef::parse(name).map_err(|e| e.message)
    }
}

/// What the registry says about one tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Lookup {
    /// The tag points at this manifest digest.
    Found {
        /// The digest.
        digest: Digest,
    },
    /// The registry answered: there is no such tag.
    Missing,
    /// The registry could not be asked or did not answer.
    Unknown {
        /// Why (no token, 401/403, network; never a token).
        reason: String,
    },
}

/// Asks the registry which digest `app`'s image tag `tag` points at.
pub async fn lookup(client: &Client, app: &AppImage, tag: &str) -> Lookup {
    let image = match app.image_ref() {
        Ok(i) => i,
        Err(reason) => return Lookup::Unknown { reason },
    };
    match client.digest(&image, tag).await {
        Ok(Some(digest)) => Lookup::Found { digest },
        Ok(None) => Lookup::Missing,
        Err(e) => Lookup::Unknown { reason: e.message },
    }
}

/// One tag and the digest it points at (`None`: not in the registry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagDigest {
    /// The image tag.
    pub tag: String,
    /// Its digest; `None` when the registry has no such tag.
    pub digest: Option<Digest>,
}

/// Whether a release's image tags are one artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "identity")]
pub enum Identity {
    /// Every tag points at this digest: one artifact.
    Same {
        /// The digest.
        digest: Digest,
    },
    /// The tags point at different digests, or some tag is not in the
    /// registry.
    Different {
        /// Each tag and what it points at.
        tags: Vec<TagDigest>,
    },
    /// Cannot be checked.
    Unknown {
        /// Why.
        reason: String,
    },
}

/// One app's identity result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppIdentity {
    /// Its name in `coolify.apps`.
    pub app: String,
    /// The image name (`ghcr.io/owner/api`), when Coolify has one.
    pub image: Option<String>,
    /// The tags compared.
    pub tags: Vec<String>,
    /// The verdict.
    #[serde(flatten)]
    pub identity: Identity,
}

impl AppIdentity {
    /// One sentence for humans: `api: v1.3.0 and prod-4f2c… are the same
    /// artifact (sha256:…)`.
    pub fn sentence(&self) -> String {
        let app = &self.app;
        let tags = self.tags.join(" and ");
        match &self.identity {
            Identity::Same { digest } if self.tags.len() > 1 => {
                format!("{app}: {tags} are the same artifact ({digest})")
            }
            Identity::Same { digest } => format!("{app}: {tags} is {digest}"),
            Identity::Different { tags } => {
                let parts: Vec<String> = tags
                    .iter()
                    .map(|t| match &t.digest {
                        Some(d) => format!("{} → {}", t.tag, d.short()),
                        None => format!("{} is not in the registry", t.tag),
                    })
                    .collect();
                format!("{app}: not the same artifact: {}", parts.join(", "))
            }
            Identity::Unknown { reason } => {
                format!("{app}: image identity cannot be checked: {reason}")
            }
        }
    }

    /// As a report check (`image identity`): passes when the tags are one
    /// artifact or it cannot be checked (the detail says so), fails when
    /// they differ.
    pub fn check(&self) -> Check {
        let name = format!("image identity ({})", self.app);
        match &self.identity {
            Identity::Different { .. } => Check::fail(
                name,
                self.sentence(),
                "push one image and tag it with every release tag (docker buildx imagetools create -t …)",
            ),
            _ => Check::pass(name, self.sentence()),
        }
    }
}

/// The verdict on per-tag lookups (in tag order).
pub fn decide(lookups: &[(String, Lookup)]) -> Identity {
    if lookups.is_empty() {
        return Identity::Unknown {
            reason: "the release has no image tags to compare".into(),
        };
    }
    if let Some(reason) = lookups.iter().find_map(|(_, l)| match l {
        Lookup::Unknown { reason } => Some(reason.clone()),
        _ => None,
    }) {
        return Identity::Unknown { reason };
    }
    let tags: Vec<TagDigest> = lookups
        .iter()
        .map(|(tag, l)| TagDigest {
            tag: tag.clone(),
            digest: match l {
                Lookup::Found { digest } => Some(digest.clone()),
                _ => None,
            },
        })
        .collect();
    match tags.first().and_then(|t| t.digest.clone()) {
        Some(first) if tags.iter().all(|t| t.digest.as_ref() == Some(&first)) => {
            Identity::Same { digest: first }
        }
        _ => Identity::Different { tags },
    }
}

/// Resolves every tag in `tags` for `app` and decides whether they are one
/// artifact. Tags are asked in order; an image that cannot be parsed or a
/// registry that refuses gives [`Identity::Unknown`] without further requests.
pub async fn identity(client: &Client, app: &AppImage, tags: &[String]) -> AppIdentity {
    let mut lookups = Vec::new();
    for tag in tags {
        let l = lookup(client, app, tag).await;
        let stop = matches!(l, Lookup::Unknown { .. });
        lookups.push((tag.clone(), l));
        if stop {
            break;
        }
    }
    AppIdentity {
        app: app.app.clone(),
        image: app.image.clone(),
        tags: tags.to_vec(),
        identity: decide(&lookups),
    }
}

/// The image production would deploy for one app, and its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    /// Its name in `coolify.apps`.
    pub app: String,
    /// The image name, when Coolify has one.
    pub image: Option<String>,
    /// The tag production would set (`v1.3.0`).
    pub tag: String,
    /// What the registry says it points at.
    pub lookup: Lookup,
}

/// Looks up the candidate image production would deploy for `app`.
pub async fn candidate(client: &Client, app: &AppImage, tag: &str) -> Candidate {
    Candidate {
        app: app.app.clone(),
        image: app.image.clone(),
        tag: tag.to_owned(),
        lookup: lookup(client, app, tag).await,
    }
}

/// A digest as recorded in GitHub evidence (a deployment status
/// description, at most 140 characters): the full digest, or its first
/// [`RECORDED_HEX`] or more hex digits when there is no room for all.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RecordedDigest(String);

/// The fewest hex digits a recorded digest keeps (64 bits).
pub const RECORDED_HEX: usize = 16;

impl RecordedDigest {
    /// Parses `sha256:<16 to 64 hex>` (or `sha512:` up to 128); `None` otherwise.
    pub fn parse(s: &str) -> Option<RecordedDigest> {
        let (alg, hex) = s.split_once(':')?;
        let full = match alg {
            "sha256" => 64,
            "sha512" => 128,
            _ => return None,
        };
        (hex.len() >= RECORDED_HEX
            && hex.len() <= full
            && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| RecordedDigest(format!("{alg}:{}", hex.to_ascii_lowercase())))
    }

    /// Whether `digest` is the one recorded (equal, or starting with the
    /// recorded prefix).
    pub fn matches(&self, digest: &Digest) -> bool {
        digest.as_str().starts_with(&self.0)
    }

    /// The recorded text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&Digest> for RecordedDigest {
    fn from(d: &Digest) -> Self {
        RecordedDigest(d.as_str().to_owned())
    }
}

impl std::fmt::Display for RecordedDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The images a verify proved, as text for its evidence (the deployment
/// status description): `api@sha256:<hex> web@sha256:<hex>`, full digests
/// when they fit in `room` characters, else each shortened to
/// [`RECORDED_HEX`] hex digits; `None` when even that does not fit (the
/// evidence then records no digest, and promotion says it cannot be
/// checked). [`read_recorded_images`] reads it back.
pub fn record_images(images: &[(String, Digest)], room: usize) -> Option<String> {
    let render = |hex: Option<usize>| {
        images
            .iter()
            .map(|(app, d)| {
                let text = match hex {
                    Some(n) => {
                        let colon = d.as_str().find(':').unwrap_or(0);
                        d.as_str().get(..colon + 1 + n).unwrap_or(d.as_str())
                    }
                    None => d.as_str(),
                };
                format!("{app}@{text}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    [None, Some(RECORDED_HEX)]
        .into_iter()
        .map(render)
        .find(|t| !t.is_empty() && t.chars().count() <= room)
}

/// The `app@digest` pairs [`record_images`] wrote, found anywhere in `text`
/// (a deployment status description): app name → recorded digest.
pub fn read_recorded_images(text: &str) -> BTreeMap<String, RecordedDigest> {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter_map(|word| {
            let word = word.trim_matches(|c: char| matches!(c, '.' | '(' | ')' | '[' | ']'));
            let (app, digest) = word.split_once('@')?;
            let app_ok = !app.is_empty()
                && app
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            let digest = RecordedDigest::parse(digest)?;
            app_ok.then(|| (app.to_owned(), digest))
        })
        .collect()
}

/// The outcome of the promotion check for one app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "promotion")]
pub enum Promotion {
    /// The candidate is the digest staging verified.
    Verified {
        /// The digest.
        digest: Digest,
    },
    /// The candidate differs (or is missing) and `--allow-unverified-digest`
    /// was given.
    Overridden {
        /// What staging verified.
        verified: RecordedDigest,
        /// What production deploys (`None`: the tag is not in the registry).
        candidate: Option<Digest>,
    },
    /// Cannot be checked; production proceeds and says so.
    CannotCheck {
        /// Why.
        reason: String,
    },
}

/// The promotion result for one app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PromotionCheck {
    /// Its name in `coolify.apps`.
    pub app: String,
    /// The tag production deploys.
    pub tag: String,
    /// The outcome.
    #[serde(flatten)]
    pub promotion: Promotion,
}

impl PromotionCheck {
    /// One sentence for humans.
    pub fn sentence(&self) -> String {
        let (app, tag) = (&self.app, &self.tag);
        match &self.promotion {
            Promotion::Verified { digest } => {
                format!("{app}: {tag} is {digest}, the image verified in staging")
            }
            Promotion::Overridden {
                verified,
                candidate,
            } => format!(
                "{app}: {tag} is {}, not {verified} verified in staging (allowed by {ALLOW_UNVERIFIED_DIGEST})",
                candidate
                    .as_ref()
                    .map_or("not in the registry", Digest::short),
            ),
            Promotion::CannotCheck { reason } => {
                format!("{app}: the image verified in staging cannot be checked: {reason}")
            }
        }
    }

    /// As a report check (`verified image (api)`); always passing (a
    /// mismatch is a refusal, not a check), the detail says what was proven.
    pub fn check(&self) -> Check {
        Check::pass(format!("verified image ({})", self.app), self.sentence())
    }
}

/// "Production deploys only the digest verified in staging", for one app.
/// `verified` is the digest staging's verify recorded for this commit
/// ([`read_recorded_images`] of its evidence; `None`: none was recorded). A different or missing candidate is
/// refused (exit 3, code `digest_mismatch`, naming
/// [`ALLOW_UNVERIFIED_DIGEST`]) unless `allow_unverified`; a registry that
/// did not answer, or no recorded digest, is [`Promotion::CannotCheck`].
pub fn check_promotion(
    verified: Option<&RecordedDigest>,
    candidate: &Candidate,
    allow_unverified: bool,
) -> Result<PromotionCheck> {
    let promotion = promotion(verified, candidate, allow_unverified)
        .map_err(|why| mismatch_error(std::slice::from_ref(&why)))?;
    Ok(PromotionCheck {
        app: candidate.app.clone(),
        tag: candidate.tag.clone(),
        promotion,
    })
}

/// [`check_promotion`] for every app at once: `verified` maps app names to
/// the digests staging verified. One refusal names every app that differs.
pub fn check_promotions(
    verified: &BTreeMap<String, RecordedDigest>,
    candidates: &[Candidate],
    allow_unverified: bool,
) -> Result<Vec<PromotionCheck>> {
    let mut out = Vec::new();
    let mut refused = Vec::new();
    for c in candidates {
        match promotion(verified.get(&c.app), c, allow_unverified) {
            Ok(promotion) => out.push(PromotionCheck {
                app: c.app.clone(),
                tag: c.tag.clone(),
                promotion,
            }),
            Err(why) => refused.push(why),
        }
    }
    if refused.is_empty() {
        Ok(out)
    } else {
        Err(mismatch_error(&refused))
    }
}

/// The outcome for one app, or the sentence of its refusal.
fn promotion(
    verified: Option<&RecordedDigest>,
    candidate: &Candidate,
    allow_unverified: bool,
) -> std::result::Result<Promotion, String> {
    let Some(verified) = verified else {
        return Ok(Promotion::CannotCheck {
            reason: "staging recorded no image digest for this commit".into(),
        });
    };
    let (app, tag) = (&candidate.app, &candidate.tag);
    let found = match &candidate.lookup {
        Lookup::Unknown { reason } => {
            return Ok(Promotion::CannotCheck {
                reason: reason.clone(),
            });
        }
        Lookup::Found { digest } if verified.matches(digest) => {
            return Ok(Promotion::Verified {
                digest: digest.clone(),
            });
        }
        Lookup::Found { digest } => Some(digest.clone()),
        Lookup::Missing => None,
    };
    if allow_unverified {
        return Ok(Promotion::Overridden {
            verified: verified.clone(),
            candidate: found,
        });
    }
    Err(match found {
        Some(d) => {
            format!("app `{app}`: {tag} is {d}, but staging verified {verified} for this commit")
        }
        None => format!(
            "app `{app}`: {tag} is not in the registry, but staging verified {verified} for this commit"
        ),
    })
}

fn mismatch_error(why: &[String]) -> Error {
    Error::refused(format!(
        "production deploys only the image verified in staging: {}",
        why.join("; ")
    ))
    .with_code("digest_mismatch")
    .with_hint(
        "deploy and verify this image in staging first, or point the release tag at the verified \
         digest (docker buildx imagetools create -t IMAGE:TAG IMAGE@DIGEST)",
    )
    .with_hint(format!(
        "to deploy it anyway, re-run with {ALLOW_UNVERIFIED_DIGEST}"
    ))
}

#[cfg(test)]
mod tests;
