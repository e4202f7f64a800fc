//! A small client of the OCI distribution API (GHCR, Docker Hub and any
//! registry that speaks the distribution spec), for one question: which
//! manifest digest does `image:tag` point at?
//!
//! The flow is the spec's: `GET /v2/` once per registry; a 401 there carries
//! a `WWW-Authenticate: Bearer realm=…,service=…` challenge; the client asks
//! the realm for a pull token (`?service=…&scope=repository:<name>:pull`),
//! with basic-auth credentials when it has some for that registry (GHCR: the
//! GitHub token as the password), else anonymously; then `HEAD
//! /v2/<name>/manifests/<tag>` with the four manifest media types in `Accept`
//! and reads `Docker-Content-Digest`. When a registry answers without that
//! header (or refuses HEAD), a `GET` of the manifest is hashed (sha256 of the
//! exact bytes is the digest by definition).
//!
//! Rules it keeps (the same as every almarel client): connect and total
//! timeouts, GET/HEAD retried with backoff on 5xx and network failures
//! ([`net::with_retries`]), rate limits waited out inside the call's
//! deadline, bodies capped while they stream ([`net::read_capped`]), https
//! only except to loopback ([`net::check_secret_url`]), no redirects
//! followed (an `Authorization` header never travels to another host), and
//! credentials are sent only to a token realm on the registry's own host.
//! Tokens are [`SecretString`]s and never appear in an error or a log line.
//! The client takes plain configuration and returns data; it never prints.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::Value;
use sha2::Digest as _;

use crate::clock::{Clock, Deadline};
use crate::error::{Error, Result};
use crate::net::{self, Attempt, RetryPolicy};

/// Connect timeout of every registry request.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default total timeout of one registry request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one lookup may spend on retries and rate-limit waits when no
/// deadline was set with [`Client::with_deadline`].
pub const CALL_DEADLINE: Duration = Duration::from_secs(60);
/// The largest manifest almarel reads (registries refuse manifests over 4 MiB).
pub const MAX_MANIFEST: u64 = 4 * 1024 * 1024;
/// The largest token or error answer almarel reads.
pub const MAX_SMALL_BODY: u64 = 1024 * 1024;

/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker manifest list (schema 2).
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image manifest (schema 2).
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Every manifest media type almarel accepts, in the `Accept` header of each
/// manifest request (without them a registry may answer 404 for a
/// multi-platform image, or convert it and report another digest).
pub const MANIFEST_TYPES: [&str; 4] = [
    OCI_INDEX,
    OCI_MANIFEST,
    DOCKER_MANIFEST_LIST,
    DOCKER_MANIFEST,
];

/// The hint for a registry that refused to answer: what the token needs.
pub const READ_PACKAGES_HINT: &str = "for ghcr.io almarel uses the GitHub token (GH_TOKEN, GITHUB_TOKEN or `gh auth token`); \
it needs the read:packages scope (classic token) or, in GitHub Actions, `permissions: packages: read`, \
and access to the package";

/// Receives one line per request (`HEAD https://… → 200 (12 ms)`), for
/// `-vv`. Never receives a token or a body.
pub type LogHook = Arc<dyn Fn(&str) + Send + Sync>;

/// A content digest (`sha256:<64 hex>`), as registries name manifests.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Digest(String);

impl Digest {
    /// Parses `algorithm:hex` (`sha256` with 64 hex digits, `sha512` with 128);
    /// `None` for anything else.
    pub fn parse(s: &str) -> Option<Digest> {
        let (alg, hex) = s.trim().split_once(':')?;
        let len = match alg {
            "sha256" => 64,
            "sha512" => 128,
            _ => return None,
        };
        (hex.len() == len && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Digest(format!("{alg}:{}", hex.to_ascii_lowercase())))
    }

    /// The sha256 digest of `bytes` (what a registry reports for a manifest
    /// whose exact bytes these are).
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        let sum = sha2::Sha256::digest(bytes);
        let mut hex = String::with_capacity(64);
        for b in sum {
            hex.push(char::from(HEX[usize::from(b >> 4)]));
            hex.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        Digest(format!("sha256:{hex}"))
    }

