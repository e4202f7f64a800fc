//! HTTP probes of production: health, version SHA, web app, smoke steps.
//!
//! [`Prober::new`] checks everything that can be checked before a request is
//! sent (the expected SHA's shape, `verify.version_url`, every `${VAR}` a smoke
//! step uses, plain-http secrets), so a usage error (exit 2) probes nowhere.
//! [`Prober::attempt`] runs the health, version and web probes concurrently,
//! then the smoke steps in order with their captures; [`verify`] repeats the
//! failing checks until they pass or the `--wait` deadline passes. `verify`
//! and `rollback` share this code.
//!
//! Secret values (environment variables a smoke step uses, and captures) are
//! handed to the [`Config::secret`] hook (the caller's redactor) and never
//! formatted into details: a detail names the variable, never its value.
//!
//! Redirects: every request (health, version, web, smoke steps, the
//! production SHA read) follows a redirect only within the same origin
//! (scheme, host and port); a redirect to another origin is not followed and
//! the 3xx is the answer (a smoke step's `expect_status` decides), so headers
//! such as `X-Api-Key: ${SECRET}` and bodies never reach another host, and the
//! plain-http rule still holds after redirects. Bodies are read up to 32 MiB;
//! past that the check fails with that reason.
//!
//! This module takes plain configuration and returns data: it never prints.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::clock::Clock;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::net;
use crate::settings::{SmokeStep, VerifySettings};
use crate::transport::{self, BodyError};

/// Receives one line per request (`GET https://… → 200 (12 ms)`), for `-vv`.
pub type LogHook = Arc<dyn Fn(&str) + Send + Sync>;
/// Receives each secret value the probes handle (environment values a smoke
/// step sends, captures), so the caller can redact it from all output.
pub type SecretHook = Arc<dyn Fn(&str) + Send + Sync>;

/// Everything a [`Prober`] needs: plain values, no UI.
#[derive(Clone)]
pub struct Config {
    /// `[verify]`.
    pub verify: VerifySettings,
    /// The environment (smoke steps' `${VAR}`s).
    pub env: Env,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Allow sending `${VAR}` values over plain http to a non-loopback host.
    pub allow_insecure_http: bool,
    /// The SHA the version check expects (validated with [`parse_sha`]).
    pub expected_sha: String,
    /// Request log (`-vv`).
    pub log: Option<LogHook>,
    /// Secret values, for the caller's redactor.
    pub secret: Option<SecretHook>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("expected_sha", &self.expected_sha)
            .finish_non_exhaustive()
    }
}

/// The origin (scheme, host, port) of a URL.
fn origin(u: &url::Url) -> (String, Option<String>, Option<u16>) {
    (
        u.scheme().to_owned(),
        u.host_str().map(str::to_ascii_lowercase),
        u.port_or_known_default(),
    )
}

/// The HTTP client every probe uses: redirects followed only within the
/// first URL's origin (at most 10), a total timeout, crypto installed.
pub fn http_client(timeout: Duration, user_agent: &str) -> Result<reqwest::Client> {
    transport::install_crypto_provider();
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt
            .previous()
            .first()
            .is_some_and(|first| origin(first) == origin(attempt.url()));
        if same && attempt.previous().len() <= 10 {
            attempt.follow()
        } else {
            attempt.stop()
        }
    });
    reqwest::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .redirect(policy)
        .user_agent(user_agent.to_owned())
        .build()
        .map_err(|e| Error::local(format!("cannot build the http client: {e}")))
}

/// ` (redirect to <origin> not followed: another origin)` for a 3xx answer, else "".
fn redirect_note(status: u16, headers: &reqwest::header::HeaderMap, base: &url::Url) -> String {
    if !(300..400).contains(&status) {
        return String::new();
    }
    let target = headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|l| base.join(l).ok());
    match target {
        Some(t) if origin(&t) != origin(base) => format!(
            " (a redirect to {}://{} was not followed: another origin)",
            t.scheme(),
            t.host_str().unwrap_or("?")
        ),
        _ => String::new(),
    }
}

/// The JSON pointers tried, in order, when `verify.version_sha_pointer` is unset.
pub const SHA_POINTERS: [&str; 6] = [
    "/commit",
    "/sha",
    "/commitSha",
    "/commit_sha",
    "/gitSha",
    "/git_sha",
];

