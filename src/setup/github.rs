//! doctor's GitHub checks: the repository and token (where from, its kind,
//! a classic token's scopes, its expiry), then the workflows
//! ([`super::workflows`]), the environment and whether the caller can
//! approve it.

use http::Method;

use super::{REMOTE_BUDGET, fail_from};
use crate::auth::TokenSource;
use crate::clock::Deadline;
use crate::context::Context;
use crate::github::{Environment, Idempotency, User};
use crate::report::Check;

/// What kind of token GitHub was given.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TokenKind {
    /// Classic personal access token (or OAuth token): `X-OAuth-Scopes`.
    Classic(Vec<String>),
    /// No scopes header, and `GET /user` answers: fine-grained (or an App's user token).
    FineGrained,
    /// `GET /user` is "not accessible by integration": an App installation token.
    App,
    /// The same, inside GitHub Actions: the job's `GITHUB_TOKEN`.
    Actions,
}

impl TokenKind {
    fn describe(&self) -> String {
        match self {
            TokenKind::Classic(scopes) if scopes.is_empty() => {
                "classic token without scopes".to_owned()
            }
            TokenKind::Classic(scopes) => format!("classic token, scopes: {}", scopes.join(", ")),
            TokenKind::FineGrained => "fine-grained token (no X-OAuth-Scopes)".to_owned(),
            TokenKind::App => "GitHub App installation token".to_owned(),
            TokenKind::Actions => "GitHub Actions token".to_owned(),
        }
    }
    fn can_review(&self) -> bool {
        !matches!(self, TokenKind::App | TokenKind::Actions)
    }
}

const REVIEWER_TOKEN_FIX: &str = "run `almarel approve` with a personal token of a required reviewer \
(GH_TOKEN, or `gh auth login`): classic with the `repo` scope, or fine-grained with \
Actions and Deployments read and write";

pub(super) async fn checks(ctx: &Context, checks: &mut Vec<Check>) {
    let s = &ctx.settings;
    let Some(repo) = s.github.repository.clone() else {
        checks.push(Check::fail(
            "github repository",
            "github.repository is not set and could not be read from the git remote",
            "set [github] repository = \"owner/name\" in almarel.toml (`almarel init` writes it)",
        ));
        return;
    };
    let api = s.github.api_url.trim_end_matches('/').to_owned();
    let source = match crate::auth::github_token(&ctx.env, &api) {
        Ok((_, source)) => source,
        Err(e) => {
            checks.push(Check::fail(
                "github token",
                e.message.clone(),
                e.hint()
                    .unwrap_or("set GH_TOKEN or GITHUB_TOKEN, or run `gh auth login`"),
            ));
            return;
        }
    };
    let client = match ctx.github().await {
        Ok(c) => {
            c.set_deadline(Some(Deadline::after(ctx.clock.as_ref(), REMOTE_BUDGET)));
            c
        }
        Err(e) => {
            checks.push(fail_from("github token", &e, "check github.api_url"));
            return;
        }
    };
    // Who the token is, what kind it is, and when it expires (GitHub sends
    // `GitHub-Authentication-Token-Expiration` for tokens that do).
    let mut expires: Option<String> = None;
    let (kind, user) = match client
        .http()
        .request(
            Method::GET,
            &format!("{api}/user"),
            None,
            Idempotency::Repeatable,
        )
        .await
    {
        Ok(resp) if resp.status.is_success() => {
            let scopes = resp
                .headers
                .get("x-oauth-scopes")
                .and_then(|v| v.to_str().ok())
                .map(|v| {
                    v.split(',')
                        .map(|x| x.trim().to_owned())
                        .filter(|x| !x.is_empty())
                        .collect::<Vec<_>>()
                });
            let user = resp.json::<User>("/user").ok();
            expires = resp
                .headers
                .get("github-authentication-token-expiration")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let kind = match scopes {
                Some(list) => TokenKind::Classic(list),
                None => TokenKind::FineGrained,
            };
            (kind, user)
        }
        Ok(resp) => {
            checks.push(Check::fail(
                "github token",
                format!(
                    "GET /user answered {}: {}",
                    resp.status.as_u16(),
                    resp.message().unwrap_or_default()
                ),
                "check github.api_url (GHES: https://HOST/api/v3)",
            ));
            return;
        }
        Err(e) if e.message.contains("by integration") => {
            let actions = ctx.env.in_github_actions()
                && matches!(source, TokenSource::GithubToken | TokenSource::GhToken);
            (
                if actions {
                    TokenKind::Actions
                } else {
                    TokenKind::App
                },
                None,
            )
        }
        Err(e) => {
            checks.push(fail_from(
                "github token",
                &e,
                "set GH_TOKEN to a valid token, or run `gh auth login`",
            ));
            return;
        }
    };
    let token_detail = match (&kind, &user) {
        (TokenKind::Classic(scopes), Some(u)) => format!(
            "from {source}: classic token of @{} (scopes: {})",
            u.login,
            if scopes.is_empty() {
                "none".to_owned()
            } else {
                scopes.join(", ")
            }
        ),
        (_, Some(u)) => format!("from {source}: {} of @{}", kind.describe(), u.login),
        (_, None) => format!("from {source}: {}", kind.describe()),
    };
    let token_detail = match &expires {
        Some(at) => format!("{token_detail}; expires {at}"),
        None => token_detail,
    };
    match &kind {
        TokenKind::Classic(scopes) if !scopes.iter().any(|x| x == "repo") => {
            checks.push(Check::fail(
                "github token",
                format!("{token_detail}; the `repo` scope is missing"),
                "add the `repo` scope to the token (GitHub → Settings → Developer settings → \
                 Personal access tokens → the token → repo), or with gh: `gh auth refresh -s repo`",
            ));
        }
        _ => checks.push(Check::pass("github token", token_detail)),
    }

    super::workflows::checks(ctx, &client, &repo, checks).await;
    approval_check(ctx, &client, &repo, &kind, user.as_ref(), checks).await;
}

