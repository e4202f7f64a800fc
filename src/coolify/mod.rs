//! The Coolify API client (reqwest) and the deploy flow built on it.
//!
//! [`Client`] speaks `/api/v1` with a Bearer token, `Accept: application/json`,
//! connect and total timeouts, GET retries with backoff, `Retry-After`
//! honoured, and POST/PATCH re-sent only after a 429 (nothing was processed).
//! Error bodies are mapped by status code to messages that say what to do
//! (`NOTES.md` → common errors). Bodies are capped at 32 MiB while they
//! stream (exit 4 past it). The client takes plain configuration
//! ([`Config`]) and returns data; it never prints. The deploy flow built on
//! it lives in `crate::release::deploy`.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::clock::{Clock, Deadline};
use crate::error::{Error, Result};
use crate::net::{self, Attempt, RetryPolicy};
use crate::transport::{self, BodyError};

pub mod model;

pub use model::{
    Application, DeployEntry, Deployment, DeploymentList, DeploymentStatus, Trigger, log_lines,
};

/// Connect timeout of every Coolify request.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Total timeout of every Coolify request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The hint for any permission problem: what token almarel needs.
pub const TOKEN_ABILITIES_HINT: &str = "almarel needs a Coolify API token with the read, deploy and write abilities \
(and read:sensitive to show build logs); in Keys & Tokens, ticking Deploy resets the others, \
so tick Deploy first and then add read and write, or use a root token";

/// Receives one line per request (`GET https://… → 200 (12 ms)`), for `-vv`.
/// Never receives a token or a body.
pub type LogHook = Arc<dyn Fn(&str) + Send + Sync>;

/// Everything a [`Client`] needs: plain values, no UI.
#[derive(Clone)]
pub struct Config {
    /// Coolify's base URL (without `/api/v1`).
    pub url: String,
    /// The API token (`<id>|<secret>`).
    pub token: SecretString,
    /// Time source for retries and deadlines.
    pub clock: Arc<dyn Clock>,
    /// Total timeout of one request.
    pub request_timeout: Duration,
    /// Allow sending the token over plain http to a non-loopback host.
    pub allow_insecure_http: bool,
    /// Request log (`-vv`).
    pub log: Option<LogHook>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("url", &self.url)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

/// A Coolify API client.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    api: String,
    token: SecretString,
    clock: Arc<dyn Clock>,
    policy: RetryPolicy,
    deadline: Option<Deadline>,
    request_timeout: Duration,
    log: Option<LogHook>,
}

/// How long one call may spend on retries and rate-limit waits when no
/// deadline was set with [`Client::with_deadline`].
pub const CALL_DEADLINE: Duration = Duration::from_secs(120);

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// What a 404 means for one request.
#[derive(Debug, Clone)]
enum NotFound {
    /// A 404 is an error with this message and hint.
    Error(String, String),
    /// A 404 is an answer (`None`).
    Absent,
}

/// One request, described for error messages.
struct Req<'a> {
    method: Method,
    path: String,
    query: Vec<(&'a str, String)>,
    body: Option<Value>,
    what: String,
    not_found: NotFound,
}

impl Client {
    /// A client for `config.url`. Exit 2 when the URL is not valid, or is
    /// plain http to a non-loopback host without `allow_insecure_http`.
    pub fn new(config: Config) -> Result<Client> {
        net::check_secret_url("coolify.url", &config.url, config.allow_insecure_http)?;
        transport::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT.max(config.request_timeout))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("almarel/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::local(format!("cannot build the http client: {e}")))?;
        let base = config.url.trim_end_matches('/').to_owned();
        Ok(Client {
            http,
            api: format!("{base}/api/v1"),
            base,
            token: config.token,
            clock: config.clock,
            policy: RetryPolicy::default(),
            deadline: None,
            request_timeout: config.request_timeout,
            log: config.log,
        })
    }

    /// A copy whose requests each time out after `d` (`coolify.request_timeout`).
    #[must_use]
    pub fn with_request_timeout(mut self, d: Duration) -> Client {
        self.request_timeout = d;
        self
    }