/// Validates a commit SHA given by the user: 7 to 40 hexadecimal characters
/// (returned lowercase); anything else is a usage error (exit 2).
pub fn parse_sha(input: &str) -> Result<String> {
    let s = input.trim();
    if is_sha(s) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(Error::usage(format!(
            "`{input}` is not a commit SHA: use 7 to 40 hexadecimal characters"
        ))
        .with_hint("e.g. --expect-sha 1a2b3c4, or --expect-tag v1.2.3"))
    }
}

/// Whether `s` is 7–40 hex characters.
pub fn is_sha(s: &str) -> bool {
    (7..=40).contains(&s.len()) && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// Whether a running SHA matches the expected one: case-insensitive; when one
/// side is shorter (7+ hex characters) it matches as a prefix of the other.
pub fn sha_matches(expected: &str, running: &str) -> bool {
    if !is_sha(expected) || !is_sha(running) {
        return false;
    }
    let (e, r) = (expected.to_ascii_lowercase(), running.to_ascii_lowercase());
    e.starts_with(&r) || r.starts_with(&e)
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// `health`, `version`, `web`, or `smoke: <name>`.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// Whether it was not run (a smoke step after failing probes).
    pub skipped: bool,
    /// HTTP status, when an answer came.
    pub status: Option<u16>,
    /// Latency in milliseconds, when a request was made.
    pub latency_ms: Option<u64>,
    /// What was found (never a secret value).
    pub detail: String,
    /// The URL probed (for smoke steps, the template with `${VAR}` unexpanded).
    pub url: String,
    /// The SHA production runs (version check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running_sha: Option<String>,
    /// The release tag of the running SHA, when known (filled by the caller).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running_tag: Option<String>,
}

impl Check {
    fn new(name: &str, url: &str) -> Self {
        Check {
            name: name.to_owned(),
            ok: false,
            skipped: false,
            status: None,
            latency_ms: None,
            detail: String::new(),
            url: url.to_owned(),
            running_sha: None,
            running_tag: None,
        }
    }

    /// Whether this is the version check.
    pub fn is_version(&self) -> bool {
        self.name == "version"
    }
}

/// The probes, ready to run.
pub struct Prober {
    http: reqwest::Client,
    verify: VerifySettings,
    env: Env,
    clock: Arc<dyn Clock>,
    allow_insecure_http: bool,
    expected: String,
    log: Option<LogHook>,
    secret: Option<SecretHook>,
}

impl std::fmt::Debug for Prober {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prober")
            .field("expected", &self.expected)
            .finish_non_exhaustive()
    }
}

impl Prober {
    /// Prepares the probes for `expected_sha` (already validated with
    /// [`parse_sha`]). Usage errors (exit 2), before any request: no
    /// `verify.version_url`; a smoke step using a `${VAR}` that is neither in
    /// the environment nor captured by an earlier step; a smoke step sending a
    /// `${VAR}` over plain http to a non-loopback host without
    /// `allow_insecure_http`.
    pub fn new(config: Config) -> Result<Prober> {
        let verify = config.verify;
        if verify.version_url.is_none() {
            return Err(Error::usage("verify.version_url is not set").with_hint(
                "set [verify] version_url (the endpoint whose JSON carries the running commit SHA) in almarel.toml",
            ));
        }
        if let Some(p) = &verify.version_sha_pointer {
            if !(p.is_empty() || p.starts_with('/')) {
                return Err(Error::usage(format!(
                    "verify.version_sha_pointer `{p}` is not a JSON pointer"
                ))
                .with_hint("use e.g. \"/commit\" or \"/build/sha\""));
            }
        }
        check_smoke_steps(
            &verify.smoke,
            &config.env,
            config.secret.as_ref(),
            config.allow_insecure_http,
        )?;
        let http = http_client(
            verify.request_timeout,
            concat!("almarel/", env!("CARGO_PKG_VERSION"), " (verify)"),
        )?;
        Ok(Prober {
            http,
            verify,
            env: config.env,
            clock: config.clock,
            allow_insecure_http: config.allow_insecure_http,
            expected: config.expected_sha.to_ascii_lowercase(),
            log: config.log,
            secret: config.secret,
        })
    }

    fn log(&self, line: &str) {
        if let Some(l) = &self.log {
            l(line);
        }
    }

    /// The SHA the version check expects.
    pub fn expected(&self) -> &str {
        &self.expected
    }

