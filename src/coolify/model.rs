//! Our own serde models of the Coolify API bodies almarel reads. They are
//! lenient on purpose: unknown fields are ignored (the deployment GET embeds a
//! whole application object), absent fields default, and the deployment status
//! is an open enum.

use serde::{Deserialize, Deserializer};

/// `GET /applications/{uuid}` (the fields almarel uses).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Application {
    /// Application uuid.
    #[serde(default)]
    pub uuid: Option<String>,
    /// Application name in Coolify.
    #[serde(default)]
    pub name: Option<String>,
    /// `dockerimage`, `nixpacks`, `dockerfile`, ...
    #[serde(default)]
    pub build_pack: Option<String>,
    /// Repository of a Docker Image app (no `:tag`).
    #[serde(default)]
    pub docker_registry_image_name: Option<String>,
    /// The configured image tag (empty or null means `latest`); not proof of what runs.
    #[serde(default)]
    pub docker_registry_image_tag: Option<String>,
    /// `<state>:<health>`, e.g. `running:healthy`.
    #[serde(default)]
    pub status: Option<String>,
    /// The app's domains: comma-separated URLs (`https://api.example.com`).
    #[serde(default)]
    pub fqdn: Option<String>,
}

impl Application {
    /// Whether this is a Docker Image app.
    pub fn is_docker_image(&self) -> bool {
        self.build_pack.as_deref() == Some("dockerimage")
    }

    /// The configured tag, `None` when unset or empty.
    pub fn image_tag(&self) -> Option<&str> {
        self.docker_registry_image_tag
            .as_deref()
            .filter(|t| !t.is_empty())
    }
}

/// A deployment's status (open: an unknown value is kept, and treated as not terminal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeploymentStatus {
    /// Waiting for a worker.
    Queued,
    /// Running.
    InProgress,
    /// Done, successfully.
    Finished,
    /// Failed (the old container keeps serving).
    Failed,
    /// Cancelled by a user.
    CancelledByUser,
    /// A value this almarel does not know.
    Other(String),
}

impl DeploymentStatus {
    /// Parses Coolify's status string.
    pub fn parse(s: &str) -> Self {
        match s {
            "queued" => Self::Queued,
            "in_progress" => Self::InProgress,
            "finished" => Self::Finished,
            "failed" => Self::Failed,
            "cancelled-by-user" => Self::CancelledByUser,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Coolify's string for this status.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Queued => "queued",
            Self::InProgress => "in_progress",
            Self::Finished => "finished",
            Self::Failed => "failed",
            Self::CancelledByUser => "cancelled-by-user",
            Self::Other(s) => s,
        }
    }

    /// `finished`, `failed` or `cancelled-by-user`.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Finished | Self::Failed | Self::CancelledByUser)
    }

    /// `queued` or `in_progress`.
    pub fn is_in_flight(&self) -> bool {
        matches!(self, Self::Queued | Self::InProgress)
    }
}

impl std::fmt::Display for DeploymentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.as_str().replace('_', " "))
    }
}

impl<'de> Deserialize<'de> for DeploymentStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Self::parse(&s))
    }
}

/// One deployment (`ApplicationDeploymentQueue`).
#[derive(Debug, Clone, Deserialize)]
pub struct Deployment {
    /// Deployment uuid.
    pub deployment_uuid: String,
    /// Status.
    pub status: DeploymentStatus,
    /// UI path of the deployment page.
    #[serde(default)]
    pub deployment_url: Option<String>,
    /// Application name.
    #[serde(default)]
    pub application_name: Option<String>,
    /// Created at (ISO 8601).
    #[serde(default)]
    pub created_at: Option<String>,
    /// Build log: a JSON-encoded string of entries; absent unless the token may read it.
    #[serde(default)]
    pub logs: Option<String>,
}

/// `GET /deployments/applications/{uuid}`: `{count, deployments}` (the spec is wrong about it).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DeploymentList {
    /// Total rows for the app.
    #[serde(default)]
    pub count: Option<u64>,
    /// Newest first.
    #[serde(default)]
    pub deployments: Vec<Deployment>,
}

/// `POST /deploy` answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DeployResponse {
    /// One entry per resource that resolved.
    #[serde(default)]
    pub deployments: Vec<DeployEntry>,
}

