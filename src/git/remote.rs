//! Talking to a git remote: credentials, fetching one branch, pushing one
//! ref, and saying why it failed (rejected, authentication, network, timeout).
//!
//! libgit2 calls are blocking; they run on a blocking thread with a deadline
//! (checked in the transfer callbacks, and enforced from outside for a
//! connection that hangs). libgit2 asks the credentials callback again after
//! each failed attempt, forever: every credential source is offered once, and
//! after that (or [`MAX_CREDENTIAL_CALLS`] calls) the operation fails as an
//! authentication error.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use git2::{AutotagOption, Cred, CredentialType, ErrorClass, ErrorCode, RemoteCallbacks};
use secrecy::{ExposeSecret, SecretString};

use super::url::{RemoteKind, RemoteUrl, display_url};
use crate::env::{self, Env};
use crate::error::Error;

/// The most times the credentials callback answers before giving up.
pub const MAX_CREDENTIAL_CALLS: usize = 8;

/// Default deadline of one fetch or push.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// What almarel may use to authenticate to a remote, and how long one
/// operation may take. Built from the environment; never printed.
#[derive(Clone)]
pub struct Access {
    home: Option<PathBuf>,
    token: Option<(SecretString, &'static str)>,
    token_hosts: Vec<String>,
    allow_insecure_http: bool,
    timeout: Duration,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("token", &self.token.as_ref().map(|(_, source)| source))
            .field("token_hosts", &self.token_hosts)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Access {
    /// Credentials from the environment: the ssh-agent, then `~/.ssh/id_ed25519`,
    /// `id_ecdsa`, `id_rsa` for ssh remotes; `GH_TOKEN`, else `GITHUB_TOKEN` (as
    /// user `x-access-token`) for https remotes on github.com or the host of
    /// `api_url` (GitHub Enterprise; plain http only to loopback), then the git
    /// credential helper.
    pub fn from_env(env: &Env, api_url: &str) -> Access {
        let token = env
            .get(env::GH_TOKEN)
            .map(|t| (SecretString::from(t), "GH_TOKEN"))
            .or_else(|| {
                env.get(env::GITHUB_TOKEN)
                    .map(|t| (SecretString::from(t), "GITHUB_TOKEN"))
            });
        let mut token_hosts = vec!["github.com".to_owned()];
        if let Some(h) = crate::auth::gh_hostname(api_url) {
            if !token_hosts.contains(&h) {
                token_hosts.push(h);
            }
        }
        Access {
            home: env.get(env::HOME).map(PathBuf::from),
            token,
            token_hosts,
            allow_insecure_http: false,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Whether the token may go over plain `http://` to a non-loopback host
    /// (`allow_insecure_http`); by default only https and loopback http get it.
    #[must_use]
    pub fn with_insecure_http(mut self, allow: bool) -> Access {
        self.allow_insecure_http = allow;
        self
    }

    /// Access with no credentials at all (local remotes, tests).
    pub fn anonymous() -> Access {
        Access {
            home: None,
            token: None,
            token_hosts: Vec::new(),
            allow_insecure_http: false,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The same access with another deadline per operation.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Access {
        self.timeout = timeout;
        self
    }

    /// The deadline of one operation.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The token's value, so the caller can register it with the redactor.
    pub fn token_value(&self) -> Option<&str> {
        self.token.as_ref().map(|(t, _)| t.expose_secret())
    }
}

/// Why talking to the remote failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// The remote refused the update (a hook, a protection rule, an existing ref).
    Rejected,
    /// No credential was accepted.
    Auth,
    /// The remote could not be reached or the connection broke.
    Network,
    /// The operation did not finish within its deadline.
    Timeout,
    /// Anything else libgit2 reported.
    Other,
}

impl FailureReason {
    /// The name used in `--json` (`rejected`, `auth`, `network`, `timeout`, `other`).
    pub fn name(self) -> &'static str {
        match self {
            FailureReason::Rejected => "rejected",
            FailureReason::Auth => "auth",
            FailureReason::Network => "network",
            FailureReason::Timeout => "timeout",
            FailureReason::Other => "other",
        }
    }
}

/// A failed fetch or push: why, and an [`Error`] (exit 4) that says so.
#[derive(Debug, Clone)]
pub struct RemoteFailure {
    /// The class of failure.
    pub reason: FailureReason,
    /// The user-facing error (kind `Remote`), with a hint.
    pub error: Error,
}

impl From<RemoteFailure> for Error {
    fn from(f: RemoteFailure) -> Error {
        f.error
    }
}

/// A tag as the remote advertises it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteTag {
    /// The commit it points at (peeled).
    pub commit: String,
    /// Whether it is an annotated tag object.
    pub annotated: bool,
}

/// What a fetch learned about the remote.
#[derive(Debug, Clone, Default)]
pub struct RemoteRefs {
    /// The branch's commit on the remote, when the branch exists there.
    pub branch: Option<String>,
    /// Every tag on the remote, by name.
    pub tags: BTreeMap<String, RemoteTag>,
    /// Which credential was used, if any (`ssh-agent`, `GH_TOKEN`, ...).
    pub auth_used: Option<String>,
}

/// What a successful push reported.
#[derive(Debug, Clone, Default)]
pub struct PushReport {
    /// Lines the remote printed (`remote: ...`).
    pub remote_messages: Vec<String>,
    /// Which credential was used, if any.
    pub auth_used: Option<String>,
}

#[derive(Default)]
struct CallState {
    tried: Vec<String>,
    used: Option<String>,
    exhausted: bool,
    timed_out: bool,
    rejected: Vec<(String, String)>,
    updated: Vec<String>,
    messages: Vec<String>,
}

enum SshCandidate {
    Agent,
    File(PathBuf),
}

enum PassCandidate {
    Token,
    Helper,
}

/// The remote callbacks shared by fetch and push: credentials (each source
/// once), deadline checks, remote messages, per-ref push results.
fn callbacks<'a>(
    access: &'a Access,
    config: Option<git2::Config>,
    state: Rc<RefCell<CallState>>,
    deadline: Instant,
    cancel: Arc<AtomicBool>,
) -> RemoteCallbacks<'a> {
    let mut cb = RemoteCallbacks::new();
    let mut calls = 0usize;
    let mut username_given = false;
    let mut ssh_queue: Option<VecDeque<SshCandidate>> = None;
    let mut pass_queue: Option<VecDeque<PassCandidate>> = None;
    let st = state.clone();
    cb.credentials(move |url, user_from_url, allowed| {
        calls += 1;
        let give_up = |st: &Rc<RefCell<CallState>>, why: &str| {
            st.borrow_mut().exhausted = true;
            Err(git2::Error::from_str(why))
        };
        if calls > MAX_CREDENTIAL_CALLS {
            return give_up(&st, "gave up after too many authentication attempts");
        }
        if allowed.contains(CredentialType::USERNAME) && !username_given {
            username_given = true;
            return Cred::username(user_from_url.unwrap_or("git"));
        }
        if allowed.contains(CredentialType::SSH_KEY) {
            let user = user_from_url.unwrap_or("git");
            let queue = ssh_queue.get_or_insert_with(|| {
                let mut q = VecDeque::from([SshCandidate::Agent]);
                if let Some(home) = &access.home {
                    for name in ["id_ed25519", "id_ecdsa", "id_rsa"] {
                        let p = home.join(".ssh").join(name);
                        if p.is_file() {
                            q.push_back(SshCandidate::File(p));
                        }
                    }
                }
                q
            });
            while let Some(c) = queue.pop_front() {
                let (label, cred) = match &c {
                    SshCandidate::Agent => ("ssh-agent".to_owned(), Cred::ssh_key_from_agent(user)),
                    SshCandidate::File(p) => {
                        let public = p.with_extension("pub");
                        let public = public.is_file().then_some(public);
                        (
                            format!(
                                "~/.ssh/{}",
                                p.file_name()
                                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
                            ),
                            Cred::ssh_key(user, public.as_deref(), p, None),
                        )
                    }
                };
                st.borrow_mut().tried.push(label.clone());
                if let Ok(cred) = cred {
                    st.borrow_mut().used = Some(label);
                    return Ok(cred);
                }
            }
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            let host = RemoteUrl::parse(url).and_then(|u| u.host);
            let queue = pass_queue.get_or_insert_with(|| {
                let mut q = VecDeque::new();
                let token_host = host
                    .as_ref()
                    .is_some_and(|h| access.token_hosts.contains(h));
                let safe_url =
                    crate::net::check_secret_url("remote", url, access.allow_insecure_http).is_ok();
                if access.token.is_some() && token_host && safe_url {
                    q.push_back(PassCandidate::Token);
                }
                if config.is_some() {
                    q.push_back(PassCandidate::Helper);
                }
                q
            });
            while let Some(c) = queue.pop_front() {
                match c {
                    PassCandidate::Token => {
                        if let Some((token, source)) = &access.token {
                            st.borrow_mut().tried.push(source.to_string());
                            if let Ok(cred) =
                                Cred::userpass_plaintext("x-access-token", token.expose_secret())
                            {
                                st.borrow_mut().used = Some(source.to_string());
                                return Ok(cred);
                            }
                        }
                    }
                    PassCandidate::Helper => {
                        if let Some(config) = &config {
                            st.borrow_mut().tried.push("git credential helper".into());
                            if let Ok(cred) = Cred::credential_helper(config, url, user_from_url) {
                                st.borrow_mut().used = Some("git credential helper".into());
                                return Ok(cred);
                            }
                        }
                    }
                }
            }
        }
        give_up(&st, "no accepted credentials")
    });
    let st = state.clone();
    let c = cancel.clone();
    cb.transfer_progress(move |_| {
        let go_on = Instant::now() < deadline && !c.load(Ordering::Relaxed);
        if !go_on {
            st.borrow_mut().timed_out = true;
        }
        go_on
    });
    let st = state.clone();
    let c = cancel;
    cb.sideband_progress(move |data| {
        let text = String::from_utf8_lossy(data);
        let mut s = st.borrow_mut();
        for line in text.split(['\n', '\r']) {
            let line = line.trim();
            if !line.is_empty() && !s.messages.iter().any(|m| m == line) {
                s.messages.push(line.to_owned());
            }
        }
        let go_on = Instant::now() < deadline && !c.load(Ordering::Relaxed);
        if !go_on {
            s.timed_out = true;
        }
        go_on
    });
    let st = state;
    cb.push_update_reference(move |refname, status| {
        let mut s = st.borrow_mut();
        match status {
            Some(why) => s.rejected.push((refname.to_owned(), why.to_owned())),
            None => s.updated.push(refname.to_owned()),
        }
        Ok(())
    });
    cb
}

/// The `http.<url>.extraheader` / `http.extraheader` values git config holds
/// for an http(s) `url` (libgit2 ignores them; `actions/checkout` stores the
/// job's token there). An empty value clears the ones before it, as in git.
fn extra_headers(config: Option<&git2::Config>, url: &str) -> Vec<String> {
    let Some(config) = config else {
        return Vec::new();
    };
    if RemoteUrl::parse(url).map(|u| u.kind) != Some(RemoteKind::Http) {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Ok(mut entries) = config.entries(Some(r"^http\..*extraheader$")) {
        while let Some(Ok(entry)) = entries.next() {
            let (Ok(name), Ok(value)) = (entry.name(), entry.value()) else {
                continue;
            };
            let Some(rest) = name.strip_prefix("http.") else {
                continue;
            };
            let Some(scope) = rest.strip_suffix("extraheader") else {
                continue;
            };
            let scope = scope.strip_suffix('.').unwrap_or(scope);
            let applies = scope.is_empty()
                || url.starts_with(scope)
                || url.starts_with(scope.trim_end_matches('/'));
            if !applies {
                continue;
            }
            if value.trim().is_empty() {
                out.clear();
            } else {
                out.push(value.to_owned());
            }
        }
    }
    out
}

/// Which remote, as shown in messages: `origin (url)`.
fn label(remote: &str, url: &str) -> String {
    format!("{remote} ({})", display_url(url))
}

fn auth_hint(url: &str) -> String {
    match RemoteUrl::parse(url).map(|u| u.kind) {
        Some(RemoteKind::Ssh) => "load your key into the ssh-agent (ssh-add ~/.ssh/id_ed25519) and check that the host knows it (ssh -T git@github.com), then re-run".into(),
        Some(RemoteKind::Http) => "set GH_TOKEN to a token that may push to the repository, or set up a git credential helper (gh auth setup-git), then re-run".into(),
        _ => "check the remote's URL (git remote -v) and your access to it, then re-run".into(),
    }
}

/// Turns a libgit2 failure into a [`RemoteFailure`].
fn classify(
    op: &str,
    remote: &str,
    url: &str,
    e: &git2::Error,
    state: &CallState,
    timeout: Duration,
) -> RemoteFailure {
    let who = label(remote, url);
    if state.timed_out {
        return RemoteFailure {
            reason: FailureReason::Timeout,
            error: Error::remote(format!(
                "{op} {who} did not finish within {}",
                humantime::format_duration(timeout)
            ))
            .with_hint("check your network connection, then re-run"),
        };
    }
    let msg = e.message().trim().trim_end_matches('.').to_owned();
    let lower = msg.to_ascii_lowercase();
    if e.code() == ErrorCode::Certificate || lower.contains("hostkey") {
        let hint = match RemoteUrl::parse(url).map(|u| u.kind) {
            Some(RemoteKind::Ssh) => {
                "the host's ssh key is not in ~/.ssh/known_hosts: connect once with ssh (ssh -T git@github.com) to check and add it, then re-run"
            }
            _ => {
                "the server's TLS certificate is not trusted: check the URL and your CA certificates (SSL_CERT_FILE), then re-run"
            }
        };
        return RemoteFailure {
            reason: FailureReason::Other,
            error: Error::remote(format!("cannot verify the identity of {who}: {msg}"))
                .with_hint(hint),
        };
    }
    let auth_like = state.exhausted
        || e.code() == ErrorCode::Auth
        || lower.contains("authentication")
        || lower.contains("401")
        || lower.contains("403")
        || lower.contains("permission denied")
        || lower.contains("credential");
    if auth_like {
        let tried = if state.tried.is_empty() {
            "no credentials were available".to_owned()
        } else {
            format!("tried {}", state.tried.join(", "))
        };
        return RemoteFailure {
            reason: FailureReason::Auth,
            error: Error::remote(format!("authentication to {who} failed ({tried}): {msg}"))
                .with_hint(auth_hint(url)),
        };
    }
    let network = matches!(
        e.class(),
        ErrorClass::Net | ErrorClass::Os | ErrorClass::Ssl | ErrorClass::Http | ErrorClass::Ssh
    ) || lower.contains("connect")
        || lower.contains("resolve")
        || lower.contains("timed out")
        || lower.contains("early eof");
    if network {
        return RemoteFailure {
            reason: FailureReason::Network,
            error: Error::remote(format!("cannot reach {who}: {msg}")).with_hint(
                "check your network connection and the remote's URL (git remote -v), then re-run",
            ),
        };
    }
    RemoteFailure {
        reason: FailureReason::Other,
        error: Error::remote(format!("{op} {who} failed: {msg}"))
            .with_hint("check the remote's URL (git remote -v), then re-run"),
    }
}

fn failure(reason: FailureReason, error: Error) -> RemoteFailure {
    RemoteFailure { reason, error }
}

fn local_failure(e: &git2::Error) -> RemoteFailure {
    failure(
        FailureReason::Other,
        Error::local(format!("git: {}", e.message().trim())),
    )
}

/// The remote's URL, or a usage error naming the missing remote.
pub(crate) fn find_remote<'r>(
    repo: &'r git2::Repository,
    remote: &str,
) -> Result<git2::Remote<'r>, Error> {
    repo.find_remote(remote).map_err(|_| {
        Error::usage(format!("this repository has no remote named `{remote}`"))
            .with_hint("check `git remote -v`, or set [git] remote in almarel.toml")
    })
}