    /// One attempt. Probes that passed in `previous` are kept; the others run
    /// again, concurrently; then the smoke steps run in order (all of them)
    /// when every probe passed, else they are reported as skipped.
    pub async fn attempt(&self, previous: &[Check]) -> Vec<Check> {
        let kept = |name: &str| previous.iter().find(|c| c.name == name && c.ok).cloned();
        let health = async {
            match (&self.verify.health_url, kept("health")) {
                (_, Some(c)) => Some(c),
                (Some(u), None) => Some(self.health(u).await),
                (None, None) => None,
            }
        };
        let version = async {
            match (&self.verify.version_url, kept("version")) {
                (_, Some(c)) => Some(c),
                (Some(u), None) => Some(self.version(u).await),
                (None, None) => None,
            }
        };
        let web = async {
            match (&self.verify.web_url, kept("web")) {
                (_, Some(c)) => Some(c),
                (Some(u), None) => Some(self.web(u).await),
                (None, None) => None,
            }
        };
        let (h, v, w) = futures::join!(health, version, web);
        let mut checks: Vec<Check> = [h, v, w].into_iter().flatten().collect();
        let probes_ok = checks.iter().all(|c| c.ok);
        let smoke_done = !self.verify.smoke.is_empty()
            && self
                .verify
                .smoke
                .iter()
                .all(|s| previous.iter().any(|c| c.name == smoke_name(s) && c.ok));
        if smoke_done {
            checks.extend(
                previous
                    .iter()
                    .filter(|c| c.name.starts_with("smoke: "))
                    .cloned(),
            );
        } else if probes_ok {
            checks.extend(self.smoke().await);
        } else {
            for s in &self.verify.smoke {
                let mut c = Check::new(&smoke_name(s), &s.url);
                c.skipped = true;
                c.detail = "skipped: the probes above must pass first".into();
                checks.push(c);
            }
        }
        checks
    }

