//! The composite action and the workflow files parse as YAML and have the
//! jobs and steps the docs promise.

use std::path::Path;

use yaml_rust2::{Yaml, YamlLoader};

fn load(rel: &str) -> Yaml {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let mut docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert_eq!(docs.len(), 1, "{rel}: one document");
    docs.remove(0)
}

fn jobs(y: &Yaml) -> Vec<String> {
    y["jobs"]
        .as_hash()
        .expect("jobs")
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

fn all_runs(y: &Yaml) -> String {
    let mut out = String::new();
    for (_, job) in y["jobs"].as_hash().unwrap() {
        for step in job["steps"].as_vec().unwrap() {
            if let Some(r) = step["run"].as_str() {
                out.push_str(r);
            }
            if let Some(a) = step["with"]["args"].as_str() {
                out.push_str(a);
            }
        }
    }
    out
}

#[test]
fn action_is_a_composite_that_installs_and_runs_almarel() {
    let a = load("action.yml");
    assert_eq!(a["runs"]["using"].as_str(), Some("composite"));
    assert!(a["inputs"]["args"]["required"].as_bool().unwrap());
    let steps = a["runs"]["steps"].as_vec().unwrap();
    assert_eq!(steps.len(), 2);
    assert!(steps[1]["run"].as_str().unwrap().starts_with("almarel "));
    for out in ["tag", "sha", "version", "deployments"] {
        assert!(!a["outputs"][out].is_badvalue(), "output {out}");
    }
}

#[test]
fn project_ci_runs_the_ci_script() {
    let ci = load(".github/workflows/ci.yml");
    assert_eq!(jobs(&ci), vec!["ci"]);
    assert!(all_runs(&ci).contains(".ci/run"));
}

#[test]
fn project_release_builds_every_platform_with_checksums() {
    let r = load(".github/workflows/release.yml");
    assert_eq!(jobs(&r), vec!["build", "publish"]);
    let targets: Vec<&str> = r["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|m| m["target"].as_str().unwrap())
        .collect();
    for t in [
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "x86_64-unknown-linux-musl",
        "aarch64-apple-darwin",
        "x86_64-pc-windows-msvc",
    ] {
        assert!(targets.contains(&t), "{t}");
    }
    assert!(all_runs(&r).contains("sha256sum"));
}

#[test]
fn example_workflows_use_almarel_as_documented() {
    let deploy = load("docs/workflows/deploy-production.yml");
    assert_eq!(deploy["name"].as_str(), Some("Deploy to Production"));
    assert_eq!(
        deploy["jobs"]["deploy"]["environment"].as_str(),
        Some("production")
    );
    let runs = all_runs(&deploy);
    assert!(runs.contains("deploy ") && runs.contains("--yes"));
    assert!(runs.contains("verify --expect-sha"));
    let release = load("docs/workflows/release.yml");
    let runs = all_runs(&release);
    assert!(
        runs.contains("--prerelease --latest=false"),
        "rc never latest"
    );
    let ci = load("docs/workflows/ci.yml");
    assert_eq!(ci["name"].as_str(), Some("CI"));
}
