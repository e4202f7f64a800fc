//! A minimal read of what production runs: `GET verify.version_url` and the
//! commit SHA in its JSON. Interim helper for `status` and `approve` until the
//! probe module (`src/probe.rs`) provides the full version probe; keep the
//! signature so the integration can swap the body.

use std::time::Duration;

use crate::context::Context;

/// JSON pointers tried when `verify.version_sha_pointer` is unset (SPEC §2).
pub const SHA_POINTERS: [&str; 6] = [
    "/commit",
    "/sha",
    "/commitSha",
    "/commit_sha",
    "/gitSha",
    "/git_sha",
];

/// What production runs: `Ok(Some(sha))`, `Ok(None)` when `verify.version_url`
/// is not configured, `Err(why)` when it could not be read (shown as
/// "unknown" with the reason; never fatal).
pub async fn production_sha(ctx: &Context) -> Result<Option<String>, String> {
    let Some(url) = ctx.settings.verify.version_url.clone() else {
        return Ok(None);
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let timeout = ctx.settings.verify.request_timeout;
    let client = reqwest::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let resp = client
        .get(&url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                format!(
                    "{url} did not answer within {}",
                    humantime::format_duration(timeout)
                )
            } else {
                format!("cannot reach {url}")
            }
        })?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("{url} answered {}", status.as_u16()));
    }
    let body: serde_json::Value = resp
        .json()
        .await
        .map_err(|_| format!("{url} did not answer JSON"))?;
    let pointers: Vec<String> = match &ctx.settings.verify.version_sha_pointer {
        Some(p) => vec![p.clone()],
        None => SHA_POINTERS.iter().map(|p| (*p).to_owned()).collect(),
    };
    pointers
        .iter()
        .find_map(|p| {
            body.pointer(p)
                .and_then(|v| v.as_str())
                .map(|s| s.trim().to_owned())
        })
        .filter(|s| s.len() >= 7 && s.chars().all(|c| c.is_ascii_hexdigit()))
        .map(Some)
        .ok_or_else(|| format!("no commit SHA at {} in {url}", pointers.join(" / ")))
}

/// Whether two SHAs name the same commit (case-insensitive; the shorter, 7+
/// characters, is a prefix of the other).
pub fn same_commit(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    a.len().min(b.len()) >= 7 && (a.starts_with(&b) || b.starts_with(&a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match() {
        assert!(same_commit("ABCDEF1234", "abcdef1"));
        assert!(!same_commit("abcdef1", "abcdef2"));
        assert!(!same_commit("abc", "abcdef1"));
    }
}