    /// GET `url`: (status, content type, body, latency ms, redirect note).
    async fn get(
        &self,
        url: &str,
    ) -> std::result::Result<(u16, Option<String>, String, u64, String), String> {
        let start = self.clock.now();
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| self.net_detail(&e))?;
        let status = resp.status().as_u16();
        let ctype = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let note = redirect_note(status, resp.headers(), resp.url());
        let body = transport::read_capped_text(resp, transport::MAX_BODY)
            .await
            .map_err(|e| e.reason())?;
        let ms = millis(self.clock.now().saturating_duration_since(start));
        self.log(&format!("GET {url} → {status} ({ms} ms)"));
        Ok((status, ctype, body, ms, note))
    }

    fn net_detail(&self, e: &reqwest::Error) -> String {
        if e.is_timeout() {
            format!(
                "no answer within {}",
                humantime::format_duration(self.verify.request_timeout)
            )
        } else if e.is_connect() {
            "connection failed (refused or unreachable)".into()
        } else {
            "the connection broke".into()
        }
    }

    async fn health(&self, url: &str) -> Check {
        let mut c = Check::new("health", url);
        match self.get(url).await {
            Err(d) => c.detail = d,
            Ok((status, _, _, ms, note)) => {
                c.status = Some(status);
                c.latency_ms = Some(ms);
                c.ok = status == 200;
                c.detail = if c.ok {
                    "answers 200".into()
                } else {
                    format!("answered {status}, expected 200{note}")
                };
            }
        }
        c
    }

    async fn version(&self, url: &str) -> Check {
        let mut c = Check::new("version", url);
        let (status, _, body, ms, note) = match self.get(url).await {
            Err(d) => {
                c.detail = d;
                return c;
            }
            Ok(r) => r,
        };
        c.status = Some(status);
        c.latency_ms = Some(ms);
        if status != 200 {
            c.detail = format!("answered {status}, expected 200{note}");
            return c;
        }
        let Ok(json) = serde_json::from_str::<Value>(&body) else {
            c.detail = "did not answer JSON".into();
            return c;
        };
        let running = match sha_in(&json, self.verify.version_sha_pointer.as_deref()) {
            Ok(r) => r,
            Err(why) => {
                c.detail = why;
                return c;
            }
        };
        let running = running.to_ascii_lowercase();
        c.running_sha = Some(running.clone());
        c.ok = sha_matches(&self.expected, &running);
        c.detail = if c.ok {
            format!("running {}", short(&running))
        } else {
            format!(
                "running {}, expected {}: another build is still serving",
                short(&running),
                short(&self.expected)
            )
        };
        c
    }

    async fn web(&self, url: &str) -> Check {
        let mut c = Check::new("web", url);
        let (status, ctype, body, ms, note) = match self.get(url).await {
            Err(d) => {
                c.detail = d;
                return c;
            }
            Ok(r) => r,
        };
        c.status = Some(status);
        c.latency_ms = Some(ms);
        if status != 200 {
            c.detail = format!("answered {status}, expected 200{note}");
            return c;
        }
        let html_type = ctype
            .as_deref()
            .is_some_and(|t| t.to_ascii_lowercase().contains("text/html"));
        let start = body.trim_start().to_ascii_lowercase();
        let looks_html = start.starts_with("<!doctype html") || start.starts_with("<html");
        if !(html_type || looks_html) {
            c.detail = format!(
                "answered {}, not HTML (does web_url point at the API?)",
                ctype.as_deref().unwrap_or("no content-type")
            );
            return c;
        }
        if let Some(expect) = &self.verify.web_expect {
            if !body.contains(expect.as_str()) {
                c.detail = format!("the page does not contain {expect:?} (verify.web_expect)");
                return c;
            }
        }
        c.ok = true;
        c.detail = "answers HTML".into();
        c
    }

    async fn smoke(&self) -> Vec<Check> {
        let mut captures: BTreeMap<String, String> = BTreeMap::new();
        let mut checks = Vec::new();
        let mut failed = false;
        for step in &self.verify.smoke {
            let name = smoke_name(step);
            if failed {
                let mut c = Check::new(&name, &step.url);
                c.skipped = true;
                c.detail = "skipped: an earlier smoke step failed".into();
                checks.push(c);
                continue;
            }
            let c = self.smoke_step(step, &mut captures).await;
            failed = !c.ok;
            checks.push(c);
        }
        checks
    }

    async fn smoke_step(&self, step: &SmokeStep, captures: &mut BTreeMap<String, String>) -> Check {
        let mut c = Check::new(&smoke_name(step), &step.url);
        let vars = Vars {
            env: &self.env,
            captures,
        };
        let url = match expand(&step.url, &vars) {
            Ok(u) => u,
            Err(v) => {
                c.detail = format!("${{{v}}} is not set");
                return c;
            }
        };
        if step_uses_vars(step) {
            if let Err(e) = net::check_secret_url("smoke step", &url, self.allow_insecure_http) {
                c.detail = e.message;
                return c;
            }
        }
        let method = match reqwest::Method::from_bytes(step.method.to_ascii_uppercase().as_bytes())
        {
            Ok(m) => m,
            Err(_) => {
                c.detail = format!("`{}` is not an HTTP method", step.method);
                return c;
            }
        };
        let mut rb = self.http.request(method.clone(), &url);
        for (k, v) in &step.headers {
            let value = match expand(v, &vars) {
                Ok(v) => v,
                Err(name) => {
                    c.detail = format!("${{{name}}} is not set (header {k})");
                    return c;
                }
            };
            rb = rb.header(k.as_str(), value);
        }
        if let Some(body) = &step.json {
            let json = match serde_json::to_value(body) {
                Ok(j) => j,
                Err(_) => {
                    c.detail = "the json body cannot be encoded".into();
                    return c;
                }
            };
            match expand_json(&json, &vars) {
                Ok(j) => rb = rb.json(&j),
                Err(name) => {
                    c.detail = format!("${{{name}}} is not set (json body)");
                    return c;
                }
            }
        }
        let start = self.clock.now();
        let resp = match rb.send().await {
            Ok(r) => r,
            Err(e) => {
                c.detail = self.net_detail(&e);
                return c;
            }
        };
        let status = resp.status().as_u16();
        let note = redirect_note(status, resp.headers(), resp.url());
        let body = match transport::read_capped_text(resp, transport::MAX_BODY).await {
            Ok(b) => b,
            Err(e @ BodyError::TooLarge { .. }) => {
                c.status = Some(status);
                c.detail = e.reason();
                return c;
            }
            Err(BodyError::Network(_)) => String::new(),
        };
        let ms = millis(self.clock.now().saturating_duration_since(start));
        self.log(&format!("{method} {} → {status} ({ms} ms)", step.url));
        c.status = Some(status);
        c.latency_ms = Some(ms);
        if status != step.expect_status {
            c.detail = format!("answered {status}, expected {}{note}", step.expect_status);
            return c;
        }
        if !step.capture.is_empty() {
            let Ok(json) = serde_json::from_str::<Value>(&body) else {
                c.detail = "answered without JSON to capture from".into();
                return c;
            };
            for (name, pointer) in &step.capture {
                let value = match json.pointer(pointer) {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => {
                        c.detail = format!("capture {name}: nothing at {pointer} in the answer");
                        return c;
                    }
                    Some(other) => other.to_string(),
                };
                if let Some(h) = &self.secret {
                    h(&value);
                }
                captures.insert(name.clone(), value);
            }
        }
        c.ok = true;
        c.detail = if step.capture.is_empty() {
            format!("answered {status}")
        } else {
            let names: Vec<&str> = step.capture.keys().map(String::as_str).collect();
            format!("answered {status}; captured {}", names.join(", "))
        };
        c
    }
}

