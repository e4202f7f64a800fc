//! A stateful fake of Coolify's `/api/v1` (v4.3): applications, deployments
//! that move `queued → in_progress → finished | failed | cancelled-by-user` on
//! a schedule, the quirks almarel must handle (the "already queued" uuid that
//! does not exist, the `{count, deployments}` envelope, plain-text
//! `/version`, `logs` only for sensitive tokens), the error bodies of the
//! contract notes (401, 403 missing ability / API disabled / IP not allowed,
//! 404, 405), a [`Recorder`] and fault injection.
//!
//! Deployments of one app run one at a time, in order; a deployment reads the
//! app's image tag when it starts, not when it is queued (as Coolify's job
//! does). When one finishes, the `on_finish` hook is called with the app's
//! name and the image tag it deployed, so a test can switch the production
//! simulator to the new version.

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

/// A token with `read`, `deploy` and `write`: what almarel needs.
pub const TOKEN: &str = "7|almarel-sim-token-rdw";
/// A `root` token whose owner is an admin: it may read deployment logs.
pub const SENSITIVE_TOKEN: &str = "8|almarel-sim-token-root";

/// How a deployment of an app ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `finished`.
    Finish,
    /// `failed` (e.g. the healthcheck failed; the old container keeps serving).
    Fail,
    /// `cancelled-by-user`.
    Cancel,
    /// Stays `in_progress` forever (a stuck worker).
    Hang,
}

/// One application.
#[derive(Debug, Clone)]
pub struct AppSpec {
    /// uuid.
    pub uuid: String,
    /// name.
    pub name: String,
    /// `dockerimage`, `nixpacks`, ...
    pub build_pack: String,
    /// Image repository.
    pub image_name: String,
    /// Configured tag.
    pub image_tag: Option<String>,
    /// How its deployments end.
    pub ending: Ending,
    /// Time a new deployment stays `queued` (when nothing else runs).
    pub queued_for: Duration,
    /// Time a deployment stays `in_progress`.
    pub running_for: Duration,
    /// A deployment already `in_progress` when the simulator starts (of the
    /// configured tag), ending after this as [`AppSpec::in_flight_ending`] says.
    pub in_flight_for: Option<Duration>,
    /// How that in-flight deployment ends (`Hang`: it holds forever).
    pub in_flight_ending: Ending,
    /// Finished deployments before the simulator started, oldest first, by
    /// the image tag each deployed (their build logs say so). The newest
    /// need not be the configured tag (an interrupted run may have changed it).
    pub history: Vec<String>,
    /// Answer a PATCH with 200 without applying it.
    pub ignore_patch: bool,
    /// Its domains (`fqdn`, comma-separated URLs); default `https://<name>.example.com`.
    pub fqdn: Option<String>,
}

impl AppSpec {
    /// A Docker Image app whose deployments finish after 0.2 s queued + 0.8 s running.
    pub fn docker(name: &str, uuid: &str, image_tag: &str) -> Self {
        AppSpec {
            uuid: uuid.to_owned(),
            name: name.to_owned(),
            build_pack: "dockerimage".into(),
            image_name: format!("ghcr.io/almafrica/{name}"),
            image_tag: Some(image_tag.to_owned()),
            ending: Ending::Finish,
            queued_for: Duration::from_millis(200),
            running_for: Duration::from_millis(800),
            in_flight_for: None,
            in_flight_ending: Ending::Finish,
            history: Vec::new(),
            ignore_patch: false,
            fqdn: None,
        }
    }

    /// The same app serving at `fqdn` (what `init` derives verify URLs from).
    #[must_use]
    pub fn with_fqdn(mut self, fqdn: &str) -> Self {
        self.fqdn = Some(fqdn.to_owned());
        self
    }

    /// The same app with finished deployments of `tags` (oldest first) in its history.
    #[must_use]
    pub fn with_history(mut self, tags: &[&str]) -> Self {
        self.history = tags.iter().map(|t| (*t).to_owned()).collect();
        self
    }
}

/// A token the simulator accepts.
#[derive(Debug, Clone)]
pub struct TokenSpec {
    /// Abilities (`read`, `deploy`, `write`, `read:sensitive`, `root`).
    pub abilities: Vec<String>,
}

