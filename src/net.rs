//! Rules shared by every HTTP client: which URLs may carry a token, the
//! retry policy (GETs retry with backoff; rate limits are honoured inside the
//! caller's deadline; a rate limit that resets later is an error naming the
//! reset time), the cap on answer sizes (SPEC §7.8) and the one place the TLS
//! crypto provider is installed.

use std::future::Future;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use crate::clock::{Clock, Deadline};
use crate::error::{Error, Result};

/// The largest response body any client accepts (SPEC §7.8): 32 MiB.
pub const MAX_BODY: u64 = 32 * 1024 * 1024;

/// Installs rustls' `ring` crypto provider as the process default (once;
/// later calls do nothing). Every client that builds a TLS stack calls this
/// first.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider is already installed: that one is used.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The error for an answer larger than `limit` bytes (exit 4). `what` names
/// the request (`github: GET /repos/o/r/actions/runs`).
pub fn body_too_large(what: &str, limit: u64) -> Error {
    let size = if limit >= 1024 * 1024 {
        format!("{} MiB", limit / (1024 * 1024))
    } else {
        format!("{limit} bytes")
    };
    Error::remote(format!(
        "{what}: the answer is larger than {size}; refusing to read it"
    ))
    .with_hint(
        "check that the URL points at the API itself (not a file server or proxy), then re-run",
    )
}

/// Collects a body arriving as a stream of chunks, failing with
/// [`body_too_large`] as soon as more than `limit` bytes arrived, or at once
/// when `announced` (the `Content-Length`) is already over it. A chunk that
/// fails ends the read with `on_error(e)`.
pub async fn collect_capped<S, B, E>(
    mut chunks: S,
    announced: Option<u64>,
    limit: u64,
    what: &str,
    on_error: impl FnOnce(E) -> Error,
) -> Result<Vec<u8>>
where
    S: futures::Stream<Item = std::result::Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
{
    use futures::StreamExt as _;
    if announced.is_some_and(|n| n > limit) {
        return Err(body_too_large(what, limit));
    }
    let mut out = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => return Err(on_error(e)),
        };
        let chunk = chunk.as_ref();
        if out.len() as u64 + chunk.len() as u64 > limit {
            return Err(body_too_large(what, limit));
        }
        out.extend_from_slice(chunk);
    }
    Ok(out)
}

/// Reads a reqwest response body of at most `limit` bytes ([`MAX_BODY`] for
/// API answers) without buffering more than that: an announced or actual
/// larger body is [`body_too_large`] (exit 4); a body cut off is a remote
/// error naming `what`.
pub async fn read_capped(resp: reqwest::Response, limit: u64, what: &str) -> Result<Vec<u8>> {
    let announced = resp.content_length();
    let chunks = futures::stream::unfold(Some(resp), |state| async move {
        let mut resp = state?;
        match resp.chunk().await {
            Ok(Some(bytes)) => Some((Ok(bytes), Some(resp))),
            Ok(None) => None,
            Err(e) => Some((Err(e), None)),
        }
    });
    let what_owned = what.to_owned();
    collect_capped(
        Box::pin(chunks),
        announced,
        limit,
        what,
        move |e: reqwest::Error| {
            Error::remote(format!("{what_owned}: the answer was cut off: {e}"))
        },
    )
    .await
}

/// Whether `host` is a loopback name or address (`localhost`, 127.0.0.0/8, `::1`).
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") || h.to_ascii_lowercase().ends_with(".localhost") {
        return true;
    }
    h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Refuses (exit 2) to send a secret to `url` over plain http unless the host
/// is loopback or `allow_insecure_http` is set. `what` names the setting.
pub fn check_secret_url(what: &str, url: &str, allow_insecure_http: bool) -> Result<()> {
    let parsed = url::Url::parse(url)
        .map_err(|e| Error::usage(format!("{what}: `{url}` is not a valid URL: {e}")))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure_http => Ok(()),
        "http" if parsed.host_str().is_some_and(is_loopback_host) => Ok(()),
        "http" => Err(Error::usage(format!(
            "{what}: refusing to send a token over plain http to {}",
            parsed.host_str().unwrap_or("?")
        ))
        .with_hint(
            "use https, or set allow_insecure_http = true in almarel.toml if you really mean it",
        )),
        other => Err(Error::usage(format!(
            "{what}: unsupported URL scheme `{other}`"
        ))),
    }
}

