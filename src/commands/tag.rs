//! `almarel tag <VERSION>`: the runbook's "Before Tagging" checks, then an
//! annotated tag on HEAD, pushed alone (SPEC §3 "tag").
//!
//! Every check is evaluated and reported together. A tag already on the
//! remote at HEAD is success; a tag only local at HEAD (an earlier
//! `--no-push`, or a push that was cut off) is pushed now. If the push fails,
//! a tag this run created is deleted again so a re-run starts clean.

use serde::Serialize;
use serde_json::{Value, json};

use crate::audit::Actor;
use crate::cli::TagArgs;
use crate::context::Context;
use crate::error::{Error, Kind, Result};
use crate::git::{
    Access, CommitInfo, FailureReason, Head, RemoteFailure, RemoteRefs, Repo, TreeStatus,
    display_url,
};
use crate::ui::{Tone, table};
use crate::version::{ReleaseTag, ReleaseVersion, short_sha};

/// How many commit subjects the header lists before "… and N more".
const MAX_SUBJECTS: usize = 15;

/// One evaluated check.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Check {
    /// Short name (`branch`, `clean`, `up to date`, `tag`, `version`, `tagger`).
    pub(crate) name: &'static str,
    /// Whether it passed.
    pub(crate) ok: bool,
    /// What was found.
    pub(crate) detail: String,
    /// How to fix it, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fix: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            ok: true,
            detail: detail.into(),
            fix: None,
        }
    }
    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// What the tag's current state asks this run to do.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    /// Create the tag, then push it.
    Create,
    /// The tag exists locally at HEAD (annotated) but not on the remote: push it.
    Resume,
    /// On the remote at HEAD already: nothing to do.
    AlreadyTagged { local: bool, annotated: bool },
    /// The tag is in the way (another commit, or lightweight): refuse.
    Blocked,
}

/// The previous release tag reachable from HEAD and the commits since.
struct Since {
    tag: Option<String>,
    commits: Vec<CommitInfo>,
}