    /// A copy whose retries and rate-limit waits stay inside `deadline` (a
    /// command's `--timeout`); a rate limit resetting later is exit 4 naming
    /// the reset time.
    #[must_use]
    pub fn with_deadline(&self, deadline: Deadline) -> Client {
        let mut c = self.clone();
        c.deadline = Some(deadline);
        c
    }

    /// The Coolify base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET /version`: Coolify's version (plain text, e.g. `4.3.10`). Also
    /// proves that the token is valid and has `read`.
    pub async fn version(&self) -> Result<String> {
        let text = self
            .raw(Req {
                method: Method::GET,
                path: "/version".into(),
                query: vec![],
                body: None,
                what: "reading the Coolify version".into(),
                not_found: NotFound::Error(
                    format!(
                        "{} does not look like a Coolify v4 API (GET /api/v1/version answered 404)",
                        self.base
                    ),
                    "check coolify.url: it is the Coolify dashboard's base URL, without /api"
                        .into(),
                ),
            })
            .await?
            .unwrap_or_default();
        Ok(text.trim().trim_matches('"').to_owned())
    }

    /// `GET /applications/{uuid}`; `name` is the app's name in `coolify.apps`.
    pub async fn application(&self, name: &str, uuid: &str) -> Result<Application> {
        self.json(Req {
            method: Method::GET,
            path: format!("/applications/{uuid}"),
            query: vec![],
            body: None,
            what: format!("reading app `{name}`"),
            not_found: not_found_app(name, uuid),
        })
        .await
    }

    /// `GET /deployments/applications/{uuid}?take=N`: the newest deployments of an app.
    pub async fn app_deployments(
        &self,
        name: &str,
        uuid: &str,
        take: u32,
    ) -> Result<DeploymentList> {
        self.json(Req {
            method: Method::GET,
            path: format!("/deployments/applications/{uuid}"),
            query: vec![("take", take.to_string())],
            body: None,
            what: format!("listing the deployments of app `{name}`"),
            not_found: not_found_app(name, uuid),
        })
        .await
    }

    /// `GET /deployments/{uuid}`; `None` on 404.
    pub async fn deployment(&self, uuid: &str) -> Result<Option<Deployment>> {
        let text = self
            .raw(Req {
                method: Method::GET,
                path: format!("/deployments/{uuid}"),
                query: vec![],
                body: None,
                what: format!("reading deployment {uuid}"),
                not_found: NotFound::Absent,
            })
            .await?;
        text.map(|t| decode(&t, &format!("deployment {uuid}")))
            .transpose()
    }

    /// `PATCH /applications/{uuid}` with `docker_registry_image_tag` (no
    /// `instant_deploy`); `None` sets it back to unset.
    pub async fn set_image_tag(&self, name: &str, uuid: &str, tag: Option<&str>) -> Result<()> {
        self.raw(Req {
            method: Method::PATCH,
            path: format!("/applications/{uuid}"),
            query: vec![],
            body: Some(serde_json::json!({ "docker_registry_image_tag": tag })),
            what: format!("setting the image tag of app `{name}`"),
            not_found: not_found_app(name, uuid),
        })
        .await
        .map(|_| ())
    }

    /// `POST /deploy?uuid=..&force=true`: the `deployments[]` entries, each to be checked.
    pub async fn deploy(&self, name: &str, uuid: &str) -> Result<Vec<DeployEntry>> {
        let r: model::DeployResponse = self
            .json(Req {
                method: Method::POST,
                path: "/deploy".into(),
                query: vec![("uuid", uuid.to_owned()), ("force", "true".into())],
                body: None,
                what: format!("triggering the deployment of app `{name}`"),
                not_found: not_found_app(name, uuid),
            })
            .await?;
        Ok(r.deployments)
    }

