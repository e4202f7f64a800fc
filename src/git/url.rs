//! Remote URLs: which GitHub repository a remote points at, which host it
//! lives on, and how to show a URL without the credentials it may embed.

/// The forms a git remote URL takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteKind {
    /// `https://host/...` (or plain `http://`).
    Http,
    /// `ssh://[user@]host[:port]/...` or scp-like `[user@]host:path`.
    Ssh,
    /// `git://host/...` (the unauthenticated git daemon protocol).
    Git,
    /// A path on this machine (`/srv/origin.git`, `../origin.git`, `file://...`).
    Local,
}

/// A remote URL split into what almarel needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteUrl {
    /// Transport.
    pub kind: RemoteKind,
    /// Host name (lowercase), absent for local paths.
    pub host: Option<String>,
    /// The repository path on the host, without leading `/` (and `~` for scp-like).
    pub path: String,
}

impl RemoteUrl {
    /// Splits `url` into transport, host and path. Unknown schemes are `None`.
    pub fn parse(url: &str) -> Option<RemoteUrl> {
        let url = url.trim();
        if url.is_empty() {
            return None;
        }
        if let Some((scheme, rest)) = url.split_once("://") {
            let kind = match scheme.to_ascii_lowercase().as_str() {
                "https" | "http" => RemoteKind::Http,
                "ssh" | "git+ssh" | "ssh+git" => RemoteKind::Ssh,
                "git" => RemoteKind::Git,
                "file" => {
                    return Some(RemoteUrl {
                        kind: RemoteKind::Local,
                        host: None,
                        path: rest.to_owned(),
                    });
                }
                _ => return None,
            };
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            let host = strip_port(host_port).to_ascii_lowercase();
            if host.is_empty() {
                return None;
            }
            return Some(RemoteUrl {
                kind,
                host: Some(host),
                path: path.to_owned(),
            });
        }
        // scp-like `[user@]host:path`: a colon before any slash.
        if let Some((before, path)) = url.split_once(':') {
            if !before.contains('/') && !before.is_empty() && !path.is_empty() {
                let host = before.rsplit_once('@').map_or(before, |(_, h)| h);
                // A single letter before the colon is a Windows drive (C:\...), not a host.
                if host.len() > 1 {
                    return Some(RemoteUrl {
                        kind: RemoteKind::Ssh,
                        host: Some(host.to_ascii_lowercase()),
                        path: path.trim_start_matches('/').to_owned(),
                    });
                }
            }
        }
        Some(RemoteUrl {
            kind: RemoteKind::Local,
            host: None,
            path: url.to_owned(),
        })
    }

    /// `owner/name` when the path is exactly two segments (an optional `.git`
    /// and trailing `/` removed) made of the characters GitHub allows.
    pub fn github_repository(&self) -> Option<String> {
        if self.kind == RemoteKind::Local {
            return None;
        }
        let path = self.path.split(['?', '#']).next().unwrap_or("");
        let path = path.trim_matches('/');
        let path = path.strip_suffix(".git").unwrap_or(path);
        let mut parts = path.split('/');
        let (owner, name) = (parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let ok = |s: &str| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        (ok(owner) && ok(name)).then(|| format!("{owner}/{name}"))
    }
}

fn strip_port(host_port: &str) -> &str {
    if let Some(rest) = host_port.strip_prefix('[') {
        // [::1]:22
        return rest.split(']').next().unwrap_or(rest);
    }
    match host_port.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host_port,
    }
}

/// `owner/name` from a GitHub remote URL: `https://github.com/o/n(.git)`,
/// `ssh://git@github.com/o/n.git`, scp-like `git@github.com:o/n.git`, with or
/// without `.git`, on github.com or any GitHub Enterprise host (the host is not
/// checked, so ssh host aliases work). Local paths and anything else: `None`.
pub fn github_repository_from_url(url: &str) -> Option<String> {
    RemoteUrl::parse(url)?.github_repository()
}

