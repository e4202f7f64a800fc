//! Token discovery. GitHub: `GH_TOKEN`, else `GITHUB_TOKEN`, else
//! `gh auth token --hostname <host>`. Coolify: `COOLIFY_TOKEN`. Values are
//! [`SecretString`]s, registered with the [`Ui`] redactor; only the source is
//! ever reported.

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};

use crate::env::{self, Env};
use crate::error::{Error, Result};
use crate::ui::Ui;

/// Where a token came from (shown with `-v`; never the value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `GH_TOKEN`.
    GhToken,
    /// `GITHUB_TOKEN`.
    GithubToken,
    /// `gh auth token`.
    GhCli,
    /// `COOLIFY_TOKEN`.
    CoolifyToken,
}

impl std::fmt::Display for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TokenSource::GhToken => "GH_TOKEN",
            TokenSource::GithubToken => "GITHUB_TOKEN",
            TokenSource::GhCli => "gh auth token",
            TokenSource::CoolifyToken => "COOLIFY_TOKEN",
        })
    }
}

/// The host `gh` knows for a REST API base URL: `api.github.com` → `github.com`;
/// GHES `https://HOST/api/v3` → `HOST`.
pub fn gh_hostname(api_url: &str) -> Option<String> {
    let u = url::Url::parse(api_url).ok()?;
    let host = u.host_str()?;
    Some(if host == "api.github.com" {
        "github.com".to_owned()
    } else {
        host.to_owned()
    })
}

/// Finds the GitHub token, registers it with the redactor and reports its source.
pub fn github_token(env: &Env, api_url: &str, ui: &Ui) -> Result<SecretString> {
    let (token, source) = if let Some(t) = env.get(env::GH_TOKEN) {
        (SecretString::from(t.to_owned()), TokenSource::GhToken)
    } else if let Some(t) = env.get(env::GITHUB_TOKEN) {
        (SecretString::from(t.to_owned()), TokenSource::GithubToken)
    } else if let Some(t) = gh_auth_token(env, api_url) {
        (t, TokenSource::GhCli)
    } else {
        return Err(Error::usage("no GitHub token found").with_hint(
            "set GH_TOKEN or GITHUB_TOKEN, or run `gh auth login` (almarel then uses `gh auth token`)",
        ));
    };
    ui.add_secret(token.expose_secret());
    ui.detail(1, &format!("github token from {source}"));
    Ok(token)
}

/// Finds the Coolify token, registers it with the redactor and reports its source.
pub fn coolify_token(env: &Env, ui: &Ui) -> Result<SecretString> {
    let t = env.get(env::COOLIFY_TOKEN).ok_or_else(|| {
        Error::usage("no Coolify token found").with_hint(
            "set COOLIFY_TOKEN to an API token with the read, deploy and write abilities \
             (Keys & Tokens → API Tokens in Coolify)",
        )
    })?;
    ui.add_secret(t);
    // Coolify tokens are `<id>|<secret>`: the secret half alone must not leak either.
    if let Some((_, secret)) = t.split_once('|') {
        ui.add_secret(secret);
    }
    ui.detail(
        1,
        &format!("coolify token from {}", TokenSource::CoolifyToken),
    );
    Ok(SecretString::from(t.to_owned()))
}

fn find_in_path(env: &Env, program: &str) -> Option<PathBuf> {
    let path = env.get(env::PATH)?;
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

fn gh_auth_token(env: &Env, api_url: &str) -> Option<SecretString> {
    let gh = find_in_path(env, "gh")?;
    let host = gh_hostname(api_url)?;
    let out = std::process::Command::new(gh)
        .args(["auth", "token", "--hostname", &host])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let token = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!token.is_empty()).then(|| SecretString::from(token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::ColorChoice;
    use crate::settings::Global;

    fn ui() -> Ui {
        let g = Global {
            json: false,
            yes: false,
            dry_run: false,
            quiet: false,
            verbose: 2,
            color: ColorChoice::Never,
        };
        Ui::captured(&g).0
    }

    #[test]
    fn hostnames_for_gh() {
        assert_eq!(
            gh_hostname("https://api.github.com").as_deref(),
            Some("github.com")
        );
        assert_eq!(
            gh_hostname("https://ghe.corp.example/api/v3").as_deref(),
            Some("ghe.corp.example")
        );
    }

    #[test]
    fn gh_token_wins_over_github_token() {
        let env = Env::from_pairs([
            ("GH_TOKEN", "first-token"),
            ("GITHUB_TOKEN", "second-token"),
        ]);
        let t = github_token(&env, "https://api.github.com", &ui()).unwrap();
        assert_eq!(t.expose_secret(), "first-token");
    }

    #[test]
    fn missing_token_is_a_usage_error_naming_the_variables() {
        let e = github_token(&Env::default(), "https://api.github.com", &ui()).unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::Usage);
        assert!(e.hint().unwrap().contains("GH_TOKEN"));
        let e = coolify_token(&Env::default(), &ui()).unwrap_err();
        assert!(e.hint().unwrap().contains("COOLIFY_TOKEN") || e.message.contains("Coolify"));
    }

    #[test]
    fn secret_half_of_coolify_token_is_redacted() {
        let u = ui();
        let _ =
            coolify_token(&Env::from_pairs([("COOLIFY_TOKEN", "12|abcdefsecret")]), &u).unwrap();
        assert_eq!(u.redact("x abcdefsecret y"), "x *** y");
    }
}