/// Downloads `branch` from `remote` and lists the remote's refs. With
/// `update_tracking`, `refs/remotes/<remote>/<branch>` is updated like `git
/// fetch` does; without, no ref is written (objects are, harmlessly). Tags are
/// never fetched into the local repository.
pub(crate) fn fetch_blocking(
    git_dir: &Path,
    remote: &str,
    branch: &str,
    access: &Access,
    update_tracking: bool,
    cancel: Arc<AtomicBool>,
) -> Result<RemoteRefs, RemoteFailure> {
    fetch_blocking_with(
        git_dir,
        remote,
        branch,
        access,
        update_tracking,
        cancel,
        true,
    )
}

/// [`fetch_blocking`]; `read_local` allows reading a local remote directly
/// ([`read_local_remote`]).
pub(crate) fn fetch_blocking_with(
    git_dir: &Path,
    remote: &str,
    branch: &str,
    access: &Access,
    update_tracking: bool,
    cancel: Arc<AtomicBool>,
    read_local: bool,
) -> Result<RemoteRefs, RemoteFailure> {
    let repo = git2::Repository::open(git_dir).map_err(|e| local_failure(&e))?;
    let mut r = find_remote(&repo, remote).map_err(|e| failure(FailureReason::Other, e))?;
    let url = r.url().unwrap_or("").to_owned();
    if read_local {
        if let Some(refs) = read_local_remote(&repo, &url, remote, branch, update_tracking) {
            return refs;
        }
    }
    let config = repo.config().and_then(|mut c| c.snapshot()).ok();
    let state = Rc::new(RefCell::new(CallState::default()));
    let deadline = Instant::now() + access.timeout;
    let spec = format!("+refs/heads/{branch}:refs/remotes/{remote}/{branch}");
    let headers = extra_headers(config.as_ref(), &url);
    let header_refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    let mut fo = git2::FetchOptions::new();
    fo.remote_callbacks(callbacks(access, config, state.clone(), deadline, cancel))
        .download_tags(AutotagOption::None)
        .update_fetchhead(false)
        .custom_headers(&header_refs);
    let result = r.download(&[spec.as_str()], Some(&mut fo));
    drop(fo);
    if let Err(e) = result {
        return Err(classify(
            "fetching from",
            remote,
            &url,
            &e,
            &state.borrow(),
            access.timeout,
        ));
    }
    let mut refs = RemoteRefs {
        auth_used: state.borrow().used.clone(),
        ..RemoteRefs::default()
    };
    let mut direct = BTreeMap::new();
    let mut peeled = BTreeMap::new();
    let heads = r.list().map_err(|e| local_failure(&e))?;
    let branch_ref = format!("refs/heads/{branch}");
    for h in heads {
        let name = h.name();
        if name == branch_ref {
            refs.branch = Some(h.oid().to_string());
        } else if let Some(tag) = name.strip_prefix("refs/tags/") {
            match tag.strip_suffix("^{}") {
                Some(t) => peeled.insert(t.to_owned(), h.oid().to_string()),
                None => direct.insert(tag.to_owned(), h.oid().to_string()),
            };
        }
    }
    for (name, oid) in direct {
        let (commit, annotated) = match peeled.remove(&name) {
            Some(p) => (p, true),
            None => (oid, false),
        };
        refs.tags.insert(name, RemoteTag { commit, annotated });
    }
    let _ = r.disconnect();
    if update_tracking && refs.branch.is_some() {
        let mut cb = RemoteCallbacks::new();
        r.update_tips(
            Some(&mut cb),
            git2::RemoteUpdateFlags::empty(),
            AutotagOption::None,
            Some(&format!("almarel: fetch {remote} {branch}")),
        )
        .map_err(|e| local_failure(&e))?;
    }
    Ok(refs)
}

