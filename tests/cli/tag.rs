//! `almarel tag` tests: real repositories (a bare origin.git and a clone),
//! the real binary, and the state left behind in both.

use crate::support::Run;
use crate::support::git::{GitDaemon, Repos, closed_port};
use crate::support::{assert_no_panic, json_stdout, texts};

fn run(r: &Repos, args: &[&str]) -> std::process::Output {
    let out = r.almarel().args(args).run().unwrap();
    assert_no_panic(&out);
    out
}

fn all_text(out: &std::process::Output) -> String {
    let (o, e) = texts(out);
    format!("{o}\n{e}")
}

/// Runs `tag` expecting a refusal (exit 3) that mentions each of `expect`,
/// and asserts nothing changed: origin's refs, the clone's tags, the audit log.
fn assert_refused(r: &Repos, args: &[&str], expect: &[&str]) -> String {
    let origin_before = r.origin_refs();
    let tags_before = r.local_tags();
    let out = run(r, args);
    let text = all_text(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    for e in expect {
        assert!(text.contains(e), "expected {e:?} in:\n{text}");
    }
    assert_eq!(r.origin_refs(), origin_before, "origin changed:\n{text}");
    assert_eq!(r.local_tags(), tags_before, "local tags changed:\n{text}");
    assert!(r.sb.audit_lines().is_empty(), "a refusal was audited");
    text
}

/// The ✗ line of check `name` in the output.
fn failed_line<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .find(|l| l.trim_start().starts_with('✗') && l.contains(&format!(" {name} ")))
}

#[test]
fn happy_path_pushes_exactly_one_annotated_tag() {
    let r = Repos::new();
    let head = r.commit_and_push("Fix login redirect");
    let before: Vec<String> = r.origin_refs().lines().map(str::to_owned).collect();
    let out = run(&r, &["tag", "1.2.3"]);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");

    // origin holds an annotated tag object pointing at HEAD, and nothing else changed.
    assert_eq!(r.git_origin(&["cat-file", "-t", "v1.2.3"]), "tag");
    assert_eq!(r.git_origin(&["rev-parse", "v1.2.3^{commit}"]), head);
    let after: Vec<String> = r.origin_refs().lines().map(str::to_owned).collect();
    let added: Vec<&String> = after.iter().filter(|l| !before.contains(l)).collect();
    let removed: Vec<&String> = before.iter().filter(|l| !after.contains(l)).collect();
    assert_eq!(added.len(), 1, "{added:?}");
    assert!(added[0].ends_with(" tag refs/tags/v1.2.3"), "{added:?}");
    assert!(removed.is_empty(), "{removed:?}");

    // The tag's message and tagger.
    let body = r.git(&["cat-file", "-p", "v1.2.3"]);
    assert!(
        body.contains("tagger Jane Dev <jane@example.com>"),
        "{body}"
    );
    assert!(body.trim_end().ends_with("Release v1.2.3"), "{body}");

    // What was tagged, each check, the sha and the next command.
    assert!(
        stdout.contains(&head[..7]) && stdout.contains("Fix login redirect"),
        "{stdout}"
    );
    assert!(stdout.contains("Jane Dev"), "{stdout}");
    assert!(
        stdout.contains(&format!("tagged v1.2.3 at {head}")),
        "{stdout}"
    );
    for name in ["branch", "clean", "up to date", "tag", "version", "tagger"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.trim_start().starts_with('✓') && l.contains(name)),
            "no ✓ {name}:\n{stdout}"
        );
    }
    assert!(
        stderr.contains("next: almarel status v1.2.3 --watch"),
        "{stderr}"
    );

    // Two audit lines (SPEC §7.2: `started` ahead, then the outcome), with
    // the git identity as actor.
    let audit = r.sb.audit_lines();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0]["result"], "started");
    assert_eq!(audit[1]["command"], "tag");
    assert_eq!(audit[1]["target"], "v1.2.3");
    assert_eq!(audit[1]["result"], "ok");
    assert_eq!(audit[1]["actor"]["git"], "Jane Dev <jane@example.com>");
    assert_eq!(audit[1]["details"]["sha"], head.as_str());
}

#[test]
fn header_lists_commits_since_the_previous_release_tag() {
    let r = Repos::new();
    r.commit_and_push("Release prep");
    r.tag("v1.2.2", "HEAD");
    r.push_tag("v1.2.2");
    r.commit("Fix login redirect");
    r.commit("Add orders export");
    r.git(&["push", "-q", "origin", "main"]);
    let out = run(&r, &["tag", "v1.2.3", "--dry-run"]);
    let (stdout, _) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    assert!(stdout.contains("since   v1.2.2: 2 commits"), "{stdout}");
    assert!(stdout.contains("Fix login redirect") && stdout.contains("Add orders export"));
    assert!(!stdout.contains("Release prep"), "{stdout}");
}

#[test]
fn custom_message_is_used() {
    let r = Repos::new();
    let out = run(&r, &["tag", "1.0.0", "--message", "First public release"]);
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    let body = r.git_origin(&["cat-file", "-p", "v1.0.0"]);
    assert!(body.trim_end().ends_with("First public release"), "{body}");
}

