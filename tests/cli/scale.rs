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
