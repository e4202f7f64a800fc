//! The properties the fuzz targets check, as plain functions: the cargo-fuzz
//! targets call them on libFuzzer's inputs, and `tests/cli/fuzz_seeds.rs`
//! (which includes this file) calls them on the seed corpus in every
//! `cargo test`. Each must never panic on any input.

use almarel::coolify::model as cm;
use almarel::github::models as gm;
use almarel::version::ReleaseVersion;

/// `ReleaseVersion::parse` never panics; what it accepts round-trips through
/// its tag name and parses again to the same version.
pub fn version(input: &str) {
    let ids = vec!["rc".to_owned(), "beta".to_owned()];
    for prefix in ["v", ""] {
        if let Ok(v) = ReleaseVersion::parse(input, prefix, &ids) {
            let tag = v.tag_name(prefix);
            let again = ReleaseVersion::parse(&tag, prefix, &ids).unwrap_or_else(|e| {
                panic!("{input:?} parsed as {tag:?}, which does not parse: {e:?}")
            });
            assert_eq!(again.tag_name(prefix), tag, "{input:?}");
            assert_eq!(again.is_prerelease(), v.is_prerelease(), "{input:?}");
        }
    }
}

/// The config loader never panics: a bad file is a usage error (exit 2).
pub fn config(input: &str) {
    if let Err(e) = almarel::settings::parse_config_text(input) {
        assert_eq!(e.exit_code(), 2, "{input:?}: {e:?}");
    }
}

/// Decoding GitHub and Coolify answers never panics, and neither do the
/// helpers that read the decoded values.
pub fn responses(data: &[u8]) {
    if let Ok(r) = serde_json::from_slice::<gm::RunList>(data) {
        for run in &r.workflow_runs {
            let _ = (run.is_completed(), run.is_waiting(), run.state_text());
        }
    }
    if let Ok(w) = serde_json::from_slice::<gm::WorkflowList>(data) {
        for wf in &w.workflows {
            let _ = (wf.file_name(), wf.matches("ci.yml"));
        }
    }
    let _ = serde_json::from_slice::<Vec<gm::PendingDeployment>>(data)
        .map(|p| p.iter().map(|d| d.reviewers.len()).sum::<usize>());
    let _ = serde_json::from_slice::<gm::Environment>(data).map(|e| e.prevents_self_review());
    let _ = serde_json::from_slice::<gm::GitRef>(data);
    let _ = serde_json::from_slice::<gm::GitTag>(data);
    let _ = serde_json::from_slice::<gm::Release>(data);
    let _ = serde_json::from_slice::<gm::Commit>(data).map(|c| c.subject().len());
    let _ = serde_json::from_slice::<gm::Comparison>(data);
    let _ = serde_json::from_slice::<gm::User>(data);
    if let Ok(a) = serde_json::from_slice::<cm::Application>(data) {
        let _ = (a.is_docker_image(), a.image_tag());
    }
    if let Ok(d) = serde_json::from_slice::<cm::Deployment>(data) {
        let _ = (
            d.status.is_terminal(),
            d.status.is_in_flight(),
            d.status.as_str(),
        );
    }
    let _ = serde_json::from_slice::<cm::DeploymentList>(data);
    if let Ok(r) = serde_json::from_slice::<cm::DeployResponse>(data) {
        for e in &r.deployments {
            let _ = e.trigger();
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = cm::log_lines(text);
        let _ = cm::DeploymentStatus::parse(text);
    }
}
