//! The calls behind the trigger diagnosis (SPEC §8.2) and `--dispatch`:
//! a file's text at a commit (contents API), the repository's Actions
//! permissions, the repository's recent events (who pushed a tag), starting a
//! workflow by hand (`workflow_dispatch`), and finding the runs it started.
//!
//! Shapes: GitHub's OpenAPI description (github/rest-api-description,
//! `descriptions/api.github.com/api.github.com.json`): `repos/get-content`
//! (`content-file`), `actions/get-github-actions-permissions-repository`
//! (`actions-repository-permissions`), `activity/list-repo-events` (`event`,
//! `CreateEvent` payload), `actions/create-workflow-dispatch` (204), and
//! `actions/list-workflow-runs` (in `/work/shared/contracts/github/
//! operations.json`) with its `event` and `head_sha` filters.

use ::http::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Client, Run, WriteOutcome};
use crate::error::{Error, Result};

/// `actions-repository-permissions`: whether Actions may run at all, and
/// which actions may be used.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ActionsPermissions {
    /// `false`: Actions is disabled for the repository; no workflow starts.
    pub enabled: bool,
    /// `all`, `local_only` or `selected` (absent when disabled).
    #[serde(default)]
    pub allowed_actions: Option<String>,
}

/// One entry of `GET /repos/{o}/{r}/events` (`event`): only what the
/// diagnosis reads.
#[derive(Debug, Clone, Deserialize)]
pub struct RepoEvent {
    /// `CreateEvent`, `PushEvent`, ...
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Who did it (`github-actions[bot]` for the Actions `GITHUB_TOKEN`).
    pub actor: EventActor,
    /// The event's payload; for `CreateEvent`: `ref`, `ref_type`, `pusher_type`.
    #[serde(default)]
    pub payload: serde_json::Value,
    /// When GitHub recorded it.
    #[serde(default)]
    pub created_at: Option<String>,
}

/// `actor` of an event.
#[derive(Debug, Clone, Deserialize)]
pub struct EventActor {
    /// The login.
    pub login: String,
}

impl RepoEvent {
    /// Whether this is the creation (first push) of tag `tag`.
    pub fn creates_tag(&self, tag: &str) -> bool {
        self.kind.as_deref() == Some("CreateEvent")
            && self.payload.get("ref_type").and_then(|v| v.as_str()) == Some("tag")
            && self.payload.get("ref").and_then(|v| v.as_str()) == Some(tag)
    }

    /// `payload.pusher_type` (`user` or `deploy_key`), when present.
    pub fn pusher_type(&self) -> Option<&str> {
        self.payload.get("pusher_type").and_then(|v| v.as_str())
    }
}

/// `content-file`: only what is needed to get the text back.
#[derive(Debug, Deserialize)]
struct ContentFile {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    encoding: Option<String>,
    #[serde(default)]
    content: Option<String>,
}