async fn approval_check(
    ctx: &Context,
    client: &crate::github::Client,
    repo: &str,
    kind: &TokenKind,
    user: Option<&User>,
    checks: &mut Vec<Check>,
) {
    let env_name = &ctx.settings.github.environment;
    let env: Environment = match client.environment(env_name).await {
        Ok(Some(e)) => e,
        Ok(None) => {
            checks.push(Check::fail(
                "environment",
                format!("no environment `{env_name}` in {repo}"),
                format!(
                    "create it: GitHub → Settings → Environments → New environment `{env_name}`, with required reviewers; or set github.environment to the one the deploy job uses"
                ),
            ));
            return;
        }
        Err(e) => {
            checks.push(fail_from(
                "environment",
                &e,
                "give the token read access to the repository's environments",
            ));
            return;
        }
    };
    let rules: Vec<&str> = env
        .protection_rules
        .iter()
        .map(|r| r.kind.as_str())
        .collect();
    checks.push(Check::pass(
        "environment",
        format!(
            "`{}` exists (protection rules: {})",
            env.name,
            if rules.is_empty() {
                "none".to_owned()
            } else {
                rules.join(", ")
            }
        ),
    ));

    let settings_path = format!("GitHub → Settings → Environments → {env_name}");
    if !kind.can_review() {
        checks.push(Check::fail(
            "approve",
            format!(
                "a {} cannot review deployments (GitHub lets only required reviewers, people or teams, approve)",
                kind.describe()
            ),
            REVIEWER_TOKEN_FIX,
        ));
        return;
    }
    let reviewers: Vec<&crate::github::Reviewer> = env
        .protection_rules
        .iter()
        .filter(|r| r.kind == "required_reviewers")
        .flat_map(|r| r.reviewers.iter().flatten())
        .collect();
    if reviewers.is_empty() {
        checks.push(Check::fail(
            "approve",
            format!("`{env_name}` has no required reviewers: deploy runs start without an approval, so the runbook's approval step cannot happen"),
            format!("add required reviewers: {settings_path} → Required reviewers"),
        ));
        return;
    }
    let Some(user) = user else {
        checks.push(Check::fail(
            "approve",
            "the token's user is unknown (GET /user did not answer)",
            REVIEWER_TOKEN_FIX,
        ));
        return;
    };
    let labels: Vec<String> = reviewers.iter().map(|r| r.label()).collect();
    let direct = reviewers
        .iter()
        .any(|r| r.kind == "User" && r.reviewer.login.as_deref() == Some(user.login.as_str()));
    let mut via = direct.then(|| "a required reviewer".to_owned());
    if via.is_none() {
        let owner = repo.split('/').next().unwrap_or_default();
        for r in reviewers.iter().filter(|r| r.kind == "Team") {
            let Some(slug) = r.reviewer.slug.as_deref() else {
                continue;
            };
            let url = format!(
                "{}/orgs/{owner}/teams/{slug}/memberships/{}",
                ctx.settings.github.api_url.trim_end_matches('/'),
                user.login
            );
            let member = client
                .http()
                .request(Method::GET, &url, None, Idempotency::Repeatable)
                .await
                .ok()
                .filter(|resp| resp.status.is_success())
                .and_then(|resp| resp.json::<serde_json::Value>("team membership").ok())
                .is_some_and(|v| v["state"] == "active");
            if member {
                via = Some(format!("a member of the required team {slug}"));
                break;
            }
        }
    }
    let Some(via) = via else {
        checks.push(Check::fail(
            "approve",
            format!(
                "@{} is not a required reviewer of `{env_name}` (reviewers: {})",
                user.login,
                labels.join(", ")
            ),
            format!(
                "add @{} (or a team of theirs) under {settings_path} → Required reviewers, or run `almarel approve` with a reviewer's token",
                user.login
            ),
        ));
        return;
    };
    if env.prevents_self_review() {
        let only_me = reviewers.len() == 1 && direct;
        if only_me {
            checks.push(Check::fail(
                "approve",
                format!(
                    "@{} is the only required reviewer and prevent_self_review is on: nobody can approve a release @{} triggered (tagged or merged)",
                    user.login, user.login
                ),
                format!(
                    "add a second required reviewer, or turn off \"Prevent self-review\" under {settings_path}"
                ),
            ));
            return;
        }
        checks.push(Check::pass(
            "approve",
            format!(
                "@{} is {via}; prevent_self_review is on: someone other than whoever triggered the run approves it (reviewers: {})",
                user.login,
                labels.join(", ")
            ),
        ));
        return;
    }
    checks.push(Check::pass(
        "approve",
        format!("@{} is {via} of `{env_name}`", user.login),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_personal_tokens_can_review() {
        assert!(TokenKind::Classic(vec!["repo".into()]).can_review());
        assert!(TokenKind::FineGrained.can_review());
        assert!(!TokenKind::App.can_review());
        assert!(!TokenKind::Actions.can_review());
        assert_eq!(TokenKind::Actions.describe(), "GitHub Actions token");
    }
}