    /// The full digest.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `sha256:` and the first 12 hex digits, for tables and sentences.
    pub fn short(&self) -> &str {
        let end = self.0.find(':').map_or(self.0.len(), |i| i + 13);
        self.0.get(..end).unwrap_or(&self.0)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An image repository: the registry host and the repository name in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// Registry host as written in the image name (`ghcr.io`,
    /// `127.0.0.1:5000`; `docker.io` for names without a host).
    pub host: String,
    /// Repository path (`owner/api`; `library/nginx` on Docker Hub).
    pub repository: String,
}

impl ImageRef {
    /// Parses an image name as Docker does (`ghcr.io/owner/api`,
    /// `owner/api` → Docker Hub, `nginx` → `docker.io/library/nginx`). A
    /// `:tag` or `@digest` suffix is ignored. Exit 2 for a name that is not
    /// an image name (names are lowercase: `[a-z0-9]` with `.`, `_`, `-`).
    pub fn parse(name: &str) -> Result<ImageRef> {
        let bad = |why: &str| {
            Error::usage(format!("`{name}` is not an image name: {why}")).with_hint(
                "image names look like ghcr.io/OWNER/IMAGE (no scheme; a tag after `:` is ignored)",
            )
        };
        let trimmed = name.trim();
        if trimmed.is_empty() {
            return Err(bad("it is empty"));
        }
        if trimmed.contains("://") {
            return Err(bad("it has a URL scheme"));
        }
        let no_digest = trimmed.split_once('@').map_or(trimmed, |(n, _)| n);
        // A `:tag` lives in the last path component (a `:` before the first
        // `/` is the registry's port).
        let no_tag = match no_digest.rfind(':') {
            Some(i) if !no_digest[i..].contains('/') => &no_digest[..i],
            _ => no_digest,
        };
        let (host, repository) = match no_tag.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_ascii_lowercase(), rest.to_owned())
            }
            _ => ("docker.io".to_owned(), no_tag.to_owned()),
        };
        let repository = if host == "docker.io" && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        let component_ok = |c: &str| {
            !c.is_empty()
                && c.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
                })
                && c.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        };
        if !repository.split('/').all(component_ok) {
            return Err(bad(
                "each path part must be lowercase letters, digits, `.`, `_` or `-`",
            ));
        }
        Ok(ImageRef { host, repository })
    }

    /// The host the registry API is served from (`docker.io` →
    /// `registry-1.docker.io`).
    pub fn api_host(&self) -> &str {
        if self.host == "docker.io" || self.host == "index.docker.io" {
            "registry-1.docker.io"
        } else {
            &self.host
        }
    }

    /// `https://<api host>`, or `http://` for a loopback registry (as Docker
    /// itself allows).
    pub fn base_url(&self) -> String {
        let host = self.api_host();
        let bare = host.rsplit_once(':').map_or(host, |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        });
        if net::is_loopback_host(bare) {
            format!("http://{host}")
        } else {
            format!("https://{host}")
        }
    }

    /// Whether this is GitHub's container registry.
    pub fn is_ghcr(&self) -> bool {
        self.host == "ghcr.io"
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.host, self.repository)
    }
}