/// A remote that is a repository on this machine (an absolute path or a
/// `file://` URL), read directly when it has nothing to send: its branch's
/// commit is already here (or it has no such branch). libgit2's local
/// transport would list every ref first, opening each loose ref file three
/// times and reading every tag object to peel it; this reads the refs once,
/// takes a packed tag's peeled commit from `packed-refs`, and reads only the
/// header of a loose tag's object (and the tag object itself when annotated).
/// The answer is what the transport's advertisement would say. `None`: not
/// such a remote, or objects to download: the transport does it.
pub(crate) fn read_local_remote(
    repo: &git2::Repository,
    url: &str,
    remote: &str,
    branch: &str,
    update_tracking: bool,
) -> Option<Result<RemoteRefs, RemoteFailure>> {
    let u = RemoteUrl::parse(url)?;
    if u.kind != RemoteKind::Local || !Path::new(&u.path).is_absolute() {
        return None;
    }
    let origin = git2::Repository::open(&u.path).ok()?;
    let branch_oid = match origin.find_reference(&format!("refs/heads/{branch}")) {
        Ok(r) => Some(r.resolve().ok()?.target()?),
        Err(e) if e.code() == ErrorCode::NotFound => None,
        Err(_) => return None,
    };
    if let Some(oid) = branch_oid {
        if repo.find_commit(oid).is_err() {
            return None;
        }
    }
    let odb = origin.odb().ok()?;
    let mut refs = RemoteRefs {
        branch: branch_oid.map(|o| o.to_string()),
        ..RemoteRefs::default()
    };
    for r in origin.references_glob("refs/tags/*").ok()? {
        let r = r.ok()?;
        let Some(name) = r.name().ok().and_then(|n| n.strip_prefix("refs/tags/")) else {
            continue;
        };
        let name = name.to_owned();
        let r = r.resolve().ok()?;
        let oid = r.target()?;
        let tag = match r.target_peel() {
            Some(peeled) => RemoteTag {
                commit: peeled.to_string(),
                annotated: true,
            },
            None => {
                let (_, kind) = odb.read_header(oid).ok()?;
                if kind == git2::ObjectType::Tag {
                    let mut target = oid;
                    for _ in 0..16 {
                        match origin.find_tag(target) {
                            Ok(t) => target = t.target_id(),
                            Err(_) => break,
                        }
                    }
                    RemoteTag {
                        commit: target.to_string(),
                        annotated: true,
                    }
                } else {
                    RemoteTag {
                        commit: oid.to_string(),
                        annotated: false,
                    }
                }
            }
        };
        refs.tags.insert(name, tag);
    }
    if update_tracking {
        if let Some(oid) = branch_oid {
            let tracking = format!("refs/remotes/{remote}/{branch}");
            let current = repo.find_reference(&tracking).ok().and_then(|r| r.target());
            if current != Some(oid) {
                if let Err(e) = repo.reference(
                    &tracking,
                    oid,
                    true,
                    &format!("almarel: fetch {remote} {branch}"),
                ) {
                    return Some(Err(local_failure(&e)));
                }
            }
        }
    }
    Some(Ok(refs))
}