/// One `deployments[]` entry of `POST /deploy`; each must be checked on its own.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DeployEntry {
    /// What Coolify did.
    #[serde(default)]
    pub message: Option<String>,
    /// The resource.
    #[serde(default)]
    pub resource_uuid: Option<String>,
    /// The deployment (absent on some entries, bogus on "already queued").
    #[serde(default)]
    pub deployment_uuid: Option<String>,
}

/// What one `POST /deploy` entry means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A real, persisted deployment.
    Started(String),
    /// "Deployment already queued for this commit.": the uuid it carries does not exist.
    AlreadyQueued(String),
    /// No deployment uuid: Coolify's message says why.
    Refused(String),
}

impl DeployEntry {
    /// Classifies the entry.
    pub fn trigger(&self) -> Trigger {
        let message = self.message.clone().unwrap_or_default();
        if message.to_ascii_lowercase().contains("already queued") {
            return Trigger::AlreadyQueued(message);
        }
        match self.deployment_uuid.as_deref().filter(|u| !u.is_empty()) {
            Some(u) => Trigger::Started(u.to_owned()),
            None if message.is_empty() => {
                Trigger::Refused("coolify returned no deployment uuid and no message".into())
            }
            None => Trigger::Refused(message),
        }
    }
}

#[derive(Debug, Deserialize)]
struct LogEntry {
    #[serde(default)]
    output: Option<String>,
    #[serde(default)]
    hidden: bool,
    #[serde(default)]
    batch: i64,
    #[serde(default)]
    order: i64,
}

/// The visible lines of a deployment's `logs` field (a JSON-encoded string of
/// entries): sorted by batch, then order; hidden entries dropped.
pub fn log_lines(logs: &str) -> Vec<String> {
    let Ok(mut entries) = serde_json::from_str::<Vec<LogEntry>>(logs) else {
        return Vec::new();
    };
    entries.sort_by_key(|e| (e.batch, e.order));
    entries
        .into_iter()
        .filter(|e| !e.hidden)
        .filter_map(|e| e.output)
        .flat_map(|o| o.lines().map(str::to_owned).collect::<Vec<_>>())
        .filter(|l| !l.trim().is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_ignores_the_embedded_application_and_unknown_status() {
        let body = r#"{"id":812,"deployment_uuid":"m1","application_id":"42","status":"in_progress",
            "application":{"uuid":"x","environment":{"project":{"team":{"id":0}}}},"extra":[1,2]}"#;
        let d: Deployment = serde_json::from_str(body).unwrap();
        assert_eq!(d.status, DeploymentStatus::InProgress);
        assert!(d.logs.is_none());
        let d: Deployment =
            serde_json::from_str(r#"{"deployment_uuid":"m","status":"paused"}"#).unwrap();
        assert_eq!(d.status, DeploymentStatus::Other("paused".into()));
        assert!(!d.status.is_terminal());
    }

    #[test]
    fn deploy_entries_are_classified() {
        let e = |m: &str, u: Option<&str>| DeployEntry {
            message: Some(m.into()),
            resource_uuid: Some("app".into()),
            deployment_uuid: u.map(Into::into),
        };
        assert_eq!(
            e("Application api deployment queued.", Some("d1")).trigger(),
            Trigger::Started("d1".into())
        );
        assert!(matches!(
            e("Deployment already queued for this commit.", Some("bogus")).trigger(),
            Trigger::AlreadyQueued(_)
        ));
        assert_eq!(
            e("Unauthorized to deploy this application.", None).trigger(),
            Trigger::Refused("Unauthorized to deploy this application.".into())
        );
    }

    #[test]
    fn logs_are_sorted_and_hidden_entries_dropped() {
        let logs = serde_json::to_string(&serde_json::json!([
            {"output":"second","hidden":false,"batch":1,"order":2,"type":"stdout"},
            {"output":"secret internal","hidden":true,"batch":1,"order":1},
            {"output":"first","hidden":false,"batch":0,"order":9},
        ]))
        .unwrap();
        assert_eq!(log_lines(&logs), vec!["first", "second"]);
        assert!(log_lines("not json").is_empty());
    }
}
