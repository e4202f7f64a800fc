//! Evidence in GitHub (SPEC §8.3): `verify` records its verdict as one
//! deployment status for the environment and commit; `status`, `approve` and
//! `checklist` read it back, so every teammate sees the same truth.
//!
//! [`record`] adds exactly one status per call, on the newest deployment of
//! that commit to that environment (the one GitHub created when the
//! environment was approved), else on a deployment it creates. A token that
//! may not (403/404) gives [`Recorded::CannotRecord`]: the caller warns and
//! never changes verify's exit code. Each write goes through the journal.
//!
//! Statuses almarel writes are recognised by their description, which starts
//! with [`MARKER`] (`almarel verify passed: …` / `almarel verify failed: …`);
//! the success statuses GitHub Actions itself adds to an environment job's
//! deployment are not evidence of a verify.

use serde::Serialize;

use crate::env::{self, Env, GITHUB_RUN_ID, GITHUB_SERVER_URL};

use crate::error::{Error, Result};
use crate::github::deployments::{
    Deployment, DeploymentStatus, MAX_DESCRIPTION, NewStatus, StatusState, cap,
    is_forbidden_or_missing,
};
use crate::github::{Client, WriteOutcome};
use crate::journal::Journal;
use crate::report::Check;
use crate::settings::{EnvironmentSettings, STAGING_ENVIRONMENT, Settings};

/// How an almarel status's description starts.
pub const MARKER: &str = "almarel verify ";

/// How many deployments [`read`] and [`last_verified`] look through (one
/// statuses request each; the ETag cache makes repeats free).
pub const SCAN_LIMIT: u8 = 10;

/// What one verify run found, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The GitHub Environment (`settings.github.environment`).
    pub environment: String,
    /// The commit that was expected (and found) live: full SHA.
    pub sha: String,
    /// Whether everything that was checked passed.
    pub ok: bool,
    /// What was checked (`health 200, version abc1234, web, 2 smoke steps`).
    /// Pass it through `ui.redact` first; [`record`] also strips URL
    /// credentials and token-shaped words, and caps it at 140 characters.
    pub description: String,
    /// The environment's URL (e.g. `verify.web_url`); credentials, query and
    /// fragment are dropped.
    pub environment_url: Option<String>,
    /// The Actions run's URL ([`actions_run_url`]), when there is one.
    pub log_url: Option<String>,
}

/// What [`record`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Recorded {
    /// One status was added.
    Recorded {
        /// The deployment it is on.
        deployment_id: u64,
        /// The new status's id.
        status_id: u64,
        /// `true`: an existing deployment (GitHub's, from the approval);
        /// `false`: almarel created the deployment.
        reused: bool,
        /// `success` or `failure`.
        state: StatusState,
        /// The description sent.
        description: String,
    },
    /// GitHub refused (403/404: the token may not; 409/422: it would not
    /// take this deployment). Nothing, or only the deployment, was created.
    CannotRecord {
        /// GitHub's answer, for the warning.
        reason: String,
        /// A deployment almarel created before the status was refused.
        deployment_id: Option<u64>,
    },
    /// A POST got no clear answer (5xx, timeout): it may have been applied.
    Unknown {
        /// What happened.
        reason: String,
        /// The deployment, when it is known.
        deployment_id: Option<u64>,
    },
}

impl Recorded {
    /// Whether the status is known to be in GitHub.
    pub fn is_recorded(&self) -> bool {
        matches!(self, Recorded::Recorded { .. })
    }

    /// The warning to print when it is not (`None` when it was recorded).
    pub fn warning(&self, environment: &str) -> Option<String> {
        match self {
            Recorded::Recorded { .. } => None,
            Recorded::CannotRecord { reason, .. } => Some(format!(
                "verify's verdict was not recorded in GitHub environment {environment}: {reason} \
                 (the token needs Deployments: write; classic PAT: repo or repo_deployment)"
            )),
            Recorded::Unknown { reason, .. } => Some(format!(
                "verify's verdict may not have been recorded in GitHub environment {environment}: {reason}"
            )),
        }
    }
}

/// A verdict read back from GitHub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// The commit.
    pub sha: String,
    /// The GitHub Environment.
    pub environment: String,
    /// When the status was created (RFC 3339).
    pub at: String,
    /// `success` or `failure`.
    pub state: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was checked (the status's description).
    pub description: String,
    /// The run that verified, when recorded.
    pub log_url: Option<String>,
    /// The environment's URL, when recorded.
    pub environment_url: Option<String>,
    /// The deployment the status is on.
    pub deployment_id: u64,
    /// The status's id (ids grow: the tie-break between statuses of the
    /// same second).
    pub status_id: u64,
}