/// A step's outcome line on stdout (left out with `--quiet`, which keeps
/// only the final result).
fn step(ctx: &Context, line: &str) {
    if !ctx.settings.global.quiet {
        ctx.ui.result(line);
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Runs `almarel tag`.
pub async fn run(ctx: &Context, args: &TagArgs) -> Result<Value> {
    let s = &ctx.settings;
    let g = &s.git;
    let dry_run = s.global.dry_run;
    let version = ReleaseVersion::parse(&args.version, &g.tag_prefix, &g.prerelease)?;
    let tag = version.tag_name(&g.tag_prefix);
    let rerun = format!("almarel tag {version}");
    let repo = Repo::discover(&s.workdir)?;
    let url = repo.remote_url(&g.remote)?;
    let shown_url = display_url(&url);
    let head = repo.head()?;
    let Some(head_sha) = head.commit.clone() else {
        return Err(
            Error::usage("HEAD has no commit yet: there is nothing to tag")
                .with_hint("commit and push the release first"),
        );
    };
    let commit = repo.commit_info(&head_sha)?;

    let access =
        Access::from_env(&ctx.env, &s.github.api_url).with_insecure_http(s.allow_insecure_http);
    if let Some(t) = access.token_value() {
        ctx.ui.add_secret(t);
    }
    ctx.ui.progress(&format!(
        "fetching {} from {} ({shown_url})…",
        g.branch, g.remote
    ));
    // A dry run writes no ref, not even the remote-tracking branch.
    let fetched = if dry_run {
        repo.peek(&g.remote, &g.branch, &access).await
    } else {
        repo.fetch(&g.remote, &g.branch, &access).await
    };
    if let Ok(refs) = &fetched {
        if let Some(how) = &refs.auth_used {
            ctx.ui
                .detail(1, &format!("authenticated to {} with {how}", g.remote));
        }
    }
    let remote_refs = fetched.as_ref().ok();

    // Release tags, local and remote, by name → commit.
    let mut release: Vec<(ReleaseTag, String)> = repo.release_tags(&g.tag_prefix)?;
    if let Some(refs) = remote_refs {
        for (name, rt) in &refs.tags {
            if release.iter().any(|(t, _)| t.name == *name) {
                continue;
            }
            if let Some(t) = ReleaseTag::from_name(name, &g.tag_prefix) {
                release.push((t, rt.commit.clone()));
            }
        }
    }

    let local_tag = repo.local_tag(&tag)?;
    let remote_tag = remote_refs.and_then(|r| r.tags.get(&tag));
    let plan = match (&local_tag, remote_tag) {
        (None, None) => Plan::Create,
        (l, Some(r)) if r.commit == head_sha && l.as_ref().is_none_or(|l| l.commit == head_sha) => {
            Plan::AlreadyTagged {
                local: l.is_some(),
                annotated: r.annotated,
            }
        }
        (Some(l), None) if l.commit == head_sha && l.annotated => Plan::Resume,
        _ => Plan::Blocked,
    };

    let since = previous_release(&repo, &release, &tag, &head_sha)?;
    print_header(ctx, &tag, &commit, &head, &since);

    if let Plan::AlreadyTagged { local, annotated } = plan {
        let mut line = format!(
            "{} {tag} is already on {} at {} (HEAD): nothing to do",
            ctx.ui.mark(Tone::Ok),
            g.remote,
            commit.short
        );
        if !local {
            line.push_str(&format!(
                " (not in this clone: git fetch {} tag {tag})",
                g.remote
            ));
        }
        step(ctx, &line);
        if !annotated {
            ctx.ui.warn(&format!(
                "{tag} on {} is a lightweight tag, not an annotated one",
                g.remote
            ));
        }
        ctx.ui
            .result(&format!("already tagged: {tag} at {head_sha}"));
        ctx.ui.next(&format!("almarel status {tag} --watch"));
        gha_outputs(ctx, &tag, &head_sha, &version, true);
        return Ok(json!({
            "version": version.to_string(),
            "tag": tag,
            "sha": head_sha,
            "remote": g.remote,
            "pushed": true,
            "created": false,
            "already_tagged": true,
            "dry_run": dry_run,
            "commit": commit,
            "checks": [Check::pass("tag", format!("{tag} already on {} at HEAD", g.remote))],
        }));
    }

    let identity = repo.identity();
    let checks = evaluate(
        ctx,
        &Inputs {
            version: &version,
            tag: &tag,
            head: &head,
            head_sha: &head_sha,
            status: repo.status()?,
            fetched: &fetched,
            repo: &repo,
            release: &release,
            local_tag: local_tag.as_ref(),
            plan: &plan,
            identity: identity.as_ref().map(ToString::to_string),
        },
    )?;
    print_checks(ctx, &checks);

    let base = json!({
        "version": version.to_string(),
        "tag": tag,
        "sha": head_sha,
        "remote": g.remote,
        "commit": commit,
        "previous_tag": since.tag,
        "commits_since": since.commits.iter().map(|c| &c.subject).collect::<Vec<_>>(),
        "checks": checks,
        "dry_run": dry_run,
    });
    let with = |extra: Value| -> Value {
        let mut v = base.clone();
        if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
            o.extend(e);
        }
        v
    };

    if checks.iter().any(|c| !c.ok) {
        let data = with(json!({ "pushed": false, "created": false }));
        if let Err(f) = &fetched {
            return Err(Error::new(Kind::Remote, f.error.message.clone())
                .with_hint(f.error.hint.clone().unwrap_or_default())
                .with_data(with(json!({
                    "pushed": false,
                    "created": false,
                    "reason": f.reason.name(),
                }))));
        }
        let (message, hint) = refusal(&checks, &rerun);
        return Err(Error::refused(message).with_hint(hint).with_data(data));
    }

    let message = args
        .message
        .clone()
        .unwrap_or_else(|| format!("Release {tag}"));
    let refspec = format!("refs/tags/{tag}:refs/tags/{tag}");
    let tagger = identity.map(|i| i.to_string());

    if dry_run {
        let mut would = Vec::new();
        if plan == Plan::Create {
            would.push(format!(
                "create annotated tag {tag} on {} (message \"{message}\", tagger {})",
                commit.short,
                tagger.clone().unwrap_or_default()
            ));
        }
        if !args.no_push {
            would.push(format!("push {refspec} to {} ({shown_url})", g.remote));
        }
        if would.is_empty() {
            would.push(format!("nothing: {tag} already exists locally at HEAD"));
        }
        for w in &would {
            ctx.ui.result(&format!("dry run: would {w}"));
        }
        ctx.ui.result("dry run: nothing was changed");
        ctx.ui.next(&rerun);
        return Ok(with(
            json!({ "pushed": false, "created": false, "would": would }),
        ));
    }

    if plan == Plan::Resume {
        if args.message.is_some() {
            ctx.ui.warn(&format!(
                "--message ignored: {tag} already exists locally with its own message"
            ));
        }
        if args.no_push {
            ctx.ui.result(&format!(
                "{} {tag} already exists locally at {} (not pushed; --no-push)",
                ctx.ui.mark(Tone::Ok),
                commit.short
            ));
            ctx.ui.next(&rerun);
            return Ok(with(json!({ "pushed": false, "created": false })));
        }
    }

    let actor = Actor {
        git: tagger.clone(),
        github: None,
    };
    let created = plan == Plan::Create;
    if created {
        if let Err(e) = repo.create_annotated_tag(&tag, &head_sha, &message) {
            ctx.audit(
                "tag",
                &tag,
                Err(&e.message),
                actor,
                json!({ "sha": head_sha, "remote": g.remote, "created": false, "pushed": false }),
            );
            return Err(e.with_data(with(json!({ "pushed": false, "created": false }))));
        }
        ctx.done(format!("created local tag {tag} at {}", commit.short));
        step(
            ctx,
            &format!(
                "{} created annotated tag {tag} on {} (\"{}\")",
                ctx.ui.mark(Tone::Ok),
                commit.short,
                message.lines().next().unwrap_or("")
            ),
        );
    }

    if args.no_push {
        ctx.audit(
            "tag",
            &tag,
            Ok(()),
            actor,
            json!({ "sha": head_sha, "remote": g.remote, "created": true, "pushed": false }),
        );
        ctx.ui.result(&format!(
            "tagged {tag} at {head_sha} (local only, not pushed)"
        ));
        ctx.ui
            .next(&format!("{rerun}   # pushes the tag after the same checks"));
        gha_outputs(ctx, &tag, &head_sha, &version, false);
        return Ok(with(json!({ "pushed": false, "created": true })));
    }

    ctx.ui
        .progress(&format!("pushing {tag} to {} ({shown_url})…", g.remote));
    match repo.push_ref(&g.remote, &refspec, &access).await {
        Ok(report) => {
            ctx.done(format!("pushed {tag} to {}", g.remote));
            if let Some(how) = &report.auth_used {
                ctx.ui
                    .detail(1, &format!("authenticated to {} with {how}", g.remote));
            }
            for m in &report.remote_messages {
                ctx.ui.detail(
                    1,
                    &format!("remote: {}", m.trim_start_matches("remote:").trim()),
                );
            }
            ctx.audit(
                "tag",
                &tag,
                Ok(()),
                actor,
                json!({
                    "sha": head_sha,
                    "remote": g.remote,
                    "url": shown_url,
                    "created": created,
                    "pushed": true,
                    "resumed": !created,
                }),
            );
            step(
                ctx,
                &format!(
                    "{} pushed {tag} to {} (that tag only){}",
                    ctx.ui.mark(Tone::Ok),
                    g.remote,
                    if created {
                        ""
                    } else {
                        " (resumed: the tag was already local)"
                    }
                ),
            );
            ctx.ui.result(&format!("tagged {tag} at {head_sha}"));
            ctx.ui.next(&format!("almarel status {tag} --watch"));
            gha_outputs(ctx, &tag, &head_sha, &version, true);
            Ok(with(
                json!({ "pushed": true, "created": created, "resumed": !created }),
            ))
        }
        Err(f) => Err(push_failed(
            ctx,
            &repo,
            f,
            &PushFailure {
                tag: &tag,
                sha: &head_sha,
                created,
                actor,
                rerun: &rerun,
                data: with(json!({ "pushed": false, "created": false })),
            },
        )),
    }
}

/// The refusal's message and hint: the one failing check itself, or a count
/// naming them. Re-running the same version is suggested only when the
/// version is not what is wrong.
fn refusal(checks: &[Check], rerun: &str) -> (String, String) {
    let failed: Vec<&Check> = checks.iter().filter(|c| !c.ok).collect();
    let version_at_fault = failed
        .iter()
        .any(|c| c.name == "version" || c.name == "tag");
    if let [only] = failed.as_slice() {
        let fix = only.fix.clone().unwrap_or_default();
        let hint = if version_at_fault {
            fix
        } else {
            format!("{fix}, then re-run: {rerun}")
        };
        return (only.detail.clone(), hint);
    }
    let message = format!(
        "{} of {} checks failed: {}",
        failed.len(),
        checks.len(),
        failed.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
    );
    let hint = if version_at_fault {
        "fix the items marked ✗ above, then re-run almarel tag with a free version".to_owned()
    } else {
        format!("fix the items marked ✗ above, then re-run: {rerun}")
    };
    (message, hint)
}

struct PushFailure<'a> {
    tag: &'a str,
    sha: &'a str,
    created: bool,
    actor: Actor,
    rerun: &'a str,
    data: Value,
}

