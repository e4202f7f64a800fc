//! reqwest plumbing shared by the Coolify client and the probes: the one
//! place the TLS crypto provider is installed, and response bodies read
//! with a size cap while they stream (SPEC §7.8).
//!
//! The cap and the crypto provider are [`crate::net`]'s; this module adds
//! the typed body error the probes need (a too-large answer fails a check
//! instead of the command).

/// The largest response body almarel reads (32 MiB).
pub const MAX_BODY: usize = crate::net::MAX_BODY as usize;

/// Installs rustls' ring provider for this process (idempotent). Every
/// client constructor calls it: reqwest is built with `rustls-no-provider`,
/// and tests may build a client in a process that never ran `main`.
pub fn install_crypto_provider() {
    crate::net::install_crypto_provider();
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// The body grew past the cap; reading stopped there.
    TooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The connection failed while reading.
    Network(reqwest::Error),
}

impl BodyError {
    /// A short reason, for messages (never a body).
    pub fn reason(&self) -> String {
        match self {
            BodyError::TooLarge { limit } => format!(
                "the answer is larger than {} MiB; almarel stopped reading it",
                limit / (1024 * 1024)
            ),
            BodyError::Network(e) if e.is_timeout() => "no complete answer in time".into(),
            BodyError::Network(_) => "the connection broke while reading the answer".into(),
        }
    }
}

/// Reads `resp`'s body chunk by chunk, failing as soon as it exceeds
/// `limit` bytes (a `Content-Length` over the limit fails before reading).
pub async fn read_capped(
    mut resp: reqwest::Response,
    limit: usize,
) -> std::result::Result<Vec<u8>, BodyError> {
    if resp
        .content_length()
        .is_some_and(|n| usize::try_from(n).map_or(true, |n| n > limit))
    {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Network)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// [`read_capped`], decoded as UTF-8 (invalid sequences replaced).
pub async fn read_capped_text(
    resp: reqwest::Response,
    limit: usize,
) -> std::result::Result<String, BodyError> {
    let bytes = read_capped(resp, limit).await?;
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}
