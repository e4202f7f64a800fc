//! Regressions found by `scripts/bench.sh` on a large repository: results
//! must not change when the work is organised to scale.

use crate::support::Run;
use crate::support::git::Repos;
use crate::support::{assert_no_panic, texts};

/// `tag` used to test every release tag for reachability from HEAD (minutes
/// with 2,000 tags over 20,000 commits); it now tests them highest first and
/// stops at the first reachable one. The answer must stay the highest
/// release tag reachable from HEAD, skipping higher tags on other branches
/// and tags whose commit is not in the clone.
#[test]
fn previous_release_is_the_highest_reachable_tag_among_many() {
    let r = Repos::new();
    r.commit_and_push("base");
    // Higher tags that HEAD cannot reach: a side branch.
    r.git(&["switch", "-q", "-c", "side"]);
    r.commit("side work");
    r.tag("v9.0.0", "HEAD");
    r.tag("v8.0.0-rc.1", "HEAD");
    r.git(&["switch", "-q", "main"]);
    for i in 0..60 {
        r.commit(&format!("change {i}"));
        r.tag(&format!("v1.0.{i}"), "HEAD");
    }
    r.commit("after the last release");
    r.commit("one more");
    r.git(&["push", "-q", "origin", "main"]);
    let out = r
        .almarel()
        .args(["tag", "10.0.0", "--dry-run"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(o.contains("since   v1.0.59: 2 commits"), "{o}");
    assert!(!o.contains("since   v9.0.0"), "{o}");
}

/// Requests `status` sent that count against GitHub's rate limit: everything
/// but `304 Not Modified`.
fn counted(reqs: &[almarel_sandbox::Recorded]) -> usize {
    reqs.iter().filter(|r| r.status != 304).count()
}

/// `status v1.2.3` on a repository with 2,000 release tags (most annotated)
/// used to peel each annotated tag with its own `git/tags/{sha}` request:
/// about 2,000 rate-limited requests per run. Now the tags are peeled in one
/// GraphQL query per 1,000 and remembered (tag objects are immutable), and
/// every GET is conditional from the first request of a later run (the
/// persistent ETag cache): ≤ 10 counted requests the first time, ≤ 2 on a
/// repeat. The answer (which tags sit at the commit) must not change.
#[test]
fn status_on_2000_tags_costs_few_requests_and_a_repeat_almost_none() {
    use crate::support::Sandbox;
    use crate::support::github::{GhEnv, TOKEN};
    use almarel_sandbox::github::RunPlan;
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let mut target = String::new();
    for i in 0..100 {
        let sha = gh.sim.add_commit(&format!("change {i}"));
        for j in 0..20 {
            // Every seventh tag is lightweight.
            let annotated = (i * 20 + j) % 7 != 0;
            gh.sim.add_tag(&format!("v1.{i}.{j}"), &sha, annotated);
        }
        if i == 2 {
            target = sha.clone();
            gh.sim.add_tag("v1.2.3-rc.1", &sha, true);
        }
    }
    gh.sim.add_release("v1.2.3", false);
    gh.sim.add_run("CI", &target, RunPlan::success());
    gh.sim.add_run("Release", &target, RunPlan::success());
    gh.sim.add_run(
        "Deploy to Production",
        &target,
        RunPlan::awaiting_approval(),
    );
    let expected: Vec<String> = {
        let mut v: Vec<String> = (0..20).map(|j| format!("v1.2.{j}")).collect();
        v.push("v1.2.3-rc.1".into());
        v.sort();
        v
    };
    let run = |label: &str| {
        let start = gh.sim.recorder().all().len();
        let out = gh
            .almarel(&sb)
            .args(["status", "1.2.3", "--json"])
            .run()
            .unwrap();
        assert_no_panic(&out);
        let (o, e) = texts(&out);
        assert_eq!(out.status.code(), Some(0), "{label}: {o}\n{e}");
        let v: serde_json::Value = serde_json::from_str(&o).expect("json");
        let mut tags: Vec<String> = v["tags_at_commit"]
            .as_array()
            .expect("tags_at_commit")
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect();
        tags.sort();
        assert_eq!(tags, expected, "{label}");
        assert_eq!(v["sha"], target.as_str(), "{label}");
        assert_eq!(v["tag"]["annotated"], true, "{label}");
        gh.sim.recorder().all()[start..].to_vec()
    };

    let first = run("first run");
    let paths: Vec<String> = first
        .iter()
        .map(|r| format!("{} {} → {}", r.method, r.path, r.status))
        .collect();
    assert!(
        counted(&first) <= 10,
        "first run: {} counted requests: {paths:#?}",
        counted(&first)
    );
    assert!(
        !first.iter().any(|r| r.path.contains("/git/tags/")),
        "no request per tag: {paths:#?}"
    );
    let listing: Vec<_> = first
        .iter()
        .filter(|r| r.path.contains("/git/matching-refs/"))
        .collect();
    assert_eq!(listing.len(), 1, "{paths:#?}");
    assert!(!listing[0].path.contains("per_page"), "{paths:#?}");
    // 2,000 tags, 1,715 of them annotated: two GraphQL queries.
    assert_eq!(
        first.iter().filter(|r| r.path == "/graphql").count(),
        2,
        "{paths:#?}"
    );

    let second = run("repeat");
    let paths: Vec<String> = second
        .iter()
        .map(|r| format!("{} {} → {}", r.method, r.path, r.status))
        .collect();
    assert!(
        counted(&second) <= 2,
        "repeat: {} counted requests: {paths:#?}",
        counted(&second)
    );
    assert!(!second.iter().any(|r| r.path == "/graphql"), "{paths:#?}");
    // Conditional from the repeat's first request on (a 404 — no freeze
    // record — carries no ETag to revalidate).
    assert!(
        second
            .iter()
            .filter(|r| r.method == "GET" && r.status != 404)
            .all(|r| r.headers.iter().any(|(k, _)| k == "if-none-match")),
        "{paths:#?}"
    );

    // The cache is the token's own: files 0600 under a hashed directory,
    // the token nowhere in it, and another token starts from nothing.
    let cache = sb.home().join(".cache/almarel/github");
    let dirs: Vec<_> = std::fs::read_dir(&cache).unwrap().flatten().collect();
    assert_eq!(dirs.len(), 1);
    for f in std::fs::read_dir(dirs[0].path()).unwrap().flatten() {
        let text = std::fs::read_to_string(f.path()).unwrap();
        assert!(!text.contains(TOKEN));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = f.metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.path().display());
        }
    }
    let other = "ghp_anOtherT0kenForTheSameRepo00000";
    gh.sim.require_token(other);
    let start = gh.sim.recorder().all().len();
    let out = gh
        .almarel(&sb)
        .env("GH_TOKEN", other)
        .args(["status", "1.2.3", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let third = gh.sim.recorder().all()[start..].to_vec();
    assert!(
        !third
            .iter()
            .any(|r| r.headers.iter().any(|(k, _)| k == "if-none-match")),
        "another token must not reuse the first token's answers"
    );
    assert_eq!(third.iter().filter(|r| r.path == "/graphql").count(), 2);
}

/// Without GraphQL (an old GitHub Enterprise, a proxy passing only REST):
/// a smaller query is tried, then each annotated tag is peeled over REST,
/// with the same answer.
#[test]
fn without_graphql_tags_are_peeled_over_rest_with_the_same_answer() {
    use crate::support::Sandbox;
    use crate::support::github::GhEnv;
    use almarel_sandbox::github::Fault;
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("release");
    for t in ["v1.2.3", "v1.2.3-rc.1", "v1.2.3-rc.2"] {
        gh.sim.add_tag(t, &sha, true);
    }
    let other = gh.sim.add_commit("later");
    gh.sim.add_tag("v1.2.4", &other, true);
    gh.sim.fault(Fault::new("POST", "/graphql", 2, 404));
    let out = gh
        .almarel(&sb)
        .args(["status", "1.2.3", "--json"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    let v: serde_json::Value = serde_json::from_str(&o).unwrap();
    assert_eq!(
        v["tags_at_commit"],
        serde_json::json!(["v1.2.3", "v1.2.3-rc.1", "v1.2.3-rc.2"])
    );
    let all = gh.sim.recorder().all();
    let graphql: Vec<u16> = all
        .iter()
        .filter(|r| r.path == "/graphql")
        .map(|r| r.status)
        .collect();
    assert_eq!(graphql, [404, 404], "a smaller query, then REST");
    assert_eq!(
        all.iter().filter(|r| r.path.contains("/git/tags/")).count(),
        4,
        "one REST peel per annotated tag"
    );
    // Kept on disk: a repeat peels nothing.
    let start = all.len();
    let out = gh
        .almarel(&sb)
        .args(["status", "1.2.3", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let again = gh.sim.recorder().all()[start..].to_vec();
    assert!(
        !again
            .iter()
            .any(|r| r.path == "/graphql" || r.path.contains("/git/tags/")),
        "{again:?}"
    );
}

/// GraphQL refused with a 403 (a proxy or an SSO policy that passes only
/// REST): the tags are peeled over REST, the same answer, exit 0.
#[test]
fn graphql_refused_with_403_falls_back_to_rest() {
    use crate::support::Sandbox;
    use crate::support::github::GhEnv;
    use almarel_sandbox::github::Fault;
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("release");
    for t in ["v1.2.3", "v1.2.3-rc.1"] {
        gh.sim.add_tag(t, &sha, true);
    }
    gh.sim.fault(Fault::new("POST", "/graphql", 5, 403));
    let out = gh
        .almarel(&sb)
        .args(["status", "1.2.3", "--json"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    let v: serde_json::Value = serde_json::from_str(&o).unwrap();
    assert_eq!(
        v["tags_at_commit"],
        serde_json::json!(["v1.2.3", "v1.2.3-rc.1"])
    );
    let all = gh.sim.recorder().all();
    let graphql: Vec<u16> = all
        .iter()
        .filter(|r| r.path == "/graphql")
        .map(|r| r.status)
        .collect();
    assert_eq!(
        graphql,
        [403, 403],
        "a smaller query, then REST (as for a 404)"
    );
    assert_eq!(
        all.iter().filter(|r| r.path.contains("/git/tags/")).count(),
        2,
        "one REST peel per annotated tag"
    );
}