/// A push failed: delete the tag this run created, log the attempt, and say why.
fn push_failed(ctx: &Context, repo: &Repo, f: RemoteFailure, p: &PushFailure<'_>) -> Error {
    let remote = &ctx.settings.git.remote;
    let mut after = Vec::new();
    let mut kept_local = false;
    if p.created {
        match repo.delete_tag(p.tag) {
            Ok(()) => {
                ctx.done(format!("deleted local tag {} again", p.tag));
                after.push(format!("the local tag {} was deleted again", p.tag));
            }
            Err(e) => {
                kept_local = true;
                ctx.ui.warn(&format!(
                    "could not delete the local tag {} again: {}; delete it with: git tag -d {}",
                    p.tag, e.message, p.tag
                ));
            }
        }
    } else {
        kept_local = true;
        after.push(format!(
            "the local tag {} was there before this run and is kept",
            p.tag
        ));
    }
    ctx.audit(
        "tag",
        p.tag,
        Err(&format!("push {}: {}", f.reason.name(), f.error.message)),
        p.actor.clone(),
        json!({
            "sha": p.sha,
            "remote": remote,
            "created": p.created,
            "pushed": false,
            "reason": f.reason.name(),
        }),
    );
    let mut hint = f.error.hint.clone().unwrap_or_default();
    if f.reason == FailureReason::Timeout {
        hint = format!(
            "the remote may still have received the tag; re-run `{}`: it says \"already tagged\" if so",
            p.rerun
        );
    } else if !hint.is_empty() && !hint.contains(p.rerun) {
        hint = hint.replace("then re-run", &format!("then re-run: {}", p.rerun));
    }
    let mut message = f.error.message.clone();
    if !after.is_empty() {
        message = format!("{message} ({})", after.join("; "));
    }
    let mut data = p.data.clone();
    if let Some(o) = data.as_object_mut() {
        o.insert("reason".into(), json!(f.reason.name()));
        o.insert("local_tag_kept".into(), json!(kept_local));
    }
    Error::new(Kind::Remote, message)
        .with_hint(hint)
        .with_data(data)
}