/// The commit SHA in a version answer: at `pointer`, else the first of
/// [`SHA_POINTERS`] present. `Err` says what is wrong.
pub fn sha_in(json: &Value, pointer: Option<&str>) -> std::result::Result<String, String> {
    let pointers: Vec<&str> = match pointer {
        Some(p) => vec![p],
        None => SHA_POINTERS.to_vec(),
    };
    let found = pointers
        .iter()
        .find_map(|p| json.pointer(p).map(|v| (*p, v)));
    let Some((pointer, value)) = found else {
        return Err(format!(
            "no commit SHA at {} in the answer",
            pointers.join(" ")
        ));
    };
    value
        .as_str()
        .map(str::trim)
        .filter(|s| is_sha(s))
        .map(str::to_ascii_lowercase)
        .ok_or_else(|| format!("the value at {pointer} is not a commit SHA"))
}

/// What production runs, for reports that must not fail on it (`status`,
/// `approve`): `Ok(None)` when `verify.version_url` is not configured,
/// `Err(why)` when it could not be read.
pub async fn production_sha(
    verify: &VerifySettings,
) -> std::result::Result<Option<String>, String> {
    if verify.version_url.is_none() {
        return Ok(None);
    }
    running_sha(verify).await.map(Some).map_err(|e| e.message)
}

/// The commit SHA production runs now, read from `verify.version_url` (for
/// `status` and `rollback`). Exit 2 when the key is unset; exit 4 when the
/// endpoint cannot be read or carries no SHA.
pub async fn running_sha(verify: &VerifySettings) -> Result<String> {
    let url = verify.version_url.as_deref().ok_or_else(|| {
        Error::usage("verify.version_url is not set").with_hint(
            "set [verify] version_url (the endpoint whose JSON carries the running commit SHA) in almarel.toml",
        )
    })?;
    let http = http_client(
        verify.request_timeout,
        concat!("almarel/", env!("CARGO_PKG_VERSION"), " (verify)"),
    )?;
    let fail = |why: String| {
        Error::remote(format!(
            "cannot read what production runs from {url}: {why}"
        ))
        .with_hint("check verify.version_url and that production is up")
    };
    let resp = http.get(url).send().await.map_err(|e| {
        fail(if e.is_timeout() {
            "no answer in time".into()
        } else if e.is_connect() {
            "connection failed".into()
        } else {
            "the connection broke".into()
        })
    })?;
    let status = resp.status().as_u16();
    if status != 200 {
        let note = redirect_note(status, resp.headers(), resp.url());
        return Err(fail(format!("it answered {status}{note}")));
    }
    let body = transport::read_capped_text(resp, transport::MAX_BODY)
        .await
        .map_err(|e| fail(e.reason()))?;
    let json: Value =
        serde_json::from_str(&body).map_err(|_| fail("the answer is not JSON".into()))?;
    sha_in(&json, verify.version_sha_pointer.as_deref()).map_err(fail)
}

fn smoke_name(step: &SmokeStep) -> String {
    format!("smoke: {}", step.name)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The first 7 characters of a SHA (or all of a shorter one).
pub fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

struct Vars<'a> {
    env: &'a Env,
    captures: &'a BTreeMap<String, String>,
}

impl Vars<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.captures
            .get(name)
            .map(String::as_str)
            .or_else(|| self.env.get(name))
    }
}

/// The `${NAME}` references in `text`, in order.
fn var_refs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        match after.find('}') {
            Some(j) if is_var_name(&after[..j]) => {
                out.push(after[..j].to_owned());
                rest = &after[j + 1..];
            }
            _ => rest = after,
        }
    }
    out
}