/// The simulator's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The applications.
    pub apps: Vec<AppSpec>,
    /// Accepted tokens.
    pub tokens: BTreeMap<String, TokenSpec>,
    /// `/version` answer.
    pub version: String,
    /// Answer every API call with 403 "API is disabled.".
    pub api_disabled: bool,
    /// Answer every API call with 403 "You are not allowed to access the API.".
    pub ip_blocked: bool,
}

impl Config {
    /// `apps`, with [`TOKEN`] (read, deploy, write) and [`SENSITIVE_TOKEN`] (root).
    pub fn new(apps: Vec<AppSpec>) -> Self {
        let mut tokens = BTreeMap::new();
        tokens.insert(
            TOKEN.to_owned(),
            TokenSpec {
                abilities: vec!["read".into(), "deploy".into(), "write".into()],
            },
        );
        tokens.insert(
            SENSITIVE_TOKEN.to_owned(),
            TokenSpec {
                abilities: vec!["root".into()],
            },
        );
        Config {
            apps,
            tokens,
            version: "4.3.10".into(),
            api_disabled: false,
            ip_blocked: false,
        }
    }

    /// Adds a token with these abilities.
    #[must_use]
    pub fn with_token(mut self, token: &str, abilities: &[&str]) -> Self {
        self.tokens.insert(
            token.to_owned(),
            TokenSpec {
                abilities: abilities.iter().map(|a| (*a).to_owned()).collect(),
            },
        );
        self
    }
}

/// An injected failure: the next `times` requests matching `method` and a path
/// starting with `path_prefix` (under `/api/v1`) get this answer.
#[derive(Debug, Clone)]
pub struct Fault {
    /// Method to match.
    pub method: String,
    /// Path prefix to match (e.g. `/api/v1/deploy`).
    pub path_prefix: String,
    /// Status to answer.
    pub status: u16,
    /// Body to answer.
    pub body: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// How many times.
    pub times: u32,
}

/// A deployment as the simulator holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentView {
    /// Deployment uuid.
    pub uuid: String,
    /// Application uuid.
    pub app_uuid: String,
    /// Status string.
    pub status: String,
    /// The image tag it deployed (set when it started).
    pub image_tag: Option<String>,
}

type Hook = Arc<dyn Fn(&str, &str) + Send + Sync>;

#[derive(Debug, Clone)]
struct Dep {
    uuid: String,
    id: u64,
    app_uuid: String,
    status: &'static str,
    created: Instant,
    created_wall: std::time::SystemTime,
    started: Option<Instant>,
    image_tag: Option<String>,
    ending: Ending,
    queued_for: Duration,
    running_for: Duration,
    /// History from before the simulator started (not listed by `deployments()`).
    seeded: bool,
}

struct State {
    config: Config,
    deployments: Vec<Dep>,
    next: u64,
    faults: Vec<Fault>,
    on_finish: Option<Hook>,
    /// Slow answers: (method, path prefix, delay, times left).
    slow: Vec<(String, String, Duration, u32)>,
    /// Lost answers: (method, path prefix, status, times left).
    lost: Vec<(String, String, u16, u32)>,
}

/// The running simulator.
pub struct CoolifySim {
    server: Server,
    state: Arc<Mutex<State>>,
    recorder: Recorder,
}

impl std::fmt::Debug for CoolifySim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoolifySim")
            .field("url", &self.server.url())
            .finish_non_exhaustive()
    }
}