/// Basic-auth credentials for a registry's token service.
#[derive(Clone)]
pub struct Credentials {
    /// User name (GHCR ignores it for a token; almarel sends `x-access-token`).
    pub username: String,
    /// The password or token.
    pub password: SecretString,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Everything a [`Client`] needs: plain values, no UI.
#[derive(Clone)]
pub struct Config {
    /// Time source for retries and deadlines.
    pub clock: Arc<dyn Clock>,
    /// Total timeout of one request.
    pub request_timeout: Duration,
    /// Allow a token realm over plain http to a non-loopback host.
    pub allow_insecure_http: bool,
    /// Credentials per registry host as written in image names (`ghcr.io`).
    pub credentials: Vec<(String, Credentials)>,
    /// Request log (`-vv`).
    pub log: Option<LogHook>,
}

impl Config {
    /// A configuration whose only credentials are the GitHub token for
    /// `ghcr.io` (anonymous everywhere else).
    pub fn ghcr(clock: Arc<dyn Clock>, github_token: Option<SecretString>) -> Config {
        Config {
            clock,
            request_timeout: REQUEST_TIMEOUT,
            allow_insecure_http: false,
            credentials: github_token
                .map(|t| vec![("ghcr.io".to_owned(), github_credentials(t))])
                .unwrap_or_default(),
            log: None,
        }
    }
}

/// The GitHub token as GHCR credentials.
pub fn github_credentials(token: SecretString) -> Credentials {
    Credentials {
        username: "x-access-token".into(),
        password: token,
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("request_timeout", &self.request_timeout)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// How the client authenticates to one repository.
#[derive(Clone)]
enum Auth {
    /// The registry asked for nothing.
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(SecretString),
    /// `Authorization: Basic` with these credentials.
    Basic(Credentials),
}

/// A registry client (one per run; it caches a token per repository).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    policy: RetryPolicy,
    deadline: Option<Deadline>,
    request_timeout: Duration,
    allow_insecure_http: bool,
    credentials: Vec<(String, Credentials)>,
    auth: Arc<Mutex<HashMap<ImageRef, Auth>>>,
    log: Option<LogHook>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

/// What a manifest request found.
enum Found {
    /// 200, with the digest header when the registry sent one, and the body
    /// for a GET.
    Manifest {
        digest: Option<Digest>,
        body: Vec<u8>,
    },
    /// 404: no such tag (or repository).
    Missing,
    /// 405: the registry does not answer HEAD.
    NoHead,
}

impl Client {
    /// A registry client. Exit 1 when the http client cannot be built.
    pub fn new(config: Config) -> Result<Client> {
        net::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT.max(config.request_timeout))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("almarel/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::local(format!("cannot build the http client: {e}")))?;
        Ok(Client {
            http,
            clock: config.clock,
            policy: RetryPolicy::default(),
            deadline: None,
            request_timeout: config.request_timeout,
            allow_insecure_http: config.allow_insecure_http,
            credentials: config.credentials,
            auth: Arc::default(),
            log: config.log,
        })
    }

    /// A copy whose retries and rate-limit waits stay inside `deadline`.
    #[must_use]
    pub fn with_deadline(&self, deadline: Deadline) -> Client {
        let mut c = self.clone();
        c.deadline = Some(deadline);
        c
    }

    /// A copy with another retry policy (tests use short backoffs).
    #[must_use]
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Client {
        self.policy = policy;
        self
    }

    /// Whether the client has credentials for `image`'s registry.
    pub fn has_credentials(&self, image: &ImageRef) -> bool {
        self.credentials_for(image).is_some()
    }

    /// The digest `image:reference` points at, `None` when the registry has
    /// no such tag (404). Errors are exit 4: `registry_unauthorized` when
    /// the registry refused the credentials or the pull (401/403), a plain
    /// remote error for network failures, timeouts and 5xx after retries.
    /// A token cached from an earlier call that is refused (expired) is
    /// dropped and the exchange done once more.
    pub async fn digest(&self, image: &ImageRef, reference: &str) -> Result<Option<Digest>> {
        let (auth, cached) = self.authorize(image).await?;
        match self.digest_with(image, reference, &auth).await {
            Err(e) if cached && e.code == Some("registry_unauthorized") => {
                if let Ok(mut m) = self.auth.lock() {
                    m.remove(image);
                }
                let (auth, _) = self.authorize(image).await?;
                self.digest_with(image, reference, &auth).await
            }
            r => r,
        }
    }

    async fn digest_with(
        &self,
        image: &ImageRef,
        reference: &str,
        auth: &Auth,
    ) -> Result<Option<Digest>> {
        match self.manifest(image, reference, Method::HEAD, auth).await? {
            Found::Missing => return Ok(None),
            Found::Manifest {
                digest: Some(d), ..
            } => return Ok(Some(d)),
            Found::Manifest { digest: None, .. } | Found::NoHead => {}
        }
        match self.manifest(image, reference, Method::GET, auth).await? {
            Found::Missing => Ok(None),
            Found::Manifest { digest, body } => {
                // The digest is the hash of the exact bytes; a header that
                // disagrees with them is not trusted.
                let computed = Digest::sha256_of(&body);
                match digest {
                    Some(d) if d.as_str().starts_with("sha512:") => Ok(Some(d)),
                    Some(d) if d != computed => Err(Error::remote(format!(
                        "{}: the manifest of `{reference}` hashes to {computed}, but the registry \
                         names it {d}",
                        image
                    ))
                    .with_hint("the registry or a proxy in between altered the answer; re-run")),
                    _ => Ok(Some(computed)),
                }
            }
            Found::NoHead => Err(Error::remote(format!(
                "{image}: the registry answered 405 to GET of a manifest"
            ))
            .with_hint("check that the image name points at an OCI distribution registry")),
        }
    }

    fn credentials_for(&self, image: &ImageRef) -> Option<&Credentials> {
        self.credentials
            .iter()
            .find(|(h, _)| h.eq_ignore_ascii_case(&image.host))
            .map(|(_, c)| c)
    }

    fn deadline(&self) -> Deadline {
        self.deadline
            .unwrap_or_else(|| Deadline::after(self.clock.as_ref(), CALL_DEADLINE))
    }

    /// Finds how to authenticate for `image` (cached per repository): the
    /// `/v2/` challenge, then a pull token from its realm.
    /// Also says whether the answer came from the cache.
    async fn authorize(&self, image: &ImageRef) -> Result<(Auth, bool)> {
        if let Some(a) = self.auth.lock().ok().and_then(|m| m.get(image).cloned()) {
            return Ok((a, true));
        }
        let base = image.base_url();
        let ping_url = format!("{base}/v2/");
        let deadline = self.deadline();
        let challenge = net::with_retries(
            self.clock.as_ref(),
            self.policy,
            Some(deadline),
            true,
            || self.ping(image, &ping_url),
        )
        .await?;
        let auth = match challenge {
            None => Auth::None,
            Some(Challenge::Basic) => match self.credentials_for(image) {
                Some(c) => Auth::Basic(c.clone()),
                None => return Err(unauthorized(image, "it asks for a user name and password")),
            },
            Some(Challenge::Bearer { realm, service }) => {
                Auth::Bearer(self.token(image, &realm, service.as_deref()).await?)
            }
        };
        if let Ok(mut m) = self.auth.lock() {
            m.insert(image.clone(), auth.clone());
        }
        Ok((auth, false))
    }

    async fn ping(&self, image: &ImageRef, url: &str) -> Attempt<Option<Challenge>> {
        let rb = self.http.get(url).timeout(self.request_timeout);
        let resp = match self.send(Method::GET, url, rb).await {
            Ok(r) => r,
            Err(e) => return Attempt::Transient(network_error(image, "GET /v2/", &e)),
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        match status {
            200..=299 => Attempt::Done(None),
            401 => {
                let header = headers
                    .get(reqwest::header::WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                match parse_challenge(header) {
                    Some(c) => Attempt::Done(Some(c)),
                    None => Attempt::Fatal(unauthorized(
                        image,
                        "GET /v2/ answered 401 without a challenge almarel understands",
                    )),
                }
            }
            _ => {
                let text = self.small_body(resp, image).await.unwrap_or_default();
                self.status_attempt(image, "GET /v2/", status, &headers, &text)
            }
        }
    }

    /// Exchanges credentials (or nothing) for a pull token at `realm`.
    async fn token(
        &self,
        image: &ImageRef,
        realm: &str,
        service: Option<&str>,
    ) -> Result<SecretString> {
        net::check_secret_url(
            &format!("the token service of {}", image.host),
            realm,
            self.allow_insecure_http,
        )?;
        // Credentials go only to a realm on the registry's own host: a
        // challenge cannot send the GitHub token elsewhere.
        let same_host = url::Url::parse(realm).ok().is_some_and(|u| {
            let host = match u.port() {
                Some(p) => format!("{}:{p}", u.host_str().unwrap_or("")),
                None => u.host_str().unwrap_or("").to_owned(),
            };
            host.eq_ignore_ascii_case(image.api_host())
        });
        let creds = self.credentials_for(image).filter(|_| same_host).cloned();
        let scope = format!("repository:{}:pull", image.repository);
        let mut query = vec![("scope", scope)];
        if let Some(s) = service {
            query.insert(0, ("service", s.to_owned()));
        }
        let query = &query;
        let creds = &creds;
        net::with_retries(
            self.clock.as_ref(),
            self.policy,
            Some(self.deadline()),
            true,
            || async move {
                let mut rb = self
                    .http
                    .get(realm)
                    .query(query)
                    .timeout(self.request_timeout);
                if let Some(c) = creds {
                    rb = rb.basic_auth(&c.username, Some(c.password.expose_secret()));
                }
                let resp = match self.send(Method::GET, realm, rb).await {
                    Ok(r) => r,
                    Err(e) => {
                        return Attempt::Transient(network_error(image, "the token request", &e));
                    }
                };
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                let text = match self.small_body(resp, image).await {
                    Ok(t) => t,
                    Err(e) => return Attempt::Transient(e),
                };
                if (200..300).contains(&status) {
                    return match token_of(&text) {
                        Some(t) => Attempt::Done(t),
                        None => Attempt::Fatal(
                            Error::remote(format!(
                                "{}: the token service answered without a token",
                                image.host
                            ))
                            .with_hint("check that the image name points at an OCI registry"),
                        ),
                    };
                }
                if status == 401 || status == 403 {
                    let why = format!(
                        "the token service answered {status}{}{}",
                        if creds.is_some() {
                            " to the credentials"
                        } else {
                            " to an anonymous request"
                        },
                        error_detail(&text)
                    );
                    return Attempt::Fatal(unauthorized(image, &why));
                }
                self.status_attempt(image, "the token request", status, &headers, &text)
            },
        )
        .await
    }

    /// One manifest request with retries.
    async fn manifest(
        &self,
        image: &ImageRef,
        reference: &str,
        method: Method,
        auth: &Auth,
    ) -> Result<Found> {
        let url = format!(
            "{}/v2/{}/manifests/{reference}",
            image.base_url(),
            image.repository
        );
        let what = format!("{method} manifests/{reference}");
        let (url, what, method) = (&url, &what, &method);
        net::with_retries(
            self.clock.as_ref(),
            self.policy,
            Some(self.deadline()),
            true,
            || async move {
                let mut rb = self
                    .http
                    .request(method.clone(), url)
                    .timeout(self.request_timeout)
                    .header(reqwest::header::ACCEPT, MANIFEST_TYPES.join(", "));
                rb = match auth {
                    Auth::None => rb,
                    Auth::Bearer(t) => rb.bearer_auth(t.expose_secret()),
                    Auth::Basic(c) => rb.basic_auth(&c.username, Some(c.password.expose_secret())),
                };
                let resp = match self.send(method.clone(), url, rb).await {
                    Ok(r) => r,
                    Err(e) => return Attempt::Transient(network_error(image, what, &e)),
                };
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                let digest = headers
                    .get("docker-content-digest")
                    .and_then(|v| v.to_str().ok())
                    .and_then(Digest::parse);
                if (200..300).contains(&status) {
                    if *method == Method::HEAD {
                        return Attempt::Done(Found::Manifest {
                            digest,
                            body: Vec::new(),
                        });
                    }
                    return match net::read_capped(resp, MAX_MANIFEST, &format!("{image}: {what}"))
                        .await
                    {
                        Ok(body) => Attempt::Done(Found::Manifest { digest, body }),
                        Err(e) => Attempt::Transient(e),
                    };
                }
                let text = if *method == Method::HEAD {
                    String::new()
                } else {
                    self.small_body(resp, image).await.unwrap_or_default()
                };
                match status {
                    404 => Attempt::Done(Found::Missing),
                    405 if *method == Method::HEAD => Attempt::Done(Found::NoHead),
                    401 | 403 => {
                        let anonymous = if self.has_credentials(image) {
                            ""
                        } else {
                            " to an anonymous request"
                        };
                        Attempt::Fatal(unauthorized(
                            image,
                            &format!("{what} answered {status}{anonymous}{}", error_detail(&text)),
                        ))
                    }
                    _ => self.status_attempt(image, what, status, &headers, &text),
                }
            },
        )
        .await
    }

    /// Sends a request and logs one line for it (`-vv`), never a header.
    async fn send(
        &self,
        method: Method,
        url: &str,
        rb: reqwest::RequestBuilder,
    ) -> std::result::Result<reqwest::Response, reqwest::Error> {
        let started = self.clock.now();
        let r = rb.send().await;
        if let Some(log) = &self.log {
            let ms = self
                .clock
                .now()
                .saturating_duration_since(started)
                .as_millis();
            let outcome = match &r {
                Ok(resp) => resp.status().as_u16().to_string(),
                Err(_) => "failed".into(),
            };
            log(&format!("{method} {url} → {outcome} ({ms} ms)"));
        }
        r
    }

    async fn small_body(&self, resp: reqwest::Response, image: &ImageRef) -> Result<String> {
        let bytes =
            net::read_capped(resp, MAX_SMALL_BODY, &format!("registry {}", image.host)).await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// 429, 5xx and anything else unexpected.
    fn status_attempt<T>(
        &self,
        image: &ImageRef,
        what: &str,
        status: u16,
        headers: &http::HeaderMap,
        text: &str,
    ) -> Attempt<T> {
        let msg = format!(
            "registry {} answered {status} to {what}{}",
            image.host,
            error_detail(text)
        );
        match status {
            429 => {
                let now = self.clock.wall();
                let (wait, until) = net::rate_limit_wait(headers, now)
                    .unwrap_or((Duration::from_secs(30), now + Duration::from_secs(30)));
                Attempt::RateLimited {
                    wait,
                    until,
                    error: Error::remote(msg),
                }
            }
            500..=599 => Attempt::Transient(
                Error::remote(msg).with_hint("the registry had an internal error; re-run later"),
            ),
            _ => Attempt::Fatal(
                Error::remote(msg).with_hint("check the image name (coolify's image of the app)"),
            ),
        }
    }
}

/// The refusal for 401/403 (exit 4, code `registry_unauthorized`).
fn unauthorized(image: &ImageRef, why: &str) -> Error {
    let e = Error::remote(format!(
        "registry {} refused to show {image}: {why}",
        image.host
    ))
    .with_code("registry_unauthorized");
    if image.is_ghcr() {
        e.with_hint(READ_PACKAGES_HINT)
    } else {
        e.with_hint(format!(
            "almarel reads {} anonymously; the image must be public there",
            image.host
        ))
    }
}

fn network_error(image: &ImageRef, what: &str, e: &reqwest::Error) -> Error {
    let host = &image.host;
    let err = if e.is_timeout() {
        Error::remote(format!("registry {host} did not answer {what} in time"))
    } else if e.is_connect() {
        Error::remote(format!(
            "cannot reach registry {host} ({what}): connection failed"
        ))
    } else {
        Error::remote(format!(
            "registry {host}: the connection broke during {what}"
        ))
    };
    err.with_hint("check the network, then re-run")
}

/// `: CODE message` from an OCI error body (`{"errors":[{code,message}]}`),
/// at most 160 characters; empty when there is none. Never the raw body of
/// a token answer.
fn error_detail(text: &str) -> String {
    let v: Option<Value> = serde_json::from_str(text).ok();
    let first = v
        .as_ref()
        .and_then(|v| v.get("errors"))
        .and_then(Value::as_array)
        .and_then(|a| a.first());
    let Some(first) = first else {
        return String::new();
    };
    let code = first.get("code").and_then(Value::as_str).unwrap_or("");
    let message = first.get("message").and_then(Value::as_str).unwrap_or("");
    let detail: String = format!("{code} {message}")
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(160)
        .collect();
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}

/// `token` (or `access_token`) from a token service answer.
fn token_of(text: &str) -> Option<SecretString> {
    let v: Value = serde_json::from_str(text).ok()?;
    ["token", "access_token"]
        .iter()
        .find_map(|k| v.get(k).and_then(Value::as_str).filter(|t| !t.is_empty()))
        .map(|t| SecretString::from(t.to_owned()))
}

/// What a 401 on `/v2/` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Challenge {
    /// `Bearer realm="…",service="…"`.
    Bearer {
        realm: String,
        service: Option<String>,
    },
    /// `Basic realm="…"`.
    Basic,
}

/// Parses a `WWW-Authenticate` header (scheme, then `key="value"` pairs;
/// quoted values may hold commas).
fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header
        .split_once(char::is_whitespace)
        .unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = parse_params(rest);
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    Some(Challenge::Bearer {
        realm: get("realm").filter(|r| !r.is_empty())?,
        service: get("service"),
    })
}

fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            return out;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                value.push(n);
                            }
                        }
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
        }
        out.push((key.trim().to_owned(), value.trim().to_owned()));
    }
}

#[cfg(test)]
mod tests;
