//! A fake production app: `/health`, `/api/version` (JSON with the commit
//! SHA; switchable, optionally after a delay), the web page (HTML with
//! `<div id="root">`, or JSON to simulate a web URL that points at the API),
//! `POST /api/auth/login` (checks email and password, returns `{token}`),
//! `GET /api/orders` (needs `Bearer <token>`), a latency per path, and a
//! [`Recorder`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Recorded, Recorder, Server, serve};
use crate::error::Result;

/// What the web URL answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebMode {
    /// The single-page app's HTML.
    Html,
    /// JSON, as when the web URL is routed to the API by mistake.
    Json,
}

/// The production simulator's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The commit SHA `/api/version` reports.
    pub sha: String,
    /// The key of the SHA in the version JSON (`commit` by default).
    pub version_key: String,
    /// Accepted login email.
    pub email: String,
    /// Accepted login password.
    pub password: String,
    /// The token login hands out (and `/api/orders` requires).
    pub session_token: String,
    /// What `/` answers.
    pub web: WebMode,
    /// `/health` status.
    pub health_status: u16,
}

impl Config {
    /// Serving `sha`, healthy, HTML web page, login `smoke@example.com` / `smoke-password-1`.
    pub fn new(sha: &str) -> Self {
        Config {
            sha: sha.to_owned(),
            version_key: "commit".into(),
            email: "smoke@example.com".into(),
            password: "smoke-password-1".into(),
            session_token: "sess-0a1b2c3d4e5f-issued".into(),
            web: WebMode::Html,
            health_status: 200,
        }
    }
}

struct State {
    config: Config,
    pending: Option<(String, Instant)>,
    latency: BTreeMap<String, Duration>,
}

/// A handle that changes what the running simulator serves (cheap to clone).
#[derive(Clone)]
pub struct Control {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control").finish_non_exhaustive()
    }
}

impl Control {
    fn with(&self, f: impl FnOnce(&mut State)) {
        if let Ok(mut s) = self.state.lock() {
            f(&mut s);
        }
    }
    /// Serves `sha` from now on.
    pub fn set_sha(&self, sha: &str) {
        self.with(|s| {
            s.config.sha = sha.to_owned();
            s.pending = None;
        });
    }
    /// Serves `sha` once `delay` has passed.
    pub fn switch_sha_after(&self, sha: &str, delay: Duration) {
        self.with(|s| s.pending = Some((sha.to_owned(), Instant::now() + delay)));
    }
    /// Sets the `/health` status.
    pub fn set_health(&self, status: u16) {
        self.with(|s| s.config.health_status = status);
    }
    /// Sets what `/` answers.
    pub fn set_web(&self, mode: WebMode) {
        self.with(|s| s.config.web = mode);
    }
    /// Delays every answer for `path` by `d`.
    pub fn set_latency(&self, path: &str, d: Duration) {
        self.with(|s| {
            s.latency.insert(path.to_owned(), d);
        });
    }
    /// The SHA served right now.
    pub fn serving_sha(&self) -> String {
        self.state
            .lock()
            .map(|mut s| current_sha(&mut s))
            .unwrap_or_default()
    }
}

fn current_sha(s: &mut State) -> String {
    if let Some((sha, at)) = &s.pending {
        if Instant::now() >= *at {
            s.config.sha = sha.clone();
            s.pending = None;
        }
    }
    s.config.sha.clone()
}

/// The running simulator.
pub struct ProductionSim {
    server: Server,
    control: Control,
    recorder: Recorder,
}

impl std::fmt::Debug for ProductionSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProductionSim")
            .field("url", &self.server.url())
            .finish_non_exhaustive()
    }
}

impl ProductionSim {
    /// The base URL.
    pub fn url(&self) -> String {
        self.server.url()
    }
    /// Every request received.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }
    /// The control handle.
    pub fn control(&self) -> Control {
        self.control.clone()
    }
}

