//! A container registry speaking the OCI distribution API the way GHCR does:
//! `GET /v2/` answers 401 with a `WWW-Authenticate: Bearer realm=…/token,
//! service=…,scope=…` challenge; `GET /token?service=…&scope=repository:<name>:pull`
//! hands out a pull token (anonymously, or for basic-auth credentials whose
//! password is the configured GitHub token); `HEAD`/`GET
//! /v2/<name>/manifests/<tag or digest>` answer with `Content-Type` and
//! `Docker-Content-Digest`, and 404 `MANIFEST_UNKNOWN` when the tag is
//! absent or the `Accept` header does not list the manifest's media type.
//! Error bodies are the spec's `{"errors":[{"code","message"}]}`.
//!
//! Knobs: push a manifest under a tag, point another tag at a digest, make
//! a repository public, change the accepted token, refuse every credential,
//! drop the digest header, refuse HEAD, fail the next requests with a
//! status. Every request is recorded ([`Recorder`]); the authorization
//! header is reduced to its scheme.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sha2::Digest as _;

use super::{Recorded, Recorder, Server, serve};
use crate::error::Result;

/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// The token the simulator accepts as a basic-auth password by default.
pub const GITHUB_TOKEN: &str = "ghp_registrysimtoken0123456789abcdef";

#[derive(Debug, Clone)]
struct Manifest {
    media_type: String,
    body: Vec<u8>,
}

#[derive(Debug, Default)]
struct Repo {
    tags: BTreeMap<String, String>,
    manifests: BTreeMap<String, Manifest>,
    public: bool,
}

#[derive(Debug, Clone)]
struct Grant {
    authenticated: bool,
    repository: String,
}

#[derive(Debug)]
struct State {
    host: String,
    repos: BTreeMap<String, Repo>,
    password: Option<String>,
    refuse_credentials: bool,
    digest_header: bool,
    head_allowed: bool,
    fail_next: VecDeque<u16>,
    issued: BTreeMap<String, Grant>,
    expired: BTreeMap<String, Grant>,
    pushed: u64,
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

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let sum = sha2::Sha256::digest(bytes);
    let hex: String = sum.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

impl Control {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> Option<T> {
        self.state.lock().ok().map(|mut s| f(&mut s))
    }

    /// Pushes a new single-platform OCI image manifest (distinct from every
    /// earlier one) to `repository` under `tag`; returns its digest.
    pub fn push(&self, repository: &str, tag: &str) -> String {
        self.with(|s| {
            s.pushed += 1;
            let config = sha256_digest(format!("config {repository} {}", s.pushed).as_bytes());
            let body = json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": config,
                    "size": 1469
                },
                "layers": [{
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha256_digest(format!("layer {}", s.pushed).as_bytes()),
                    "size": 3_370_706
                }]
            })
            .to_string()
            .into_bytes();
            put(s, repository, tag, OCI_MANIFEST, body)
        })
        .unwrap_or_default()
    }

    /// Pushes `body` with `media_type` under `tag`; returns its digest.
    pub fn push_manifest(
        &self,
        repository: &str,
        tag: &str,
        media_type: &str,
        body: &[u8],
    ) -> String {
        self.with(|s| put(s, repository, tag, media_type, body.to_vec()))
            .unwrap_or_default()
    }

    /// Points `tag` at the manifest `digest` already in `repository` (as
    /// `docker buildx imagetools create -t` or `crane tag` do).
    pub fn tag(&self, repository: &str, tag: &str, digest: &str) {
        self.with(|s| {
            let repo = s.repos.entry(repository.to_owned()).or_default();
            repo.tags.insert(tag.to_owned(), digest.to_owned());
        });
    }

    /// Anonymous tokens may pull `repository` (a public package).
    pub fn set_public(&self, repository: &str, public: bool) {
        self.with(|s| s.repos.entry(repository.to_owned()).or_default().public = public);
    }

    /// The basic-auth password the token service accepts (`None`: none).
    pub fn set_password(&self, password: Option<&str>) {
        self.with(|s| s.password = password.map(str::to_owned));
    }

    /// The token service answers 403 `DENIED` to every credential.
    pub fn refuse_credentials(&self, refuse: bool) {
        self.with(|s| s.refuse_credentials = refuse);
    }

    /// Whether manifest answers carry `Docker-Content-Digest`.
    pub fn set_digest_header(&self, on: bool) {
        self.with(|s| s.digest_header = on);
    }

    /// Whether `HEAD` of a manifest is answered (else 405).
    pub fn set_head_allowed(&self, on: bool) {
        self.with(|s| s.head_allowed = on);
    }

    /// The next `n` requests (any path) answer `status` with an error body.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.with(|s| s.fail_next.extend(std::iter::repeat_n(status, n)));
    }

    /// Forgets every token handed out (they expired): requests bearing one
    /// answer 401 until a new token is fetched.
    pub fn expire_tokens(&self) {
        self.with(|s| s.expired.extend(std::mem::take(&mut s.issued)));
    }

    /// Every bearer token the token service handed out (to check that none
    /// leaks into output).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.with(|s| s.issued.keys().chain(s.expired.keys()).cloned().collect())
            .unwrap_or_default()
    }
}

