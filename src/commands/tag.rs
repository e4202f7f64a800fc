//! `almarel tag <VERSION>`: the runbook's "Before Tagging" checks, then an
//! annotated tag on HEAD, pushed alone (SPEC §3 "tag").
//!
//! Every check is evaluated and reported together. A tag already on the
//! remote at HEAD is success; a tag only local at HEAD (an earlier
//! `--no-push`, or a push that was cut off) is pushed now. If the push fails,
//! a tag this run created is deleted again so a re-run starts clean.

use serde::Serialize;

use crate::audit::{Actor, AuditEntry};
use crate::context::Context;
use crate::error::{Error, Kind, Result};
use crate::git::{
    Access, CommitInfo, FailureReason, Head, RemoteFailure, RemoteRefs, Repo, TreeStatus,
    display_url,
};
use crate::release::preflight::{self, plural};
use crate::report::Check;
use crate::report::{Next, PlanItem, Report};
use crate::ui::{Tone, Ui, table};
use crate::version::{ReleaseTag, ReleaseVersion, short_sha};

/// How many commit subjects the header lists before "… and N more".
const MAX_SUBJECTS: usize = 15;

/// What `almarel tag` is asked to do (resolved from the flags by
/// [`crate::resolve::tag`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The version to tag.
    pub version: ReleaseVersion,
    /// The tag message (default `Release <tag>`).
    pub message: Option<String>,
    /// Push the tag (false with `--no-push`).
    pub push: bool,
    /// Accept a version that skips releases (`--allow-gap`).
    pub allow_gap: bool,
    /// Accept a HEAD that already carries a final release tag
    /// (`--allow-same-commit`).
    pub allow_same_commit: bool,
}

/// The result of `almarel tag` (its `--json` object; see `docs/json.md`).
#[derive(Debug, Clone, Serialize)]
pub struct TagReport {
    /// The version, without prefix.
    pub version: String,
    /// The tag name.
    pub tag: String,
    /// HEAD's full SHA.
    pub sha: String,
    /// The git remote.
    pub remote: String,
    /// HEAD's commit.
    pub commit: CommitInfo,
    /// The previous release tag reachable from HEAD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_tag: Option<String>,
    /// Subjects of the commits since it.
    pub commits_since: Vec<String>,
    /// The checks, each with its fix when it failed.
    pub checks: Vec<Check>,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// What a dry run would do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<PlanItem>>,
    /// Whether this run created the tag.
    pub created: bool,
    /// Whether the tag is on the remote now.
    pub pushed: bool,
    /// Whether it was already on the remote at HEAD (nothing to do).
    pub already_tagged: bool,
    /// Whether this run pushed a tag that was already local.
    pub resumed: bool,
    #[serde(skip)]
    lines: Vec<String>,
    #[serde(skip)]
    next: Option<Next>,
    #[serde(skip)]
    summary: Option<String>,
}