struct Inputs<'a> {
    version: &'a ReleaseVersion,
    tag: &'a str,
    head: &'a Head,
    head_sha: &'a str,
    status: TreeStatus,
    fetched: &'a std::result::Result<RemoteRefs, RemoteFailure>,
    repo: &'a Repo,
    release: &'a [(ReleaseTag, String)],
    local_tag: Option<&'a crate::git::LocalTag>,
    plan: &'a Plan,
    identity: Option<String>,
}

/// Evaluates every check (none stops the others).
fn evaluate(ctx: &Context, i: &Inputs<'_>) -> Result<Vec<Check>> {
    let g = &ctx.settings.git;
    let (remote, branch) = (&g.remote, &g.branch);
    let mut checks = vec![
        check_branch(branch, i.head, i.head_sha),
        check_clean(&i.status),
        check_up_to_date(ctx, i.repo, i.fetched, i.head_sha)?,
    ];

    // The tag itself.
    let remote_tag = i.fetched.as_ref().ok().and_then(|r| r.tags.get(i.tag));
    let here = short_sha(i.head_sha);
    checks.push(match i.plan {
        Plan::Create => {
            let detail = if i.fetched.is_ok() {
                format!("{} exists neither locally nor on {remote}", i.tag)
            } else {
                format!("{} does not exist locally ({remote} not checked)", i.tag)
            };
            Check::pass("tag", detail)
        }
        Plan::Resume if i.fetched.is_ok() => Check::pass(
            "tag",
            format!(
                "{} exists locally at HEAD, not yet on {remote}: it will be pushed",
                i.tag
            ),
        ),
        Plan::Resume => Check::pass(
            "tag",
            format!("{} exists locally at HEAD ({remote} not checked)", i.tag),
        ),
        Plan::AlreadyTagged { .. } => Check::pass("tag", format!("{} already at HEAD", i.tag)),
        Plan::Blocked => {
            let mut wheres = Vec::new();
            let same_elsewhere = matches!(
                (i.local_tag, remote_tag),
                (Some(l), Some(r)) if l.commit == r.commit && l.commit != i.head_sha
            );
            if same_elsewhere {
                if let Some(l) = i.local_tag {
                    wheres.push(format!("locally and on {remote} at {}", short_sha(&l.commit)));
                }
            } else {
                if let Some(l) = i.local_tag {
                    if l.commit != i.head_sha {
                        wheres.push(format!("locally at {}", short_sha(&l.commit)));
                    } else if !l.annotated {
                        wheres.push("locally at HEAD as a lightweight tag".to_owned());
                    }
                }
                if let Some(r) = remote_tag {
                    if r.commit != i.head_sha {
                        wheres.push(format!("on {remote} at {}", short_sha(&r.commit)));
                    }
                }
            }
            let lightweight_only = i.local_tag.is_some_and(|l| l.commit == i.head_sha && !l.annotated)
                && remote_tag.is_none();
            let fix = if lightweight_only {
                format!("almarel pushes annotated tags only: delete it (git tag -d {})", i.tag)
            } else if remote_tag.is_some_and(|r| r.commit != i.head_sha) {
                "that version is taken: choose the next version".to_owned()
            } else {
                format!(
                    "if the local tag is a leftover, delete it (git tag -d {}); else choose the next version",
                    i.tag
                )
            };
            Check::fail(
                "tag",
                if lightweight_only {
                    format!("{} already exists {}", i.tag, wheres.join(" and "))
                } else {
                    format!(
                        "{} already exists {} (HEAD is {here})",
                        i.tag,
                        wheres.join(" and ")
                    )
                },
                fix,
            )
        }
    });

    checks.push(check_version(i.version, i.tag, i.head_sha, i.release));

    // Who signs the tag (only needed when creating one).
    if *i.plan != Plan::Resume {
        checks.push(match &i.identity {
            Some(id) => Check::pass("tagger", id.clone()),
            None => Check::fail(
                "tagger",
                "no git identity (user.name and user.email) to sign the tag",
                "git config user.name \"Your Name\"; git config user.email you@example.com",
            ),
        });
    }
    Ok(checks)
}

