//! init's workflow discovery: the clone's workflow files (else GitHub's
//! list, each file read through the contents API), and which one is CI,
//! Release and Deploy.

use std::path::{Path, PathBuf};

use super::ChosenWorkflow;
use crate::context::Context;
use crate::error::Result;
use crate::workflow::Workflow;

/// One workflow file (or one GitHub lists).
#[derive(Debug, Clone)]
pub(super) struct Found {
    /// The file name (`deploy.yml`).
    pub(super) file: String,
    /// The path (`.github/workflows/deploy.yml`).
    pub(super) path: String,
    /// `name:`, else the path (as GitHub shows it).
    pub(super) name: String,
    /// Parsed, when the file was read.
    pub(super) parsed: Option<Workflow>,
}

pub(super) fn local_workflows(workdir: &Path) -> Vec<Found> {
    let Some(root) = crate::git::work_tree_root(workdir) else {
        return Vec::new();
    };
    let dir = root.join(".github").join("workflows");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let file = p.file_name()?.to_string_lossy().into_owned();
            let path = format!(".github/workflows/{file}");
            let parsed = std::fs::read_to_string(&p)
                .ok()
                .and_then(|t| Workflow::parse(&t).ok());
            let name = parsed
                .as_ref()
                .and_then(|w| w.name.clone())
                .unwrap_or_else(|| path.clone());
            Some(Found {
                file,
                path,
                name,
                parsed,
            })
        })
        .collect()
}

/// GitHub's workflow list, each file read through the contents API at
/// `git.branch` when it can be (for its jobs' environments and triggers).
pub(super) async fn remote_workflows(ctx: &Context) -> Result<Vec<Found>> {
    let client = ctx.github().await?;
    let mut out = Vec::new();
    for w in client.workflows().await? {
        let parsed = crate::setup::remote_workflow(ctx, &client, &w.path)
            .await
            .and_then(|(_, p)| p.ok());
        out.push(Found {
            file: w.file_name().to_owned(),
            path: w.path.clone(),
            name: w.name.clone(),
            parsed,
        });
    }
    Ok(out)
}

pub(super) fn chosen(f: &Found, how: &str) -> ChosenWorkflow {
    // The name as GitHub shows it, unless it is only the path: then the file name.
    let name = if f.name == f.path {
        f.file.clone()
    } else {
        f.name.clone()
    };
    ChosenWorkflow {
        name,
        path: Some(f.path.clone()),
        how: how.to_owned(),
    }
}

pub(super) fn by_flag(listed: &[Found], flag: &str) -> ChosenWorkflow {
    listed
        .iter()
        .find(|f| f.name == flag || f.file == flag || f.path == flag)
        .map_or_else(
            || ChosenWorkflow {
                name: flag.to_owned(),
                path: None,
                how: "flag".to_owned(),
            },
            |f| ChosenWorkflow {
                name: flag.to_owned(),
                path: Some(f.path.clone()),
                how: "flag".to_owned(),
            },
        )
}

/// The deploy workflow: the flag; else the one whose jobs use `env`; else
/// the one whose name says deploy. Also the file found, for its environment.
pub(super) fn choose_deploy<'a>(
    listed: &'a [Found],
    flag: Option<&str>,
    env: &str,
) -> (ChosenWorkflow, Option<&'a Found>) {
    if let Some(flag) = flag {
        let f = listed
            .iter()
            .find(|f| f.name == flag || f.file == flag || f.path == flag);
        return (by_flag(listed, flag), f);
    }
    let by_env = listed.iter().find(|f| {
        f.parsed
            .as_ref()
            .is_some_and(|w| w.environments().contains(&env))
    });
    if let Some(f) = by_env {
        return (
            chosen(f, &format!("its jobs use the environment `{env}`")),
            Some(f),
        );
    }
    let by_name = listed.iter().find(|f| {
        f.name.to_ascii_lowercase().contains("deploy")
            || f.file.to_ascii_lowercase().contains("deploy")
    });
    if let Some(f) = by_name {
        return (chosen(f, "its name says deploy"), Some(f));
    }
    (
        ChosenWorkflow {
            name: "Deploy to Production".to_owned(),
            path: None,
            how: "default (no deploy workflow found)".to_owned(),
        },
        None,
    )
}

#[allow(clippy::too_many_arguments)]
pub(super) fn choose(
    listed: &[Found],
    flag: Option<&str>,
    deploy: &ChosenWorkflow,
    default: &str,
    by_name: impl Fn(&Found) -> bool,
    by_trigger: impl Fn(&Workflow) -> bool,
    trigger_says: &str,
) -> ChosenWorkflow {
    if let Some(flag) = flag {
        return by_flag(listed, flag);
    }
    let others: Vec<&Found> = listed
        .iter()
        .filter(|f| deploy.path.as_deref() != Some(f.path.as_str()))
        .collect();
    if let Some(f) = others.iter().find(|f| by_name(f)) {
        return chosen(f, "its name");
    }
    if let Some(f) = others
        .iter()
        .find(|f| f.parsed.as_ref().is_some_and(&by_trigger))
    {
        return chosen(f, trigger_says);
    }
    ChosenWorkflow {
        name: default.to_owned(),
        path: None,
        how: "default (none found)".to_owned(),
    }
}

pub(super) fn describe_rules(env: &crate::github::Environment) -> String {
    let mut parts = Vec::new();
    for r in &env.protection_rules {
        match r.kind.as_str() {
            "required_reviewers" => {
                let who: Vec<String> = r.reviewers.iter().flatten().map(|x| x.label()).collect();
                parts.push(format!("required reviewers {}", who.join(", ")));
                if r.prevent_self_review == Some(true) {
                    parts.push("prevent self-review".to_owned());
                }
            }
            "wait_timer" => {
                if let Some(m) = r.wait_timer.filter(|m| *m > 0) {
                    parts.push(format!("wait timer {m} min"));
                }
            }
            other => parts.push(other.replace('_', " ")),
        }
    }
    if parts.is_empty() {
        "no protection rules (add required reviewers: Settings → Environments)".to_owned()
    } else {
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(file: &str, text: &str) -> Found {
        let parsed = Workflow::parse(text).ok();
        let path = format!(".github/workflows/{file}");
        Found {
            file: file.to_owned(),
            name: parsed
                .as_ref()
                .and_then(|w| w.name.clone())
                .unwrap_or_else(|| path.clone()),
            path,
            parsed,
        }
    }

    #[test]
    fn the_deploy_workflow_is_the_one_whose_jobs_use_the_environment() {
        let listed = vec![
            found(
                "deploy-staging.yml",
                "name: Deploy staging\non: push\njobs:\n  d:\n    environment: staging\n    runs-on: x\n",
            ),
            found(
                "ship.yml",
                "name: Ship\non: push\njobs:\n  d:\n    environment:\n      name: production\n    runs-on: x\n",
            ),
        ];
        let (w, f) = choose_deploy(&listed, None, "production");
        assert_eq!(w.name, "Ship");
        assert!(f.is_some());
        let (w, _) = choose_deploy(&listed, None, "qa");
        assert_eq!(
            (w.name.as_str(), w.how.as_str()),
            ("Deploy staging", "its name says deploy")
        );
        let (w, _) = choose_deploy(&[], None, "production");
        assert_eq!(w.name, "Deploy to Production");
        // A file without `name:` is written by its file name.
        let unnamed = vec![found(
            "cd.yml",
            "on: push\njobs:\n  d:\n    environment: production\n    runs-on: x\n",
        )];
        assert_eq!(choose_deploy(&unnamed, None, "production").0.name, "cd.yml");
    }
}
