//! GitHub simulator support: a runtime that keeps serving while the test
//! thread runs the binary, a temp almarel.toml pointing at the simulator, and
//! the token tests assert never leaks.

use std::path::PathBuf;

use almarel_sandbox::github::GithubSim;
use assert_cmd::Command;

use super::Sandbox;

/// The token the tests use; no output may contain it.
pub const TOKEN: &str = "ghp_sEcReT0123456789abcdefTOKEN";

/// A running simulator with its runtime and a config that points at it.
pub struct GhEnv {
    /// Keeps the simulator serving (multi-thread runtime).
    pub rt: tokio::runtime::Runtime,
    /// The simulator.
    pub sim: GithubSim,
    /// Directory with `almarel.toml` (not a git work tree).
    pub dir: PathBuf,
}

impl GhEnv {
    /// Starts a simulator for `octo/app` that requires [`TOKEN`].
    pub fn start(sb: &Sandbox) -> GhEnv {
        Self::start_with(sb, "")
    }

    /// Same, with extra TOML appended to the config.
    pub fn start_with(sb: &Sandbox, extra: &str) -> GhEnv {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let sim = rt
            .block_on(GithubSim::start("octo/app"))
            .expect("simulator");
        sim.require_token(TOKEN);
        let dir = sb.path().join("proj");
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(
            dir.join("almarel.toml"),
            format!(
                "[github]\nrepository = \"octo/app\"\napi_url = \"{}\"\n{extra}",
                sim.url()
            ),
        )
        .expect("config");
        GhEnv { rt, sim, dir }
    }

    /// The binary with `--config` and `GH_TOKEN` set.
    pub fn almarel(&self, sb: &Sandbox) -> Command {
        let mut cmd = sb.almarel(&self.dir);
        cmd.env("GH_TOKEN", TOKEN)
            .args(["--config", "almarel.toml"]);
        cmd
    }
}

/// Asserts that neither stdout nor stderr contains the token.
pub fn assert_no_token(out: &std::process::Output) {
    let (o, e) = super::texts(out);
    assert!(!o.contains(TOKEN), "token on stdout:\n{o}");
    assert!(!e.contains(TOKEN), "token on stderr:\n{e}");
    assert!(
        !o.contains("sEcReT") && !e.contains("sEcReT"),
        "part of the token leaked"
    );
}

/// Serves `{"commit": sha}` at `/api/version` (a stand-in for production).
pub fn serve_version(rt: &tokio::runtime::Runtime, sha: &str) -> almarel_sandbox::Server {
    let body = serde_json::json!({"commit": sha, "version": "x"});
    let app = axum::Router::new().route(
        "/api/version",
        axum::routing::get(move || {
            let body = body.clone();
            async move { axum::Json(body) }
        }),
    );
    rt.block_on(almarel_sandbox::serve(app))
        .expect("version server")
}