/// The URL of the running Actions run,
/// `$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID`;
/// `None` outside GitHub Actions or when a part is missing or malformed.
pub fn actions_run_url(env: &Env) -> Option<String> {
    if !env.in_github_actions() {
        return None;
    }
    let server = env.get(GITHUB_SERVER_URL)?.trim_end_matches('/');
    let repo = env.get(env::GITHUB_REPOSITORY)?;
    let run = env.get(GITHUB_RUN_ID)?;
    let server_ok = url::Url::parse(server)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    let repo_ok = crate::settings::validate_repository(repo).is_ok();
    let run_ok = !run.is_empty() && run.chars().all(|c| c.is_ascii_digit());
    (server_ok && repo_ok && run_ok).then(|| format!("{server}/{repo}/actions/runs/{run}"))
}

/// Records `evidence` as exactly one deployment status (see the module doc).
/// `Err` only for failures other than "GitHub refused" (401, network,
/// a rate limit past the deadline); the caller warns on those too.
pub async fn record(client: &Client, journal: &Journal, evidence: &Evidence) -> Result<Recorded> {
    let env_name = &evidence.environment;
    let short = crate::version::short_sha(&evidence.sha).to_owned();
    let check = Some(format!(
        "gh api 'repos/{}/deployments?sha={}&environment={env_name}'",
        client.repo(),
        evidence.sha
    ));
    let existing = match client.deployments_for(&evidence.sha, env_name).await {
        Ok(list) => list,
        Err(e) if is_forbidden_or_missing(&e) => {
            return Ok(Recorded::CannotRecord {
                reason: e.message,
                deployment_id: None,
            });
        }
        Err(e) => return Err(e),
    };
    let (deployment_id, reused) = match existing.first() {
        Some(d) => (d.id, true),
        None => {
            let w = journal.begin(
                format!("create a GitHub deployment of {short} to {env_name}"),
                check.clone(),
            );
            match client
                .create_deployment(&evidence.sha, env_name, "almarel verify")
                .await
            {
                Ok(WriteOutcome::Accepted(resp)) => match resp.json::<Deployment>("deployment") {
                    Ok(d) => {
                        w.done();
                        (d.id, false)
                    }
                    Err(e) => {
                        w.failed(&e.message);
                        return Ok(Recorded::Unknown {
                            reason: e.message,
                            deployment_id: None,
                        });
                    }
                },
                Ok(WriteOutcome::Refused { status, message }) => {
                    w.failed(format!("{status}: {message}"));
                    return Ok(Recorded::CannotRecord {
                        reason: format!(
                            "creating the deployment was refused ({status}): {message}"
                        ),
                        deployment_id: None,
                    });
                }
                Ok(WriteOutcome::Unknown(e)) => {
                    w.failed(&e.message);
                    return Ok(Recorded::Unknown {
                        reason: e.message,
                        deployment_id: None,
                    });
                }
                Err(e) if is_forbidden_or_missing(&e) => {
                    w.failed(&e.message);
                    return Ok(Recorded::CannotRecord {
                        reason: e.message,
                        deployment_id: None,
                    });
                }
                Err(e) => {
                    w.failed(&e.message);
                    return Err(e);
                }
            }
        }
    };
    let state = if evidence.ok {
        StatusState::Success
    } else {
        StatusState::Failure
    };
    let description = describe(evidence.ok, &evidence.description);
    let status = NewStatus {
        state,
        description: description.clone(),
        environment_url: evidence.environment_url.as_deref().and_then(clean_url),
        log_url: evidence.log_url.as_deref().and_then(clean_url),
    };
    let w = journal.begin(
        format!(
            "record `{}` for {short} in GitHub environment {env_name}",
            state.as_str()
        ),
        check,
    );
    let created = Some(deployment_id).filter(|_| !reused);
    match client
        .create_deployment_status(deployment_id, &status)
        .await
    {
        Ok(WriteOutcome::Accepted(resp)) => {
            match resp.json::<DeploymentStatus>("deployment status") {
                Ok(s) => {
                    w.done();
                    Ok(Recorded::Recorded {
                        deployment_id,
                        status_id: s.id,
                        reused,
                        state,
                        description,
                    })
                }
                Err(e) => {
                    w.failed(&e.message);
                    Ok(Recorded::Unknown {
                        reason: e.message,
                        deployment_id: Some(deployment_id),
                    })
                }
            }
        }
        Ok(WriteOutcome::Refused { status, message }) => {
            w.failed(format!("{status}: {message}"));
            Ok(Recorded::CannotRecord {
                reason: format!("the deployment status was refused ({status}): {message}"),
                deployment_id: created,
            })
        }
        Ok(WriteOutcome::Unknown(e)) => {
            w.failed(&e.message);
            Ok(Recorded::Unknown {
                reason: e.message,
                deployment_id: Some(deployment_id),
            })
        }
        Err(e) if is_forbidden_or_missing(&e) => {
            w.failed(&e.message);
            Ok(Recorded::CannotRecord {
                reason: e.message,
                deployment_id: created,
            })
        }
        Err(e) => {
            w.failed(&e.message);
            Err(e)
        }
    }
}