    /// `GET /applications`: every application the token's team can see
    /// (`init` picks the Docker Image ones).
    pub async fn applications(&self) -> Result<Vec<Application>> {
        self.json(Req {
            method: Method::GET,
            path: "/applications".into(),
            query: vec![],
            body: None,
            what: "listing the applications".into(),
            not_found: NotFound::Error(
                format!(
                    "{} does not look like a Coolify v4 API (GET /api/v1/applications answered 404)",
                    self.base
                ),
                "check coolify.url: it is the Coolify dashboard's base URL, without /api".into(),
            ),
        })
        .await
    }

    /// Whether the token has the `deploy` ability, probed without deploying
    /// anything (SPEC §9.2): `POST /deploy` with neither a uuid nor a tag is
    /// answered 403 "Missing required permissions: deploy" when the ability
    /// is missing (the ability gate runs first) and 400 "You must provide
    /// uuid or tag." when it is there. Sent once, never retried.
    pub async fn has_deploy_ability(&self) -> Result<bool> {
        let url = format!("{}/deploy", self.api);
        let resp = self
            .http
            .post(&url)
            .timeout(self.request_timeout)
            .bearer_auth(self.token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| {
                Error::remote(format!(
                    "cannot reach coolify at {} while probing the deploy ability: {}",
                    self.base,
                    if e.is_timeout() {
                        "no answer in time"
                    } else {
                        "connection failed"
                    }
                ))
                .with_hint("check coolify.url and the network, then re-run")
            })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = transport::read_capped_text(resp, transport::MAX_BODY)
            .await
            .unwrap_or_default();
        if let Some(log) = &self.log {
            log(&format!("POST {url} → {status} (deploy ability probe)"));
        }
        let msg = body_message(&text);
        match status {
            400 if !msg.to_ascii_lowercase().contains("invalid token") => Ok(true),
            403 if msg.starts_with("Missing required permissions: deploy") => Ok(false),
            _ => match map_error(
                status,
                &headers,
                &text,
                "probing the deploy ability",
                self.clock.wall(),
            ) {
                Attempt::Fatal(e) | Attempt::Transient(e) => Err(e),
                Attempt::RateLimited { error, .. } => Err(error),
                Attempt::Done(_) => Err(Error::remote(format!(
                    "coolify answered {status} to a deploy request without a uuid: {msg}"
                ))),
            },
        }
    }

    async fn json<T: DeserializeOwned>(&self, req: Req<'_>) -> Result<T> {
        let what = req.what.clone();
        let text = self.raw(req).await?.unwrap_or_default();
        decode(&text, &what)
    }

    /// Sends one request with the retry policy; `Ok(None)` is a 404 the caller accepts.
    async fn raw(&self, req: Req<'_>) -> Result<Option<String>> {
        let retry_transient = req.method == Method::GET;
        let req = &req;
        let deadline = self
            .deadline
            .unwrap_or_else(|| Deadline::after(self.clock.as_ref(), CALL_DEADLINE));
        net::with_retries(
            self.clock.as_ref(),
            self.policy,
            Some(deadline),
            retry_transient,
            || self.attempt(req),
        )
        .await
    }

