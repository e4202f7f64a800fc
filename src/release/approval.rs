//! The one approval rule: whether the deploy run of a commit is waiting for
//! the environment's review, was approved or rejected, and by whom.
//!
//! Inputs are what GitHub says about one deploy-workflow run: the run, its
//! pending deployments (`GET .../pending_deployments`) and its review history
//! (`GET .../approvals`, oldest first; GitHub gives reviews no timestamp, so
//! the order is the history). The rule (SPEC §3 approve, §7.5):
//!
//! 1. a run waiting with a pending deployment of the environment is
//!    [`Approval::Pending`], whatever an earlier attempt's reviews said (a
//!    re-run keeps the run id and its history);
//! 2. otherwise the newest review of the environment that decided something
//!    (`approved` / `rejected`; a `pending` entry decides nothing) is the
//!    answer — a later approval overrides an earlier rejection and the other
//!    way round;
//! 3. the run's conclusion never turns an approval into a rejection: a deploy
//!    job that failed after the approval is still [`Approval::Approved`];
//! 4. no decisive review and nothing pending: [`Approval::NotReviewed`] (the
//!    run has not reached the environment, or the environment asks for no
//!    review); no run at all: [`Approval::NoRun`].

use serde::Serialize;

use crate::github::{Approval as Review, PendingDeployment, Run};

/// Where the production review of a deploy run stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Approval {
    /// There is no deploy run for the commit.
    NoRun,
    /// The run waits for a review of the environment.
    Pending {
        /// The run.
        run_id: u64,
        /// Whether the token's user may review it.
        can_approve: bool,
        /// The required reviewers (`@login`, `@org/team`).
        reviewers: Vec<String>,
        /// The environment's wait timer in minutes (0: none).
        wait_timer: u64,
    },
    /// The newest decisive review approved it.
    Approved {
        /// The run.
        run_id: u64,
        /// Who approved (login).
        by: String,
        /// The review comment, if any.
        comment: Option<String>,
    },
    /// The newest decisive review rejected it.
    Rejected {
        /// The run.
        run_id: u64,
        /// Who rejected (login).
        by: String,
        /// The review comment, if any.
        comment: Option<String>,
    },
    /// The run is not waiting for the environment and no review of it is on
    /// record (not there yet, or the environment requires no review).
    NotReviewed {
        /// The run.
        run_id: u64,
    },
}

impl Approval {
    /// Whether the newest decisive review approved the run.
    pub fn is_approved(&self) -> bool {
        matches!(self, Approval::Approved { .. })
    }

    /// Whether the newest decisive review rejected the run.
    pub fn is_rejected(&self) -> bool {
        matches!(self, Approval::Rejected { .. })
    }

    /// Whether the run waits for the environment's review.
    pub fn is_pending(&self) -> bool {
        matches!(self, Approval::Pending { .. })
    }

    /// Who approved or rejected, when someone did.
    pub fn reviewer(&self) -> Option<&str> {
        match self {
            Approval::Approved { by, .. } | Approval::Rejected { by, .. } => Some(by),
            _ => None,
        }
    }

    /// The review comment, when there is a non-empty one.
    pub fn comment(&self) -> Option<&str> {
        match self {
            Approval::Approved { comment, .. } | Approval::Rejected { comment, .. } => {
                comment.as_deref().filter(|c| !c.is_empty())
            }
            _ => None,
        }
    }
}

/// Whether `review` concerns `environment` (a review naming no environment
/// concerns every one).
fn concerns(review: &Review, environment: &str) -> bool {
    review.environments.is_empty()
        || review
            .environments
            .iter()
            .any(|e| e.name.as_deref() == Some(environment))
}

/// The newest review of `environment` that approved or rejected.
pub fn newest_decision<'a>(reviews: &'a [Review], environment: &str) -> Option<&'a Review> {
    reviews
        .iter()
        .rev()
        .filter(|r| concerns(r, environment))
        .find(|r| r.state == "approved" || r.state == "rejected")
}