fn is_var_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Replaces each `${NAME}`; `Err(NAME)` for the first one that is not set.
fn expand(text: &str, vars: &Vars<'_>) -> std::result::Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find('}') {
            Some(j) if is_var_name(&after[..j]) => {
                let name = &after[..j];
                out.push_str(vars.get(name).ok_or_else(|| name.to_owned())?);
                rest = &after[j + 1..];
            }
            _ => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn expand_json(v: &Value, vars: &Vars<'_>) -> std::result::Result<Value, String> {
    Ok(match v {
        Value::String(s) => Value::String(expand(s, vars)?),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| expand_json(x, vars))
                .collect::<std::result::Result<_, _>>()?,
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), expand_json(x, vars)?)))
                .collect::<std::result::Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

fn json_strings(v: &toml::Value, out: &mut Vec<String>) {
    match v {
        toml::Value::String(s) => out.push(s.clone()),
        toml::Value::Array(a) => a.iter().for_each(|x| json_strings(x, out)),
        toml::Value::Table(t) => t.values().for_each(|x| json_strings(x, out)),
        _ => {}
    }
}

/// Every `${VAR}` a step uses (URL, headers, JSON body).
fn step_refs(step: &SmokeStep) -> Vec<String> {
    let mut texts = vec![step.url.clone()];
    texts.extend(step.headers.values().cloned());
    if let Some(j) = &step.json {
        json_strings(j, &mut texts);
    }
    texts.iter().flat_map(|t| var_refs(t)).collect()
}

fn step_uses_vars(step: &SmokeStep) -> bool {
    !step_refs(step).is_empty()
}

/// Checks the smoke steps before any request: every `${VAR}` is set in the
/// environment or captured by an earlier step (environment values used are
/// registered as secrets), and a step that sends a `${VAR}` goes over https
/// or to a loopback host (unless `allow_insecure_http`).
fn check_smoke_steps(
    steps: &[SmokeStep],
    env: &Env,
    secret: Option<&SecretHook>,
    allow_insecure_http: bool,
) -> Result<()> {
    let mut captured: BTreeSet<String> = BTreeSet::new();
    for (i, step) in steps.iter().enumerate() {
        let key = format!("verify.smoke[{i}] ({})", step.name);
        let refs = step_refs(step);
        for name in &refs {
            if captured.contains(name) {
                continue;
            }
            match env.get(name) {
                Some(v) => {
                    if let Some(h) = secret {
                        h(v);
                    }
                }
                None => {
                    return Err(Error::usage(format!(
                        "{key}: ${{{name}}} is not set in the environment nor captured by an earlier step"
                    ))
                    .with_hint(format!("export {name}=..., or capture it in an earlier smoke step")));
                }
            }
        }
        if !refs.is_empty() {
            // The host is checked with captures replaced by a placeholder.
            let placeholder: BTreeMap<String, String> = captured
                .iter()
                .map(|c| (c.clone(), "x".to_owned()))
                .collect();
            let vars = Vars {
                env,
                captures: &placeholder,
            };
            let url = expand(&step.url, &vars).unwrap_or_else(|_| step.url.clone());
            net::check_secret_url(&key, &url, allow_insecure_http).map_err(|e| {
                Error::usage(format!(
                    "{key}: refusing to send ${{VAR}} values over plain http to a non-loopback host ({})",
                    url::Url::parse(&url)
                        .ok()
                        .and_then(|u| u.host_str().map(str::to_owned))
                        .unwrap_or_else(|| "?".into())
                ))
                .with_hint(e.hint().unwrap_or_default())
            })?;
        }
        if reqwest::Method::from_bytes(step.method.to_ascii_uppercase().as_bytes()).is_err() {
            return Err(Error::usage(format!(
                "{key}: `{}` is not an HTTP method",
                step.method
            )));
        }
        for pointer in step.capture.values() {
            if !pointer.is_empty() && !pointer.starts_with('/') {
                return Err(Error::usage(format!(
                    "{key}: capture `{pointer}` is not a JSON pointer (e.g. \"/token\")"
                )));
            }
        }
        captured.extend(step.capture.keys().cloned());
    }
    Ok(())
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// The SHA production must run.
    pub expected_sha: String,
    /// How many attempts were made.
    pub attempts: u32,
    /// The checks of the last attempt.
    pub checks: Vec<Check>,
}