/// The newest verdict almarel recorded for `sha` in GitHub Environment
/// `environment` (success or failure); `None` when there is none.
pub async fn read(client: &Client, environment: &str, sha: &str) -> Result<Option<Verified>> {
    let deployments = client.deployments_for(sha, environment).await?;
    let mut best: Option<Verified> = None;
    for d in deployments.iter().take(usize::from(SCAN_LIMIT)) {
        if let Some(v) = newest_verdict(client, d, false).await? {
            if best.as_ref().is_none_or(|b| newer(&v, b)) {
                best = Some(v);
            }
        }
    }
    Ok(best)
}

/// The last version verified (a `success` verdict) in GitHub Environment
/// `environment`, any commit, looking through the newest [`SCAN_LIMIT`]
/// deployments; `None` when there is none among them.
pub async fn last_verified(client: &Client, environment: &str) -> Result<Option<Verified>> {
    let deployments = client.recent_deployments(environment, SCAN_LIMIT).await?;
    let mut best: Option<Verified> = None;
    for d in &deployments {
        if let Some(v) = newest_verdict(client, d, true).await? {
            if best.as_ref().is_none_or(|b| newer(&v, b)) {
                best = Some(v);
            }
        }
    }
    Ok(best)
}

async fn newest_verdict(
    client: &Client,
    d: &Deployment,
    success_only: bool,
) -> Result<Option<Verified>> {
    let statuses = client.deployment_statuses(d.id).await?;
    Ok(statuses
        .into_iter()
        .find(|s| {
            s.description.starts_with(MARKER)
                && matches!(s.state.as_str(), "success" | "failure")
                && (!success_only || s.state == "success")
        })
        .map(|s| Verified {
            sha: d.sha.clone(),
            environment: d.environment.clone(),
            ok: s.state == "success",
            status_id: s.id,
            at: s.created_at,
            state: s.state,
            description: s.description,
            log_url: s.log_url.filter(|u| !u.is_empty()),
            environment_url: s.environment_url.filter(|u| !u.is_empty()),
            deployment_id: d.id,
        }))
}

fn newer(a: &Verified, b: &Verified) -> bool {
    (&a.at, a.status_id) > (&b.at, b.status_id)
}

/// The last verified version of each environment (for `status`), in the
/// order given; an environment whose evidence cannot be read carries the error.
pub async fn last_verified_each(
    client: &Client,
    environments: &[EnvironmentSettings],
) -> Vec<(String, Result<Option<Verified>>)> {
    let mut out = Vec::with_capacity(environments.len());
    for e in environments {
        let last = last_verified(client, &e.github_environment).await;
        out.push((e.name.clone(), last));
    }
    out
}

/// The "staging validated" check (checklist `before-merge`, and the evidence
/// `approve` shows): green only when the newest verdict for `sha` in
/// `env_name` is a success. `verified` is [`read`]'s answer.
pub fn staging_check(env_name: &str, sha: &str, verified: Option<&Verified>) -> Check {
    let short = crate::version::short_sha(sha);
    let fix = format!("almarel verify --env {env_name} --expect-sha {sha}");
    match verified {
        Some(v) if v.ok => Check::pass(
            format!("{env_name} validated"),
            format!("{short} verified in {env_name} at {}", v.at),
        ),
        Some(v) => Check::fail(
            format!("{env_name} validated"),
            format!(
                "the last verify of {short} in {env_name} failed at {}: {}",
                v.at, v.description
            ),
            fix,
        ),
        None => Check::fail(
            format!("{env_name} validated"),
            format!("no verify of {short} recorded in {env_name}"),
            fix,
        ),
    }
}