/// Applies the rule (see the module documentation) to one deploy run.
/// `pending` and `reviews` are that run's; `environment` is
/// `github.environment`.
pub fn decide(
    run: Option<&Run>,
    pending: &[PendingDeployment],
    reviews: &[Review],
    environment: &str,
) -> Approval {
    let Some(run) = run else {
        return Approval::NoRun;
    };
    if run.is_waiting() {
        if let Some(p) = pending
            .iter()
            .find(|p| p.environment.name.as_deref() == Some(environment))
        {
            return Approval::Pending {
                run_id: run.id,
                can_approve: p.current_user_can_approve,
                reviewers: p.reviewers.iter().map(|r| r.label()).collect(),
                wait_timer: p.wait_timer,
            };
        }
    }
    match newest_decision(reviews, environment) {
        Some(r) if r.state == "approved" => Approval::Approved {
            run_id: run.id,
            by: r.user.login.clone(),
            comment: r.comment.clone(),
        },
        Some(r) => Approval::Rejected {
            run_id: run.id,
            by: r.user.login.clone(),
            comment: r.comment.clone(),
        },
        None => Approval::NotReviewed { run_id: run.id },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(status: &str, conclusion: Option<&str>) -> Run {
        serde_json::from_value(json!({
            "id": 7, "workflow_id": 3, "head_sha": "a".repeat(40),
            "status": status, "conclusion": conclusion,
            "html_url": "https://github.com/o/r/actions/runs/7",
            "created_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap()
    }

    fn review(state: &str, user: &str, env: Option<&str>) -> Review {
        let environments = match env {
            Some(e) => json!([{"id": 1, "name": e}]),
            None => json!([]),
        };
        serde_json::from_value(json!({
            "state": state, "comment": format!("{state} it"),
            "environments": environments, "user": {"login": user}
        }))
        .unwrap()
    }

    fn pending(env: &str, can: bool) -> PendingDeployment {
        serde_json::from_value(json!({
            "environment": {"id": 1, "name": env}, "wait_timer": 5,
            "current_user_can_approve": can,
            "reviewers": [{"type": "User", "reviewer": {"login": "lead"}}]
        }))
        .unwrap()
    }

    const P: &str = "production";

    #[test]
    fn no_run_is_no_run() {
        assert_eq!(decide(None, &[], &[], P), Approval::NoRun);
    }

    #[test]
    fn a_waiting_run_with_a_pending_deployment_is_pending() {
        let r = run("waiting", None);
        let a = decide(Some(&r), &[pending(P, true)], &[], P);
        assert_eq!(
            a,
            Approval::Pending {
                run_id: 7,
                can_approve: true,
                reviewers: vec!["@lead".into()],
                wait_timer: 5
            }
        );
        // A re-run waiting again is pending even after an earlier rejection.
        let a = decide(
            Some(&r),
            &[pending(P, false)],
            &[review("rejected", "bob", Some(P))],
            P,
        );
        assert!(a.is_pending(), "{a:?}");
    }

    #[test]
    fn pending_for_another_environment_is_not_ours() {
        let r = run("waiting", None);
        let a = decide(Some(&r), &[pending("staging", true)], &[], P);
        assert_eq!(a, Approval::NotReviewed { run_id: 7 });
    }

    #[test]
    fn the_newest_decisive_review_decides() {
        let r = run("completed", Some("success"));
        let reviews = [
            review("rejected", "bob", Some(P)),
            review("approved", "alice", Some(P)),
        ];
        let a = decide(Some(&r), &[], &reviews, P);
        assert!(a.is_approved());
        assert_eq!(a.reviewer(), Some("alice"));
        assert_eq!(a.comment(), Some("approved it"));
        let reviews = [
            review("approved", "alice", Some(P)),
            review("rejected", "bob", Some(P)),
            // A pending entry decides nothing.
            review("pending", "carol", Some(P)),
            // Another environment's review is not ours.
            review("approved", "dave", Some("staging")),
        ];
        let a = decide(Some(&r), &[], &reviews, P);
        assert!(a.is_rejected(), "{a:?}");
        assert_eq!(a.reviewer(), Some("bob"));
    }

    #[test]
    fn a_review_naming_no_environment_counts() {
        let r = run("completed", Some("success"));
        let a = decide(Some(&r), &[], &[review("approved", "alice", None)], P);
        assert_eq!(a.reviewer(), Some("alice"));
    }

    #[test]
    fn a_failed_deploy_job_after_an_approval_is_not_a_rejection() {
        for c in ["failure", "cancelled", "timed_out"] {
            let r = run("completed", Some(c));
            let a = decide(Some(&r), &[], &[review("approved", "alice", Some(P))], P);
            assert!(a.is_approved(), "{c}: {a:?}");
            assert!(!a.is_rejected());
        }
    }

    #[test]
    fn no_decisive_review_is_not_reviewed() {
        for (status, conclusion) in [("in_progress", None), ("completed", Some("success"))] {
            let r = run(status, conclusion);
            let a = decide(Some(&r), &[], &[review("pending", "x", Some(P))], P);
            assert_eq!(a, Approval::NotReviewed { run_id: 7 });
            assert_eq!(a.reviewer(), None);
        }
    }
}