    async fn attempt(&self, req: &Req<'_>) -> Attempt<Option<String>> {
        let url = format!("{}{}", self.api, req.path);
        let mut rb = self
            .http
            .request(req.method.clone(), &url)
            .timeout(self.request_timeout)
            .bearer_auth(self.token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json");
        if !req.query.is_empty() {
            rb = rb.query(&req.query);
        }
        if let Some(b) = &req.body {
            rb = rb.json(b);
        }
        let started = self.clock.now();
        let resp = match rb.send().await {
            Ok(r) => r,
            Err(e) => return Attempt::Transient(self.network_error(req, &e)),
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        if let Some(log) = &self.log {
            let ms = self
                .clock
                .now()
                .saturating_duration_since(started)
                .as_millis();
            log(&format!("{} {url} → {status} ({ms} ms)", req.method));
        }
        let text = match transport::read_capped_text(resp, transport::MAX_BODY).await {
            Ok(t) => t,
            Err(BodyError::Network(e)) => return Attempt::Transient(self.network_error(req, &e)),
            Err(e @ BodyError::TooLarge { .. }) => {
                return Attempt::Fatal(
                    Error::remote(format!(
                        "coolify at {}: {} while {}",
                        self.base,
                        e.reason(),
                        req.what
                    ))
                    .with_hint("check that coolify.url points at the Coolify dashboard"),
                );
            }
        };
        if (200..300).contains(&status) {
            return Attempt::Done(Some(text));
        }
        if status == 404 {
            if let NotFound::Error(msg, hint) = &req.not_found {
                return Attempt::Fatal(Error::remote(msg.clone()).with_hint(hint.clone()));
            }
            return Attempt::Done(None);
        }
        map_error(status, &headers, &text, &req.what, self.clock.wall())
    }

    fn network_error(&self, req: &Req<'_>, e: &reqwest::Error) -> Error {
        let base = &self.base;
        let what = &req.what;
        let maybe_done = if req.method == Method::GET {
            ""
        } else {
            "; the change may or may not have been made"
        };
        let err = if e.is_timeout() {
            Error::remote(format!(
                "coolify at {base} did not answer within {} while {what}{maybe_done}",
                humantime::format_duration(self.request_timeout)
            ))
        } else if e.is_connect() {
            Error::remote(format!(
                "cannot reach coolify at {base} while {what}: connection failed"
            ))
        } else {
            Error::remote(format!(
                "coolify at {base}: the connection broke while {what}{maybe_done}"
            ))
        };
        err.with_hint("check coolify.url and the network, then re-run")
    }
}

fn not_found_app(name: &str, uuid: &str) -> NotFound {
    NotFound::Error(
        format!("coolify has no application with uuid {uuid} (app `{name}` in coolify.apps)"),
        "check the uuid in coolify.apps (the last part of the app's URL in Coolify), \
         and that the token belongs to the app's team"
            .into(),
    )
}

fn decode<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| {
        Error::remote(format!(
            "coolify's answer to {what} is not what almarel expects: {e}"
        ))
        .with_hint("check that coolify.url points at a Coolify v4 instance")
    })
}

/// The `message` of a Coolify error body (a string, or the first of a list),
/// else the start of the body text.
fn body_message(text: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    let msg = parsed.as_ref().and_then(|v| match v.get("message") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Array(a)) => a.first().and_then(Value::as_str).map(str::to_owned),
        _ => None,
    });
    match msg {
        Some(m) => {
            let errors = parsed
                .as_ref()
                .and_then(|v| v.get("errors"))
                .filter(|e| e.is_object())
                .map(|e| format!(" {e}"))
                .unwrap_or_default();
            format!("{m}{errors}")
        }
        None => {
            let t: String = text.trim().chars().take(160).collect();
            if t.is_empty() { "no message".into() } else { t }
        }
    }
}

/// Maps a non-2xx, non-404 Coolify answer to an [`Attempt`], branching on the
/// status code (messages differ between endpoints and versions).
fn map_error(
    status: u16,
    headers: &http::HeaderMap,
    text: &str,
    what: &str,
    now: std::time::SystemTime,
) -> Attempt<Option<String>> {
    let msg = body_message(text);
    let lower = msg.to_ascii_lowercase();
    match status {
        401 => Attempt::Fatal(bad_token(&msg)),
        400 if lower.contains("invalid token") => Attempt::Fatal(bad_token(&msg)),
        403 => Attempt::Fatal(forbidden(&msg, what)),
        405 => Attempt::Fatal(
            Error::remote(format!("coolify answered 405 while {what}: {msg}"))
                .with_hint("almarel needs Coolify v4 (POST /api/v1/deploy); check coolify.url"),
        ),
        429 => {
            let (wait, until) = net::rate_limit_wait(headers, now)
                .unwrap_or((Duration::from_secs(60), now + Duration::from_secs(60)));
            Attempt::RateLimited {
                wait,
                until,
                error: Error::remote(format!("coolify answered 429 while {what}: {msg}")),
            }
        }
        500..=599 => Attempt::Transient(
            Error::remote(format!("coolify answered {status} while {what}: {msg}"))
                .with_hint("Coolify had an internal error; check its logs, then re-run"),
        ),
        _ => Attempt::Fatal(
            Error::remote(format!("coolify refused {what} ({status}): {msg}"))
                .with_hint("check the app's settings in Coolify, then re-run"),
        ),
    }
}