#[test]
fn refuses_when_not_on_main() {
    let r = Repos::new();
    r.git(&["switch", "-q", "-c", "feature"]);
    let text = assert_refused(
        &r,
        &["tag", "1.2.3"],
        &["on branch feature, not main", "git switch main"],
    );
    assert!(failed_line(&text, "branch").is_some(), "{text}");
}

#[test]
fn refuses_on_a_detached_head() {
    let r = Repos::new();
    r.git(&["switch", "-q", "--detach", "HEAD"]);
    assert_refused(
        &r,
        &["tag", "1.2.3"],
        &["HEAD is detached at", "not on main"],
    );
}

#[test]
fn refuses_a_modified_file() {
    let r = Repos::new();
    std::fs::write(r.work.join("README.md"), "changed\n").unwrap();
    let text = assert_refused(
        &r,
        &["tag", "1.2.3"],
        &["working tree has 1 changed file", "1 modified", "README.md"],
    );
    assert!(failed_line(&text, "clean").is_some(), "{text}");
}

#[test]
fn refuses_a_staged_file() {
    let r = Repos::new();
    std::fs::write(r.work.join("new.txt"), "x\n").unwrap();
    r.git(&["add", "new.txt"]);
    assert_refused(&r, &["tag", "1.2.3"], &["1 staged", "new.txt"]);
}

#[test]
fn refuses_an_untracked_file_but_not_an_ignored_one() {
    let r = Repos::new();
    std::fs::write(r.work.join(".gitignore"), "build/\n").unwrap();
    r.git(&["add", ".gitignore"]);
    r.commit_and_push("Ignore build/");
    std::fs::create_dir_all(r.work.join("build")).unwrap();
    std::fs::write(r.work.join("build/out.bin"), "x").unwrap();
    std::fs::create_dir_all(r.work.join("notes/deep")).unwrap();
    std::fs::write(r.work.join("notes/deep/todo.txt"), "x\n").unwrap();
    let text = assert_refused(
        &r,
        &["tag", "1.2.3"],
        &["1 untracked", "notes/deep/todo.txt"],
    );
    assert!(!text.contains("build/out.bin"), "{text}");
}

#[test]
fn refuses_when_behind_the_remote() {
    let r = Repos::new();
    r.push_from_other("Someone else's fix");
    let text = assert_refused(
        &r,
        &["tag", "1.2.3"],
        &[
            "HEAD is 1 commit behind origin/main",
            "git pull --ff-only origin main",
        ],
    );
    assert!(failed_line(&text, "up to date").is_some(), "{text}");
}

#[test]
fn refuses_when_ahead_of_the_remote() {
    let r = Repos::new();
    r.commit("Not pushed yet");
    r.commit("Neither is this");
    assert_refused(
        &r,
        &["tag", "1.2.3"],
        &["HEAD is 2 commits ahead of origin/main"],
    );
}

#[test]
fn refuses_when_diverged() {
    let r = Repos::new();
    r.push_from_other("Theirs");
    r.commit("Mine");
    assert_refused(&r, &["tag", "1.2.3"], &["diverged: 1 ahead, 1 behind"]);
}

#[test]
fn refuses_a_tag_that_exists_at_another_commit_naming_both_commits() {
    let r = Repos::new();
    let old = r.head();
    r.tag("v1.2.3", "HEAD");
    r.push_tag("v1.2.3");
    let head = r.commit_and_push("Later work");
    let text = assert_refused(
        &r,
        &["tag", "1.2.3"],
        &[
            &format!(
                "v1.2.3 already exists locally and on origin at {}",
                &old[..7]
            ),
            &format!("HEAD is {}", &head[..7]),
            "1.2.3 is not above the highest release tag v1.2.3",
        ],
    );
    assert!(failed_line(&text, "tag").is_some(), "{text}");
    assert!(failed_line(&text, "version").is_some(), "{text}");
}

#[test]
fn refuses_a_tag_only_on_the_remote_at_another_commit() {
    let r = Repos::new();
    let old = r.head();
    r.tag("v1.2.3", "HEAD");
    r.push_tag("v1.2.3");
    r.git(&["tag", "-d", "v1.2.3"]);
    r.commit_and_push("Later work");
    assert_refused(
        &r,
        &["tag", "1.2.3"],
        &[&format!("v1.2.3 already exists on origin at {}", &old[..7])],
    );
}

#[test]
fn refuses_versions_not_above_the_highest_release_tag() {
    for (existing, asked) in [
        ("v1.2.3", "1.2.3-rc.1"),
        ("v1.2.3", "1.2.2"),
        ("v1.2.3-rc.2", "1.2.3-rc.1"),
    ] {
        let r = Repos::new();
        r.tag(existing, "HEAD");
        r.push_tag(existing);
        r.commit_and_push("Next");
        let text = assert_refused(
            &r,
            &["tag", asked],
            &[&format!(
                "{asked} is not above the highest release tag {existing}"
            )],
        );
        assert!(failed_line(&text, "version").is_some(), "{text}");
        assert!(failed_line(&text, "branch").is_none(), "{text}");
    }
}