/// The "branch" check: HEAD is on `branch` (shared with `checklist`).
pub(crate) fn check_branch(branch: &str, head: &Head, head_sha: &str) -> Check {
    let i = BranchInputs { head, head_sha };
    match &i.head.branch {
        Some(b) if b == branch => Check::pass("branch", format!("on {branch}")),
        Some(b) => Check::fail(
            "branch",
            format!("on branch {b}, not {branch}"),
            format!("git switch {branch}"),
        ),
        None => Check::fail(
            "branch",
            format!(
                "HEAD is detached at {}, not on {branch}",
                short_sha(i.head_sha)
            ),
            format!("git switch {branch}"),
        ),
    }
}

struct BranchInputs<'a> {
    head: &'a Head,
    head_sha: &'a str,
}

/// The "clean" check: no staged, modified, untracked (not ignored) or
/// conflicted file (shared with `checklist`).
pub(crate) fn check_clean(status: &TreeStatus) -> Check {
    let st = status;
    if st.is_clean() {
        Check::pass("clean", "working tree clean")
    } else {
        let mut parts = Vec::new();
        for (n, what) in [
            (st.staged.len(), "staged"),
            (st.unstaged.len(), "modified"),
            (st.untracked.len(), "untracked"),
            (st.conflicted.len(), "conflicted"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        let mut paths: Vec<&String> = st
            .staged
            .iter()
            .chain(&st.unstaged)
            .chain(&st.untracked)
            .chain(&st.conflicted)
            .collect();
        paths.sort();
        paths.dedup();
        let shown: Vec<&str> = paths.iter().take(5).map(|p| p.as_str()).collect();
        let more = if paths.len() > 5 {
            format!(", … {} more", paths.len() - 5)
        } else {
            String::new()
        };
        Check::fail(
            "clean",
            format!(
                "working tree has {}: {} ({}{more})",
                plural(st.file_count(), "changed file", "changed files"),
                parts.join(", "),
                shown.join(", ")
            ),
            "commit or stash them (untracked files: remove them or add them to .gitignore)",
        )
    }
}

/// The "up to date" check: the remote was read and HEAD equals
/// `<remote>/<branch>` there (shared with `checklist`).
pub(crate) fn check_up_to_date(
    ctx: &Context,
    repo: &Repo,
    fetched: &std::result::Result<RemoteRefs, RemoteFailure>,
    head_sha: &str,
) -> Result<Check> {
    let g = &ctx.settings.git;
    let (remote, branch) = (&g.remote, &g.branch);
    let tracking = format!("{remote}/{branch}");
    let i = UpToDateInputs {
        repo,
        fetched,
        head_sha,
    };
    Ok(match i.fetched {
        Err(f) => Check::fail(
            "up to date",
            format!("cannot compare with {tracking}: {}", f.error.message),
            f.error
                .hint
                .clone()
                .unwrap_or_else(|| "check the remote".into()),
        ),
        Ok(refs) => match &refs.branch {
            None => Check::fail(
                "up to date",
                format!("{remote} has no branch {branch}"),
                format!("push {branch} first: git push {remote} {branch}"),
            ),
            Some(rsha) if rsha == i.head_sha => Check::pass(
                "up to date",
                format!("HEAD = {tracking} ({})", short_sha(rsha)),
            ),
            Some(rsha) => {
                let (ahead, behind) = if i.repo.has_commit(rsha) {
                    i.repo.ahead_behind(i.head_sha, rsha)?
                } else {
                    (0, 0)
                };
                match (ahead, behind) {
                    (0, 0) => Check::fail(
                        "up to date",
                        format!(
                            "HEAD {} differs from {tracking} {}",
                            short_sha(i.head_sha),
                            short_sha(rsha)
                        ),
                        format!("git pull --ff-only {remote} {branch}"),
                    ),
                    (a, 0) => Check::fail(
                        "up to date",
                        format!(
                            "HEAD is {} ahead of {tracking}: not pushed yet",
                            plural(a, "commit", "commits")
                        ),
                        format!(
                            "tag what is on {tracking}: merge and push first (git push {remote} {branch})"
                        ),
                    ),
                    (0, b) => Check::fail(
                        "up to date",
                        format!(
                            "HEAD is {} behind {tracking}",
                            plural(b, "commit", "commits")
                        ),
                        format!("git pull --ff-only {remote} {branch}"),
                    ),
                    (a, b) => Check::fail(
                        "up to date",
                        format!("HEAD and {tracking} have diverged: {a} ahead, {b} behind"),
                        format!(
                            "reset {branch} to {tracking} or reconcile them (git pull --rebase {remote} {branch})"
                        ),
                    ),
                }
            }
        },
    })
}

struct UpToDateInputs<'a> {
    repo: &'a Repo,
    fetched: &'a std::result::Result<RemoteRefs, RemoteFailure>,
    head_sha: &'a str,
}

/// The "version" check: `version` is above every release tag in `release`
/// other than `tag` at `head_sha` itself (shared with `checklist`).
pub(crate) fn check_version(
    version: &ReleaseVersion,
    tag: &str,
    head_sha: &str,
    release: &[(ReleaseTag, String)],
) -> Check {
    let i = VersionInputs {
        version,
        tag,
        head_sha,
        release,
    };
    let others: Vec<&(ReleaseTag, String)> = i
        .release
        .iter()
        .filter(|(t, sha)| !(t.name == i.tag && sha == i.head_sha))
        .collect();
    let highest = others.iter().max_by(|a, b| a.0.version.cmp(&b.0.version));
    match highest {
        None => Check::pass("version", format!("{} is the first release tag", i.version)),
        Some((t, _)) if i.version.0 > t.version => Check::pass(
            "version",
            format!("{} is above the highest release tag {}", i.version, t.name),
        ),
        Some((t, _)) => Check::fail(
            "version",
            format!(
                "{} is not above the highest release tag {}",
                i.version, t.name
            ),
            format!(
                "choose a version above {}, e.g. almarel tag {}",
                t.version,
                suggest(&t.version)
            ),
        ),
    }
}

struct VersionInputs<'a> {
    version: &'a ReleaseVersion,
    tag: &'a str,
    head_sha: &'a str,
    release: &'a [(ReleaseTag, String)],
}