fn bad_token(msg: &str) -> Error {
    Error::remote(format!("coolify rejected the API token ({msg})")).with_hint(
        "the token in COOLIFY_TOKEN is unknown, revoked or expired, or its owner left the team: \
         create a new one in Coolify (Keys & Tokens → API Tokens) with read, deploy and write",
    )
}

fn forbidden(msg: &str, what: &str) -> Error {
    let lower = msg.to_ascii_lowercase();
    if let Some(rest) = msg.strip_prefix("Missing required permissions:") {
        let ability = rest.trim().trim_end_matches('.');
        return Error::remote(format!(
            "the Coolify token lacks the `{ability}` ability needed for {what}"
        ))
        .with_hint(TOKEN_ABILITIES_HINT);
    }
    if lower.contains("api is disabled") {
        return Error::remote("the Coolify API is disabled on this instance").with_hint(
            "an admin must turn it on: Settings → Advanced → API Access in the Coolify dashboard",
        );
    }
    if lower.contains("not allowed to access the api") {
        return Error::remote("coolify does not accept API calls from this machine's IP address")
            .with_hint(
                "add this machine's address under Settings → Advanced → Allowed IPs in Coolify",
            );
    }
    if lower.contains("team role") || lower.contains("exceed your current role") {
        return Error::remote(format!("coolify refused the token while {what}: {msg}")).with_hint(
            "tokens with write or deploy only work while their owner is a team admin or owner",
        );
    }
    Error::remote(format!("coolify refused {what} (403): {msg}")).with_hint(TOKEN_ABILITIES_HINT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: u16, body: &str) -> Error {
        match map_error(
            status,
            &http::HeaderMap::new(),
            body,
            "reading app `api`",
            std::time::SystemTime::now(),
        ) {
            Attempt::Fatal(e) | Attempt::Transient(e) => e,
            Attempt::RateLimited { error, .. } => error,
            Attempt::Done(_) => panic!("not an error"),
        }
    }

    #[test]
    fn common_errors_are_mapped_by_status() {
        let e = err(401, r#"{"message":"Unauthenticated."}"#);
        assert_eq!(e.kind, crate::error::Kind::Remote);
        assert!(
            e.message.contains("rejected the API token"),
            "{}",
            e.message
        );
        let e = err(403, r#"{"message":"Missing required permissions: write"}"#);
        assert!(e.message.contains("`write` ability"), "{}", e.message);
        assert!(e.hint().unwrap().contains("read, deploy and write"));
        let e = err(403, r#"{"success":true,"message":"API is disabled."}"#);
        assert!(e.hint().unwrap().contains("API Access"));
        let e = err(
            403,
            r#"{"success":true,"message":"You are not allowed to access the API."}"#,
        );
        assert!(e.message.contains("IP address"));
        let e = err(400, r#"{"message":"Invalid token.","docs":"x"}"#);
        assert!(e.message.contains("rejected the API token"));
        assert!(matches!(
            map_error(
                503,
                &http::HeaderMap::new(),
                "",
                "x",
                std::time::SystemTime::now()
            ),
            Attempt::Transient(_)
        ));
        let mut h = http::HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        match map_error(
            429,
            &h,
            r#"{"message":"Too Many Attempts."}"#,
            "x",
            std::time::SystemTime::now(),
        ) {
            Attempt::RateLimited { wait, .. } => assert_eq!(wait, Duration::from_secs(7)),
            other => panic!("{other:?}"),
        }
    }
}
