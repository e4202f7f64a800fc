//! The transport under [`super::Client`]: octocrab with its own retry turned
//! off, our retry policy ([`crate::net::with_retries`]), an ETag cache for
//! conditional GETs (in memory, backed by the persistent
//! [`super::cache::DiskCache`] when one is set), `Link` pagination, and the
//! mapping of GitHub's answers to almarel errors. Never shows octocrab's
//! error Debug output.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use octocrab::Octocrab;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use crate::clock::{Clock, Deadline};
use crate::error::{Error, Result};
use crate::net::{self, Attempt, RetryPolicy};

/// Connect timeout of every request.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Read timeout of every request.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Total timeout of one request (send + whole body).
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(45);
/// How long one call may spend waiting out rate limits and retries when the
/// caller set no deadline of its own.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(120);

/// A response: status, headers, body text.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body as text (the cached body after a 304).
    pub body: String,
    /// Whether the body came from the ETag cache (the server said 304).
    pub not_modified: bool,
}

impl Response {
    /// Parses the body as JSON.
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T> {
        serde_json::from_str(&self.body).map_err(|e| {
            Error::remote(format!(
                "github: cannot read the answer for {what}: {e} (status {})",
                self.status.as_u16()
            ))
            .with_hint(
                "check that github.api_url points at the GitHub REST API (not a proxy or login page), then re-run",
            )
        })
    }
    /// GitHub's `message` field, if the body has one.
    pub fn message(&self) -> Option<String> {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()?
            .get("message")?
            .as_str()
            .map(str::to_owned)
    }
    /// The `rel="next"` URL of the `Link` header.
    pub fn next_link(&self) -> Option<String> {
        let link = self.headers.get("link")?.to_str().ok()?;
        link.split(',').find_map(|part| {
            let (url, params) = part.split_once(';')?;
            params
                .split(';')
                .any(|p| p.trim() == "rel=\"next\"")
                .then(|| {
                    url.trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_owned()
                })
        })
    }
}

/// Request counters (for `-v` and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests sent (attempts, retries included).
    pub requests: u64,
    /// Answers that were `304 Not Modified`.
    pub not_modified: u64,
}

/// The HTTP layer of the GitHub client.
#[derive(Clone)]
pub struct Http {
    octo: Octocrab,
    repo: String,
    clock: Arc<dyn Clock>,
    policy: RetryPolicy,
    cache: Arc<Mutex<HashMap<String, (HeaderValue, String)>>>,
    disk: Option<Arc<super::cache::DiskCache>>,
    stats: Arc<Mutex<Stats>>,
    deadline: Arc<Mutex<Option<Deadline>>>,
    log: Option<super::LogHook>,
    timeout: Duration,
    max_body: u64,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("repo", &self.repo)
            .finish_non_exhaustive()
    }
}

/// How a request should be treated when it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Safe to repeat (GET, PUT enable/disable): retried on 5xx and network errors.
    Repeatable,
    /// Must not be sent twice (review POST, cancel): only re-sent after a rate-limit answer.
    Once,
}