/// The next version after `v`: the final of an rc, else the next patch.
fn suggest(v: &semver::Version) -> String {
    if v.pre.is_empty() {
        format!("{}.{}.{}", v.major, v.minor, v.patch + 1)
    } else {
        format!("{}.{}.{}", v.major, v.minor, v.patch)
    }
}

/// The highest release tag reachable from HEAD (other than `tag` itself) and
/// the commits since it.
fn previous_release(
    repo: &Repo,
    release: &[(ReleaseTag, String)],
    tag: &str,
    head_sha: &str,
) -> Result<Since> {
    // Highest version first, stopping at the first reachable one: one
    // reachability walk in the usual case instead of one per release tag
    // (2,000 tags × a 20,000-commit history took minutes).
    let mut candidates: Vec<&(ReleaseTag, String)> =
        release.iter().filter(|e| e.0.name != tag).collect();
    candidates.sort_by(|a, b| b.0.version.cmp(&a.0.version));
    let mut prev = None;
    for entry in candidates {
        if !repo.has_commit(&entry.1) {
            continue;
        }
        if entry.1 == head_sha || repo.is_ancestor(&entry.1, head_sha)? {
            prev = Some(entry);
            break;
        }
    }
    Ok(match prev {
        Some((t, sha)) => Since {
            tag: Some(t.name.clone()),
            commits: repo.commits_between(Some(sha), head_sha)?,
        },
        None => Since {
            tag: None,
            commits: repo.commits_between(None, head_sha)?,
        },
    })
}

