//! The persistent side of the GitHub client's caches, so that a repeated
//! command costs (almost) nothing against the rate limit:
//!
//! - conditional-request entries: for each GET URL, the `ETag` and the body
//!   of the last `200` (a later run sends `If-None-Match`; GitHub's `304 Not
//!   Modified` does not count against the rate limit and the body is reused);
//! - peeled tags: tag object SHA → the commit it points at. A tag object is
//!   content-addressed and immutable, so the answer never goes stale.
//!
//! Everything lives under `<cache root>/github/<key>/`, where `<key>` is a
//! SHA-256 of the API URL and the token: answers are never shared between
//! tokens (what a token may see depends on it), and the token itself is never
//! stored. Directories are created `0700`, files `0600` (written to a
//! temporary file and renamed, so a reader never sees half a file). Any I/O
//! failure just means "not cached": the cache never makes a command fail.
//! Entries not rewritten for [`MAX_AGE`] are removed the first time a
//! process writes.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use secrecy::{ExposeSecret, SecretString};

/// Entries older than this are pruned.
pub const MAX_AGE: Duration = Duration::from_secs(14 * 24 * 3600);

/// Largest body kept on disk (bigger answers stay in memory only).
pub const MAX_ENTRY: usize = 8 << 20;

const PEELED: &str = "peeled-tags";

/// The on-disk cache of one (API URL, token) pair.
#[derive(Debug)]
pub struct DiskCache {
    dir: PathBuf,
    pruned: AtomicBool,
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    use sha2::Digest;
    let mut ctx = sha2::Sha256::new();
    for p in parts {
        ctx.update((p.len() as u64).to_le_bytes());
        ctx.update(p);
    }
    ctx.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The cache root: `$XDG_CACHE_HOME/almarel` (an absolute `XDG_CACHE_HOME`
/// only, as the XDG spec says), else `~/.cache/almarel` (an absolute `HOME`
/// only: a relative one would put the cache into the clone and dirty it);
/// `None` without either.
pub fn default_root(xdg_cache_home: Option<&str>, home: Option<&str>) -> Option<PathBuf> {
    match xdg_cache_home.map(Path::new).filter(|p| p.is_absolute()) {
        Some(x) => Some(x.join("almarel")),
        None => home
            .map(Path::new)
            .filter(|h| h.is_absolute())
            .map(|h| h.join(".cache").join("almarel")),
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        b.mode(0o700);
    }
    b.create(dir)
}

impl DiskCache {
    /// The cache for `api_url` and `token` under `root` (created on the first
    /// write). The directory name is a hash of both; the token is not kept.
    pub fn new(root: &Path, api_url: &str, token: &SecretString) -> DiskCache {
        let key = sha256_hex(&[
            b"almarel github cache v1",
            api_url.trim_end_matches('/').as_bytes(),
            token.expose_secret().as_bytes(),
        ]);
        DiskCache {
            dir: root.join("github").join(&key[..32]),
            pruned: AtomicBool::new(false),
        }
    }

    /// The directory holding this token's entries.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry_path(&self, url: &str) -> PathBuf {
        self.dir.join(&sha256_hex(&[url.as_bytes()])[..40])
    }

    /// The `ETag` and body last stored for `url`.
    pub fn get(&self, url: &str) -> Option<(String, String)> {
        let text = std::fs::read_to_string(self.entry_path(url)).ok()?;
        let (head, body) = text.split_once('\n')?;
        // The URL is stored too: a hash collision (or a stray file) is a miss.
        let (etag, stored_url) = head.split_once(' ')?;
        (stored_url == url && !etag.is_empty()).then(|| (etag.to_owned(), body.to_owned()))
    }

    /// Stores the `ETag` and body of a `200` answer to `url`.
    pub fn put(&self, url: &str, etag: &str, body: &str) {
        if body.len() > MAX_ENTRY || etag.contains(['\n', ' ']) || url.contains('\n') {
            return;
        }
        let mut text = String::with_capacity(etag.len() + url.len() + body.len() + 2);
        text.push_str(etag);
        text.push(' ');
        text.push_str(url);
        text.push('\n');
        text.push_str(body);
        self.write(&self.entry_path(url), text.as_bytes());
    }

    /// Every peeled tag recorded so far: tag object SHA → commit SHA.
    pub fn peeled(&self) -> HashMap<String, String> {
        let Ok(text) = std::fs::read_to_string(self.dir.join(PEELED)) else {
            return HashMap::new();
        };
        text.lines()
            .filter_map(|l| {
                let (t, c) = l.split_once(' ')?;
                let hex = |s: &str| {
                    matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
                };
                (hex(t) && hex(c)).then(|| (t.to_owned(), c.to_owned()))
            })
            .collect()
    }

    /// Adds peeled tags (tag object SHA, commit SHA) to the record.
    pub fn add_peeled(&self, new: &[(String, String)]) {
        if new.is_empty() {
            return;
        }
        let mut all = self.peeled();
        if new.iter().all(|(t, c)| all.get(t) == Some(c)) {
            return;
        }
        for (t, c) in new {
            all.insert(t.clone(), c.clone());
        }
        let mut lines: Vec<String> = all.into_iter().map(|(t, c)| format!("{t} {c}")).collect();
        lines.sort();
        let mut text = lines.join("\n");
        text.push('\n');
        self.write(&self.dir.join(PEELED), text.as_bytes());
    }

    fn write(&self, path: &Path, bytes: &[u8]) {
        if create_private_dir(&self.dir).is_err() {
            return;
        }
        self.prune_once();
        // tempfile creates the file 0600.
        let Ok(mut tmp) = tempfile::NamedTempFile::new_in(&self.dir) else {
            return;
        };
        if tmp.write_all(bytes).is_ok() {
            let _ = tmp.persist(path);
        }
    }

    /// Removes entries not rewritten for [`MAX_AGE`] (once per process).
    fn prune_once(&self) {
        if self.pruned.swap(true, Ordering::Relaxed) {
            return;
        }
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let now = SystemTime::now();
        for e in entries.flatten() {
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|age| age > MAX_AGE);
            if old {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn entries_round_trip_and_are_private_to_a_token() {
        let root = tempfile::tempdir().unwrap();
        let a = DiskCache::new(root.path(), "https://api.github.com", &token("ghp_A"));
        let b = DiskCache::new(root.path(), "https://api.github.com", &token("ghp_B"));
        let url = "https://api.github.com/repos/o/r/git/matching-refs/tags/v";
        assert_eq!(a.get(url), None);
        a.put(
            url,
            "W/\"abc\"",
            "[{\"ref\":\"refs/tags/v1\"}]\nsecond line",
        );
        assert_eq!(
            a.get(url),
            Some((
                "W/\"abc\"".to_owned(),
                "[{\"ref\":\"refs/tags/v1\"}]\nsecond line".to_owned()
            ))
        );
        // Another token sees nothing of it.
        assert_eq!(b.get(url), None);
        assert_ne!(a.dir(), b.dir());
        // The token is in no file name and no file.
        for e in walk(root.path()) {
            assert!(!e.to_string_lossy().contains("ghp_A"));
            if e.is_file() {
                let text = std::fs::read_to_string(&e).unwrap();
                assert!(!text.contains("ghp_A"), "{}", e.display());
            }
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(a.dir()), 0o700);
            for e in walk(a.dir()) {
                if e.is_file() {
                    assert_eq!(mode(&e), 0o600, "{}", e.display());
                }
            }
        }
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            }
            out.push(p);
        }
        out
    }