/// `url` without a password or token it may embed (`https://user:secret@host/...`
/// → `https://user:***@host/...`), for messages and the audit log.
pub fn display_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = match rest.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (rest, None),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _secret)) => format!("{user}:***@{host}"),
            None if scheme.starts_with("http") => format!("***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    match path {
        Some(p) => format!("{scheme}://{authority}/{p}"),
        None => format!("{scheme}://{authority}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_forms() {
        for url in [
            "https://github.com/almafrica/app",
            "https://github.com/almafrica/app.git",
            "https://github.com/almafrica/app/",
            "https://github.com/almafrica/app.git/",
            "http://github.com/almafrica/app.git",
            "https://x-access-token:abc@github.com/almafrica/app.git",
            "https://GitHub.com/almafrica/app",
        ] {
            assert_eq!(
                github_repository_from_url(url).as_deref(),
                Some("almafrica/app"),
                "{url}"
            );
        }
    }

    #[test]
    fn ssh_and_scp_forms() {
        for url in [
            "ssh://git@github.com/almafrica/app.git",
            "ssh://git@github.com/almafrica/app",
            "ssh://git@github.com:22/almafrica/app.git",
            "git@github.com:almafrica/app.git",
            "git@github.com:almafrica/app",
            "github.com:almafrica/app.git",
            "git@github-work:almafrica/app.git",
            "git@github.com:/almafrica/app.git",
        ] {
            assert_eq!(
                github_repository_from_url(url).as_deref(),
                Some("almafrica/app"),
                "{url}"
            );
        }
    }

    #[test]
    fn enterprise_hosts_and_dotted_names() {
        assert_eq!(
            github_repository_from_url("https://ghe.corp.example/team/my.repo.git").as_deref(),
            Some("team/my.repo")
        );
        assert_eq!(
            github_repository_from_url("git@ghe.corp.example:team/my-repo_2.git").as_deref(),
            Some("team/my-repo_2")
        );
        let u = RemoteUrl::parse("ssh://git@ghe.corp.example:2222/team/r.git").unwrap();
        assert_eq!(u.kind, RemoteKind::Ssh);
        assert_eq!(u.host.as_deref(), Some("ghe.corp.example"));
    }

    #[test]
    fn junk_is_none() {
        for url in [
            "",
            "   ",
            "/srv/git/origin.git",
            "../origin.git",
            "origin.git",
            "file:///srv/git/owner/name.git",
            "https://github.com/",
            "https://github.com/only-owner",
            "https://github.com/a/b/c",
            "https://github.com//name",
            "git@github.com:",
            "git@github.com:owner",
            "ftp://github.com/o/n.git",
            "https://github.com/o w/n",
            "https://github.com/../n",
            "C:\\repos\\o\\n",
            "not a url",
        ] {
            assert_eq!(github_repository_from_url(url), None, "{url:?}");
        }
    }

    #[test]
    fn kinds() {
        assert_eq!(
            RemoteUrl::parse("/tmp/origin.git").unwrap().kind,
            RemoteKind::Local
        );
        assert_eq!(
            RemoteUrl::parse("git://127.0.0.1:9418/origin.git")
                .unwrap()
                .kind,
            RemoteKind::Git
        );
        assert_eq!(
            RemoteUrl::parse("https://github.com/o/n").unwrap().kind,
            RemoteKind::Http
        );
    }

    #[test]
    fn display_url_hides_embedded_secrets() {
        assert_eq!(
            display_url("https://x-access-token:ghp_secret@github.com/o/n.git"),
            "https://x-access-token:***@github.com/o/n.git"
        );
        assert_eq!(
            display_url("https://ghp_secret@github.com/o/n.git"),
            "https://***@github.com/o/n.git"
        );
        assert_eq!(
            display_url("ssh://git@github.com/o/n.git"),
            "ssh://git@github.com/o/n.git"
        );
        assert_eq!(
            display_url("git@github.com:o/n.git"),
            "git@github.com:o/n.git"
        );
        assert_eq!(display_url("/srv/origin.git"), "/srv/origin.git");
    }
}
