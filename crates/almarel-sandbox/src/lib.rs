//! Stateful simulators of the remotes almarel talks to — GitHub's REST API,
//! Coolify's API and the production app — served on loopback ports, and the
//! libgit2 git world ([`git`]) they are wired to ([`world`]). The integration
//! tests use them, and so does `almarel rehearse`: one model of each remote.
//! Not part of almarel's library API.
//!
//! Each simulator records every request it receives ([`Recorder`]) so tests
//! can assert what was sent, not only what almarel printed.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;

pub mod clock;
pub mod coolify;
pub mod env;
pub mod error;
pub mod git;
pub mod github;
pub mod production;
pub mod registry;
pub mod world;

pub use error::{Error, Result};

/// One request as a simulator saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Selected headers (authorization is reduced to its scheme).
    pub headers: Vec<(String, String)>,
    /// Body as text.
    pub body: String,
    /// Status the simulator answered with.
    pub status: u16,
}

/// A shared, append-only list of recorded requests.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    inner: Arc<Mutex<Vec<Recorded>>>,
}

impl Recorder {
    /// Appends a request.
    pub fn push(&self, r: Recorded) {
        if let Ok(mut v) = self.inner.lock() {
            v.push(r);
        }
    }
    /// Everything recorded so far.
    pub fn all(&self) -> Vec<Recorded> {
        self.inner.lock().map(|v| v.clone()).unwrap_or_default()
    }
    /// Requests whose method is `method` and whose path starts with `prefix`.
    pub fn matching(&self, method: &str, prefix: &str) -> Vec<Recorded> {
        self.all()
            .into_iter()
            .filter(|r| r.method == method && r.path.starts_with(prefix))
            .collect()
    }
}

/// A simulator running on a loopback port; stops when dropped.
#[derive(Debug)]
pub struct Server {
    /// The address it listens on.
    pub addr: SocketAddr,
    handle: tokio::task::JoinHandle<()>,
}

impl Server {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Serves `router` on an ephemeral loopback port (must run inside a tokio runtime).
pub async fn serve(router: Router) -> Result<Server> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| Error::local(format!("cannot bind a loopback port: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::local(format!("cannot read the bound address: {e}")))?;
    let handle = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(Server { addr, handle })
}