impl Report for TagReport {
    fn render(&self, ui: &Ui) {
        for l in &self.lines {
            ui.result(l);
        }
    }
    fn next(&self) -> Option<Next> {
        self.next.clone()
    }
    fn outputs(&self) -> Vec<(&'static str, String)> {
        if self.dry_run || (!self.pushed && !self.created) {
            return Vec::new();
        }
        vec![
            ("tag", self.tag.clone()),
            ("sha", self.sha.clone()),
            ("version", self.version.clone()),
        ]
    }
    fn summary(&self) -> Option<String> {
        self.summary.clone()
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

/// Runs `almarel tag`.
pub async fn run(ctx: &Context, req: &Request) -> Result<TagReport> {
    let s = &ctx.settings;
    let g = &s.git;
    let dry_run = s.global.dry_run;
    let version = &req.version;
    let tag = version.tag_name(&g.tag_prefix);
    // The same version again, with the overrides already given (a later run
    // that pushes a local-only tag checks the gap and the commit again).
    let rerun = Next::new(rerun_args(req, false, &[]));
    // A refusal's or a dry run's re-run also keeps --no-push.
    let retry = Next::new(rerun_args(req, true, &[]));
    let repo = Repo::discover(&s.workdir)?;
    let url = repo.remote_url(&g.remote)?;
    let shown_url = display_url(&url);
    let head = repo.head()?;
    let Some(head_sha) = head.commit.clone() else {
        return Err(
            Error::usage("HEAD has no commit yet: there is nothing to tag")
                .with_code("no_commit")
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
    let release = preflight::known_release_tags(&repo, &g.tag_prefix, remote_refs)?;

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

    let mut report = TagReport {
        version: version.to_string(),
        tag: tag.clone(),
        sha: head_sha.clone(),
        remote: g.remote.clone(),
        commit: commit.clone(),
        previous_tag: since.tag.clone(),
        commits_since: since.commits.iter().map(|c| c.subject.clone()).collect(),
        checks: Vec::new(),
        dry_run,
        plan: None,
        created: false,
        pushed: false,
        already_tagged: false,
        resumed: false,
        lines: Vec::new(),
        next: None,
        summary: None,
    };
    let status_next = Next::new(["status".to_owned(), tag.clone(), "--watch".to_owned()]);

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
        if !dry_run {
            ctx.audit_already_done(
                "tag",
                &tag,
                Actor {
                    git: repo.identity().map(|i| i.to_string()),
                    github: None,
                },
                &format!("{tag} is already on {} at HEAD", g.remote),
                TagAudit::new(&head_sha, &g.remote).json(),
            );
        }
        report.checks = vec![Check::pass(
            "tag",
            format!("{tag} already on {} at HEAD", g.remote),
        )];
        report.pushed = true;
        report.already_tagged = true;
        report
            .lines
            .push(format!("already tagged: {tag} at {head_sha}"));
        report.next = Some(status_next);
        report.summary = Some(summary_md(&tag, &head_sha, &g.remote, true));
        return Ok(report);
    }

    let identity = repo.identity();
    let checks = evaluate(
        ctx,
        &Inputs {
            version,
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
            request: req,
        },
    )?;
    print_checks(ctx, &checks);
    report.checks = checks;

    if report.checks.iter().any(|c| !c.ok) {
        if let Err(f) = &fetched {
            return Err(Error::new(Kind::Remote, f.error.message.clone())
                .with_code("remote_unreadable")
                .with_hint(f.error.hint().unwrap_or_default())
                .with_report(&RemoteFailed {
                    report: &report,
                    reason: f.reason.name(),
                    local_tag_kept: None,
                }));
        }
        let (message, hint, code) = refusal(&report.checks, &retry);
        return Err(Error::refused(message)
            .with_code(code)
            .with_hint(hint)
            .with_report(&report));
    }

    let message = req
        .message
        .clone()
        .unwrap_or_else(|| format!("Release {tag}"));
    let refspec = format!("refs/tags/{tag}:refs/tags/{tag}");
    let tagger = identity.map(|i| i.to_string());

    if dry_run {
        let mut plan_items = Vec::new();
        if plan == Plan::Create {
            plan_items.push(PlanItem {
                action: "create annotated tag".into(),
                target: tag.clone(),
                detail: format!(
                    "on {} (message \"{message}\", tagger {})",
                    commit.short,
                    tagger.clone().unwrap_or_default()
                ),
            });
        }
        if req.push {
            plan_items.push(PlanItem {
                action: "push".into(),
                target: refspec.clone(),
                detail: format!("to {} ({shown_url})", g.remote),
            });
        }
        if plan_items.is_empty() {
            report.lines.push(format!(
                "dry run: would nothing: {tag} already exists locally at HEAD"
            ));
        }
        for p in &plan_items {
            report.lines.push(format!(
                "dry run: would {} {} {}",
                p.action, p.target, p.detail
            ));
        }
        report.lines.push("dry run: nothing was changed".into());
        report.plan = Some(plan_items);
        report.next = Some(retry);
        return Ok(report);
    }

    let actor = Actor {
        git: tagger.clone(),
        github: None,
    };
    if plan == Plan::Resume {
        if req.message.is_some() {
            ctx.ui.warn(&format!(
                "--message ignored: {tag} already exists locally with its own message"
            ));
        }
        if !req.push {
            ctx.audit_already_done(
                "tag",
                &tag,
                actor,
                &format!("{tag} already exists locally at HEAD"),
                TagAudit {
                    pushed: Some(false),
                    ..TagAudit::new(&head_sha, &g.remote)
                }
                .json(),
            );
            report.lines.push(format!(
                "{} {tag} already exists locally at {} (not pushed; --no-push)",
                ctx.ui.mark(Tone::Ok),
                commit.short
            ));
            report.next = Some(rerun);
            return Ok(report);
        }
    }

    let created = plan == Plan::Create;
    // The push is declared up front: an interruption before it leaves lists it as not started.
    let push_write = req.push.then(|| {
        ctx.journal.plan(
            format!("push {refspec} to {}", g.remote),
            Some(format!("git ls-remote --tags {} {tag}", g.remote)),
        )
    });
    // The overrides used are part of the record (like deploy's --skip-approval).
    let overrides = override_flags(req);
    let audit = ctx.audit_start(
        "tag",
        &tag,
        actor.clone(),
        TagAudit {
            created: Some(false),
            pushed: Some(false),
            overrides: &overrides,
            ..TagAudit::new(&head_sha, &g.remote)
        }
        .json(),
    )?;
    if created {
        if let Err(e) = repo.create_annotated_tag(&tag, &head_sha, &message) {
            finish_audit(ctx, audit, Err(&e.message));
            return Err(e.with_report(&report));
        }
        ctx.done(format!("created local tag {tag} at {}", commit.short));
        report.created = true;
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

    let Some(push_write) = push_write else {
        audit.set_details(
            TagAudit {
                created: Some(true),
                pushed: Some(false),
                overrides: &overrides,
                ..TagAudit::new(&head_sha, &g.remote)
            }
            .json(),
        );
        finish_audit(ctx, audit, Ok(()));
        report.lines.push(format!(
            "tagged {tag} at {head_sha} (local only, not pushed)"
        ));
        report.next = Some(rerun);
        report.summary = Some(summary_md(&tag, &head_sha, &g.remote, false));
        return Ok(report);
    };

    ctx.ui
        .progress(&format!("pushing {tag} to {} ({shown_url})…", g.remote));
    let write = ctx.journal.start(push_write);
    match repo.push_ref(&g.remote, &refspec, &access).await {
        Ok(pushed) => {
            write.done();
            if let Some(how) = &pushed.auth_used {
                ctx.ui
                    .detail(1, &format!("authenticated to {} with {how}", g.remote));
            }
            for m in &pushed.remote_messages {
                ctx.ui.detail(
                    1,
                    &format!("remote: {}", m.trim_start_matches("remote:").trim()),
                );
            }
            audit.set_details(
                TagAudit {
                    url: Some(&shown_url),
                    created: Some(created),
                    pushed: Some(true),
                    resumed: Some(!created),
                    overrides: &overrides,
                    ..TagAudit::new(&head_sha, &g.remote)
                }
                .json(),
            );
            finish_audit(ctx, audit, Ok(()));
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
            report.pushed = true;
            report.resumed = !created;
            report.lines.push(format!("tagged {tag} at {head_sha}"));
            report.next = Some(status_next);
            report.summary = Some(summary_md(&tag, &head_sha, &g.remote, true));
            Ok(report)
        }
        Err(f) => {
            write.failed(&f.error.message);
            report.created = false;
            Err(push_failed(
                ctx,
                &repo,
                f,
                PushFailure {
                    tag: &tag,
                    sha: &head_sha,
                    created,
                    audit,
                    rerun: &rerun,
                    report: &report,
                    overrides: &overrides,
                },
            ))
        }
    }
}

/// Appends the audit outcome; a failure to write it is a warning (the
/// change itself already happened or failed).
fn finish_audit(ctx: &Context, entry: AuditEntry, outcome: std::result::Result<(), &str>) {
    if let Err(e) = entry.finish(outcome) {
        ctx.ui
            .warn(&format!("audit log not written: {}", e.message));
    }
}

/// The refusal's message, hint and machine code: the one failing check
/// itself, or a count naming them. Re-running the same version is suggested
/// only when the version is not what is wrong; a gap or a same-commit
/// refusal names its override flag (in its fix) and never presumes it.
fn refusal(checks: &[Check], rerun: &Next) -> (String, String, &'static str) {
    let failed: Vec<&Check> = checks.iter().filter(|c| !c.ok).collect();
    let version_at_fault = failed
        .iter()
        .any(|c| c.name == "version" || c.name == "tag");
    let code = match failed.as_slice() {
        [only] => match only.name.as_str() {
            "branch" => "wrong_branch",
            "clean" => "dirty_tree",
            "up to date" => "not_up_to_date",
            "tag" => "tag_exists",
            "version" => "version_not_above",
            "gap" => "version_gap",
            "commit" => "same_commit",
            "tagger" => "no_tagger",
            _ => "checks_failed",
        },
        _ => "checks_failed",
    };
    if let [only] = failed.as_slice() {
        let fix = only.fix.clone().unwrap_or_default();
        let hint = if version_at_fault || only.name == "gap" || only.name == "commit" {
            fix
        } else {
            format!("{fix}, then re-run: {rerun}")
        };
        return (only.detail.clone(), hint, code);
    }
    let message = format!(
        "{} of {} checks failed: {}",
        failed.len(),
        checks.len(),
        failed
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut hint = if version_at_fault {
        "fix the items marked ✗ above, then re-run almarel tag with a free version".to_owned()
    } else {
        format!("fix the items marked ✗ above, then re-run: {rerun}")
    };
    let overrides: Vec<&str> = failed
        .iter()
        .filter_map(|c| match c.name.as_str() {
            "gap" => Some("--allow-gap"),
            "commit" => Some("--allow-same-commit"),
            _ => None,
        })
        .collect();
    if !overrides.is_empty() {
        hint.push_str(&format!(
            " ({} only if that is intended)",
            overrides.join(" / ")
        ));
    }
    (message, hint, code)
}

/// The override flags given (`--allow-gap`, `--allow-same-commit`).
fn override_flags(req: &Request) -> Vec<&'static str> {
    let mut flags = Vec::new();
    if req.allow_gap {
        flags.push("--allow-gap");
    }
    if req.allow_same_commit {
        flags.push("--allow-same-commit");
    }
    flags
}

/// The audit details of a tag run (`sha`, `remote`, and what is known of
/// the rest; `overrides` when any was given).
#[derive(Debug, Serialize)]
struct TagAudit<'a> {
    sha: &'a str,
    remote: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pushed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resumed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    overrides: &'a [&'static str],
}

impl<'a> TagAudit<'a> {
    /// Just the commit and the remote.
    fn new(sha: &'a str, remote: &'a str) -> Self {
        TagAudit {
            sha,
            remote,
            url: None,
            created: None,
            pushed: None,
            resumed: None,
            reason: None,
            overrides: &[],
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// A failure's `--json` data when the remote could not be read or the push
/// failed: the report, the failure's `reason`, and after a failed push
/// whether the local tag was kept.
#[derive(Serialize)]
struct RemoteFailed<'a> {
    #[serde(flatten)]
    report: &'a TagReport,
    reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    local_tag_kept: Option<bool>,
}

/// `tag VERSION` and the overrides given (plus `extra`), and `--no-push`
/// when `keep_no_push` and it was given.
fn rerun_args(req: &Request, keep_no_push: bool, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["tag".to_owned(), req.version.to_string()];
    if keep_no_push && !req.push {
        args.push("--no-push".to_owned());
    }
    if req.allow_gap || extra.contains(&"--allow-gap") {
        args.push("--allow-gap".to_owned());
    }
    if req.allow_same_commit || extra.contains(&"--allow-same-commit") {
        args.push("--allow-same-commit".to_owned());
    }
    args
}

struct PushFailure<'a> {
    tag: &'a str,
    sha: &'a str,
    created: bool,
    audit: AuditEntry,
    rerun: &'a Next,
    report: &'a TagReport,
    overrides: &'a [&'static str],
}

/// A push failed: delete the tag this run created, log the attempt, and say why.
fn push_failed(ctx: &Context, repo: &Repo, f: RemoteFailure, p: PushFailure<'_>) -> Error {
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
    p.audit.set_details(
        TagAudit {
            created: Some(p.created),
            pushed: Some(false),
            reason: Some(f.reason.name()),
            overrides: p.overrides,
            ..TagAudit::new(p.sha, remote)
        }
        .json(),
    );
    finish_audit(
        ctx,
        p.audit,
        Err(&format!("push {}: {}", f.reason.name(), f.error.message)),
    );
    let mut hint = f.error.hint().unwrap_or_default().to_owned();
    let rerun = p.rerun.to_string();
    if f.reason == FailureReason::Timeout {
        hint = format!(
            "the remote may still have received the tag; re-run `{rerun}`: it says \"already tagged\" if so"
        );
    } else if !hint.is_empty() && !hint.contains(&rerun) {
        hint = hint.replace("then re-run", &format!("then re-run: {rerun}"));
    }
    let mut message = f.error.message.clone();
    if !after.is_empty() {
        message = format!("{message} ({})", after.join("; "));
    }
    Error::new(Kind::Remote, message)
        .with_code("push_failed")
        .with_hint(hint)
        .with_report(&RemoteFailed {
            report: p.report,
            reason: f.reason.name(),
            local_tag_kept: Some(kept_local),
        })
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
    request: &'a Request,
}

/// Evaluates every check (none stops the others).
fn evaluate(ctx: &Context, i: &Inputs<'_>) -> Result<Vec<Check>> {
    let g = &ctx.settings.git;
    let (remote, branch) = (&g.remote, &g.branch);
    let mut checks = vec![
        preflight::check_branch(branch, i.head, i.head_sha),
        preflight::check_clean(&i.status),
        preflight::check_up_to_date(remote, branch, i.repo, i.fetched, i.head_sha)?,
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

    checks.push(preflight::check_version(
        i.version, i.tag, i.head_sha, i.release,
    ));
    checks.push(check_gap(i.request, i.tag, i.release));
    checks.push(check_commit(i.request, i.tag, i.head_sha, i.release));

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

/// The versions that follow final release `v` without a gap: its next
/// patch, minor and major.
fn successors(v: &semver::Version) -> [semver::Version; 3] {
    [
        semver::Version::new(v.major, v.minor, v.patch + 1),
        semver::Version::new(v.major, v.minor + 1, 0),
        semver::Version::new(v.major + 1, 0, 0),
    ]
}

/// The "gap" check: the version is the next patch, minor or major of the
/// highest final release tag (other than `tag` itself), or a pre-release of
/// one of them (SPEC §3 tag). The first final release may be any version;
/// a version not above that release is left to the "version" check.
fn check_gap(req: &Request, tag: &str, release: &[(ReleaseTag, String)]) -> Check {
    let v = &req.version.0;
    let highest = release
        .iter()
        .filter(|(t, _)| t.name != tag && t.version.pre.is_empty())
        .max_by(|a, b| a.0.version.cmp(&b.0.version));
    let Some((last, _)) = highest else {
        return Check::pass(
            "gap",
            format!(
                "no final release tag yet: {} may start the series",
                req.version
            ),
        );
    };
    if *v <= last.version {
        return Check::pass(
            "gap",
            format!("{} is not after {} (see version)", req.version, last.name),
        );
    }
    let core = semver::Version::new(v.major, v.minor, v.patch);
    let next = successors(&last.version);
    let kind = ["patch", "minor", "major"];
    if let Some(k) = next.iter().position(|n| *n == core) {
        let what = if v.pre.is_empty() {
            format!("the next {} after {}", kind[k], last.name)
        } else {
            format!(
                "a pre-release of {core}, the next {} after {}",
                kind[k], last.name
            )
        };
        return Check::pass("gap", format!("{} is {what}", req.version));
    }
    let listed = format!("{}, {} or {}", next[0], next[1], next[2]);
    if req.allow_gap {
        return Check::pass(
            "gap",
            format!(
                "{} skips versions after {} (the next would be {listed}): allowed by --allow-gap",
                req.version, last.name
            ),
        );
    }
    Check::fail(
        "gap",
        format!(
            "{} skips versions: the highest final release is {}, so the next is {listed}",
            req.version, last.name
        ),
        format!(
            "tag the next version (e.g. almarel tag {}); to skip on purpose: {}",
            next[1],
            Next::new(rerun_args(req, true, &["--allow-gap"]))
        ),
    )
}

/// The "commit" check: HEAD carries no final release tag other than `tag`
/// (a new version on an already released commit is the "forgot to merge"
/// mistake). A pre-release at HEAD is fine: an rc and then its final on the
/// same commit is the normal promotion.
fn check_commit(
    req: &Request,
    tag: &str,
    head_sha: &str,
    release: &[(ReleaseTag, String)],
) -> Check {
    let mut finals: Vec<&ReleaseTag> = release
        .iter()
        .filter(|(t, sha)| t.name != tag && sha == head_sha && t.version.pre.is_empty())
        .map(|(t, _)| t)
        .collect();
    finals.sort_by(|a, b| a.version.cmp(&b.version));
    finals.dedup_by(|a, b| a.name == b.name);
    let here = short_sha(head_sha);
    if finals.is_empty() {
        let pres: Vec<&str> = release
            .iter()
            .filter(|(t, sha)| t.name != tag && sha == head_sha)
            .map(|(t, _)| t.name.as_str())
            .collect();
        return Check::pass(
            "commit",
            if pres.is_empty() {
                format!("HEAD ({here}) carries no release tag yet")
            } else {
                format!(
                    "HEAD ({here}) carries only the pre-release {}: promoting it is normal",
                    pres.join(", ")
                )
            },
        );
    }
    let names: Vec<&str> = finals.iter().map(|t| t.name.as_str()).collect();
    if req.allow_same_commit {
        return Check::pass(
            "commit",
            format!(
                "HEAD ({here}) already carries {}: allowed by --allow-same-commit",
                names.join(", ")
            ),
        );
    }
    Check::fail(
        "commit",
        format!(
            "HEAD ({here}) is already released as {}: this tag would release nothing new",
            names.join(", ")
        ),
        format!(
            "merge and push the change first, then tag its commit; to tag this commit again on purpose: {}",
            Next::new(rerun_args(req, true, &["--allow-same-commit"]))
        ),
    )
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

/// The Actions job summary for a tag created (and pushed or not).
fn summary_md(tag: &str, sha: &str, remote: &str, pushed: bool) -> String {
    let state = if pushed {
        "pushed to"
    } else {
        "created locally, not pushed to"
    };
    format!(
        "### almarel tag\n\n`{tag}` on `{}` — {state} `{remote}`.\n\nNext: `almarel status {tag} --watch`\n",
        short_sha(sha)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: &str, allow_gap: bool, allow_same_commit: bool) -> Request {
        Request {
            version: ReleaseVersion::parse(v, "v", &["rc".to_owned()]).unwrap(),
            message: None,
            push: true,
            allow_gap,
            allow_same_commit,
        }
    }

    fn tags(list: &[(&str, &str)]) -> Vec<(ReleaseTag, String)> {
        list.iter()
            .map(|(t, sha)| (ReleaseTag::from_name(t, "v").unwrap(), (*sha).to_owned()))
            .collect()
    }

    #[test]
    fn gap_is_measured_from_the_highest_final_release() {
        let rel = tags(&[("v1.2.3", "a"), ("v1.1.9", "b"), ("v1.3.0-rc.1", "c")]);
        for ok in ["1.2.4", "1.3.0", "2.0.0", "1.3.0-rc.2", "2.0.0-rc.1"] {
            let c = check_gap(&req(ok, false, false), &format!("v{ok}"), &rel);
            assert!(c.ok, "{ok}: {c:?}");
        }
        for gap in ["1.2.5", "1.3.1", "1.4.0", "2.0.1", "3.0.0", "13.0.0"] {
            let c = check_gap(&req(gap, false, false), &format!("v{gap}"), &rel);
            assert!(!c.ok, "{gap}: {c:?}");
            assert!(
                c.fix
                    .as_deref()
                    .unwrap()
                    .ends_with(&format!("almarel tag {gap} --allow-gap")),
                "{c:?}"
            );
            let c = check_gap(&req(gap, true, false), &format!("v{gap}"), &rel);
            assert!(c.ok && c.detail.contains("--allow-gap"), "{c:?}");
        }
        // Only pre-releases so far: the first final may be anything.
        let rc_only = tags(&[("v0.1.0-rc.1", "a")]);
        assert!(check_gap(&req("7.0.0", false, false), "v7.0.0", &rc_only).ok);
    }

    #[test]
    fn same_commit_counts_final_releases_at_head_only() {
        let rel = tags(&[("v1.2.3-rc.1", "head"), ("v1.2.2", "old")]);
        assert!(check_commit(&req("1.2.3", false, false), "v1.2.3", "head", &rel).ok);
        let rel = tags(&[("v1.2.3", "head")]);
        let c = check_commit(&req("1.2.4", false, false), "v1.2.4", "head", &rel);
        assert!(!c.ok);
        assert!(
            c.fix
                .as_deref()
                .unwrap()
                .ends_with("almarel tag 1.2.4 --allow-same-commit"),
            "{c:?}"
        );
        assert!(check_commit(&req("1.2.4", false, true), "v1.2.4", "head", &rel).ok);
        // The tag itself at HEAD (a resume, or "already tagged") is not another release.
        assert!(check_commit(&req("1.2.3", false, false), "v1.2.3", "head", &rel).ok);
    }
}