/// Starts the simulator on a loopback port (inside a tokio runtime).
pub async fn start(config: Config) -> Result<CoolifySim> {
    let now = Instant::now();
    let mut deployments = Vec::new();
    let mut next = 1;
    for app in &config.apps {
        for (i, tag) in app.history.iter().enumerate() {
            let ago = Duration::from_secs(3600 * (app.history.len() - i) as u64);
            deployments.push(Dep {
                uuid: uuid_for(next),
                id: next,
                app_uuid: app.uuid.clone(),
                status: "finished",
                created: now.checked_sub(ago).unwrap_or(now),
                created_wall: std::time::SystemTime::now() - ago,
                started: None,
                image_tag: Some(tag.clone()),
                ending: Ending::Finish,
                queued_for: Duration::ZERO,
                running_for: Duration::ZERO,
                seeded: true,
            });
            next += 1;
        }
    }
    for app in &config.apps {
        if let Some(d) = app.in_flight_for {
            deployments.push(Dep {
                uuid: uuid_for(next),
                id: next,
                app_uuid: app.uuid.clone(),
                status: "in_progress",
                created: now,
                created_wall: std::time::SystemTime::now(),
                started: Some(now),
                image_tag: app.image_tag.clone(),
                ending: app.in_flight_ending,
                queued_for: Duration::ZERO,
                running_for: d,
                seeded: false,
            });
            next += 1;
        }
    }
    let state = Arc::new(Mutex::new(State {
        config,
        deployments,
        next,
        faults: Vec::new(),
        lost: Vec::new(),
        on_finish: None,
        slow: Vec::new(),
    }));
    let recorder = Recorder::default();
    let (st, rec) = (state.clone(), recorder.clone());
    let router = Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (st, rec) = (st.clone(), rec.clone());
            async move {
                let delay = slow_delay(&st, &method, uri.path());
                let resp = handle(&st, &rec, method, uri, headers, body);
                // Applied and recorded now; answered only after the delay.
                if let Some(d) = delay {
                    tokio::time::sleep(d).await;
                }
                resp
            }
        },
    );
    let server = serve(router).await?;
    Ok(CoolifySim {
        server,
        state,
        recorder,
    })
}

fn uuid_for(n: u64) -> String {
    format!("dpl{n:021}")
}

impl CoolifySim {
    /// The base URL (what `coolify.url` is set to).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Every request received.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// The app's configured image tag now.
    pub fn image_tag(&self, uuid: &str) -> Option<String> {
        self.state.lock().ok().and_then(|s| {
            s.config
                .apps
                .iter()
                .find(|a| a.uuid == uuid)
                .and_then(|a| a.image_tag.clone())
        })
    }

