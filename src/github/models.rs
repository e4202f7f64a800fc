//! Our own serde models of the GitHub REST bodies almarel reads. Only the
//! fields we use; unknown fields are ignored, nullable fields are `Option`,
//! and statuses are open enums with an `Unknown(String)` fallback so a new
//! value from GitHub never breaks a whole page.

use serde::{Deserialize, Serialize};

macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A value this version of almarel does not know.
            Unknown(String),
        }
        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    $($text => $name::$variant,)*
                    _ => $name::Unknown(s),
                }
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.as_str().to_owned()
            }
        }
        impl $name {
            /// The wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Unknown(s) => s.as_str(),
                }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

open_enum! {
    /// A workflow run's `status`.
    RunStatus {
        /// `requested`.
        Requested => "requested",
        /// `queued`.
        Queued => "queued",
        /// `pending`.
        Pending => "pending",
        /// `waiting`: held by environment protection rules.
        Waiting => "waiting",
        /// `in_progress`.
        InProgress => "in_progress",
        /// `completed`.
        Completed => "completed",
    }
}

open_enum! {
    /// A workflow run's `conclusion` (null until completed).
    Conclusion {
        /// `success`.
        Success => "success",
        /// `failure`.
        Failure => "failure",
        /// `neutral`.
        Neutral => "neutral",
        /// `cancelled`.
        Cancelled => "cancelled",
        /// `skipped`.
        Skipped => "skipped",
        /// `timed_out`.
        TimedOut => "timed_out",
        /// `action_required`.
        ActionRequired => "action_required",
        /// `stale`.
        Stale => "stale",
        /// `startup_failure`.
        StartupFailure => "startup_failure",
    }
}

impl Conclusion {
    /// Whether this conclusion counts as a pass (`success`, `neutral`, `skipped`).
    pub fn is_ok(&self) -> bool {
        matches!(
            self,
            Conclusion::Success | Conclusion::Neutral | Conclusion::Skipped
        )
    }
}

open_enum! {
    /// A workflow's `state`.
    WorkflowState {
        /// `active`.
        Active => "active",
        /// `deleted`.
        Deleted => "deleted",
        /// `disabled_fork`.
        DisabledFork => "disabled_fork",
        /// `disabled_inactivity`.
        DisabledInactivity => "disabled_inactivity",
        /// `disabled_manually`.
        DisabledManually => "disabled_manually",
    }
}

/// A user (`simple-user`), reduced to what we show.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct User {
    /// Login.
    pub login: String,
    /// Numeric id.
    #[serde(default)]
    pub id: u64,
}

/// A workflow (`workflow`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Workflow {
    /// Numeric id.
    pub id: u64,
    /// Display name.
    pub name: String,
    /// File path (`.github/workflows/deploy.yml`).
    pub path: String,
    /// State; anything but `active` means no new runs start.
    pub state: WorkflowState,
}

impl Workflow {
    /// The file name of `path` (`deploy.yml`).
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
    /// Whether `name_or_file` names this workflow (by name or by file name).
    pub fn matches(&self, name_or_file: &str) -> bool {
        self.name == name_or_file
            || self.file_name() == name_or_file
            || self.path == name_or_file
            || self.id.to_string() == name_or_file
    }
}

/// `{total_count, workflows}`.
#[derive(Debug, Clone, Deserialize)]
pub struct WorkflowList {
    /// The workflows on this page.
    pub workflows: Vec<Workflow>,
}

/// A workflow run (`workflow-run`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Run {
    /// Run id.
    pub id: u64,
    /// Workflow name at the time of the run.
    #[serde(default)]
    pub name: Option<String>,
    /// The workflow's id.
    pub workflow_id: u64,
    /// The commit.
    pub head_sha: String,
    /// Branch (null for some events).
    #[serde(default)]
    pub head_branch: Option<String>,
    /// Triggering event (`push`, `workflow_run`, ...).
    #[serde(default)]
    pub event: Option<String>,
    /// Status (null possible per the schema).
    #[serde(default)]
    pub status: Option<RunStatus>,
    /// Conclusion (null until completed).
    #[serde(default)]
    pub conclusion: Option<Conclusion>,
    /// Web URL.
    pub html_url: String,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Last update (RFC 3339).
    #[serde(default)]
    pub updated_at: Option<String>,
    /// Attempt number (re-runs keep the id).
    #[serde(default)]
    pub run_attempt: Option<u64>,
    /// Who pushed.
    #[serde(default)]
    pub actor: Option<User>,
    /// Who triggered this attempt.
    #[serde(default)]
    pub triggering_actor: Option<User>,
    /// Title shown in the UI.
    #[serde(default)]
    pub display_title: Option<String>,
}