#[test]
fn release_tags_only_on_the_remote_count_too() {
    let r = Repos::new();
    let other = r.other_clone();
    let home = r.sb.home();
    crate::support::git::git(
        &home,
        &other,
        &["tag", "-a", "v2.0.0", "-m", "Release v2.0.0"],
    );
    crate::support::git::git(&home, &other, &["push", "-q", "origin", "v2.0.0"]);
    assert!(!r.local_tags().contains(&"v2.0.0".to_owned()));
    assert_refused(
        &r,
        &["tag", "1.3.0"],
        &["1.3.0 is not above the highest release tag v2.0.0"],
    );
    // The remote's tags were not fetched into the clone.
    assert!(r.local_tags().is_empty(), "{:?}", r.local_tags());
}

#[test]
fn every_failing_check_is_reported_at_once() {
    let r = Repos::new();
    r.tag("v2.0.0", "HEAD");
    r.push_tag("v2.0.0");
    r.git(&["switch", "-q", "-c", "feature"]);
    r.commit("Unpushed work");
    std::fs::write(r.work.join("README.md"), "dirty\n").unwrap();
    let text = assert_refused(
        &r,
        &["tag", "1.0.0"],
        &["4 of 8 checks failed: branch, clean, up to date, version"],
    );
    for name in ["branch", "clean", "up to date", "version"] {
        assert!(failed_line(&text, name).is_some(), "no ✗ {name}:\n{text}");
    }
    // The passing ones are shown too.
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with('✓') && l.contains(" tag ")),
        "{text}"
    );
    assert!(
        text.contains(
            "hint: fix the items marked ✗ above, then re-run almarel tag with a free version"
        ),
        "{text}"
    );
}

#[test]
fn the_hint_says_to_rerun_the_same_version_only_when_the_version_is_fine() {
    let r = Repos::new();
    r.git(&["switch", "-q", "-c", "feature"]);
    std::fs::write(r.work.join("README.md"), "dirty\n").unwrap();
    assert_refused(
        &r,
        &["tag", "1.2.3"],
        &[
            "2 of 8 checks failed: branch, clean",
            "hint: fix the items marked ✗ above, then re-run: almarel tag 1.2.3",
        ],
    );
    let r = Repos::new();
    r.tag("v1.2.3", "HEAD");
    r.push_tag("v1.2.3");
    r.commit_and_push("Next");
    let text = assert_refused(
        &r,
        &["tag", "1.2.2"],
        &["hint: choose a version above 1.2.3, e.g. almarel tag 1.2.4"],
    );
    assert!(!text.contains("re-run: almarel tag 1.2.2"), "{text}");
}

#[test]
fn malformed_versions_are_usage_errors_and_change_nothing() {
    let r = Repos::new();
    let origin_before = r.origin_refs();
    let local_before = r.local_refs();
    let bad = [
        "1.2",
        "1.2.3.4",
        "01.2.3",
        "1.02.3",
        "1.2.03",
        "1.2.3-beta",
        "1.2.3-beta.1",
        "1.2.3+build",
        "1.2.3-rc.1+build",
        "",
        " ",
        "1.2.3 ",
        " 1.2.3",
        "1 .2.3",
        "v",
        "vv1.2.3",
        "1.2.3-rc",
        "1.2.3-rc.x",
        "1.2.3-RC.1",
        "latest",
        "1.2.x",
        "-1.2.3",
        "1.2.3-rc.01",
        "V1.2.3",
    ];
    assert!(bad.len() >= 15);
    for v in bad {
        let out = r.almarel().args(["tag", "--", v]).run().unwrap();
        assert_no_panic(&out);
        let text = all_text(&out);
        assert_eq!(out.status.code(), Some(2), "{v:?}: {text}");
        assert!(text.contains("is not a release version"), "{v:?}: {text}");
        assert!(
            !text.contains("fetching"),
            "{v:?} reached the remote: {text}"
        );
    }
    assert_eq!(r.origin_refs(), origin_before);
    assert_eq!(r.local_refs(), local_before);
    assert!(r.sb.audit_lines().is_empty());
}

#[test]
fn rc_versions_order_before_the_final() {
    let r = Repos::new();
    let out = run(&r, &["tag", "1.2.3-rc.1"]);
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    r.commit_and_push("Fix from rc.1 testing");
    let out = run(&r, &["tag", "1.2.3-rc.2"]);
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    // The tested rc.2 commit becomes the final, on the same commit.
    let out = run(&r, &["tag", "1.2.3"]);
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    assert!(
        all_text(&out).contains("since   v1.2.3-rc.2: no new commits (same commit)"),
        "{}",
        all_text(&out)
    );
    let mut tags = r.origin_tags();
    tags.sort();
    assert_eq!(tags, ["v1.2.3", "v1.2.3-rc.1", "v1.2.3-rc.2"]);
    assert_eq!(
        r.git_origin(&["rev-parse", "v1.2.3^{commit}"]),
        r.git_origin(&["rev-parse", "v1.2.3-rc.2^{commit}"])
    );
}