impl Client {
    /// The text of `path` at `reference` (a commit SHA, branch or tag):
    /// `GET /contents/{path}?ref=…`. `None` when there is no such file there
    /// (404) or the path is a directory. Files over 1 MB (GitHub then sends
    /// no content) and non-UTF-8 files are errors naming the file.
    pub async fn file_at(&self, path: &str, reference: &str) -> Result<Option<String>> {
        let url = self.repo_url(&format!(
            "/contents/{}?ref={}",
            encode_path(path),
            encode_segment(reference)
        ));
        let Some(resp) = self.http.get_opt(&url).await? else {
            return Ok(None);
        };
        // A directory answers with an array.
        if resp.body.trim_start().starts_with('[') {
            return Ok(None);
        }
        let file: ContentFile = resp.json("file contents")?;
        if file.kind != "file" {
            return Ok(None);
        }
        let (Some("base64"), Some(content)) = (file.encoding.as_deref(), file.content) else {
            return Err(Error::remote(format!(
                "github: {path} at {reference} came without its content (files over 1 MB are not sent inline)"
            )));
        };
        let bytes = decode_base64(&content).ok_or_else(|| {
            Error::remote(format!(
                "github: the content of {path} at {reference} is not valid base64"
            ))
        })?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| Error::remote(format!("github: {path} at {reference} is not UTF-8 text")))
    }

    /// `GET /actions/permissions`: whether Actions is enabled for the
    /// repository and which actions it allows. Needs administration read
    /// (fine-grained: "Administration" read; classic: `repo`); a token without
    /// it gets a 403 error, which callers treat as "not known".
    pub async fn actions_permissions(&self) -> Result<ActionsPermissions> {
        self.http
            .get(&self.repo_url("/actions/permissions"))
            .await?
            .json("actions permissions")
    }

    /// The first page (up to 100) of the repository's recent events,
    /// newest first (`GET /events`). GitHub lists events 30 s to 6 h late.
    pub async fn repo_events(&self) -> Result<Vec<RepoEvent>> {
        self.http
            .get(&self.repo_url("/events?per_page=100"))
            .await?
            .json("repository events")
    }

    /// `POST /actions/workflows/{id}/dispatches` with `{"ref": reference}`
    /// (a branch or tag name; GitHub answers 204). Sent once; re-sent only
    /// after a rate-limit answer. A workflow without `workflow_dispatch`, a
    /// disabled one or an unknown ref is [`WriteOutcome::Refused`] (422 with
    /// GitHub's message).
    pub async fn dispatch_workflow(
        &self,
        workflow_id: u64,
        reference: &str,
    ) -> Result<WriteOutcome> {
        let url = self.repo_url(&format!("/actions/workflows/{workflow_id}/dispatches"));
        let body = json!({ "ref": reference });
        self.write_once(Method::POST, &url, Some(&body)).await
    }

    /// Runs of workflow `workflow_id` for commit `sha` started by
    /// `workflow_dispatch`, newest first (`?event=workflow_dispatch&head_sha=`).
    pub async fn dispatched_runs(&self, workflow_id: u64, sha: &str) -> Result<Vec<Run>> {
        let url = self.repo_url(&format!(
            "/actions/workflows/{workflow_id}/runs?event=workflow_dispatch&head_sha={sha}&per_page=100"
        ));
        let mut runs: Vec<Run> = self.http.get_all(&url, Some("workflow_runs")).await?;
        runs.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(runs)
    }
}

/// Percent-encodes one path segment or query value (RFC 3986 unreserved
/// characters stay).
pub(super) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes each segment of a repository path, keeping the `/`s.
fn encode_path(path: &str) -> String {
    path.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// Decodes standard base64 as the contents API sends it (with line breaks).
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let clean: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if clean.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    let chunks = clean.len() / 4;
    for (i, chunk) in clean.chunks(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != chunks) {
            return None;
        }
        let mut n: u32 = 0;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_as_the_contents_api_sends_it() {
        // Wrapped at 60 characters with a trailing newline, as GitHub sends it.
        let text = "IyBZb2dhIEJvZHkgaW4gcHJvZ3Jlc3MhIEZlZWwgdGhhdCB3YXRjaCB0aGlz\nIHNwYWNlLg==\n";
        assert_eq!(
            decode_base64(text).as_deref(),
            Some(&b"# Yoga Body in progress! Feel that watch this space."[..])
        );
        assert_eq!(decode_base64("YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(decode_base64("YWI=").as_deref(), Some(&b"ab"[..]));
        assert_eq!(decode_base64("YWJj").as_deref(), Some(&b"abc"[..]));
        assert_eq!(decode_base64(""), Some(Vec::new()));
        assert_eq!(decode_base64("YQ"), None);
        assert_eq!(decode_base64("Y$=="), None);
        assert_eq!(decode_base64("YQ==YWJj"), None);
    }

    #[test]
    fn paths_and_refs_are_encoded() {
        assert_eq!(
            encode_path(".github/workflows/ci.yml"),
            ".github/workflows/ci.yml"
        );
        assert_eq!(encode_path("a b/c#d.yml"), "a%20b/c%23d.yml");
        assert_eq!(encode_segment("release/v1+2"), "release%2Fv1%2B2");
    }
}
