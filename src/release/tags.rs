//! The release tags at a commit, from the clone almarel runs in or from
//! GitHub (shared by verify, status, checklist and deploy).

use std::time::Duration;

use crate::clock::Deadline;
use crate::context::Context;
use crate::version::{ReleaseTag, preferred_tag};

/// How long naming a commit's tags may take: a courtesy that must not hold up a report.
const GITHUB_BUDGET: Duration = Duration::from_secs(10);

/// The release tags on `sha` (full or abbreviated): local git when almarel
/// runs in a clone that has them, else GitHub's refs API. Best effort: a
/// failure means none.
pub async fn release_tags_at(ctx: &Context, sha: &str) -> Vec<ReleaseTag> {
    let prefix = &ctx.settings.git.tag_prefix;
    let mut tags: Vec<ReleaseTag> = local_release_tags_at(ctx, sha);
    if tags.is_empty() && ctx.settings.github.repository.is_some() {
        if let Ok(gh) = ctx.github().await {
            // The budget bounds this look-up only: the client's own deadline
            // (a watch's --timeout, or none) comes back for later calls.
            let before = gh.set_deadline(Some(Deadline::after(ctx.clock.as_ref(), GITHUB_BUDGET)));
            let refs = gh.tags(prefix).await;
            gh.set_deadline(before);
            if let Ok(refs) = refs {
                tags = refs
                    .iter()
                    .filter(|t| crate::probe::sha_matches(&t.commit, sha))
                    .filter_map(|t| ReleaseTag::from_name(&t.name, prefix))
                    .collect();
            }
        }
    }
    tags
}

/// The release tags on `sha` (full or abbreviated) in the local clone almarel runs in.
pub fn local_release_tags_at(ctx: &Context, sha: &str) -> Vec<ReleaseTag> {
    let prefix = &ctx.settings.git.tag_prefix;
    let Ok(repo) = crate::git::Repo::discover(&ctx.settings.workdir) else {
        return Vec::new();
    };
    let Ok(commit) = repo.commit_info(sha) else {
        return Vec::new();
    };
    repo.tags_at(&commit.sha)
        .unwrap_or_default()
        .iter()
        .filter_map(|n| ReleaseTag::from_name(n, prefix))
        .collect()
}

/// The release tag on `sha`, when one is known (for "old build still
/// serving"): [`release_tags_at`], a final tag winning over an rc. Best
/// effort: any failure means "not known".
pub async fn release_tag_of(ctx: &Context, sha: &str) -> Option<String> {
    preferred_tag(&release_tags_at(ctx, sha).await).map(|t| t.name.clone())
}