/// `approve.require_staging`: refuses (exit 3, code `staging_not_verified`)
/// unless `verified` (the newest verdict for `sha` in `staging`) is a
/// success. Without the setting it always passes.
pub fn require_staging(settings: &Settings, sha: &str, verified: Option<&Verified>) -> Result<()> {
    if !settings.approve.require_staging {
        return Ok(());
    }
    let check = staging_check(STAGING_ENVIRONMENT, sha, verified);
    if check.ok {
        return Ok(());
    }
    Err(Error::refused(format!(
        "{}; approve.require_staging = true asks for a successful verify in {STAGING_ENVIRONMENT} first",
        check.detail
    ))
    .with_code("staging_not_verified")
    .with_hint(check.fix.unwrap_or_default())
    .with_hint("or set approve.require_staging = false in almarel.toml"))
}

/// The `staging` environment (`[environments.staging]`), when configured.
pub fn staging(settings: &Settings) -> Option<&EnvironmentSettings> {
    settings
        .environments
        .iter()
        .find(|e| e.name == STAGING_ENVIRONMENT)
}

/// The newest verdict for `sha` in the `staging` environment's GitHub
/// Environment; `Ok(None)` when there is none or staging is not configured.
pub async fn read_staging(
    client: &Client,
    settings: &Settings,
    sha: &str,
) -> Result<Option<Verified>> {
    match staging(settings) {
        Some(e) => read(client, &e.github_environment, sha).await,
        None => Ok(None),
    }
}

/// `almarel verify passed: <what>` / `… failed: <what>`, sanitised, at most
/// 140 characters.
pub fn describe(ok: bool, what: &str) -> String {
    let verdict = if ok { "passed" } else { "failed" };
    let text = sanitize(what);
    let text = if text.trim().is_empty() {
        format!("{MARKER}{verdict}")
    } else {
        format!("{MARKER}{verdict}: {}", text.trim())
    };
    cap(&text, MAX_DESCRIPTION)
}

/// Removes what must never reach GitHub from free text: URL credentials
/// (`https://user:pass@host` → `https://host`), URL queries and fragments
/// (they carry signed tokens), `Bearer …`/`token …` values, and words shaped
/// like GitHub tokens (`ghp_…`, `github_pat_…`) or Coolify tokens (`12|…`).
pub fn sanitize(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut redact_next = false;
    for word in text.split(' ') {
        if redact_next {
            redact_next = false;
            if !word.is_empty() {
                out.push("***".into());
                continue;
            }
        }
        let lower = word.to_ascii_lowercase();
        if matches!(lower.as_str(), "bearer" | "token" | "basic") {
            redact_next = true;
            out.push(word.to_owned());
            continue;
        }
        out.push(sanitize_word(word));
    }
    out.join(" ")
}

fn sanitize_word(word: &str) -> String {
    // URLs: keep scheme, host, port and path.
    if let Some(pos) = word.find("://") {
        let (head, rest) = word.split_at(pos + 3);
        let start = head
            .rfind(|c: char| {
                !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.' | ':' | '/'))
            })
            .map_or(0, |i| i + 1);
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ')' | '"' | '\''))
            .unwrap_or(rest.len());
        let url = format!("{}{}", &head[start..], &rest[..end]);
        let cleaned = clean_url(&url).unwrap_or_else(|| "***".into());
        return format!("{}{cleaned}{}", &head[..start], &rest[end..]);
    }
    const PREFIXES: [&str; 6] = ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"];
    let bare = word.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_' && c != '|');
    if PREFIXES
        .iter()
        .any(|p| bare.starts_with(p) && bare.len() > p.len() + 8)
    {
        return word.replace(bare, "***");
    }
    if let Some((id, secret)) = bare.split_once('|') {
        if !id.is_empty()
            && id.chars().all(|c| c.is_ascii_digit())
            && secret.len() >= 16
            && secret.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return word.replace(bare, "***");
        }
    }
    word.to_owned()
}

/// An http(s) URL without credentials, query or fragment; `None` when it is
/// not one.
fn clean_url(raw: &str) -> Option<String> {
    let mut u = url::Url::parse(raw).ok()?;
    if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
        return None;
    }
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    Some(u.to_string())
}

#[cfg(test)]
mod tests;