/// Starts the simulator on a loopback port (inside a tokio runtime).
pub async fn start(config: Config) -> Result<ProductionSim> {
    let state = Arc::new(Mutex::new(State {
        config,
        pending: None,
        latency: BTreeMap::new(),
    }));
    let recorder = Recorder::default();
    let (st, rec) = (state.clone(), recorder.clone());
    let router = Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (st, rec) = (st.clone(), rec.clone());
            async move { handle(st, rec, method, uri, headers, body).await }
        },
    );
    let server = serve(router).await?;
    Ok(ProductionSim {
        server,
        control: Control { state },
        recorder,
    })
}

async fn handle(
    st: Arc<Mutex<State>>,
    rec: Recorder,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let delay = st
        .lock()
        .ok()
        .and_then(|s| s.latency.get(&path).copied())
        .unwrap_or_default();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let (status, ctype, text) = match st.lock() {
        Ok(mut s) => route(&mut s, &method, &path, &headers, &body_text),
        Err(_) => (500, "text/plain", String::new()),
    };
    rec.push(Recorded {
        method: method.to_string(),
        path: uri
            .path_and_query()
            .map_or_else(|| path.clone(), |p| p.as_str().to_owned()),
        headers: super::coolify::recorded_headers(&headers),
        body: body_text,
        status,
    });
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        text,
    )
        .into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(ctype) {
        resp.headers_mut()
            .insert(axum::http::header::CONTENT_TYPE, v);
    }
    if let Some(to) = path.strip_prefix("/moved").filter(|_| status == 308) {
        if let Ok(v) = axum::http::HeaderValue::from_str(to) {
            resp.headers_mut().insert(axum::http::header::LOCATION, v);
        }
    }
    resp
}

const JSON: &str = "application/json";

fn route(
    s: &mut State,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &str,
) -> (u16, &'static str, String) {
    match (method.as_str(), path) {
        // A same-origin redirect: `/moved/X` → 308 to `/X`.
        (_, p) if p.starts_with("/moved/") => (308, "text/plain", String::new()),
        ("GET", "/health") => {
            let status = s.config.health_status;
            let body = if status == 200 {
                json!({"status": "ok"})
            } else {
                json!({"status": "unhealthy"})
            };
            (status, JSON, body.to_string())
        }
        ("GET", "/api/version") => {
            let sha = current_sha(s);
            let mut v = serde_json::Map::new();
            v.insert(s.config.version_key.clone(), Value::String(sha));
            v.insert("builtAt".into(), json!("2026-01-01T00:00:00Z"));
            (200, JSON, Value::Object(v).to_string())
        }
        ("POST", "/api/auth/login") => {
            let creds: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            let ok = creds.get("email").and_then(Value::as_str) == Some(s.config.email.as_str())
                && creds.get("password").and_then(Value::as_str)
                    == Some(s.config.password.as_str());
            if ok {
                (200, JSON, json!({"token": s.config.session_token}).to_string())
            } else {
                (401, JSON, json!({"message": "invalid email or password"}).to_string())
            }
        }
        ("GET", "/api/orders") => {
            let expected = format!("Bearer {}", s.config.session_token);
            let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
            if auth == Some(expected.as_str()) {
                (200, JSON, json!({"orders": [{"id": 1, "total": 1200}]}).to_string())
            } else {
                (401, JSON, json!({"message": "Unauthenticated."}).to_string())
            }
        }
        ("GET", "/") => match s.config.web {
            WebMode::Html => (
                200,
                "text/html; charset=utf-8",
                "<!doctype html>\n<html><head><title>Almafrica</title></head>\
                 <body><div id=\"root\"></div><script src=\"/assets/app.js\"></script></body></html>"
                    .into(),
            ),
            WebMode::Json => (200, JSON, json!({"service": "api", "status": "ok"}).to_string()),
        },
        _ => (404, JSON, json!({"message": "Not Found"}).to_string()),
    }
}