    /// Every deployment, oldest first (advanced to now).
    pub fn deployments(&self) -> Vec<DeploymentView> {
        let events = match self.state.lock() {
            Ok(mut s) => advance(&mut s),
            Err(_) => return Vec::new(),
        };
        self.fire(events);
        self.state
            .lock()
            .map(|s| {
                s.deployments
                    .iter()
                    .filter(|d| !d.seeded)
                    .map(|d| DeploymentView {
                        uuid: d.uuid.clone(),
                        app_uuid: d.app_uuid.clone(),
                        status: d.status.to_owned(),
                        image_tag: d.image_tag.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Injects a fault.
    pub fn inject(&self, fault: Fault) {
        if let Ok(mut s) = self.state.lock() {
            s.faults.push(fault);
        }
    }

    /// The next `times` requests matching `method` and a path starting with
    /// `path_prefix` are applied (and recorded) at once but answered only
    /// after `delay`: a write in flight whose answer has not come back yet.
    pub fn slow(&self, method: &str, path_prefix: &str, delay: Duration, times: u32) {
        if let Ok(mut s) = self.state.lock() {
            s.slow
                .push((method.to_owned(), path_prefix.to_owned(), delay, times));
        }
    }

    /// The next `times` requests matching `method` and a path starting with
    /// `path_prefix` are applied as usual, then answered with `status` and a
    /// proxy's HTML page: a gateway that gave up after Coolify saved the
    /// change.
    pub fn lose_answers(&self, method: &str, path_prefix: &str, status: u16, times: u32) {
        if let Ok(mut s) = self.state.lock() {
            s.lost
                .push((method.to_owned(), path_prefix.to_owned(), status, times));
        }
    }

    /// Changes how the app's future deployments end.
    pub fn set_ending(&self, app_uuid: &str, ending: Ending) {
        if let Ok(mut s) = self.state.lock() {
            if let Some(a) = s.config.apps.iter_mut().find(|a| a.uuid == app_uuid) {
                a.ending = ending;
            }
        }
    }

    /// Calls `hook(app_name, image_tag)` whenever a deployment finishes.
    pub fn on_finish(&self, hook: impl Fn(&str, &str) + Send + Sync + 'static) {
        if let Ok(mut s) = self.state.lock() {
            s.on_finish = Some(Arc::new(hook));
        }
    }

    fn fire(&self, events: Vec<(String, String)>) {
        fire(&self.state, events);
    }
}

fn fire(state: &Arc<Mutex<State>>, events: Vec<(String, String)>) {
    if events.is_empty() {
        return;
    }
    let hook = state.lock().ok().and_then(|s| s.on_finish.clone());
    if let Some(h) = hook {
        for (app, tag) in events {
            h(&app, &tag);
        }
    }
}

/// Moves deployments along their schedule; returns (app name, tag) of each
/// deployment that finished.
fn advance(s: &mut State) -> Vec<(String, String)> {
    let now = Instant::now();
    let mut finished = Vec::new();
    let app_uuids: Vec<String> = s.config.apps.iter().map(|a| a.uuid.clone()).collect();
    for app_uuid in app_uuids {
        // The time the previous deployment of this app ended (runs are serial).
        let mut free_at: Option<Instant> = None;
        loop {
            let mut changed = false;
            if let Some(d) = s
                .deployments
                .iter_mut()
                .find(|d| d.app_uuid == app_uuid && d.status == "in_progress")
            {
                let ends = d.started.unwrap_or(now) + d.running_for;
                if d.ending != Ending::Hang && now >= ends {
                    d.status = match d.ending {
                        Ending::Finish => "finished",
                        Ending::Fail => "failed",
                        Ending::Cancel | Ending::Hang => "cancelled-by-user",
                    };
                    free_at = Some(ends);
                    if d.status == "finished" {
                        let name = s
                            .config
                            .apps
                            .iter()
                            .find(|a| a.uuid == app_uuid)
                            .map(|a| a.name.clone())
                            .unwrap_or_default();
                        finished.push((name, d.image_tag.clone().unwrap_or_default()));
                    }
                    changed = true;
                }
            } else {
                let tag = s
                    .config
                    .apps
                    .iter()
                    .find(|a| a.uuid == app_uuid)
                    .and_then(|a| a.image_tag.clone());
                if let Some(d) = s
                    .deployments
                    .iter_mut()
                    .find(|d| d.app_uuid == app_uuid && d.status == "queued")
                {
                    let ready = d.created + d.queued_for;
                    let starts = free_at.map_or(ready, |f| f.max(ready));
                    if now >= starts {
                        d.status = "in_progress";
                        d.started = Some(starts);
                        d.image_tag = tag;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
    }
    finished
}

fn reply(status: u16, body: Value) -> (u16, Vec<(String, String)>, String) {
    (
        status,
        vec![("content-type".into(), "application/json".into())],
        body.to_string(),
    )
}

/// The delay of a matching [`CoolifySim::slow`] entry (using one of its times).
fn slow_delay(st: &Arc<Mutex<State>>, method: &Method, path: &str) -> Option<Duration> {
    let mut s = st.lock().ok()?;
    let e = s.slow.iter_mut().find(|(m, p, _, times)| {
        m.eq_ignore_ascii_case(method.as_str()) && path.starts_with(p.as_str()) && *times > 0
    })?;
    e.3 -= 1;
    Some(e.2)
}

fn handle(
    st: &Arc<Mutex<State>>,
    rec: &Recorder,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query: BTreeMap<String, String> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let (status, extra, text, events) = match st.lock() {
        Ok(mut s) => {
            let events = advance(&mut s);
            let (status, extra, text) = route(&mut s, &method, &path, &query, &headers, &body_text);
            let lost = s.lost.iter_mut().find(|(m, prefix, _, times)| {
                m.eq_ignore_ascii_case(method.as_str())
                    && path.starts_with(prefix.as_str())
                    && *times > 0
            });
            match lost {
                Some((_, _, code, times)) => {
                    *times -= 1;
                    let page = format!(
                        "<html><head><title>{code}</title></head><body>{code}</body></html>"
                    );
                    (
                        *code,
                        vec![("content-type".to_owned(), "text/html".to_owned())],
                        page,
                        events,
                    )
                }
                None => (status, extra, text, events),
            }
        }
        Err(_) => (500, vec![], "{}".into(), vec![]),
    };
    fire(st, events);
    rec.push(Recorded {
        method: method.to_string(),
        path: uri
            .path_and_query()
            .map_or_else(|| path.clone(), |p| p.as_str().to_owned()),
        headers: recorded_headers(&headers),
        body: body_text,
        status,
    });
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        text,
    )
        .into_response();
    for (k, v) in extra {
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::from_bytes(k.as_bytes()),
            axum::http::HeaderValue::from_str(&v),
        ) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}

/// Headers worth asserting on; `authorization` is reduced to its scheme.
pub fn recorded_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in ["authorization", "accept", "content-type"] {
        if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
            let v = if name == "authorization" {
                v.split_whitespace().next().unwrap_or("").to_owned()
            } else {
                v.to_owned()
            };
            out.push((name.to_owned(), v));
        }
    }
    out
}

fn route(
    s: &mut State,
    method: &Method,
    path: &str,
    query: &BTreeMap<String, String>,
    headers: &HeaderMap,
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    if path == "/api/health" {
        return (200, vec![], "OK".into());
    }
    // Injected faults come first.
    if let Some(i) = s.faults.iter().position(|f| {
        f.method.eq_ignore_ascii_case(method.as_str())
            && path.starts_with(&f.path_prefix)
            && f.times > 0
    }) {
        let f = &mut s.faults[i];
        f.times -= 1;
        let mut h = vec![("content-type".to_owned(), "application/json".to_owned())];
        h.extend(f.headers.clone());
        return (f.status, h, f.body.clone());
    }
    let Some(rest) = path.strip_prefix("/api/v1") else {
        return reply(
            404,
            json!({"message": "Not found.", "docs": "https://coolify.io/docs"}),
        );
    };
    // Authentication (Sanctum), then the API gates, then the ability.
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let Some(spec) = token.and_then(|t| s.config.tokens.get(&t).cloned()) else {
        return reply(401, json!({"message": "Unauthenticated."}));
    };
    if s.config.api_disabled {
        return reply(403, json!({"success": true, "message": "API is disabled."}));
    }
    if s.config.ip_blocked {
        return reply(
            403,
            json!({"success": true, "message": "You are not allowed to access the API."}),
        );
    }
    let segs: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let needed = match (method.as_str(), segs.as_slice()) {
        ("POST", ["deploy"]) | ("GET", ["deploy"]) => "deploy",
        ("PATCH", _) => "write",
        _ => "read",
    };
    let has = |a: &str| spec.abilities.iter().any(|x| x == a || x == "root");
    if !has(needed) {
        return reply(
            403,
            json!({"message": format!("Missing required permissions: {needed}")}),
        );
    }
    let sensitive = has("read:sensitive");
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["version"]) => (
            200,
            vec![("content-type".into(), "text/html; charset=UTF-8".into())],
            s.config.version.clone(),
        ),
        ("GET", ["applications"]) => {
            let apps: Vec<Value> = s.config.apps.iter().map(app_json).collect();
            reply(200, Value::Array(apps))
        }
        ("GET", ["applications", uuid]) => match s.config.apps.iter().find(|a| a.uuid == *uuid) {
            Some(a) => reply(200, app_json(a)),
            None => reply(404, json!({"message": "Application not found."})),
        },
        ("PATCH", ["applications", uuid]) => patch_app(s, uuid, headers, body),
        ("GET", ["deployments"]) => {
            let list: Vec<Value> = s
                .deployments
                .iter()
                .filter(|d| d.status == "queued" || d.status == "in_progress")
                .map(|d| dep_json(s, d, sensitive, false))
                .collect();
            reply(200, Value::Array(list))
        }
        ("GET", ["deployments", "applications", uuid]) => {
            if !s.config.apps.iter().any(|a| a.uuid == *uuid) {
                return reply(404, json!({"message": "Application not found"}));
            }
            let take: usize = query.get("take").and_then(|t| t.parse().ok()).unwrap_or(10);
            let skip: usize = query.get("skip").and_then(|t| t.parse().ok()).unwrap_or(0);
            let mut mine: Vec<&Dep> = s
                .deployments
                .iter()
                .filter(|d| d.app_uuid == *uuid)
                .collect();
            mine.sort_by_key(|d| std::cmp::Reverse(d.id));
            let count = mine.len();
            let list: Vec<Value> = mine
                .into_iter()
                .skip(skip)
                .take(take)
                .map(|d| dep_json(s, d, sensitive, false))
                .collect();
            reply(200, json!({"count": count, "deployments": list}))
        }
        ("GET", ["deployments", uuid]) => match s.deployments.iter().find(|d| d.uuid == *uuid) {
            Some(d) => reply(200, dep_json(s, d, sensitive, true)),
            None => reply(404, json!({"message": "Deployment not found."})),
        },
        ("GET", ["deploy"]) => (
            405,
            vec![
                ("content-type".into(), "application/json".into()),
                ("allow".into(), "POST".into()),
            ],
            json!({"message": "This endpoint has changed to a POST request."}).to_string(),
        ),
        ("POST", ["deploy"]) => deploy(s, query),
        _ => reply(
            404,
            json!({"message": "Not found.", "docs": "https://coolify.io/docs"}),
        ),
    }
}

fn app_json(a: &AppSpec) -> Value {
    json!({
        "uuid": a.uuid,
        "name": a.name,
        "description": null,
        "fqdn": a.fqdn.clone().unwrap_or_else(|| format!("https://{}.example.com", a.name)),
        "status": "running:healthy",
        "build_pack": a.build_pack,
        "docker_registry_image_name": a.image_name,
        "docker_registry_image_tag": a.image_tag,
        "git_repository": "coollabsio/coolify-examples",
        "git_branch": "main",
        "git_commit_sha": "HEAD",
        "health_check_enabled": true,
        "health_check_path": "/health",
        "environment_id": 1,
        "destination_id": 1,
        "server_status": true,
        "settings": {"is_static": false},
        "created_at": "2026-01-01T00:00:00.000000Z",
        "updated_at": "2026-01-01T00:00:00.000000Z",
    })
}

fn is_docker_tag(t: &str) -> bool {
    let mut c = t.chars();
    t.len() <= 128
        && c.next()
            .is_some_and(|x| x.is_ascii_alphanumeric() || x == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || matches!(x, '_' | '.' | '-'))
}

fn patch_app(
    s: &mut State,
    uuid: &str,
    headers: &HeaderMap,
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    let json_ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_ct {
        return reply(
            400,
            json!({"message": "Invalid request.", "error": "Content-Type must be application/json."}),
        );
    }
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(body) else {
        return reply(
            400,
            json!({"message": "Invalid request.", "error": "Invalid JSON."}),
        );
    };
    if fields.is_empty() {
        return reply(
            400,
            json!({"message": "Invalid request.", "error": "Empty JSON."}),
        );
    }
    let Some(app) = s.config.apps.iter_mut().find(|a| a.uuid == uuid) else {
        return reply(404, json!({"message": "Application not found"}));
    };
    let allowed = [
        "docker_registry_image_tag",
        "docker_registry_image_name",
        "git_commit_sha",
        "instant_deploy",
        "name",
        "description",
        "health_check_enabled",
        "health_check_path",
    ];
    let mut errors = serde_json::Map::new();
    for k in fields.keys() {
        if !allowed.contains(&k.as_str()) {
            errors.insert(k.clone(), json!(["This field is not allowed."]));
        }
    }
    let tag = fields.get("docker_registry_image_tag");
    if let Some(Value::String(t)) = tag {
        if !is_docker_tag(t) {
            errors.insert(
                "docker_registry_image_tag".into(),
                json!(["The docker registry image tag field format is invalid."]),
            );
        }
    }
    if !errors.is_empty() {
        return reply(
            422,
            json!({"message": "Validation failed.", "errors": errors}),
        );
    }
    if app.ignore_patch {
        return reply(200, json!({"uuid": uuid}));
    }
    match tag {
        Some(Value::String(t)) => app.image_tag = Some(t.clone()),
        Some(Value::Null) => app.image_tag = None,
        _ => {}
    }
    reply(200, json!({"uuid": uuid}))
}

fn deploy(s: &mut State, query: &BTreeMap<String, String>) -> (u16, Vec<(String, String)>, String) {
    let Some(uuids) = query.get("uuid").filter(|u| !u.is_empty()) else {
        return reply(400, json!({"message": "You must provide uuid or tag."}));
    };
    let force = matches!(query.get("force").map(String::as_str), Some("true" | "1"));
    let mut entries = Vec::new();
    for uuid in uuids.split(',') {
        let Some(app) = s.config.apps.iter().find(|a| a.uuid == uuid).cloned() else {
            continue;
        };
        let id = s.next;
        s.next += 1;
        let new_uuid = uuid_for(id);
        let in_flight = s
            .deployments
            .iter()
            .any(|d| d.app_uuid == uuid && (d.status == "queued" || d.status == "in_progress"));
        if in_flight && !force {
            // The controller returns a fresh uuid it never stores.
            entries.push(json!({
                "message": "Deployment already queued for this commit.",
                "resource_uuid": uuid,
                "deployment_uuid": new_uuid,
            }));
            continue;
        }
        s.deployments.push(Dep {
            uuid: new_uuid.clone(),
            id,
            app_uuid: uuid.to_owned(),
            status: "queued",
            created: Instant::now(),
            created_wall: std::time::SystemTime::now(),
            started: None,
            image_tag: None,
            ending: app.ending,
            queued_for: app.queued_for,
            running_for: app.running_for,
            seeded: false,
        });
        entries.push(json!({
            "message": format!("Application {} deployment queued.", app.name),
            "resource_uuid": uuid,
            "deployment_uuid": new_uuid,
        }));
    }
    if entries.is_empty() {
        return reply(404, json!({"message": "No resources found."}));
    }
    // Advance at once so a zero queue time starts immediately.
    advance(s);
    reply(200, json!({"deployments": entries}))
}

fn dep_json(s: &State, d: &Dep, sensitive: bool, with_app: bool) -> Value {
    let app = s.config.apps.iter().find(|a| a.uuid == d.app_uuid);
    let name = app.map(|a| a.name.clone()).unwrap_or_default();
    let image = app.map(|a| a.image_name.clone()).unwrap_or_default();
    let created = crate::clock::rfc3339(d.created_wall);
    let mut v = json!({
        "id": d.id,
        "application_id": "42",
        "deployment_uuid": d.uuid,
        "pull_request_id": 0,
        "docker_registry_image_tag": null,
        "force_rebuild": false,
        "commit": "HEAD",
        "status": d.status,
        "is_webhook": false,
        "is_api": true,
        "restart_only": false,
        "rollback": false,
        "server_id": 0,
        "server_name": "localhost",
        "application_name": name,
        "deployment_url": format!("/project/p1/environment/e1/application/{}/deployment/{}", d.app_uuid, d.uuid),
        "destination_id": "1",
        "only_this_server": false,
        "git_type": null,
        "commit_message": null,
        "current_process_id": null,
        "created_at": created,
        "updated_at": created,
    });
    if with_app {
        if let Some(a) = app {
            let mut aj = app_json(a);
            aj["environment"] = json!({"id": 1, "name": "production", "project": {"id": 1, "name": "almafrica", "team": {"id": 0, "name": "Root Team"}}});
            v["application"] = aj;
        }
    }
    if sensitive {
        let tag = d.image_tag.clone().unwrap_or_else(|| "latest".into());
        let mut logs = vec![
            json!({"command": null, "output": format!("Starting deployment of {image}:{tag} to localhost."), "type": "stdout", "timestamp": created, "hidden": false, "batch": 1, "order": 1}),
            json!({"command": "docker compose pull", "output": "internal: pulling with registry credentials", "type": "stdout", "timestamp": created, "hidden": true, "batch": 1, "order": 2}),
        ];
        match d.status {
            "failed" => {
                logs.push(json!({"command": null, "output": "New container is not healthy.", "type": "stderr", "timestamp": created, "hidden": false, "batch": 2, "order": 1}));
                logs.push(json!({"command": null, "output": "Healthcheck failed: rolling update aborted, the old container keeps running.", "type": "stderr", "timestamp": created, "hidden": false, "batch": 2, "order": 2}));
            }
            "finished" => logs.push(json!({"command": null, "output": "Rolling update completed.", "type": "stdout", "timestamp": created, "hidden": false, "batch": 2, "order": 1})),
            _ => {}
        }
        v["logs"] = Value::String(Value::Array(logs).to_string());
    }
    v
}
