//! GitHub Deployments and deployment statuses: where `verify` leaves its
//! verdict (SPEC §8.3) and where `status`, `approve` and `checklist` read it.
//!
//! Shapes: GitHub's OpenAPI description (github/rest-api-description,
//! `descriptions/api.github.com/api.github.com.json`): `repos/list-deployments`
//! and `repos/list-deployment-statuses` (in `/work/shared/contracts/github/
//! operations.json`, examples `deployment-items` and
//! `deployment-status-items`, copied to `tests/fixtures/github/`),
//! `repos/create-deployment` (201 `deployment`; 202 when an auto-merge
//! happened; 409 merge conflict; 422 validation) and
//! `repos/create-deployment-status` (201 `deployment-status`; `description`
//! at most 140 characters). Both POSTs are sent once, re-sent only after a
//! rate-limit answer (`Client::write_once`).

use ::http::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::actions::encode_segment;
use super::{Client, WriteOutcome};
use crate::error::{Error, Result};

/// The longest `description` GitHub accepts on a deployment status.
pub const MAX_DESCRIPTION: usize = 140;

/// `deployment`: only what almarel reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Deployment {
    /// Its id.
    pub id: u64,
    /// The commit deployed.
    pub sha: String,
    /// The ref it was created for (branch, tag or SHA).
    #[serde(rename = "ref")]
    pub reference: String,
    /// The GitHub Environment (`production`).
    pub environment: String,
    /// `deploy` unless the creator said otherwise.
    #[serde(default)]
    pub task: String,
    /// Free text set by the creator.
    #[serde(default)]
    pub description: Option<String>,
    /// Who created it (`github-actions[bot]` for an environment job).
    #[serde(default)]
    pub creator: Option<Creator>,
    /// When (RFC 3339).
    pub created_at: String,
}

/// `creator` of a deployment or status (a `nullable-simple-user`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Creator {
    /// The login.
    pub login: String,
}

/// `deployment-status`: only what almarel reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct DeploymentStatus {
    /// Its id.
    pub id: u64,
    /// `error`, `failure`, `inactive`, `pending`, `success`, `queued`, `in_progress`.
    pub state: String,
    /// Up to 140 characters.
    #[serde(default)]
    pub description: String,
    /// The environment's URL, when the creator gave one.
    #[serde(default)]
    pub environment_url: Option<String>,
    /// Where the output is (the Actions run), when the creator gave one.
    #[serde(default)]
    pub log_url: Option<String>,
    /// Who created it.
    #[serde(default)]
    pub creator: Option<Creator>,
    /// When (RFC 3339).
    pub created_at: String,
}

/// The state of a deployment status almarel writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusState {
    /// What was checked passed.
    Success,
    /// What was checked failed.
    Failure,
}

impl StatusState {
    /// GitHub's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusState::Success => "success",
            StatusState::Failure => "failure",
        }
    }
}

/// What to send as a new deployment status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStatus {
    /// `success` or `failure`.
    pub state: StatusState,
    /// At most [`MAX_DESCRIPTION`] characters (longer is cut here).
    pub description: String,
    /// The environment's URL, if known.
    pub environment_url: Option<String>,
    /// The run's URL, if any.
    pub log_url: Option<String>,
}

impl Client {
    /// Deployments of commit `sha` to GitHub Environment `environment`,
    /// newest first (`GET /deployments?sha=…&environment=…`).
    pub async fn deployments_for(&self, sha: &str, environment: &str) -> Result<Vec<Deployment>> {
        let url = self.repo_url(&format!(
            "/deployments?sha={}&environment={}&per_page=100",
            encode_segment(sha),
            encode_segment(environment)
        ));
        let mut list: Vec<Deployment> = self.http.get_all(&url, None).await?;
        newest_first(&mut list);
        Ok(list)
    }

    /// The newest `limit` (at most 100) deployments to `environment`, any
    /// commit, newest first (one page).
    pub async fn recent_deployments(
        &self,
        environment: &str,
        limit: u8,
    ) -> Result<Vec<Deployment>> {
        let url = self.repo_url(&format!(
            "/deployments?environment={}&per_page={}",
            encode_segment(environment),
            limit.clamp(1, 100)
        ));
        let mut list: Vec<Deployment> = self.http.get(&url).await?.json("deployments")?;
        newest_first(&mut list);
        Ok(list)
    }

    /// Creates a deployment of commit `sha` to `environment`
    /// (`POST /deployments` with `ref` = the SHA, `auto_merge: false`,
    /// `required_contexts: []`: no merge into the branch, no status checks
    /// demanded; the commit is what was verified). Sent once.
    pub async fn create_deployment(
        &self,
        sha: &str,
        environment: &str,
        description: &str,
    ) -> Result<WriteOutcome> {
        let body = json!({
            "ref": sha,
            "environment": environment,
            "auto_merge": false,
            "required_contexts": [],
            "description": cap(description, MAX_DESCRIPTION),
        });
        self.write_once(Method::POST, &self.repo_url("/deployments"), Some(&body))
            .await
    }

    /// Adds a status to deployment `id` (`POST /deployments/{id}/statuses`;
    /// `auto_inactive: false`, so other deployments are left as they are).
    /// Sent once.
    pub async fn create_deployment_status(
        &self,
        id: u64,
        status: &NewStatus,
    ) -> Result<WriteOutcome> {
        let mut body = json!({
            "state": status.state.as_str(),
            "description": cap(&status.description, MAX_DESCRIPTION),
            "auto_inactive": false,
        });
        if let Some(u) = &status.environment_url {
            body["environment_url"] = json!(u);
        }
        if let Some(u) = &status.log_url {
            body["log_url"] = json!(u);
        }
        let url = self.repo_url(&format!("/deployments/{id}/statuses"));
        self.write_once(Method::POST, &url, Some(&body)).await
    }

    /// Statuses of deployment `id`, newest first.
    pub async fn deployment_statuses(&self, id: u64) -> Result<Vec<DeploymentStatus>> {
        let url = self.repo_url(&format!("/deployments/{id}/statuses?per_page=100"));
        let mut list: Vec<DeploymentStatus> = self.http.get_all(&url, None).await?;
        list.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(list)
    }
}

/// Whether `e` is GitHub refusing the token (403 that is not a rate limit)
/// or not finding the repository or deployment (404): "the token may not".
pub fn is_forbidden_or_missing(e: &Error) -> bool {
    matches!(e.code, Some("permission_denied" | "not_found"))
}

fn newest_first(list: &mut [Deployment]) {
    list.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
}

/// At most `max` characters, cut with `…`.
pub fn cap(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_official_examples_parse() {
        let d: Vec<Deployment> =
            serde_json::from_str(include_str!("../../tests/fixtures/github/deployments.json"))
                .unwrap();
        assert_eq!(d[0].environment, "production");
        assert_eq!(d[0].reference, "topic-branch");
        let s: Vec<DeploymentStatus> = serde_json::from_str(include_str!(
            "../../tests/fixtures/github/deployment-statuses.json"
        ))
        .unwrap();
        assert_eq!(s[0].state, "success");
        assert_eq!(
            s[0].log_url.as_deref(),
            Some("https://example.com/deployment/42/output")
        );
    }

    #[test]
    fn descriptions_are_capped_at_140_characters() {
        let long = "é".repeat(200);
        let c = cap(&long, MAX_DESCRIPTION);
        assert_eq!(c.chars().count(), 140);
        assert!(c.ends_with('…'));
        assert_eq!(cap("short", MAX_DESCRIPTION), "short");
        assert_eq!(encode_segment("Production EU"), "Production%20EU");
    }
}