fn put(s: &mut State, repository: &str, tag: &str, media_type: &str, body: Vec<u8>) -> String {
    let digest = sha256_digest(&body);
    let repo = s.repos.entry(repository.to_owned()).or_default();
    repo.manifests.insert(
        digest.clone(),
        Manifest {
            media_type: media_type.to_owned(),
            body,
        },
    );
    repo.tags.insert(tag.to_owned(), digest.clone());
    digest
}

/// The running simulator.
pub struct RegistrySim {
    server: Server,
    control: Control,
    recorder: Recorder,
}

impl std::fmt::Debug for RegistrySim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrySim")
            .field("url", &self.server.url())
            .finish_non_exhaustive()
    }
}

impl RegistrySim {
    /// Starts an empty registry that accepts [`GITHUB_TOKEN`] as the
    /// password (inside a tokio runtime).
    pub async fn start() -> Result<RegistrySim> {
        let state = Arc::new(Mutex::new(State {
            host: String::new(),
            repos: BTreeMap::new(),
            password: Some(GITHUB_TOKEN.to_owned()),
            refuse_credentials: false,
            digest_header: true,
            head_allowed: true,
            fail_next: VecDeque::new(),
            issued: BTreeMap::new(),
            expired: BTreeMap::new(),
            pushed: 0,
        }));
        let recorder = Recorder::default();
        let (st, rec) = (state.clone(), recorder.clone());
        let router = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let (st, rec) = (st.clone(), rec.clone());
                async move { handle(&st, &rec, &method, &uri, &headers, &body) }
            },
        );
        let server = serve(router).await?;
        if let Ok(mut s) = state.lock() {
            s.host = server.addr.to_string();
        }
        Ok(RegistrySim {
            server,
            control: Control { state },
            recorder,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// `127.0.0.1:PORT`: the registry host of image names served here.
    pub fn host(&self) -> String {
        self.server.addr.to_string()
    }

    /// `127.0.0.1:PORT/<repository>`: an image name served here.
    pub fn image(&self, repository: &str) -> String {
        format!("{}/{repository}", self.host())
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

struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn errors(status: u16, code: &str, message: &str) -> Answer {
    Answer {
        status,
        headers: vec![("content-type", "application/json".into())],
        body: json!({"errors": [{"code": code, "message": message}]})
            .to_string()
            .into_bytes(),
    }
}

fn handle(
    st: &Arc<Mutex<State>>,
    rec: &Recorder,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let answer = match st.lock() {
        Ok(mut s) => route(&mut s, method, uri, headers),
        Err(_) => errors(500, "UNKNOWN", "lock poisoned"),
    };
    rec.push(Recorded {
        method: method.to_string(),
        path: uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned()),
        headers: super::coolify::recorded_headers(headers),
        body: String::from_utf8_lossy(body).into_owned(),
        status: answer.status,
    });
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, answer.body).into_response();
    for (k, v) in answer.headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}

fn query(uri: &Uri) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn challenge(s: &State, scope: &str) -> (&'static str, String) {
    (
        "www-authenticate",
        format!(
            "Bearer realm=\"http://{}/token\",service=\"{}\",scope=\"{scope}\"",
            s.host, s.host
        ),
    )
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

fn route(s: &mut State, method: &Method, uri: &Uri, headers: &HeaderMap) -> Answer {
    if let Some(status) = s.fail_next.pop_front() {
        return errors(status, "UNAVAILABLE", "service unavailable");
    }
    let path = uri.path();
    if path == "/v2/" || path == "/v2" {
        let known = bearer(headers).is_some_and(|t| s.issued.contains_key(&t));
        if known {
            return Answer {
                status: 200,
                headers: vec![("content-type", "application/json".into())],
                body: b"{}".to_vec(),
            };
        }
        let mut a = errors(401, "UNAUTHORIZED", "authentication required");
        a.headers.push(challenge(s, "repository:user/image:pull"));
        return a;
    }
    if path == "/token" && method == Method::GET {
        return token(s, uri, headers);
    }
    if let Some(rest) = path.strip_prefix("/v2/") {
        if let Some((repository, reference)) = rest.split_once("/manifests/") {
            return manifest(s, method, repository, reference, headers);
        }
    }
    errors(404, "NOT_FOUND", "not found")
}

fn token(s: &mut State, uri: &Uri, headers: &HeaderMap) -> Answer {
    let q = query(uri);
    let repository = q
        .get("scope")
        .and_then(|sc| sc.strip_prefix("repository:"))
        .and_then(|sc| sc.rsplit_once(':'))
        .map(|(repo, _)| repo.to_owned());
    let Some(repository) = repository else {
        return errors(400, "INVALID_REQUEST", "scope is required");
    };
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| decode_base64(b.trim()));
    let authenticated = match basic {
        None => false,
        Some(userpass) => {
            let password = userpass.split_once(':').map_or("", |(_, p)| p);
            if s.refuse_credentials {
                return errors(403, "DENIED", "denied");
            }
            if s.password.as_deref() != Some(password) {
                return errors(401, "UNAUTHORIZED", "bad credentials");
            }
            true
        }
    };
    let n = s.issued.len() + s.expired.len() + 1;
    let token = format!(
        "sim-registry-token-{n:04}-{}",
        if authenticated { "user" } else { "anon" }
    );
    s.issued.insert(
        token.clone(),
        Grant {
            authenticated,
            repository,
        },
    );
    Answer {
        status: 200,
        headers: vec![("content-type", "application/json".into())],
        body: json!({"token": token, "expires_in": 300})
            .to_string()
            .into_bytes(),
    }
}

fn manifest(
    s: &State,
    method: &Method,
    repository: &str,
    reference: &str,
    headers: &HeaderMap,
) -> Answer {
    let scope = format!("repository:{repository}:pull");
    let grant = bearer(headers).and_then(|t| s.issued.get(&t).cloned());
    let Some(grant) = grant else {
        let mut a = errors(401, "UNAUTHORIZED", "authentication required");
        a.headers.push(challenge(s, &scope));
        return a;
    };
    let public = s.repos.get(repository).is_some_and(|r| r.public);
    if grant.repository != repository || !(grant.authenticated || public) {
        let mut a = errors(401, "DENIED", "requested access to the resource is denied");
        a.headers.push(challenge(s, &scope));
        return a;
    }
    if *method != Method::GET && *method != Method::HEAD {
        return errors(405, "UNSUPPORTED", "method not allowed");
    }
    if *method == Method::HEAD && !s.head_allowed {
        return errors(405, "UNSUPPORTED", "HEAD is not supported");
    }
    let Some(repo) = s.repos.get(repository) else {
        return errors(404, "NAME_UNKNOWN", "repository name not known to registry");
    };
    let digest = if reference.starts_with("sha256:") {
        reference.to_owned()
    } else {
        match repo.tags.get(reference) {
            Some(d) => d.clone(),
            None => return errors(404, "MANIFEST_UNKNOWN", "manifest unknown"),
        }
    };
    let Some(m) = repo.manifests.get(&digest) else {
        return errors(404, "MANIFEST_UNKNOWN", "manifest unknown");
    };
    let accept = headers
        .get_all("accept")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.split(';').next().unwrap_or("").trim() == m.media_type);
    if !accept {
        return errors(
            404,
            "MANIFEST_UNKNOWN",
            &format!(
                "{} found, but the accept header does not list it",
                m.media_type
            ),
        );
    }
    let mut h = vec![
        ("content-type", m.media_type.clone()),
        ("docker-distribution-api-version", "registry/2.0".into()),
    ];
    if s.digest_header {
        h.push(("docker-content-digest", digest));
    }
    if *method == Method::HEAD {
        h.push(("content-length", m.body.len().to_string()));
    }
    Answer {
        status: 200,
        headers: h,
        body: if *method == Method::GET {
            m.body.clone()
        } else {
            Vec::new()
        },
    }
}

/// Standard base64 (with or without padding); `None` when malformed.
fn decode_base64(s: &str) -> Option<String> {
    let mut bits: u32 = 0;
    let mut n = 0u32;
    let mut out = Vec::new();
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = ((bits << 6) | u32::from(v)) & 0xffff;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push(u8::try_from((bits >> n) & 0xff).ok()?);
        }
    }
    String::from_utf8(out).ok()
}
