//! GitHub Actions mode (SPEC §4): failures become `::error::` annotations,
//! nothing ever prompts, colour is off unless forced, and the summary and
//! outputs files receive results. (Per-command outputs are asserted in the
//! tag, status, deploy and verify tests.)

use crate::support::Run;
use crate::support::{Sandbox, texts};

fn project(sb: &Sandbox, toml: &str) -> std::path::PathBuf {
    let dir = sb.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("almarel.toml"), toml).unwrap();
    dir
}

#[test]
fn a_failure_is_an_error_annotation_with_its_hint() {
    let sb = Sandbox::new();
    // A closed loopback port: production is "down".
    let dir = project(
        &sb,
        "[verify]\nhealth_url = \"http://127.0.0.1:9/health\"\nversion_url = \"http://127.0.0.1:9/api/version\"\nrequest_timeout = \"2s\"\n",
    );
    let summary = sb.path().join("summary.md");
    let out = sb
        .almarel(&dir)
        .args([
            "--config",
            "almarel.toml",
            "verify",
            "--expect-sha",
            "abcdef1",
        ])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", sb.path().join("out"))
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{e}");
    let annotation = e
        .lines()
        .find(|l| l.starts_with("::error::"))
        .unwrap_or_else(|| panic!("no ::error:: annotation:\n{e}"));
    assert!(!annotation.contains('\n'));
    // No colour escape codes in Actions logs.
    assert!(!e.contains('\u{1b}'), "colour in Actions: {e:?}");
    let s = std::fs::read_to_string(&summary).unwrap();
    assert!(s.contains("health"), "summary lists the checks: {s}");
}

#[test]
fn actions_never_prompts_a_change_needs_yes() {
    use crate::support::github::{GhEnv, TOKEN};
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    // freeze asks for confirmation; in Actions there is no prompt: exit 3,
    // and the workflow is never disabled.
    let out = gh
        .almarel(&sb)
        .args(["freeze", "--reason", "incident"])
        .env("GITHUB_ACTIONS", "true")
        .run()
        .unwrap();
    let (_, e) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{e}");
    assert!(!e.contains("[y/N]"), "prompted in Actions: {e}");
    assert!(e.contains("::error::") && e.contains("--yes"), "{e}");
    assert!(!e.contains(TOKEN), "token leaked: {e}");
    assert!(
        gh.sim
            .recorder()
            .matching("PUT", "/repos/octo/app/actions/workflows")
            .is_empty(),
        "nothing was disabled"
    );
}