impl Run {
    /// Whether the run has completed.
    pub fn is_completed(&self) -> bool {
        self.status == Some(RunStatus::Completed)
    }
    /// Whether the run waits for an environment's protection rules.
    pub fn is_waiting(&self) -> bool {
        self.status == Some(RunStatus::Waiting)
    }
    /// `status` or `status/conclusion` for display.
    pub fn state_text(&self) -> String {
        match (&self.status, &self.conclusion) {
            (_, Some(c)) => format!("completed/{c}"),
            (Some(RunStatus::Waiting), None) => "waiting for approval".to_owned(),
            (Some(s), None) => s.to_string(),
            (None, None) => "unknown".to_owned(),
        }
    }
}

/// `{total_count, workflow_runs}`.
#[derive(Debug, Clone, Deserialize)]
pub struct RunList {
    /// The runs on this page.
    pub workflow_runs: Vec<Run>,
}

/// An environment as embedded in pending deployments and reviews.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct EnvironmentRef {
    /// Environment id (what the review POST takes).
    pub id: u64,
    /// Name (`production`).
    #[serde(default)]
    pub name: Option<String>,
}

/// A required reviewer: a user or a team.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Reviewer {
    /// `User` or `Team`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The user or team.
    pub reviewer: ReviewerEntity,
}

/// The user or team behind a [`Reviewer`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ReviewerEntity {
    /// Login (users).
    #[serde(default)]
    pub login: Option<String>,
    /// Slug (teams).
    #[serde(default)]
    pub slug: Option<String>,
    /// Name (teams).
    #[serde(default)]
    pub name: Option<String>,
}

impl Reviewer {
    /// `@login` for users, `team:slug` for teams.
    pub fn label(&self) -> String {
        match (
            &self.reviewer.login,
            &self.reviewer.slug,
            &self.reviewer.name,
        ) {
            (Some(l), _, _) => format!("@{l}"),
            (None, Some(s), _) => format!("team {s}"),
            (None, None, Some(n)) => format!("team {n}"),
            _ => self.kind.clone(),
        }
    }
}

/// One entry of `GET .../runs/{id}/pending_deployments`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PendingDeployment {
    /// The environment waiting for review.
    pub environment: EnvironmentRef,
    /// Wait timer in minutes.
    #[serde(default)]
    pub wait_timer: u64,
    /// When the wait timer started.
    #[serde(default)]
    pub wait_timer_started_at: Option<String>,
    /// Whether the token's user may review it.
    #[serde(default)]
    pub current_user_can_approve: bool,
    /// The required reviewers.
    #[serde(default)]
    pub reviewers: Vec<Reviewer>,
}

/// One entry of `GET .../runs/{id}/approvals` (review history).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Approval {
    /// `approved`, `rejected` or `pending`.
    pub state: String,
    /// Review comment.
    #[serde(default)]
    pub comment: Option<String>,
    /// The environments reviewed.
    #[serde(default)]
    pub environments: Vec<EnvironmentRef>,
    /// Who reviewed.
    pub user: User,
}

/// A protection rule of an environment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ProtectionRule {
    /// `wait_timer`, `required_reviewers` or `branch_policy`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Minutes (wait_timer rules).
    #[serde(default)]
    pub wait_timer: Option<u64>,
    /// Whether whoever triggered the run may not approve it (required_reviewers rules).
    #[serde(default)]
    pub prevent_self_review: Option<bool>,
    /// Reviewers (required_reviewers rules).
    #[serde(default)]
    pub reviewers: Option<Vec<Reviewer>>,
}

/// `GET /repos/{o}/{r}/environments/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Environment {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Protection rules.
    #[serde(default)]
    pub protection_rules: Vec<ProtectionRule>,
}

impl Environment {
    /// Whether any required-reviewers rule sets `prevent_self_review`.
    pub fn prevents_self_review(&self) -> bool {
        self.protection_rules
            .iter()
            .any(|r| r.prevent_self_review == Some(true))
    }
}

/// The object a git ref points at.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct GitObject {
    /// `commit`, `tag`, `tree` or `blob`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Object id.
    pub sha: String,
}

/// A git ref (`git-ref`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct GitRef {
    /// Full name (`refs/tags/v1.2.3`).
    #[serde(rename = "ref")]
    pub name: String,
    /// What it points at.
    pub object: GitObject,
}

/// An annotated tag object (`git-tag`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct GitTag {
    /// The tag object's id.
    pub sha: String,
    /// Tag name.
    pub tag: String,
    /// Message.
    #[serde(default)]
    pub message: Option<String>,
    /// What it tags (a commit, or another tag).
    pub object: GitObject,
}

