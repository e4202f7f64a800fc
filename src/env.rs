//! Every environment variable almarel reads, as a documented constant, and
//! [`Env`]: a snapshot of the process environment taken once in `main`.
//!
//! Nothing else in the crate calls `std::env::var`; commands read variables
//! through the [`Env`] in their context, so tests can hand in their own.

use std::collections::BTreeMap;

/// Path of the config file (same as `--config`).
pub const ALMAREL_CONFIG: &str = "ALMAREL_CONFIG";
/// Overrides `git.remote`.
pub const ALMAREL_GIT_REMOTE: &str = "ALMAREL_GIT_REMOTE";
/// Overrides `git.branch`.
pub const ALMAREL_GIT_BRANCH: &str = "ALMAREL_GIT_BRANCH";
/// Overrides `github.repository`.
pub const ALMAREL_GITHUB_REPOSITORY: &str = "ALMAREL_GITHUB_REPOSITORY";
/// Overrides `github.api_url`.
pub const ALMAREL_GITHUB_API_URL: &str = "ALMAREL_GITHUB_API_URL";
/// Overrides `github.environment`.
pub const ALMAREL_GITHUB_ENVIRONMENT: &str = "ALMAREL_GITHUB_ENVIRONMENT";
/// Overrides `coolify.url`.
pub const ALMAREL_COOLIFY_URL: &str = "ALMAREL_COOLIFY_URL";
/// Where the audit log lives (else `$XDG_STATE_HOME/almarel`, else `~/.local/state/almarel`).
pub const ALMAREL_STATE_DIR: &str = "ALMAREL_STATE_DIR";

/// GitHub token, first choice.
pub const GH_TOKEN: &str = "GH_TOKEN";
/// GitHub token, second choice (what GitHub Actions provides).
pub const GITHUB_TOKEN: &str = "GITHUB_TOKEN";
/// Coolify API token (`<id>|<secret>`).
pub const COOLIFY_TOKEN: &str = "COOLIFY_TOKEN";

/// Ambient: set by GitHub Actions; fills `github.api_url` only when nothing else does.
pub const GITHUB_API_URL: &str = "GITHUB_API_URL";
/// Ambient: set by GitHub Actions; fills `github.repository` only when nothing else does.
pub const GITHUB_REPOSITORY: &str = "GITHUB_REPOSITORY";
/// `true` inside GitHub Actions: summaries, annotations, outputs, never a prompt.
pub const GITHUB_ACTIONS: &str = "GITHUB_ACTIONS";
/// File that receives the Markdown job summary in GitHub Actions.
pub const GITHUB_STEP_SUMMARY: &str = "GITHUB_STEP_SUMMARY";
/// File that receives `key=value` step outputs in GitHub Actions.
pub const GITHUB_OUTPUT: &str = "GITHUB_OUTPUT";
/// Set by GitHub Actions: `https://github.com` (or the GHES host); with
/// [`GITHUB_REPOSITORY`] and [`GITHUB_RUN_ID`] it makes the run's URL, the
/// `log_url` of verify's deployment status.
pub const GITHUB_SERVER_URL: &str = "GITHUB_SERVER_URL";
/// Set by GitHub Actions: the id of the running workflow run (deploy: a run
/// of this commit keeps its approval; verify: the status's `log_url`).
pub const GITHUB_RUN_ID: &str = "GITHUB_RUN_ID";

/// Any value turns colour off (<https://no-color.org>).
pub const NO_COLOR: &str = "NO_COLOR";
/// Base of the XDG state directory.
pub const XDG_STATE_HOME: &str = "XDG_STATE_HOME";
/// Base of the XDG cache directory (the GitHub answer cache: `$XDG_CACHE_HOME/almarel`).
pub const XDG_CACHE_HOME: &str = "XDG_CACHE_HOME";
/// The user's home directory.
pub const HOME: &str = "HOME";
/// `PATH`, used to find `gh` for `gh auth token`.
pub const PATH: &str = "PATH";

/// A snapshot of environment variables.
#[derive(Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// Captures the current process environment (non-UTF-8 values are skipped).
    pub fn from_process() -> Self {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment built from pairs (tests, the sandbox).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The value of `name`, if set and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Whether `name` is set (even to an empty value).
    pub fn is_set(&self, name: &str) -> bool {
        self.vars.contains_key(name)
    }

    /// Returns a copy with `name` set to `value`.
    #[must_use]
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.vars.insert(name.to_owned(), value.into());
        self
    }

    /// Whether we run inside GitHub Actions.
    pub fn in_github_actions(&self) -> bool {
        self.get(GITHUB_ACTIONS) == Some("true")
    }
}

impl std::fmt::Debug for Env {
    // Never print values: the environment holds tokens.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("vars", &self.vars.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    /// The sandbox sets almarel's variables under its own copies of their
    /// names (it cannot depend on almarel); they must be the same names.
    #[test]
    fn the_sandbox_sets_almarels_variables() {
        use almarel_sandbox::env as sandbox;
        assert_eq!(sandbox::ALMAREL_CONFIG, super::ALMAREL_CONFIG);
        assert_eq!(sandbox::ALMAREL_STATE_DIR, super::ALMAREL_STATE_DIR);
        assert_eq!(sandbox::GH_TOKEN, super::GH_TOKEN);
        assert_eq!(sandbox::COOLIFY_TOKEN, super::COOLIFY_TOKEN);
    }
}