#[test]
fn already_tagged_at_head_is_success_and_pushes_nothing() {
    let r = Repos::new();
    let out = run(&r, &["tag", "1.2.3"]);
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    let origin_before = r.origin_refs();
    let local_before = r.local_refs();
    let audit_before = r.sb.audit_lines().len();
    let out = run(&r, &["tag", "v1.2.3"]);
    let text = all_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("already tagged"), "{text}");
    assert!(!text.contains("pushing"), "{text}");
    assert_eq!(r.origin_refs(), origin_before);
    assert_eq!(r.local_refs(), local_before);
    // Nothing changed; the re-run that found it done is one line (SPEC §6).
    let audit = r.sb.audit_lines();
    assert_eq!(audit.len(), audit_before + 1, "{audit:?}");
    assert!(
        audit[audit_before]["result"]
            .as_str()
            .unwrap()
            .starts_with("already done:"),
        "{audit:?}"
    );
    let out = run(&r, &["tag", "1.2.3", "--json"]);
    let v = json_stdout(&out);
    assert_eq!(v["ok"], true);
    assert_eq!(v["already_tagged"], true);
    assert_eq!(v["pushed"], true);
    assert_eq!(v["created"], false);
}

#[test]
fn a_local_only_tag_at_head_is_pushed_as_a_resume() {
    let r = Repos::new();
    let origin_before = r.origin_refs();
    let out = run(&r, &["tag", "1.2.3", "--no-push"]);
    let text = all_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("not pushed"), "{text}");
    assert_eq!(r.git(&["cat-file", "-t", "v1.2.3"]), "tag");
    assert_eq!(r.origin_refs(), origin_before, "--no-push pushed something");

    let out = run(&r, &["tag", "1.2.3"]);
    let text = all_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("not yet on origin: it will be pushed"),
        "{text}"
    );
    assert!(text.contains("resumed"), "{text}");
    assert_eq!(r.git_origin(&["cat-file", "-t", "v1.2.3"]), "tag");
    assert_eq!(
        r.git_origin(&["rev-parse", "v1.2.3"]),
        r.git(&["rev-parse", "v1.2.3"]),
        "the same tag object was pushed"
    );
    // started + ok for --no-push, then started + ok for the resumed push.
    let audit = r.sb.audit_lines();
    let results: Vec<&str> = audit
        .iter()
        .map(|l| l["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["started", "ok", "started", "ok"], "{audit:?}");
    assert_eq!(audit[1]["details"]["pushed"], false);
    assert_eq!(audit[3]["details"]["pushed"], true);
}

#[test]
fn a_lightweight_local_tag_at_head_is_refused() {
    let r = Repos::new();
    r.git(&["tag", "v1.2.3"]);
    assert_refused(&r, &["tag", "1.2.3"], &["lightweight", "git tag -d v1.2.3"]);
}

#[test]
fn a_refused_push_leaves_no_tag_and_a_rerun_succeeds() {
    let r = Repos::new();
    let daemon = GitDaemon::start(&r.sb.home(), r.origin.parent().unwrap());
    r.git(&["remote", "set-url", "origin", &daemon.url("origin.git")]);
    r.refuse_pushes("tags are protected on this server");
    let origin_before = r.origin_refs();

    let out = run(&r, &["tag", "1.2.3"]);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(4), "{}", all_text(&out));
    assert!(stderr.contains("rejected refs/tags/v1.2.3"), "{stderr}");
    assert!(
        stderr.contains("tags are protected on this server"),
        "{stderr}"
    );
    assert!(stderr.contains("deleted again"), "{stderr}");
    assert!(r.local_tags().is_empty(), "local tag left behind");
    assert_eq!(r.origin_refs(), origin_before);
    let audit = r.sb.audit_lines();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0]["result"], "started");
    assert!(
        audit[1]["result"]
            .as_str()
            .unwrap()
            .starts_with("failed: push rejected"),
        "{audit:?}"
    );

    r.accept_pushes();
    let out = run(&r, &["tag", "1.2.3", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    let v = json_stdout(&out);
    assert_eq!(v["pushed"], true);
    assert_eq!(v["created"], true);
    assert_eq!(r.git_origin(&["cat-file", "-t", "v1.2.3"]), "tag");
}

#[test]
fn a_refused_push_in_json_names_the_reason() {
    let r = Repos::new();
    let daemon = GitDaemon::start(&r.sb.home(), r.origin.parent().unwrap());
    r.git(&["remote", "set-url", "origin", &daemon.url("origin.git")]);
    r.refuse_pushes("no");
    let out = run(&r, &["tag", "1.2.3", "--json"]);
    assert_eq!(out.status.code(), Some(4));
    let v = json_stdout(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["kind"], "remote");
    assert_eq!(v["reason"], "rejected");
    assert_eq!(v["pushed"], false);
    assert_eq!(v["tag"], "v1.2.3");
}

#[test]
fn an_unreachable_push_url_leaves_no_tag() {
    for scheme in ["git", "http"] {
        let r = Repos::new();
        let url = format!("{scheme}://127.0.0.1:{}/origin.git", closed_port());
        r.git(&["remote", "set-url", "--push", "origin", &url]);
        let origin_before = r.origin_refs();
        let out = run(&r, &["tag", "1.2.3"]);
        let (_, stderr) = texts(&out);
        assert_eq!(out.status.code(), Some(4), "{scheme}: {}", all_text(&out));
        assert!(stderr.contains("cannot reach origin"), "{scheme}: {stderr}");
        assert!(stderr.contains("deleted again"), "{scheme}: {stderr}");
        assert!(r.local_tags().is_empty(), "{scheme}: local tag left behind");
        assert_eq!(r.origin_refs(), origin_before);
        // A re-run starts clean once the remote is reachable again.
        r.git(&["config", "--unset", "remote.origin.pushurl"]);
        let out = run(&r, &["tag", "1.2.3"]);
        assert_eq!(out.status.code(), Some(0), "{scheme}: {}", all_text(&out));
    }
}

#[test]
fn an_unreachable_remote_fails_the_fetch_with_exit_4_and_creates_nothing() {
    let r = Repos::new();
    let url = format!("git://127.0.0.1:{}/origin.git", closed_port());
    r.git(&["remote", "set-url", "origin", &url]);
    std::fs::write(r.work.join("README.md"), "dirty\n").unwrap();
    let out = run(&r, &["tag", "1.2.3", "--json"]);
    assert_eq!(out.status.code(), Some(4));
    let v = json_stdout(&out);
    assert_eq!(v["error"]["kind"], "remote");
    assert_eq!(v["reason"], "network");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot reach origin"),
        "{v}"
    );
    // The local checks were still evaluated and reported.
    let checks = v["checks"].as_array().unwrap();
    let clean = checks.iter().find(|c| c["name"] == "clean").unwrap();
    assert_eq!(clean["ok"], false);
    assert!(r.local_tags().is_empty());
    assert!(r.sb.audit_lines().is_empty());
}