impl Http {
    /// Builds the octocrab client (must run inside a tokio runtime).
    pub fn new(
        api_url: &str,
        token: &SecretString,
        repo: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Http> {
        net::install_crypto_provider();
        let builder = Octocrab::builder()
            .personal_token(token.expose_secret().to_owned())
            .base_uri(api_url)
            .map_err(|_| Error::usage(format!("github.api_url: `{api_url}` is not a valid URL")))?
            .add_retry_config(octocrab::service::middleware::retry::RetryConfig::None)
            .set_connect_timeout(Some(CONNECT_TIMEOUT))
            .set_read_timeout(Some(READ_TIMEOUT))
            .add_header(http::header::ACCEPT, "application/vnd.github+json".into());
        let octo = builder
            .build()
            .map_err(|e| Error::local(format!("cannot build the GitHub client: {}", short(&e))))?;
        Ok(Http {
            octo,
            repo: repo.to_owned(),
            clock,
            policy: RetryPolicy::default(),
            cache: Arc::default(),
            disk: None,
            stats: Arc::default(),
            deadline: Arc::default(),
            log: None,
            timeout: TOTAL_TIMEOUT,
            max_body: net::MAX_BODY,
        })
    }

    /// Each request (send + whole body) times out after `d`
    /// (`github.request_timeout`; default [`TOTAL_TIMEOUT`]).
    #[must_use]
    pub fn with_request_timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// Sends one line per request and its status to `log` (the caller shows
    /// them at `-vv`).
    #[must_use]
    pub fn with_log(mut self, log: Option<super::LogHook>) -> Self {
        self.log = log;
        self
    }

    /// Keeps conditional-request entries in `disk` too, so later runs send
    /// `If-None-Match` from their first request.
    #[must_use]
    pub fn with_disk_cache(mut self, disk: Option<Arc<super::cache::DiskCache>>) -> Self {
        self.disk = disk;
        self
    }

    /// Bodies larger than `limit` bytes are an error (default [`net::MAX_BODY`]).
    #[must_use]
    pub fn with_max_body(mut self, limit: u64) -> Self {
        self.max_body = limit;
        self
    }

    fn log(&self, line: &str) {
        if let Some(log) = &self.log {
            log(line);
        }
    }

    /// Sets the deadline every later call's retries and rate-limit waits must
    /// fit in (a watch's `--timeout`); `None` uses a 2-minute budget per call.
    /// Returns the deadline it replaces.
    pub fn set_deadline(&self, deadline: Option<Deadline>) -> Option<Deadline> {
        match self.deadline.lock() {
            Ok(mut d) => std::mem::replace(&mut *d, deadline),
            Err(_) => None,
        }
    }

    /// Request counters so far.
    pub fn stats(&self) -> Stats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    fn deadline(&self) -> Deadline {
        self.deadline
            .lock()
            .ok()
            .and_then(|d| *d)
            .unwrap_or_else(|| Deadline::after(self.clock.as_ref(), DEFAULT_BUDGET))
    }

    /// Sends one request with the retry policy. 2xx and 304 come back as
    /// `Ok`; so do 404, 409 and 422, which callers interpret. Everything else
    /// is an error naming GitHub and the status.
    pub async fn request(
        &self,
        method: Method,
        url: &str,
        body: Option<&serde_json::Value>,
        idem: Idempotency,
    ) -> Result<Response> {
        let deadline = self.deadline();
        let retry = idem == Idempotency::Repeatable;
        net::with_retries(
            self.clock.as_ref(),
            self.policy,
            Some(deadline),
            retry,
            || self.attempt(method.clone(), url, body),
        )
        .await
    }

    /// Sends a write that must not be repeated: re-sent only after a
    /// rate-limit answer (nothing was processed). `Ok(Err(e))` means the
    /// outcome is unknown (5xx, timeout, cut connection); re-read state.
    pub async fn request_once(
        &self,
        method: Method,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<std::result::Result<Response, Error>> {
        let deadline = self.deadline();
        // The one retry loop (net::with_retries) with transient failures
        // turned into answers: a write is never re-sent after a 5xx or a cut
        // connection, only after a rate limit (nothing was processed).
        net::with_retries(
            self.clock.as_ref(),
            self.policy,
            Some(deadline),
            false,
            || async {
                match self.attempt(method.clone(), url, body).await {
                    Attempt::Done(r) => Attempt::Done(Ok(r)),
                    Attempt::Transient(e) => Attempt::Done(Err(e)),
                    Attempt::Fatal(e) => Attempt::Fatal(e),
                    Attempt::RateLimited { wait, until, error } => Attempt::RateLimited {
                        wait,
                        until,
                        error: Error::remote(format!("{}; nothing was applied", error.message)),
                    },
                }
            },
        )
        .await
    }

    async fn attempt(
        &self,
        method: Method,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Attempt<Response> {
        let cached = if method == Method::GET {
            self.cached(url)
        } else {
            None
        };
        let mut builder = http::Request::builder().method(method.clone()).uri(url);
        if let Some((etag, _)) = &cached {
            builder = builder.header(http::header::IF_NONE_MATCH, etag.clone());
        }
        if let Ok(mut s) = self.stats.lock() {
            s.requests += 1;
        }
        let what = format!("{method} {}", display_url(url));
        let request = match self.octo.build_request(builder, body) {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Fatal(Error::local(format!(
                    "github: cannot build the request {what}: {}",
                    short(&e)
                )));
            }
        };
        let send = async {
            let resp = self.octo.execute(request).await.map_err(|e| {
                Attempt::Transient(
                    Error::remote(format!("github: {what} failed: {}", short(&e)))
                        .with_hint(unreachable_hint(url)),
                )
            })?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let announced = headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let chunks = http_body_util::BodyExt::into_data_stream(resp.into_body());
            let mut cut = false;
            let read = net::collect_capped(
                chunks,
                announced,
                self.max_body,
                &format!("github: {what}"),
                |e: octocrab::Error| {
                    cut = true;
                    Error::remote(format!("github: {what} failed: {}", short(&e)))
                        .with_hint(unreachable_hint(url))
                },
            )
            .await;
            let bytes = match read {
                Ok(b) => b,
                // A cut-off body may come whole on a retry.
                Err(e) if cut => return Err(Attempt::Transient(e)),
                // An answer over the size cap will not shrink on a retry.
                Err(e) => return Err(Attempt::Fatal(e)),
            };
            let text = String::from_utf8(bytes).map_err(|_| {
                Attempt::Fatal(Error::remote(format!(
                    "github: the answer to {what} is not UTF-8 text"
                )))
            })?;
            Ok::<_, Attempt<Response>>((status, headers, text))
        };
        let (status, headers, text) = match tokio::time::timeout(self.timeout, send).await {
            Err(_) => {
                return Attempt::Transient(
                    Error::remote(format!(
                        "github: no answer to {what} within {}",
                        humantime::format_duration(self.timeout)
                    ))
                    .with_hint(unreachable_hint(url)),
                );
            }
            Ok(Err(attempt)) => return attempt,
            Ok(Ok(v)) => v,
        };
        self.log(&format!(
            "github: {what} → {}{}",
            status.as_u16(),
            if cached.is_some() {
                " (conditional)"
            } else {
                ""
            }
        ));
        let mut resp = Response {
            status,
            headers,
            body: text,
            not_modified: false,
        };
        if status == StatusCode::NOT_MODIFIED {
            if let Some((_, body)) = cached {
                if let Ok(mut s) = self.stats.lock() {
                    s.not_modified += 1;
                }
                resp.body = body;
                resp.not_modified = true;
                resp.status = StatusCode::OK;
                return Attempt::Done(resp);
            }
        }
        if status.is_success() {
            if method == Method::GET {
                if let Some(etag) = resp.headers.get(http::header::ETAG) {
                    if let Ok(mut c) = self.cache.lock() {
                        c.insert(url.to_owned(), (etag.clone(), resp.body.clone()));
                    }
                    if let (Some(disk), Ok(e)) = (&self.disk, etag.to_str()) {
                        disk.put(url, e, &resp.body);
                    }
                }
            }
            return Attempt::Done(resp);
        }
        self.classify(resp, &what)
    }

    /// The ETag and body kept for `url`: from memory, else from the disk
    /// cache (then kept in memory too).
    fn cached(&self, url: &str) -> Option<(HeaderValue, String)> {
        if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(url).cloned()) {
            return Some(hit);
        }
        let (etag, body) = self.disk.as_ref()?.get(url)?;
        let etag = HeaderValue::from_str(&etag).ok()?;
        if let Ok(mut c) = self.cache.lock() {
            c.insert(url.to_owned(), (etag.clone(), body.clone()));
        }
        Some((etag, body))
    }

    fn classify(&self, resp: Response, what: &str) -> Attempt<Response> {
        let code = resp.status.as_u16();
        let message = resp.message().unwrap_or_else(|| {
            resp.status
                .canonical_reason()
                .unwrap_or("no message")
                .to_owned()
        });
        let limited_msg = message.to_ascii_lowercase().contains("rate limit");
        match code {
            404 | 409 | 422 => Attempt::Done(resp),
            401 => Attempt::Fatal(
                Error::remote(format!(
                    "github: bad credentials (401) for {what}: the token was rejected"
                ))
                .with_hint(
                    "check GH_TOKEN / GITHUB_TOKEN (or run `gh auth login`); the token may be expired or revoked",
                ),
            ),
            403 | 429 => {
                let now = self.clock.wall();
                let wait = net::rate_limit_wait(&resp.headers, now).or_else(|| {
                    (code == 429 || limited_msg).then(|| {
                        let w = Duration::from_secs(60);
                        (w, now + w)
                    })
                });
                if let Some((wait, until)) = wait {
                    return Attempt::RateLimited {
                        wait,
                        until,
                        error: Error::remote(format!(
                            "github: rate limited ({code}) on {what}: {message}"
                        )),
                    };
                }
                let needed = resp
                    .headers
                    .get("x-accepted-github-permissions")
                    .and_then(|v| v.to_str().ok())
                    .map(|p| format!("; the token needs: {p} (X-Accepted-GitHub-Permissions)"))
                    .unwrap_or_default();
                let sso = if resp.headers.contains_key("x-github-sso") {
                    "; the token is not authorized for the organization's SAML SSO"
                } else {
                    ""
                };
                Attempt::Fatal(
                    Error::remote(format!(
                        "github: permission denied (403) for {what}: {message}{needed}{sso}"
                    ))
                    .with_code("permission_denied")
                    .with_hint(format!(
                        "use a token with access to {} (classic PAT: `repo` scope; fine-grained: Actions read/write, Deployments, Contents read)",
                        self.repo
                    )),
                )
            }
            500..=599 => Attempt::Transient(
                Error::remote(format!("github: server error ({code}) on {what}: {message}"))
                    .with_hint("GitHub is failing: re-run in a few minutes; https://www.githubstatus.com says whether it is down"),
            ),
            _ => Attempt::Fatal(
                Error::remote(format!("github: unexpected answer ({code}) to {what}: {message}"))
                    .with_hint("check github.api_url and the token's permissions, then re-run"),
            ),
        }
    }

    /// GET returning the response; 404 is an error naming the repository.
    pub async fn get(&self, url: &str) -> Result<Response> {
        let resp = self
            .request(Method::GET, url, None, Idempotency::Repeatable)
            .await?;
        self.expect_ok(resp, url)
    }

    /// GET that returns `None` on 404 (absent tag, release, ref).
    pub async fn get_opt(&self, url: &str) -> Result<Option<Response>> {
        let resp = self
            .request(Method::GET, url, None, Idempotency::Repeatable)
            .await?;
        if resp.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        self.expect_ok(resp, url).map(Some)
    }

    /// Turns a 404/409/422 that the caller did not expect into an error.
    pub fn expect_ok(&self, resp: Response, url: &str) -> Result<Response> {
        if resp.status.is_success() {
            return Ok(resp);
        }
        let code = resp.status.as_u16();
        let message = resp.message().unwrap_or_default();
        if code == 404 {
            return Err(Error::remote(format!(
                "github: {} not found (404): repository {} does not exist or the token cannot access it",
                display_url(url),
                self.repo
            ))
            .with_code("not_found")
            .with_hint(
                "check github.repository, and that the token can read the repository (classic PAT: `repo` scope)",
            ));
        }
        Err(Error::remote(format!(
            "github: {} answered {code}: {message}",
            display_url(url)
        )))
    }

    /// GET every page of a list, following `Link: rel="next"`. `key` names the
    /// array inside an object body (`workflow_runs`), `None` for bare arrays.
    pub async fn get_all<T: DeserializeOwned>(
        &self,
        url: &str,
        key: Option<&str>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut next = Some(url.to_owned());
        let mut pages = 0;
        while let Some(u) = next {
            pages += 1;
            if pages > 50 {
                break;
            }
            let resp = self.get(&u).await?;
            let items: Vec<T> = match key {
                None => resp.json(&display_url(&u))?,
                Some(k) => {
                    let mut v: serde_json::Value = resp.json(&display_url(&u))?;
                    let arr = v.get_mut(k).map(serde_json::Value::take).ok_or_else(|| {
                        Error::remote(format!(
                            "github: the answer for {} has no `{k}` list",
                            display_url(&u)
                        ))
                    })?;
                    serde_json::from_value(arr).map_err(|e| {
                        Error::remote(format!(
                            "github: cannot read `{k}` in the answer for {}: {e}",
                            display_url(&u)
                        ))
                    })?
                }
            };
            out.extend(items);
            next = resp.next_link();
        }
        Ok(out)
    }
}

/// A URL for messages: the path and query only.
pub fn display_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        },
        Err(_) => url.to_owned(),
    }
}