/// Pushes exactly `refspec` (never forced) to `remote`. A ref the remote
/// refuses (libgit2 still returns Ok then) is a [`FailureReason::Rejected`].
pub(crate) fn push_blocking(
    git_dir: &Path,
    remote: &str,
    refspec: &str,
    access: &Access,
    cancel: Arc<AtomicBool>,
) -> Result<PushReport, RemoteFailure> {
    let repo = git2::Repository::open(git_dir).map_err(|e| local_failure(&e))?;
    let mut r = find_remote(&repo, remote).map_err(|e| failure(FailureReason::Other, e))?;
    let url = r
        .pushurl()
        .ok()
        .flatten()
        .or_else(|| r.url().ok())
        .unwrap_or("")
        .to_owned();
    let config = repo.config().and_then(|mut c| c.snapshot()).ok();
    let state = Rc::new(RefCell::new(CallState::default()));
    let deadline = Instant::now() + access.timeout;
    let target = refspec
        .rsplit_once(':')
        .map_or(refspec, |(_, dst)| dst)
        .to_owned();
    let headers = extra_headers(config.as_ref(), &url);
    let header_refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    let mut po = git2::PushOptions::new();
    po.remote_callbacks(callbacks(access, config, state.clone(), deadline, cancel))
        .custom_headers(&header_refs);
    let result = r.push(&[refspec], Some(&mut po));
    drop(po);
    let s = state.borrow();
    if let Err(e) = result {
        return Err(classify("pushing to", remote, &url, &e, &s, access.timeout));
    }
    let remote_said = if s.messages.is_empty() {
        String::new()
    } else {
        format!(
            "; the remote said: {}",
            s.messages
                .iter()
                .map(|m| m.trim_start_matches("remote:").trim())
                .collect::<Vec<_>>()
                .join(" / ")
        )
    };
    if let Some((name, why)) = s.rejected.first() {
        return Err(failure(
            FailureReason::Rejected,
            Error::remote(format!(
                "{} rejected {name}: {why}{remote_said}",
                label(remote, &url)
            ))
            .with_hint(
                "the remote refused the tag (a tag protection rule or a server hook); fix that on the remote, then re-run",
            ),
        ));
    }
    if !s.updated.contains(&target) {
        return Err(failure(
            FailureReason::Other,
            Error::remote(format!(
                "{} did not confirm the update of {target}{remote_said}",
                label(remote, &url)
            ))
            .with_hint("check the remote (git ls-remote), then re-run"),
        ));
    }
    Ok(PushReport {
        remote_messages: s.messages.clone(),
        auth_used: s.used.clone(),
    })
}