/// A loopback "git host" that answers 401 to everything; records how many
/// requests came and their Authorization headers.
struct Unauthorized {
    port: u16,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    auths: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Unauthorized {
    fn start() -> Unauthorized {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let auths = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let (h, a) = (hits.clone(), auths.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { break };
                h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut buf = [0u8; 8192];
                let n = s.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                if let Some(line) = req
                    .lines()
                    .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
                {
                    a.lock().unwrap().push(line.to_owned());
                }
                let _ = s.write_all(
                    b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Unauthorized { port, hits, auths }
    }

    fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
fn https_auth_failure_gives_up_without_looping_and_never_shows_the_token() {
    let server = Unauthorized::start();
    let port = server.port;
    let r = Repos::new();
    r.git(&[
        "remote",
        "set-url",
        "origin",
        &format!("http://127.0.0.1:{port}/acme/shop.git"),
    ]);
    let token = "ghp_test_token_value_1234567890";
    let out = r
        .almarel()
        .args(["tag", "1.2.3"])
        .env("GH_TOKEN", token)
        .env(
            "ALMAREL_GITHUB_API_URL",
            format!("http://127.0.0.1:{port}/api/v3"),
        )
        .timeout(std::time::Duration::from_secs(60))
        .run()
        .unwrap();
    let text = all_text(&out);
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert!(text.contains("authentication to origin"), "{text}");
    assert!(text.contains("tried GH_TOKEN"), "{text}");
    assert!(text.contains("hint: set GH_TOKEN"), "{text}");
    assert!(!text.contains(token), "token leaked:\n{text}");
    assert!(server.hits() <= 10, "{} requests", server.hits());
    // The token was offered once, as x-access-token (basic auth).
    let auths = server.auths.lock().unwrap().clone();
    assert_eq!(auths.len(), 1, "{auths:?}");
    assert!(auths[0].to_ascii_lowercase().contains("basic"), "{auths:?}");
    assert!(r.local_tags().is_empty());
    assert!(r.sb.audit_lines().is_empty());
}

#[test]
fn the_token_is_not_offered_to_a_host_that_is_not_github() {
    let server = Unauthorized::start();
    let r = Repos::new();
    r.git(&[
        "remote",
        "set-url",
        "origin",
        &format!("http://127.0.0.1:{}/acme/shop.git", server.port),
    ]);
    let out = r
        .almarel()
        .args(["tag", "1.2.3"])
        .env("GH_TOKEN", "ghp_not_for_this_host_123")
        .timeout(std::time::Duration::from_secs(60))
        .run()
        .unwrap();
    let text = all_text(&out);
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert!(text.contains("authentication to origin"), "{text}");
    assert!(
        server.auths.lock().unwrap().is_empty(),
        "a credential was sent"
    );
}

#[test]
fn git_config_extraheader_is_sent_like_git_does_in_github_actions() {
    // actions/checkout stores the job token as http.<url>.extraheader, which
    // libgit2 ignores by itself.
    let server = Unauthorized::start();
    let r = Repos::new();
    let base = format!("http://127.0.0.1:{}/", server.port);
    r.git(&[
        "remote",
        "set-url",
        "origin",
        &format!("{base}acme/shop.git"),
    ]);
    r.git(&[
        "config",
        &format!("http.{base}.extraheader"),
        "AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW46c2VjcmV0",
    ]);
    let out = r
        .almarel()
        .args(["tag", "1.2.3"])
        .timeout(std::time::Duration::from_secs(60))
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", all_text(&out));
    let auths = server.auths.lock().unwrap().clone();
    assert!(!auths.is_empty(), "extraheader not sent");
    assert!(
        auths
            .iter()
            .all(|a| a.contains("eC1hY2Nlc3MtdG9rZW46c2VjcmV0")),
        "{auths:?}"
    );
}

#[test]
fn dry_run_changes_no_ref_anywhere_and_audits_nothing() {
    let r = Repos::new();
    let origin_before = r.origin_refs();
    let local_before = r.local_refs();
    let out = run(&r, &["tag", "1.2.3", "--dry-run"]);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("would create annotated tag v1.2.3"),
        "{stdout}"
    );
    assert!(
        stdout.contains("would push refs/tags/v1.2.3:refs/tags/v1.2.3 to origin"),
        "{stdout}"
    );
    assert!(stderr.contains("next: almarel tag 1.2.3"), "{stderr}");
    assert_eq!(r.origin_refs(), origin_before);
    assert_eq!(r.local_refs(), local_before);
    assert!(r.sb.audit_lines().is_empty());
}

#[test]
fn dry_run_does_not_even_move_the_remote_tracking_branch() {
    let r = Repos::new();
    r.push_from_other("Theirs");
    let local_before = r.local_refs();
    let text = assert_refused(
        &r,
        &["tag", "1.2.3", "--dry-run"],
        &["1 commit behind origin/main"],
    );
    assert!(!text.contains("would"), "{text}");
    assert_eq!(r.local_refs(), local_before);
    // A real run fetches, like `git fetch` would.
    run(&r, &["tag", "1.2.3"]);
    assert_ne!(r.local_refs(), local_before);
}

#[test]
fn json_carries_version_tag_sha_pushed_and_checks() {
    let r = Repos::new();
    let head = r.head();
    let out = run(&r, &["tag", "1.2.3-rc.1", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    let v = json_stdout(&out);
    assert_eq!(v["ok"], true);
    assert_eq!(v["version"], "1.2.3-rc.1");
    assert_eq!(v["tag"], "v1.2.3-rc.1");
    assert_eq!(v["sha"], head.as_str());
    assert_eq!(v["pushed"], true);
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 8);
    assert!(checks.iter().all(|c| c["ok"] == true), "{v}");

    // A refusal carries them too.
    std::fs::write(r.work.join("README.md"), "dirty\n").unwrap();
    let out = run(&r, &["tag", "1.2.3", "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let v = json_stdout(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["kind"], "refused");
    assert_eq!(v["version"], "1.2.3");
    assert_eq!(v["tag"], "v1.2.3");
    assert_eq!(v["sha"], head.as_str());
    assert_eq!(v["pushed"], false);
    let failed: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["clean"]);
}

#[test]
fn outside_a_git_work_tree_is_a_usage_error() {
    let r = Repos::new();
    let outside = r.sb.path().join("plain");
    std::fs::create_dir_all(&outside).unwrap();
    let out = r.sb.almarel(&outside).args(["tag", "1.2.3"]).run().unwrap();
    let text = all_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("not inside a git work tree"), "{text}");
    assert!(text.contains("hint:"), "{text}");
}

#[test]
fn a_missing_remote_is_a_usage_error() {
    let r = Repos::new();
    r.git(&["remote", "rename", "origin", "upstream"]);
    let out = run(&r, &["tag", "1.2.3"]);
    let text = all_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("no remote named `origin`"), "{text}");
    // ...and the configured remote is used when set.
    let out = r
        .almarel()
        .args(["tag", "1.2.3"])
        .env("ALMAREL_GIT_REMOTE", "upstream")
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    assert_eq!(r.git_origin(&["cat-file", "-t", "v1.2.3"]), "tag");
}

#[test]
fn github_actions_outputs_tag_sha_and_version() {
    let r = Repos::new();
    let head = r.head();
    let output = r.sb.path().join("gh_output");
    let summary = r.sb.path().join("gh_summary");
    let out = r
        .almarel()
        .args(["tag", "1.2.3"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    let text = std::fs::read_to_string(&output).unwrap();
    assert!(text.contains("tag=v1.2.3\n"), "{text}");
    assert!(text.contains(&format!("sha={head}\n")), "{text}");
    assert!(text.contains("version=1.2.3\n"), "{text}");
    assert!(
        std::fs::read_to_string(&summary)
            .unwrap()
            .contains("v1.2.3")
    );
}

/// `--json` with what changes from run to run replaced: SHAs, the sandbox path.
fn stable_json(r: &Repos, out: &std::process::Output) -> serde_json::Value {
    let head = r.head();
    let text = String::from_utf8_lossy(&out.stdout)
        .replace(&head, "[sha]")
        .replace(&head[..7], "[short]")
        .replace(&r.sb.path().display().to_string(), "[sandbox]");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn json_shapes_are_stable() {
    let r = Repos::new();
    let out = run(&r, &["tag", "1.2.3", "--dry-run", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    insta::assert_json_snapshot!("tag_dry_run", stable_json(&r, &out));

    let out = run(&r, &["tag", "1.2.3", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    insta::assert_json_snapshot!("tag_pushed", stable_json(&r, &out));

    // A new commit (HEAD already released as v1.2.3 would fail "commit" too).
    r.commit_and_push("Fix login redirect");
    std::fs::write(r.work.join("scratch.txt"), "x").unwrap();
    let out = run(&r, &["tag", "1.2.4", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", all_text(&out));
    insta::assert_json_snapshot!("tag_refused_dirty", stable_json(&r, &out));
}

#[test]
fn a_stdout_that_cannot_be_written_is_an_error_on_stderr_and_exit_1() {
    let r = Repos::new();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out =
        r.sb.almarel_std(&r.work)
            .args(["tag", "1.2.3", "--dry-run"])
            .stdout(full)
            .run()
            .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: cannot write the results to stdout"),
        "{stderr}"
    );
    assert_no_panic(&out);
}

#[test]
fn a_reader_that_closes_the_pipe_early_is_not_an_error() {
    let r = Repos::new();
    let mut child =
        r.sb.almarel_std(&r.work)
            .args(["tag", "1.2.3", "--dry-run"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
    // Like `| head -0`: the reader is gone before anything is written.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `tag` on HEAD, pushed, then a new pushed commit: the usual state before
/// the next release.
fn released(r: &Repos, tag: &str) {
    r.tag(tag, "HEAD");
    r.push_tag(tag);
    r.commit_and_push(&format!("After {tag}"));
}

/// The `--json` error code of a refused run (and the refusal changed nothing).
fn refusal_code(r: &Repos, args: &[&str]) -> (String, serde_json::Value) {
    let origin_before = r.origin_refs();
    let tags_before = r.local_tags();
    let mut a = args.to_vec();
    a.push("--json");
    let out = run(r, &a);
    assert_eq!(out.status.code(), Some(3), "{}", all_text(&out));
    assert_eq!(r.origin_refs(), origin_before, "origin changed");
    assert_eq!(r.local_tags(), tags_before, "local tags changed");
    let v = json_stdout(&out);
    (
        v["error"]["code"].as_str().unwrap_or_default().to_owned(),
        v,
    )
}

#[test]
fn a_version_that_skips_releases_is_refused_naming_allow_gap() {
    let r = Repos::new();
    released(&r, "v1.2.3");
    let text = assert_refused(
        &r,
        &["tag", "13.0.0"],
        &[
            "13.0.0 skips versions: the highest final release is v1.2.3, so the next is 1.2.4, 1.3.0 or 2.0.0",
            "hint: tag the next version (e.g. almarel tag 1.3.0); to skip on purpose: almarel tag 13.0.0 --allow-gap",
        ],
    );
    assert!(failed_line(&text, "gap").is_some(), "{text}");
    // Only the gap failed; the version itself is above every release tag.
    assert!(failed_line(&text, "version").is_none(), "{text}");
    assert!(!r.origin_tags().contains(&"v13.0.0".to_owned()));
    let (code, v) = refusal_code(&r, &["tag", "13.0.0"]);
    assert_eq!(code, "version_gap", "{v}");
    assert_eq!(v["error"]["kind"], "refused");

    // With --allow-gap it is tagged and pushed, and the check says why it passed.
    let out = run(&r, &["tag", "13.0.0", "--allow-gap"]);
    let text = all_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("allowed by --allow-gap"), "{text}");
    assert_eq!(r.git_origin(&["rev-parse", "v13.0.0^{commit}"]), r.head());
    // The override is on the record, ahead and in the outcome.
    let audit = r.sb.audit_lines();
    assert_eq!(audit.len(), 2, "{audit:?}");
    for line in &audit {
        assert_eq!(
            line["details"]["overrides"],
            serde_json::json!(["--allow-gap"])
        );
    }
}

#[test]
fn gap_means_anything_but_the_next_patch_minor_or_major_of_the_highest_final() {
    let r = Repos::new();
    released(&r, "v1.2.1");
    released(&r, "v1.2.3");
    for ok in [
        "1.2.4",
        "1.3.0",
        "2.0.0",
        "1.3.0-rc.2",
        "1.2.4-rc.1",
        "2.0.0-rc.1",
    ] {
        let out = run(&r, &["tag", ok, "--dry-run"]);
        let text = all_text(&out);
        assert_eq!(out.status.code(), Some(0), "{ok}: {text}");
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with('✓') && l.contains(" gap ")),
            "{ok}: {text}"
        );
    }
    for gap in [
        "1.2.5",
        "1.3.1",
        "1.4.0",
        "2.0.1",
        "2.1.0",
        "3.0.0",
        "13.0.0",
        "1.4.0-rc.1",
    ] {
        let (code, v) = refusal_code(&r, &["tag", gap, "--dry-run"]);
        assert_eq!(code, "version_gap", "{gap}: {v}");
    }
    // Not above the highest release: the version check says so, not the gap.
    let (code, v) = refusal_code(&r, &["tag", "1.2.2"]);
    assert_eq!(code, "version_not_above", "{v}");

    // A pre-release above the highest final does not move the baseline:
    // its final and the next rc are fine, skipping past it is a gap.
    r.tag("v1.3.0-rc.1", "HEAD~1");
    r.push_tag("v1.3.0-rc.1");
    for ok in ["1.3.0", "1.3.0-rc.2", "2.0.0"] {
        let out = run(&r, &["tag", ok, "--dry-run"]);
        assert_eq!(out.status.code(), Some(0), "{ok}: {}", all_text(&out));
    }
    let (code, v) = refusal_code(&r, &["tag", "1.4.0", "--dry-run"]);
    assert_eq!(code, "version_gap", "{v}");
}

#[test]
fn the_first_final_release_may_be_any_version() {
    let r = Repos::new();
    r.tag("v0.9.0-rc.1", "HEAD");
    r.push_tag("v0.9.0-rc.1");
    r.commit_and_push("Ready");
    let out = run(&r, &["tag", "5.0.0"]);
    let text = all_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("no final release tag yet: 5.0.0 may start the series"),
        "{text}"
    );
    assert!(r.origin_tags().contains(&"v5.0.0".to_owned()));
}

#[test]
fn a_commit_that_already_carries_a_final_release_is_refused_naming_allow_same_commit() {
    let r = Repos::new();
    r.tag("v1.2.3", "HEAD");
    r.push_tag("v1.2.3");
    let head = r.head();
    let text = assert_refused(
        &r,
        &["tag", "1.2.4"],
        &[
            &format!(
                "HEAD ({}) is already released as v1.2.3: this tag would release nothing new",
                &head[..7]
            ),
            "hint: merge and push the change first, then tag its commit; to tag this commit again on purpose: almarel tag 1.2.4 --allow-same-commit",
        ],
    );
    assert!(failed_line(&text, "commit").is_some(), "{text}");
    let (code, _) = refusal_code(&r, &["tag", "1.2.4"]);
    assert_eq!(code, "same_commit");
    // A pre-release after its final on the same commit is refused too.
    let (code, _) = refusal_code(&r, &["tag", "1.2.4-rc.1"]);
    assert_eq!(code, "same_commit");

    let out = run(&r, &["tag", "1.2.4", "--allow-same-commit"]);
    let text = all_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("allowed by --allow-same-commit"), "{text}");
    assert_eq!(r.git_origin(&["rev-parse", "v1.2.4^{commit}"]), head);
    let audit = r.sb.audit_lines();
    assert_eq!(
        audit.last().unwrap()["details"]["overrides"],
        serde_json::json!(["--allow-same-commit"]),
        "{audit:?}"
    );
}

#[test]
fn a_final_release_only_on_the_remote_at_head_counts_for_same_commit() {
    let r = Repos::new();
    let other = r.other_clone();
    let home = r.sb.home();
    // A colleague tagged the same commit and pushed it; this clone never fetched the tag.
    crate::support::git::git(
        &home,
        &other,
        &["tag", "-a", "v2.0.0", "-m", "Release v2.0.0"],
    );
    crate::support::git::git(&home, &other, &["push", "-q", "origin", "v2.0.0"]);
    assert!(r.local_tags().is_empty());
    let (code, v) = refusal_code(&r, &["tag", "2.0.1"]);
    assert_eq!(code, "same_commit", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already released as v2.0.0"),
        "{v}"
    );
}

#[test]
fn gap_and_same_commit_fail_together_and_the_hint_names_both_flags() {
    let r = Repos::new();
    r.tag("v1.2.3", "HEAD");
    r.push_tag("v1.2.3");
    let text = assert_refused(
        &r,
        &["tag", "13.0.0"],
        &[
            "2 of 8 checks failed: gap, commit",
            "hint: fix the items marked ✗ above, then re-run: almarel tag 13.0.0 (--allow-gap / --allow-same-commit only if that is intended)",
        ],
    );
    assert!(failed_line(&text, "gap").is_some(), "{text}");
    assert!(failed_line(&text, "commit").is_some(), "{text}");
    let (code, _) = refusal_code(&r, &["tag", "13.0.0"]);
    assert_eq!(code, "checks_failed");
    // Both overrides given: tagged.
    let out = run(&r, &["tag", "13.0.0", "--allow-gap", "--allow-same-commit"]);
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    assert!(r.origin_tags().contains(&"v13.0.0".to_owned()));
}

#[test]
fn overrides_are_carried_by_the_next_line_of_a_dry_run_and_a_no_push_run() {
    let r = Repos::new();
    released(&r, "v1.2.3");
    let out = run(&r, &["tag", "13.0.0", "--allow-gap", "--dry-run"]);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    assert!(
        stderr.contains("next: almarel tag 13.0.0 --allow-gap\n"),
        "{stderr}"
    );
    // A refusal's re-run keeps --no-push and the override given.
    std::fs::write(r.work.join("scratch.txt"), "x").unwrap();
    let text = assert_refused(
        &r,
        &["tag", "13.0.0", "--no-push", "--allow-gap"],
        &["then re-run: almarel tag 13.0.0 --no-push --allow-gap"],
    );
    assert!(failed_line(&text, "clean").is_some(), "{text}");
    std::fs::remove_file(r.work.join("scratch.txt")).unwrap();

    let out = run(&r, &["tag", "13.0.0", "--allow-gap", "--no-push"]);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    assert!(
        stderr.contains("next: almarel tag 13.0.0 --allow-gap\n"),
        "{stderr}"
    );
    assert!(!r.origin_tags().contains(&"v13.0.0".to_owned()));
    // The printed next line pushes it (the gap is checked again and allowed).
    let out = run(&r, &["tag", "13.0.0", "--allow-gap"]);
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    assert!(r.origin_tags().contains(&"v13.0.0".to_owned()));
    // Without the override the resume is refused like the first run would be.
    let r2 = Repos::new();
    released(&r2, "v1.2.3");
    let out = run(&r2, &["tag", "13.0.0", "--allow-gap", "--no-push"]);
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    let (code, _) = refusal_code(&r2, &["tag", "13.0.0"]);
    assert_eq!(code, "version_gap");
}