/// What to do when GitHub could not be reached or did not answer.
fn unreachable_hint(url: &str) -> String {
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_owned(),
            })
        })
        .unwrap_or_else(|| url.to_owned());
    format!(
        "check the network and that {host} (github.api_url) is reachable, then re-run; \
         https://www.githubstatus.com says whether GitHub is down"
    )
}

/// A one-line description of an octocrab error (never its Debug output).
fn short(e: &octocrab::Error) -> String {
    use std::error::Error as _;
    let mut text = match e {
        octocrab::Error::GitHub { source, .. } => {
            format!("{} ({})", source.message, source.status_code.as_u16())
        }
        other => other.to_string(),
    };
    let mut src = e.source();
    let mut depth = 0;
    while let Some(s) = src {
        let t = s.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        src = s.source();
        depth += 1;
        if depth > 4 {
            break;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_is_found() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "link",
            HeaderValue::from_static(
                "<https://api.github.com/x?page=2>; rel=\"next\", <https://api.github.com/x?page=5>; rel=\"last\"",
            ),
        );
        let r = Response {
            status: StatusCode::OK,
            headers,
            body: String::new(),
            not_modified: false,
        };
        assert_eq!(
            r.next_link().as_deref(),
            Some("https://api.github.com/x?page=2")
        );
    }

    #[test]
    fn display_url_drops_the_host() {
        assert_eq!(
            display_url("http://127.0.0.1:9/api/v3/repos/o/r?per_page=100"),
            "/api/v3/repos/o/r?per_page=100"
        );
    }
}