/// A GitHub Release (`release`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Release {
    /// Id.
    pub id: u64,
    /// Its tag.
    pub tag_name: String,
    /// Title.
    #[serde(default)]
    pub name: Option<String>,
    /// Draft?
    #[serde(default)]
    pub draft: bool,
    /// Marked as a pre-release?
    #[serde(default)]
    pub prerelease: bool,
    /// Web URL.
    pub html_url: String,
    /// Publication time.
    #[serde(default)]
    pub published_at: Option<String>,
}

/// The git part of a commit.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct CommitDetail {
    /// Full message.
    pub message: String,
}

/// A commit as in `repos/get-commit` and compare's `commits[]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Commit {
    /// Full SHA.
    pub sha: String,
    /// Git data.
    pub commit: CommitDetail,
}

impl Commit {
    /// The first line of the message.
    pub fn subject(&self) -> &str {
        self.commit.message.lines().next().unwrap_or("")
    }
}

/// `GET /repos/{o}/{r}/compare/{base}...{head}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Comparison {
    /// `ahead`, `behind`, `identical` or `diverged`.
    pub status: String,
    /// Commits in head not in base.
    pub ahead_by: u64,
    /// Commits in base not in head.
    pub behind_by: u64,
    /// Commit count.
    pub total_commits: u64,
    /// The commits (at most 250 on the first page).
    #[serde(default)]
    pub commits: Vec<Commit>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_enums_keep_unknown_values() {
        let s: RunStatus = serde_json::from_str("\"waiting\"").unwrap();
        assert_eq!(s, RunStatus::Waiting);
        let s: RunStatus = serde_json::from_str("\"brand_new\"").unwrap();
        assert_eq!(s, RunStatus::Unknown("brand_new".into()));
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"brand_new\"");
        let c: Conclusion = serde_json::from_str("\"startup_failure\"").unwrap();
        assert!(!c.is_ok());
    }

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/github/",
                $name,
                ".json"
            ))
        };
    }

    #[test]
    fn official_example_bodies_parse() {
        let run: Run = serde_json::from_str(fixture!("workflow-run")).unwrap();
        assert_eq!(run.id, 30433642);
        assert_eq!(run.status, Some(RunStatus::Queued));
        assert_eq!(run.conclusion, None);
        let w: Workflow = serde_json::from_str(fixture!("workflow")).unwrap();
        assert_eq!(w.file_name(), "blank.yaml");
        assert!(w.matches("CI") && w.matches("blank.yaml"));
        let list: WorkflowList = serde_json::from_str(fixture!("workflows")).unwrap();
        assert!(!list.workflows.is_empty());
        let p: Vec<PendingDeployment> =
            serde_json::from_str(fixture!("pending-deployments")).unwrap();
        assert_eq!(p[0].environment.id, 161088068);
        assert_eq!(p[0].wait_timer, 30);
        assert_eq!(p[0].reviewers[0].label(), "@octocat");
        assert_eq!(p[0].reviewers[1].label(), "team justice-league");
        let a: Vec<Approval> = serde_json::from_str(fixture!("approvals")).unwrap();
        assert_eq!(a[0].user.login, "octocat");
        let e: Environment = serde_json::from_str(fixture!("environment")).unwrap();
        assert!(!e.prevents_self_review());
        let r: GitRef = serde_json::from_str(fixture!("ref")).unwrap();
        assert_eq!(r.object.kind, "commit");
        let refs: Vec<GitRef> = serde_json::from_str(fixture!("matching-refs")).unwrap();
        assert_eq!(refs.len(), 2);
        let rel: Release = serde_json::from_str(fixture!("release")).unwrap();
        assert_eq!(rel.tag_name, "v1.0.0");
        let u: User = serde_json::from_str(fixture!("user")).unwrap();
        assert_eq!(u.login, "octocat");
        let c: Commit = serde_json::from_str(fixture!("commit")).unwrap();
        assert!(!c.subject().is_empty());
        let cmp: Comparison = serde_json::from_str(fixture!("compare")).unwrap();
        assert_eq!(cmp.commits.len() as u64, cmp.total_commits);
    }

    #[test]
    fn run_with_nulls_parses() {
        let r: Run = serde_json::from_value(serde_json::json!({
            "id": 1, "name": null, "workflow_id": 2, "head_sha": "abc", "head_branch": null,
            "status": null, "conclusion": null, "html_url": "u", "created_at": "t",
            "extra": {"ignored": true}
        }))
        .unwrap();
        assert_eq!(r.state_text(), "unknown");
    }
}