/// How one attempt of a request ended.
#[derive(Debug)]
pub enum Attempt<T> {
    /// Success.
    Done(T),
    /// A transient failure (5xx, network) worth retrying with backoff — only
    /// for requests that are safe to repeat.
    Transient(Error),
    /// Rate limited: nothing was processed; wait `wait` (reset at `until`) and retry.
    RateLimited {
        /// How long to wait.
        wait: Duration,
        /// When the limit resets (for the message).
        until: SystemTime,
        /// The error to report if we cannot wait that long.
        error: Error,
    },
    /// A final failure: do not retry.
    Fatal(Error),
}

/// The retry policy for one client.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts for transient failures, the first included.
    pub attempts: u32,
    /// First backoff delay (doubles each time).
    pub base: Duration,
    /// Longest backoff delay.
    pub max: Duration,
    /// Rate-limit waits allowed before giving up.
    pub rate_limit_waits: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            base: Duration::from_millis(300),
            max: Duration::from_secs(5),
            rate_limit_waits: 3,
        }
    }
}

impl RetryPolicy {
    /// The backoff before attempt `n + 1` (n starts at 1).
    pub fn backoff(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1));
        self.base.saturating_mul(factor).min(self.max)
    }
}

/// Runs `attempt` until it is done, fails for good, or the policy or the
/// deadline runs out. Transient failures are retried only when
/// `retry_transient` is true (GETs); rate limits are always waited out when
/// the wait fits in the deadline (nothing was processed).
pub async fn with_retries<T, F, Fut>(
    clock: &dyn Clock,
    policy: RetryPolicy,
    deadline: Option<Deadline>,
    retry_transient: bool,
    mut attempt: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt<T>>,
{
    let mut transient = 0u32;
    let mut limited = 0u32;
    loop {
        match attempt().await {
            Attempt::Done(v) => return Ok(v),
            Attempt::Fatal(e) => return Err(e),
            Attempt::Transient(e) => {
                transient += 1;
                if !retry_transient || transient >= policy.attempts {
                    return Err(e);
                }
                let wait = policy.backoff(transient);
                if let Some(d) = deadline {
                    if d.remaining(clock) < wait {
                        return Err(e);
                    }
                }
                clock.sleep(wait).await;
            }
            Attempt::RateLimited { wait, until, error } => {
                limited += 1;
                let fits = deadline.is_none_or(|d| d.remaining(clock) >= wait);
                if limited > policy.rate_limit_waits || !fits {
                    let at = crate::clock::rfc3339(until);
                    return Err(Error::remote(format!(
                        "{} (rate limited until {at})",
                        error.message
                    ))
                    .with_hint(format!("wait until {at}, then re-run")));
                }
                clock.sleep(wait).await;
            }
        }
    }
}

/// Reads a rate-limit wait from response headers: `retry-after` (seconds),
/// else `x-ratelimit-reset` (epoch seconds) when `x-ratelimit-remaining` is 0.
/// Returns `(wait, until)`.
pub fn rate_limit_wait(
    headers: &http::HeaderMap,
    now: SystemTime,
) -> Option<(Duration, SystemTime)> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(secs) = header("retry-after").and_then(|v| v.parse::<u64>().ok()) {
        let wait = Duration::from_secs(secs);
        return Some((wait, now + wait));
    }
    if header("x-ratelimit-remaining") == Some("0") {
        let reset = header("x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok())?;
        let until = SystemTime::UNIX_EPOCH + Duration::from_secs(reset);
        let wait = until.duration_since(now).unwrap_or_default() + Duration::from_secs(1);
        return Some((wait, until));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "127.0.0.1",
            "127.8.9.10",
            "[::1]",
            "::1",
            "app.localhost",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "example.com",
            "10.0.0.1",
            "192.168.1.1",
            "localhost.example.com",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(check_secret_url("x", "https://api.github.com", false).is_ok());
        assert!(check_secret_url("x", "http://127.0.0.1:8080", false).is_ok());
        let e = check_secret_url("coolify.url", "http://coolify.example.com", false).unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::Usage);
        assert!(e.message.contains("coolify.url"));
        assert!(check_secret_url("x", "http://coolify.example.com", true).is_ok());
    }

    #[tokio::test]
    async fn transient_errors_retry_then_succeed() {
        let clock = ManualClock::new();
        let mut n = 0;
        let r = with_retries(&clock, RetryPolicy::default(), None, true, || {
            n += 1;
            let k = n;
            async move {
                if k < 3 {
                    Attempt::Transient(Error::remote("500"))
                } else {
                    Attempt::Done(k)
                }
            }
        })
        .await;
        assert_eq!(r.unwrap(), 3);
    }

    #[tokio::test]
    async fn transient_errors_are_not_retried_for_posts() {
        let clock = ManualClock::new();
        let mut n = 0;
        let r: Result<()> = with_retries(&clock, RetryPolicy::default(), None, false, || {
            n += 1;
            async { Attempt::Transient(Error::remote("502")) }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(n, 1);
    }

    #[tokio::test]
    async fn rate_limit_past_deadline_names_reset_time() {
        let clock = ManualClock::new();
        let deadline = Deadline::after(&clock, Duration::from_secs(10));
        let r: Result<()> = with_retries(
            &clock,
            RetryPolicy::default(),
            Some(deadline),
            true,
            || async {
                Attempt::RateLimited {
                    wait: Duration::from_secs(3600),
                    until: SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000),
                    error: Error::remote("github: API rate limit exceeded"),
                }
            },
        )
        .await;
        let e = r.unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::Remote);
        assert!(e.message.contains("2033-05-18T03:33:20Z"), "{}", e.message);
        assert_eq!(clock.elapsed(), Duration::ZERO);
    }

    #[test]
    fn reads_retry_after_and_reset() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let mut h = http::HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(rate_limit_wait(&h, now).unwrap().0, Duration::from_secs(7));
        let mut h = http::HeaderMap::new();
        h.insert("x-ratelimit-remaining", "0".parse().unwrap());
        h.insert("x-ratelimit-reset", "1010".parse().unwrap());
        assert_eq!(rate_limit_wait(&h, now).unwrap().0, Duration::from_secs(11));
        let mut h = http::HeaderMap::new();
        h.insert("x-ratelimit-remaining", "12".parse().unwrap());
        assert!(rate_limit_wait(&h, now).is_none());
    }
    #[tokio::test]
    async fn capped_bodies_stop_at_the_limit() {
        let chunks = |n: usize| {
            futures::stream::iter((0..n).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 10])))
        };
        let on_err = |e: std::io::Error| Error::remote(e.to_string());
        let ok = collect_capped(chunks(3), None, 30, "t", on_err)
            .await
            .unwrap();
        assert_eq!(ok.len(), 30);
        let e = collect_capped(chunks(4), None, 30, "github: GET /x", on_err)
            .await
            .unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::Remote);
        assert!(e.message.contains("github: GET /x"), "{}", e.message);
        // An announced length over the limit fails before reading anything.
        let never = futures::stream::pending::<std::result::Result<Vec<u8>, std::io::Error>>();
        let e = collect_capped(never, Some(MAX_BODY + 1), MAX_BODY, "t", on_err)
            .await
            .unwrap_err();
        assert!(e.message.contains("32 MiB"), "{}", e.message);
    }

    #[tokio::test]
    async fn reqwest_bodies_are_capped() {
        use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};
        install_crypto_provider();
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(100)))
            .mount(&server)
            .await;
        let get = || async { reqwest::get(server.uri()).await.unwrap() };
        let body = read_capped(get().await, 100, "coolify: GET /")
            .await
            .unwrap();
        assert_eq!(body.len(), 100);
        let e = read_capped(get().await, 99, "coolify: GET /")
            .await
            .unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::Remote);
        assert!(e.message.starts_with("coolify: GET /"), "{}", e.message);
        assert!(e.message.contains("larger than 99 bytes"), "{}", e.message);
    }
}