impl VerifyReport {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// The failing checks.
    pub fn failing(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| !c.ok && !c.skipped).collect()
    }
}

/// Runs the checks, and with `wait` > 0 repeats the failing ones every
/// `interval` until all pass or `wait` runs out. `on_retry` is called after
/// each failed attempt that will be retried.
pub async fn verify(
    prober: &Prober,
    wait: Duration,
    interval: Duration,
    mut on_retry: impl FnMut(u32, &[Check]),
) -> VerifyReport {
    let clock = prober.clock.as_ref();
    let deadline = crate::clock::Deadline::after(clock, wait);
    let mut checks: Vec<Check> = Vec::new();
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        checks = prober.attempt(&checks).await;
        let ok = checks.iter().all(|c| c.ok);
        let left = deadline.remaining(clock);
        if ok || left.is_zero() {
            break;
        }
        on_retry(attempts, &checks);
        clock.sleep(interval.min(left)).await;
    }
    VerifyReport {
        expected_sha: prober.expected.clone(),
        attempts,
        checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha_shapes() {
        assert!(parse_sha("abc").is_err());
        assert!(parse_sha("abcdefg").is_err());
        assert!(parse_sha(&"a".repeat(41)).is_err());
        assert_eq!(parse_sha("ABCDEF1").unwrap(), "abcdef1");
    }

    #[test]
    fn prefixes_match_both_ways_case_insensitively() {
        let full = "1a2b3c4d5e6f70819293a4b5c6d7e8f901234567";
        assert!(sha_matches("1A2B3C4", full));
        assert!(sha_matches(full, "1a2b3c4d"));
        assert!(!sha_matches("1a2b3c5", full));
        assert!(!sha_matches("1a2b3c", full), "6 characters are too short");
        let v = serde_json::json!({"gitSha": "ABCDEF1234", "commit": 5});
        assert_eq!(sha_in(&v, Some("/gitSha")).unwrap(), "abcdef1234");
        assert!(sha_in(&v, None).unwrap_err().contains("/commit"));
        let v = serde_json::json!({"build": {"sha": "abcdef1"}});
        assert_eq!(sha_in(&v, Some("/build/sha")).unwrap(), "abcdef1");
        assert!(sha_in(&v, None).unwrap_err().contains("no commit SHA"));
    }

    #[test]
    fn variables_expand_from_captures_then_env() {
        let env = Env::from_pairs([("A", "env-a"), ("B", "env-b")]);
        let caps = BTreeMap::from([("B".to_owned(), "cap-b".to_owned())]);
        let vars = Vars {
            env: &env,
            captures: &caps,
        };
        assert_eq!(
            expand("x ${A} ${B} $A ${", &vars).unwrap(),
            "x env-a cap-b $A ${"
        );
        assert_eq!(expand("${C}", &vars).unwrap_err(), "C");
        assert_eq!(
            var_refs("Bearer ${token} ${a-b} ${_x1}"),
            vec!["token", "_x1"]
        );
    }

    fn verify_with(toml: &str) -> (VerifySettings, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("almarel.toml");
        std::fs::write(&path, toml).unwrap();
        let args = crate::cli::GlobalArgs {
            dir: None,
            config: Some(path),
            json: false,
            yes: false,
            dry_run: false,
            quiet: false,
            verbose: 0,
            color: crate::cli::ColorChoice::Never,
        };
        let settings =
            crate::settings::Settings::resolve(&args, &Env::default(), dir.path()).unwrap();
        (settings.verify, dir)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn running_sha_reads_the_version_endpoint() {
        let sha = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d";
        let p = almarel_sandbox::production::start(almarel_sandbox::production::Config::new(sha))
            .await
            .unwrap();
        let (v, _d) = verify_with(&format!(
            "[verify]\nversion_url = \"{}/api/version\"\n",
            p.url()
        ));
        assert_eq!(running_sha(&v).await.unwrap(), sha);
        let (v, _d) = verify_with(&format!("[verify]\nversion_url = \"{}/nope\"\n", p.url()));
        let e = running_sha(&v).await.unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::Remote);
        assert!(e.message.contains("answered 404"), "{}", e.message);
        let (v, _d) = verify_with("");
        assert_eq!(
            running_sha(&v).await.unwrap_err().kind,
            crate::error::Kind::Usage
        );
    }
}
