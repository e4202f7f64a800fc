//! Support for the deploy and verify tests: a runtime that keeps the Coolify
//! and production simulators serving while the binary runs, and config files
//! pointing at them.

use std::path::{Path, PathBuf};

use almarel_sandbox::coolify::{self as sim, AppSpec, CoolifySim};
use almarel_sandbox::github::GithubSim;
use almarel_sandbox::production::{self as prod, ProductionSim};
use assert_cmd::Command;

use super::Sandbox;

/// The release the tests deploy.
pub const NEW_SHA: &str = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d";
/// What production runs before.
pub const OLD_SHA: &str = "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c";
/// Smoke login credentials the production simulator accepts.
pub const SMOKE_EMAIL: &str = "smoke@example.com";
/// (see [`SMOKE_EMAIL`])
pub const SMOKE_PASSWORD: &str = "smoke-password-1";

/// A multi-thread runtime: the simulators keep serving while a test blocks on the binary.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Starts the Coolify simulator.
pub fn coolify(rt: &tokio::runtime::Runtime, config: sim::Config) -> CoolifySim {
    rt.block_on(sim::start(config)).unwrap()
}

/// Starts the production simulator.
pub fn production(rt: &tokio::runtime::Runtime, config: prod::Config) -> ProductionSim {
    rt.block_on(prod::start(config)).unwrap()
}

/// The two apps most tests deploy: api and web, both at v1.2.2, which each
/// last finished deploying (their history says so).
pub fn two_apps() -> Vec<AppSpec> {
    vec![
        AppSpec::docker("api", "k8s0wccw4g0o0kw4okcs8wss", "v1.2.2").with_history(&["v1.2.2"]),
        AppSpec::docker("web", "w3b0wccw4g0o0kw4okcs8wss", "v1.2.2").with_history(&["v1.2.2"]),
    ]
}

/// `[coolify]` with `apps`.
pub fn coolify_toml(url: &str, apps: &[AppSpec]) -> String {
    let mut s = format!("[coolify]\nurl = \"{url}\"\n");
    for a in apps {
        s.push_str(&format!(
            "[[coolify.apps]]\nname = \"{}\"\nuuid = \"{}\"\n",
            a.name, a.uuid
        ));
    }
    s
}

/// `[verify]` with the three probes and the two smoke steps of the SPEC.
pub fn verify_toml(url: &str) -> String {
    format!(
        r#"[verify]
health_url = "{url}/health"
version_url = "{url}/api/version"
web_url = "{url}/"
web_expect = "<div id=\"root\">"
request_timeout = "5s"
[[verify.smoke]]
name = "login"
method = "POST"
url = "{url}/api/auth/login"
json = {{ email = "${{SMOKE_EMAIL}}", password = "${{SMOKE_PASSWORD}}" }}
expect_status = 200
capture = {{ token = "/token" }}
[[verify.smoke]]
name = "list orders"
url = "{url}/api/orders"
headers = {{ Authorization = "Bearer ${{token}}" }}
expect_status = 200
"#
    )
}

/// Writes `almarel.toml` into a fresh project dir and returns the dir.
pub fn project(sb: &Sandbox, toml: &str) -> PathBuf {
    let dir = sb.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("almarel.toml"), toml).unwrap();
    dir
}

/// A project directory whose `almarel.toml` also points at a GitHub simulator
/// (deploy reads the freeze state and resolves REFs there).
pub struct Project {
    /// The directory holding `almarel.toml`.
    pub dir: PathBuf,
    /// The GitHub simulator (`octo/app`, requires [`GH_TOKEN`]), with the
    /// release tags `v1.2.2`, `v1.2.3` and `v1.3.0-rc.1` on their own commits.
    pub github: GithubSim,
    /// The commit `v1.2.3` points at on GitHub.
    pub v123: String,
}

impl std::ops::Deref for Project {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.dir
    }
}

/// The GitHub token [`almarel`] sends.
pub const GH_TOKEN: &str = "ghp_deployTestToken0123456789abcdef";

/// Writes `toml` plus a `[github]` section pointing at a fresh GitHub simulator.
pub fn deploy_project(sb: &Sandbox, rt: &tokio::runtime::Runtime, toml: &str) -> Project {
    let github = rt.block_on(GithubSim::start("octo/app")).unwrap();
    github.require_token(GH_TOKEN);
    let mut v123 = String::new();
    for tag in ["v1.2.2", "v1.2.3", "v1.3.0-rc.1"] {
        let sha = github.add_commit(&format!("release {tag}"));
        github.add_tag(tag, &sha, true);
        // CI passed for every release commit (deploy's gate, SPEC §7.5).
        github.add_run("CI", &sha, almarel_sandbox::github::RunPlan::success());
        if tag == "v1.2.3" {
            v123 = sha;
        }
    }
    let dir = project(
        sb,
        &format!(
            "[github]\nrepository = \"octo/app\"\napi_url = \"{}\"\n{toml}",
            github.url()
        ),
    );
    Project { dir, github, v123 }
}

/// `almarel --config almarel.toml ARGS` in `dir`, with the Coolify and GitHub tokens and smoke credentials.
pub fn almarel(sb: &Sandbox, dir: &Path, token: &str) -> Command {
    let mut cmd = sb.almarel(dir);
    cmd.arg("--config")
        .arg("almarel.toml")
        .env("COOLIFY_TOKEN", token)
        .env("GH_TOKEN", GH_TOKEN)
        .env("SMOKE_EMAIL", SMOKE_EMAIL)
        .env("SMOKE_PASSWORD", SMOKE_PASSWORD)
        .timeout(std::time::Duration::from_secs(60));
    cmd
}

/// The same invocation as [`almarel`], as a plain `std::process::Command`
/// (to spawn it and send it a signal).
pub fn spawnable(sb: &Sandbox, dir: &Path, token: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("almarel"));
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", sb.home())
        .env("ALMAREL_STATE_DIR", sb.state_dir())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "0")
        .env("COOLIFY_TOKEN", token)
        .env("GH_TOKEN", GH_TOKEN)
        .arg("--config")
        .arg("almarel.toml");
    cmd
}