fn print_header(ctx: &Context, tag: &str, c: &CommitInfo, head: &Head, since: &Since) {
    let ui = &ctx.ui;
    if ctx.settings.global.quiet {
        return;
    }
    let on = head.branch.as_deref().unwrap_or("detached HEAD");
    ui.result(&format!(
        "{} {} on {} ({on})",
        ui.paint(Tone::Bold, "tag"),
        ui.paint(Tone::Bold, tag),
        c.short
    ));
    ui.result(&format!("  commit  {} {}", c.short, c.subject));
    ui.result(&format!("  author  {}", c.author));
    let n = since.commits.len();
    let count = plural(n, "commit", "commits");
    ui.result(&match &since.tag {
        Some(t) if n == 0 => format!("  since   {t}: no new commits (same commit)"),
        Some(t) => format!("  since   {t}: {count}"),
        None => format!("  since   no earlier release tag: {count} in history"),
    });
    for sub in since.commits.iter().take(MAX_SUBJECTS) {
        ui.result(&format!(
            "          {} {}",
            ui.paint(Tone::Dim, &sub.short),
            sub.subject
        ));
    }
    if n > MAX_SUBJECTS {
        ui.result(&format!("          … and {} more", n - MAX_SUBJECTS));
    }
}

/// One line per check (with `--quiet`, only the failing ones).
fn print_checks(ctx: &Context, checks: &[Check]) {
    let ui = &ctx.ui;
    let shown: Vec<&Check> = checks
        .iter()
        .filter(|c| !c.ok || !ctx.settings.global.quiet)
        .collect();
    if shown.is_empty() {
        return;
    }
    let checks = shown;
    let rows: Vec<Vec<String>> = checks
        .iter()
        .map(|c| {
            vec![
                format!("  {}", ui.mark(if c.ok { Tone::Ok } else { Tone::Fail })),
                c.name.to_owned(),
                c.detail.clone(),
            ]
        })
        .collect();
    let name_width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    ui.result("checks");
    for (line, c) in table(&rows).iter().zip(&checks) {
        ui.result(line);
        if let Some(fix) = &c.fix {
            ui.result(&format!(
                "{}{} {fix}",
                " ".repeat(5 + name_width + 2),
                ui.paint(Tone::Dim, "→")
            ));
        }
    }
}

fn gha_outputs(ctx: &Context, tag: &str, sha: &str, version: &ReleaseVersion, pushed: bool) {
    let ui = &ctx.ui;
    if !ui.in_github_actions() {
        return;
    }
    for (k, v) in [
        ("tag", tag),
        ("sha", sha),
        ("version", &version.to_string()),
    ] {
        if let Err(e) = ui.output(k, v) {
            ui.warn(&e.message);
        }
    }
    let state = if pushed {
        "pushed to"
    } else {
        "created locally, not pushed to"
    };
    if let Err(e) = ui.summary(&format!(
        "### almarel tag\n\n`{tag}` on `{}` — {state} `{}`.\n\nNext: `almarel status {tag} --watch`\n",
        short_sha(sha),
        ctx.settings.git.remote
    )) {
        ui.warn(&e.message);
    }
}