    #[test]
    fn peeled_tags_accumulate_and_junk_is_ignored() {
        let root = tempfile::tempdir().unwrap();
        let c = DiskCache::new(root.path(), "http://127.0.0.1:1", &token("t"));
        let (t1, c1) = ("a".repeat(40), "b".repeat(40));
        let (t2, c2) = ("c".repeat(40), "d".repeat(40));
        c.add_peeled(&[(t1.clone(), c1.clone())]);
        c.add_peeled(&[(t2.clone(), c2.clone())]);
        let p = c.peeled();
        assert_eq!(p.len(), 2);
        assert_eq!(p[&t1], c1);
        assert_eq!(p[&t2], c2);
        std::fs::write(c.dir().join(PEELED), "junk\nzz yy\n").unwrap();
        assert!(c.peeled().is_empty());
    }

    #[test]
    fn the_root_follows_xdg() {
        assert_eq!(
            default_root(Some("/x/cache"), Some("/home/j")),
            Some(PathBuf::from("/x/cache/almarel"))
        );
        assert_eq!(
            default_root(Some("relative"), Some("/home/j")),
            Some(PathBuf::from("/home/j/.cache/almarel"))
        );
        assert_eq!(default_root(None, None), None);
        assert_eq!(default_root(None, Some(".")), None);
        assert_eq!(default_root(Some("rel"), Some("home/j")), None);
    }
}