/// Runs a blocking remote operation on a blocking thread; gives up (and asks
/// the operation to stop) when `limit` plus a grace period has passed, which
/// also covers a connection that hangs before any callback runs.
pub(crate) async fn run_with_deadline<T: Send + 'static>(
    what: String,
    limit: Duration,
    op: impl FnOnce(Arc<AtomicBool>) -> Result<T, RemoteFailure> + Send + 'static,
) -> Result<T, RemoteFailure> {
    let cancel = Arc::new(AtomicBool::new(false));
    let handle = tokio::task::spawn_blocking({
        let cancel = cancel.clone();
        move || op(cancel)
    });
    let grace = limit.min(Duration::from_secs(5));
    match tokio::time::timeout(limit + grace, handle).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(failure(
            FailureReason::Other,
            Error::local(format!("{what}: the git task stopped unexpectedly: {e}")),
        )),
        Err(_) => {
            cancel.store(true, Ordering::Relaxed);
            Err(failure(
                FailureReason::Timeout,
                Error::remote(format!(
                    "{what} did not finish within {}",
                    humantime::format_duration(limit)
                ))
                .with_hint("check your network connection, then re-run"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_that_never_answers_times_out() {
        // Accepts the connection, then says nothing.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for s in listener.incoming() {
                held.push(s);
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        repo.remote("origin", &format!("git://127.0.0.1:{port}/x.git"))
            .unwrap();
        let git_dir = repo.path().to_path_buf();
        let access = Access::anonymous().with_timeout(Duration::from_millis(500));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let started = Instant::now();
        let a = access.clone();
        let f = rt
            .block_on(run_with_deadline(
                "fetching from origin".into(),
                access.timeout(),
                move |cancel| fetch_blocking(&git_dir, "origin", "main", &a, false, cancel),
            ))
            .unwrap_err();
        assert_eq!(f.reason, FailureReason::Timeout, "{}", f.error);
        assert_eq!(f.error.kind, crate::error::Kind::Remote);
        assert!(
            f.error.message.contains("did not finish within 500ms"),
            "{}",
            f.error
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        // The stuck libgit2 call is abandoned (the binary exits the same way).
        rt.shutdown_background();
    }

    fn classify_with(e: git2::Error, url: &str, st: CallState) -> RemoteFailure {
        classify("pushing to", "origin", url, &e, &st, DEFAULT_TIMEOUT)
    }

    #[test]
    fn failures_are_classified_with_a_useful_hint() {
        let ssh = "git@github.com:acme/shop.git";
        let https = "https://x-access-token:ghp_abcdef@github.com/acme/shop.git";

        let f = classify_with(
            git2::Error::from_str("no accepted credentials"),
            ssh,
            CallState {
                exhausted: true,
                tried: vec!["ssh-agent".into(), "~/.ssh/id_ed25519".into()],
                ..CallState::default()
            },
        );
        assert_eq!(f.reason, FailureReason::Auth);
        assert!(
            f.error
                .message
                .contains("tried ssh-agent, ~/.ssh/id_ed25519"),
            "{}",
            f.error
        );
        assert!(f.error.hint().unwrap().contains("ssh-add"));

        let f = classify_with(
            git2::Error::new(
                ErrorCode::Auth,
                ErrorClass::Http,
                "unexpected http status code: 401",
            ),
            https,
            CallState::default(),
        );
        assert_eq!(f.reason, FailureReason::Auth);
        assert!(
            f.error.message.contains("no credentials were available"),
            "{}",
            f.error
        );
        assert!(
            !f.error.message.contains("ghp_abcdef"),
            "url secret shown: {}",
            f.error
        );
        assert!(f.error.hint().unwrap().contains("GH_TOKEN"));

        let f = classify_with(
            git2::Error::new(
                ErrorCode::GenericError,
                ErrorClass::Net,
                "failed to connect to github.com: Connection refused",
            ),
            https,
            CallState::default(),
        );
        assert_eq!(f.reason, FailureReason::Network);
        assert!(
            f.error.message.starts_with(
                "cannot reach origin (https://x-access-token:***@github.com/acme/shop.git)"
            ),
            "{}",
            f.error
        );

        let f = classify_with(
            git2::Error::new(
                ErrorCode::Certificate,
                ErrorClass::Ssh,
                "invalid or unknown remote ssh hostkey",
            ),
            ssh,
            CallState::default(),
        );
        assert_eq!(f.reason, FailureReason::Other);
        assert!(
            f.error
                .message
                .contains("cannot verify the identity of origin"),
            "{}",
            f.error
        );
        assert!(f.error.hint().unwrap().contains("known_hosts"));

        let f = classify_with(
            git2::Error::from_str("user cancelled"),
            ssh,
            CallState {
                timed_out: true,
                ..CallState::default()
            },
        );
        assert_eq!(f.reason, FailureReason::Timeout);
        assert!(
            f.error.message.contains("did not finish within 2m"),
            "{}",
            f.error
        );

        for f in [FailureReason::Rejected, FailureReason::Other] {
            assert!(!f.name().is_empty());
        }
        let e: Error = f.into();
        assert_eq!(e.kind, crate::error::Kind::Remote);
    }
}
