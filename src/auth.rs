//! Token discovery. GitHub: `GH_TOKEN`, else `GITHUB_TOKEN`, else
//! `gh auth token --hostname <host>`. Coolify: `COOLIFY_TOKEN`. Values are
//! [`SecretString`]s, trimmed of surrounding whitespace; a control character
//! inside one is a configuration error naming the variable, never the value
//! (SPEC §7.7). Nothing here prints: the caller registers the secret with its
//! redactor ([`secret_parts`]) and reports the [`TokenSource`] at `-v`.

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};

use crate::env::{self, Env};
use crate::error::{Error, Result};

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

/// Trims `value` of surrounding whitespace and refuses (exit 2) a control
/// character inside it or an empty result. `what` names the variable (or
/// `gh auth token`); the value never appears in the error.
pub fn clean_token(what: &str, value: &str) -> Result<SecretString> {
    let t = value.trim();
    if t.is_empty() {
        return Err(Error::usage(format!("{what} is set but empty"))
            .with_hint(format!("set {what} to the token, or unset it")));
    }
    if t.chars().any(char::is_control) {
        return Err(Error::usage(format!(
            "{what} contains a control character (a newline or tab inside the token?)"
        ))
        .with_hint(format!(
            "set {what} to the token alone, e.g. GH_TOKEN=\"$(gh auth token)\" without extra lines"
        )));
    }
    Ok(SecretString::from(t.to_owned()))
}

/// Finds the GitHub token and says where it came from. Prints nothing: the
/// caller registers the value with its redactor and reports the source.
pub fn github_token(env: &Env, api_url: &str) -> Result<(SecretString, TokenSource)> {
    if let Some(t) = env.get(env::GH_TOKEN) {
        return Ok((clean_token(env::GH_TOKEN, t)?, TokenSource::GhToken));
    }
    if let Some(t) = env.get(env::GITHUB_TOKEN) {
        return Ok((clean_token(env::GITHUB_TOKEN, t)?, TokenSource::GithubToken));
    }
    if let Some(t) = gh_auth_token(env, api_url) {
        return Ok((
            clean_token("the output of `gh auth token`", &t)?,
            TokenSource::GhCli,
        ));
    }
    Err(Error::usage("no GitHub token found").with_hint(
        "set GH_TOKEN or GITHUB_TOKEN, or run `gh auth login` (almarel then uses `gh auth token`)",
    ))
}

/// Finds the Coolify token (`COOLIFY_TOKEN`), trimmed and checked. Prints
/// nothing: register [`secret_parts`] of it with the redactor.
pub fn coolify_token(env: &Env) -> Result<SecretString> {
    coolify_token_in(env, env::COOLIFY_TOKEN)
}

/// [`coolify_token`] from the variable `var` (an environment's
/// `coolify.token_env`, `COOLIFY_TOKEN` unless it names another).
pub fn coolify_token_in(env: &Env, var: &str) -> Result<SecretString> {
    let t = env.get(var).ok_or_else(|| {
        Error::usage("no Coolify token found").with_hint(format!(
            "set {var} to an API token with the read, deploy and write abilities \
             (Keys & Tokens → API Tokens in Coolify)"
        ))
    })?;
    clean_token(var, t)
}

/// The strings a redactor must hide for `token`: the token itself and, for a
/// Coolify token (`<id>|<secret>`), its secret half alone.
pub fn secret_parts(token: &SecretString) -> Vec<String> {
    let t = token.expose_secret();
    let mut out = vec![t.to_owned()];
    if let Some((_, secret)) = t.split_once('|') {
        if !secret.is_empty() {
            out.push(secret.to_owned());
        }
    }
    out
}

fn find_in_path(env: &Env, program: &str) -> Option<PathBuf> {
    let path = env.get(env::PATH)?;
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

fn gh_auth_token(env: &Env, api_url: &str) -> Option<String> {
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
    let token = String::from_utf8(out.stdout).ok()?;
    (!token.trim().is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let (t, source) = github_token(&env, "https://api.github.com").unwrap();
        assert_eq!(t.expose_secret(), "first-token");
        assert_eq!(source, TokenSource::GhToken);
    }

    #[test]
    fn missing_token_is_a_usage_error_naming_the_variables() {
        let e = github_token(&Env::default(), "https://api.github.com").unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::Usage);
        assert!(e.message.contains("GitHub token"), "{e:?}");
        let e = coolify_token(&Env::default()).unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::Usage);
        assert!(e.message.contains("Coolify token"), "{e:?}");
    }

    #[test]
    fn tokens_are_trimmed() {
        let env = Env::from_pairs([
            ("GH_TOKEN", "  ghp_abc\n"),
            ("COOLIFY_TOKEN", "\t3|xyz\r\n"),
        ]);
        let (t, _) = github_token(&env, "https://api.github.com").unwrap();
        assert_eq!(t.expose_secret(), "ghp_abc");
        assert_eq!(coolify_token(&env).unwrap().expose_secret(), "3|xyz");
    }

    #[test]
    fn control_characters_inside_are_refused_without_the_value() {
        for (var, value) in [
            ("GH_TOKEN", "ghp_ab\ncd"),
            ("GITHUB_TOKEN", "ghp_ab\u{7}cd"),
            ("COOLIFY_TOKEN", "1|ab\x1bcd"),
        ] {
            let env = Env::from_pairs([(var, value)]);
            let e = if var == "COOLIFY_TOKEN" {
                coolify_token(&env).unwrap_err()
            } else {
                github_token(&env, "https://api.github.com").unwrap_err()
            };
            assert_eq!(e.kind, crate::error::Kind::Usage, "{var}");
            let text = format!("{e:?}");
            assert!(e.message.contains(var), "{text}");
            assert!(!text.contains("ghp_ab") && !text.contains("1|ab"), "{text}");
        }
        let e = github_token(
            &Env::from_pairs([("GH_TOKEN", " \n")]),
            "https://api.github.com",
        )
        .unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::Usage);
    }

    #[test]
    fn secret_half_of_coolify_token_is_a_secret_part() {
        let t = SecretString::from("12|abcdefsecret".to_owned());
        assert_eq!(secret_parts(&t), vec!["12|abcdefsecret", "abcdefsecret"]);
    }

    #[test]
    fn an_environment_may_name_its_own_coolify_token_variable() {
        let env = Env::from_pairs([
            ("COOLIFY_TOKEN", "1|prod"),
            ("COOLIFY_STAGING_TOKEN", " 2|stg \n"),
        ]);
        let t = coolify_token_in(&env, "COOLIFY_STAGING_TOKEN").unwrap();
        assert_eq!(t.expose_secret(), "2|stg");
        assert_eq!(coolify_token(&env).unwrap().expose_secret(), "1|prod");
        let e = coolify_token_in(&env, "COOLIFY_QA_TOKEN").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.hint().unwrap().starts_with("set COOLIFY_QA_TOKEN "),
            "{:?}",
            e.hints
        );
    }
}
