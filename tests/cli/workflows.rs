//! The composite action, the workflow files, the release packaging and the
//! install script: the YAML parses, runs on current GitHub-hosted runners,
//! never interpolates an input into a script, and the install path the README
//! offers works against the archive layout a release publishes.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};

use yaml_rust2::{Yaml, YamlLoader};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn parse(name: &str, text: &str) -> Yaml {
    let mut docs = YamlLoader::load_from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(docs.len(), 1, "{name}: one document");
    docs.remove(0)
}

fn load(rel: &str) -> Yaml {
    let text = std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    parse(rel, &text)
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

/// Every workflow file of the project and of the docs.
fn workflow_files() -> Vec<String> {
    let mut files = Vec::new();
    for dir in [".github/workflows", "docs/workflows"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".yml") || name.ends_with(".yaml") {
                files.push(format!("{dir}/{name}"));
            }
        }
    }
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    files
}

// ---------------------------------------------------------------------------
// Runner labels

/// GitHub-hosted runner labels that exist today (pinned: update when GitHub
/// announces an image; https://github.com/actions/runner-images).
const CURRENT_LABELS: &[&str] = &[
    "ubuntu-latest",
    "ubuntu-24.04",
    "ubuntu-22.04",
    "ubuntu-24.04-arm",
    "ubuntu-22.04-arm",
    "ubuntu-slim",
    "windows-latest",
    "windows-2025",
    "windows-2022",
    "windows-11-arm",
    "macos-latest",
    "macos-26",
    "macos-15",
    "macos-14",
    "macos-15-intel",
    "macos-latest-large",
    "macos-15-large",
    "macos-14-large",
    "macos-latest-xlarge",
    "macos-26-xlarge",
    "macos-15-xlarge",
    "macos-14-xlarge",
];

/// Labels GitHub has retired: a job on one of them never starts.
const RETIRED_LABELS: &[&str] = &[
    "ubuntu-16.04",
    "ubuntu-18.04",
    "ubuntu-20.04",
    "macos-10.15",
    "macos-11",
    "macos-12",
    "macos-12-large",
    "macos-13",
    "macos-13-large",
    "macos-13-xlarge",
    "windows-2016",
    "windows-2019",
];

/// The labels a job's `runs-on` can take, with `${{ matrix.X }}` expanded
/// from the job's matrix; an expression it cannot expand is returned as is.
fn runner_labels(job: &Yaml) -> Vec<String> {
    let runs_on = &job["runs-on"];
    let raw: Vec<String> = match runs_on {
        Yaml::String(s) => vec![s.clone()],
        Yaml::Array(a) => a
            .iter()
            .filter_map(|l| l.as_str().map(str::to_owned))
            .collect(),
        Yaml::Hash(_) => match &runs_on["labels"] {
            Yaml::String(s) => vec![s.clone()],
            Yaml::Array(a) => a
                .iter()
                .filter_map(|l| l.as_str().map(str::to_owned))
                .collect(),
            _ => vec![],
        },
        _ => vec![],
    };
    let mut out = Vec::new();
    for label in raw {
        let expr = label
            .trim()
            .strip_prefix("${{")
            .and_then(|s| s.strip_suffix("}}"))
            .map(str::trim);
        let Some(key) = expr.and_then(|e| e.strip_prefix("matrix.")) else {
            out.push(label);
            continue;
        };
        let matrix = &job["strategy"]["matrix"];
        let mut values = Vec::new();
        if let Some(list) = matrix[key].as_vec() {
            values.extend(list.iter().filter_map(|v| v.as_str().map(str::to_owned)));
        }
        for entry in matrix["include"].as_vec().into_iter().flatten() {
            if let Some(v) = entry[key].as_str() {
                values.push(v.to_owned());
            }
        }
        if values.is_empty() {
            out.push(label);
        } else {
            out.extend(values);
        }
    }
    out
}

/// What is wrong with the runner labels of one workflow.
fn label_problems(name: &str, workflow: &Yaml) -> Vec<String> {
    let mut problems = Vec::new();
    for (job_name, job) in workflow["jobs"].as_hash().into_iter().flatten() {
        let job_name = job_name.as_str().unwrap_or("?");
        if job["uses"].as_str().is_some() {
            continue; // a reusable workflow: its own file says where it runs
        }
        let labels = runner_labels(job);
        if labels.is_empty() {
            problems.push(format!("{name}: job {job_name} has no runs-on label"));
        }
        for label in labels {
            if RETIRED_LABELS.contains(&label.as_str()) {
                problems.push(format!(
                    "{name}: job {job_name} runs on {label}, which GitHub has retired"
                ));
            } else if !CURRENT_LABELS.contains(&label.as_str()) {
                problems.push(format!(
                    "{name}: job {job_name} runs on unknown label {label:?} (not in CURRENT_LABELS)"
                ));
            }
        }
    }
    problems
}

#[test]
fn every_workflow_runs_on_current_github_hosted_runners() {
    let mut problems = Vec::new();
    for file in workflow_files() {
        problems.extend(label_problems(&file, &load(&file)));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_runner_label_check_catches_retired_unknown_and_unexpanded_labels() {
    let y = parse(
        "synthetic",
        r#"
jobs:
  a:
    runs-on: ${{ matrix.os }}
    strategy:
      matrix:
        include:
          - { os: macos-13 }
          - { os: macos-15 }
  b:
    runs-on: [ubuntu-20.04]
  c:
    runs-on: macos-16-turbo
  d:
    runs-on: ${{ inputs.runner }}
  e:
    runs-on: { group: big, labels: windows-2019 }
  f:
    runs-on: ubuntu-24.04-arm
"#,
    );
    let problems = label_problems("synthetic", &y).join("\n");
    assert!(
        problems.contains("job a runs on macos-13, which GitHub has retired"),
        "{problems}"
    );
    assert!(!problems.contains("macos-15"), "{problems}");
    assert!(
        problems.contains("job b runs on ubuntu-20.04"),
        "{problems}"
    );
    assert!(
        problems.contains("unknown label \"macos-16-turbo\""),
        "{problems}"
    );
    assert!(
        problems.contains("unknown label \"${{ inputs.runner }}\""),
        "{problems}"
    );
    assert!(
        problems.contains("job e runs on windows-2019"),
        "{problems}"
    );
    assert!(!problems.contains("job f"), "{problems}");
    for retired in RETIRED_LABELS {
        assert!(
            !CURRENT_LABELS.contains(retired),
            "{retired} is in both lists"
        );
    }
}

// ---------------------------------------------------------------------------
// The project's own workflows

#[test]
fn project_ci_runs_the_ci_script() {
    let ci = load(".github/workflows/ci.yml");
    assert_eq!(jobs(&ci), vec!["ci"]);
    assert!(all_runs(&ci).contains(".ci/run"));
}

#[test]
fn project_release_builds_every_platform_packages_and_publishes_checksums() {
    let r = load(".github/workflows/release.yml");
    assert_eq!(jobs(&r), vec!["build", "publish"]);
    let include = r["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_vec()
        .unwrap();
    let os_of = |t: &str| {
        include
            .iter()
            .find(|m| m["target"].as_str() == Some(t))
            .and_then(|m| m["os"].as_str())
            .unwrap_or_else(|| panic!("{t} is not built"))
            .to_owned()
    };
    for t in [
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
        "aarch64-apple-darwin",
        "x86_64-apple-darwin",
        "x86_64-pc-windows-msvc",
    ] {
        os_of(t);
    }
    // Native builds: Apple silicon on an arm64 image, Intel on the Intel one.
    assert!(os_of("aarch64-apple-darwin").starts_with("macos-"));
    assert!(os_of("x86_64-apple-darwin").ends_with("-intel"));
    assert!(os_of("aarch64-unknown-linux-musl").ends_with("-arm"));
    for m in include {
        let static_build = m["target"].as_str().unwrap().ends_with("-musl");
        assert_eq!(m["musl"].as_bool() == Some(true), static_build, "{m:?}");
    }
    let build = all_runs(&r);
    assert!(
        build.contains("--features vendored-openssl"),
        "musl builds vendor OpenSSL"
    );
    assert!(
        build.contains("scripts/package.sh"),
        "packaged by the script the tests run"
    );
    assert!(
        build.contains("sha256sum -c"),
        "publish verifies every checksum"
    );
    assert!(build.contains("SHA256SUMS"));
    assert!(
        build.contains("scripts/install.sh"),
        "publish installs what it publishes"
    );
    assert!(build.contains("gh release create"));
    assert!(
        build.contains("--prerelease --latest=false"),
        "rc never latest"
    );
    assert_eq!(
        r["jobs"]["publish"]["needs"].as_str(),
        Some("build"),
        "publish waits for every build"
    );
    assert_eq!(
        r["jobs"]["publish"]["permissions"]["contents"].as_str(),
        Some("write")
    );
    // Matrix values reach scripts through env:, never spliced into them.
    for (_, job) in r["jobs"].as_hash().unwrap() {
        for step in job["steps"].as_vec().unwrap() {
            if let Some(run) = step["run"].as_str() {
                assert!(!run.contains("${{"), "expression inside a run: {run}");
            }
        }
    }
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
    // The deploy job never builds almarel: every use of the action installs
    // the release binary (the default), so nothing is compiled twice.
    for step in deploy["jobs"]["deploy"]["steps"].as_vec().unwrap() {
        if step["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("almafrica/almarel@"))
        {
            let version = step["with"]["version"].as_str().unwrap_or("");
            assert_ne!(version, "source", "{step:?}");
        }
        if let Some(run) = step["run"].as_str() {
            assert!(!run.contains("cargo "), "{run}");
        }
    }
    let release = load("docs/workflows/release.yml");
    let runs = all_runs(&release);
    assert!(
        runs.contains("--prerelease --latest=false"),
        "rc never latest"
    );
    let ci = load("docs/workflows/ci.yml");
    assert_eq!(ci["name"].as_str(), Some("CI"));
}

// ---------------------------------------------------------------------------
// The composite action

fn action_step(name: &str) -> String {
    let a = load("action.yml");
    a["runs"]["steps"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|s| s["name"].as_str() == Some(name))
        .and_then(|s| s["run"].as_str())
        .unwrap_or_else(|| panic!("action.yml has no step {name:?} with a run"))
        .to_owned()
}

#[test]
fn action_is_a_composite_that_installs_and_runs_almarel() {
    let a = load("action.yml");
    assert_eq!(a["runs"]["using"].as_str(), Some("composite"));
    assert!(a["inputs"]["args"]["required"].as_bool().unwrap());
    assert_eq!(a["inputs"]["version"]["default"].as_str(), Some(""));
    let steps = a["runs"]["steps"].as_vec().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[1]["id"].as_str(), Some("run"));
    assert!(steps[1]["run"].as_str().unwrap().contains("exec almarel "));
    for out in ["tag", "sha", "version", "deployments"] {
        assert!(!a["outputs"][out].is_badvalue(), "output {out}");
    }
}

#[test]
fn action_passes_inputs_only_through_env() {
    let a = load("action.yml");
    for step in a["runs"]["steps"].as_vec().unwrap() {
        let run = step["run"].as_str().unwrap();
        assert!(
            !run.contains("${{ inputs."),
            "input interpolated into a script: {run}"
        );
        assert!(!run.contains("${{"), "expression inside a run: {run}");
        assert!(
            !run.contains("github.action_path"),
            "use $GITHUB_ACTION_PATH: {run}"
        );
        for (_, value) in step["env"].as_hash().into_iter().flatten() {
            let value = value.as_str().unwrap();
            assert!(
                value.starts_with("${{ inputs.") || !value.contains("${{"),
                "{value}"
            );
        }
    }
    let install = action_step("install almarel");
    assert!(install.contains("$GITHUB_ACTION_PATH/scripts/install.sh"));
    assert!(install.contains("\"$GITHUB_ACTION_PATH\""));
}

/// A stand-in `almarel` on PATH that prints each argument it got in brackets.
fn fake_almarel(dir: &Path) -> PathBuf {
    let bin = dir.join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("almarel");
    std::fs::write(
        &script,
        "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]\\n' \"$a\"; done\n",
    )
    .unwrap();
    chmod_x(&script);
    bin
}

fn chmod_x(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn path_with(dir: &Path) -> String {
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn action_splits_args_into_words_without_running_them() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = fake_almarel(tmp.path());
    let args =
        r#"freeze --reason "db is down; $(touch pwned)" `touch pwned2` $HOME ; rm -rf * 'a b'"#;
    let out = Command::new("bash")
        .arg("-c")
        .arg(action_step("almarel"))
        .current_dir(tmp.path())
        .env("PATH", path_with(&bin))
        .env("RUNNER_TEMP", tmp.path())
        .env("ALMAREL_ACTION_ARGS", args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "[freeze]\n[--reason]\n[db is down; $(touch pwned)]\n[`touch]\n[pwned2`]\n[$HOME]\n[;]\n[rm]\n[-rf]\n[*]\n[a b]\n"
    );
    assert!(!tmp.path().join("pwned").exists() && !tmp.path().join("pwned2").exists());
    assert!(
        tmp.path().join("fake-bin/almarel").exists(),
        "nothing removed"
    );

    let empty = Command::new("bash")
        .arg("-c")
        .arg(action_step("almarel"))
        .env("PATH", path_with(&bin))
        .env("RUNNER_TEMP", tmp.path())
        .env("ALMAREL_ACTION_ARGS", "  ")
        .output()
        .unwrap();
    assert_eq!(empty.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&empty.stdout).contains("::error::"));
}

// ---------------------------------------------------------------------------
// Release archives and the install script

/// The target scripts/install.sh picks on this machine.
fn host_release_target() -> &'static str {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => "x86_64-unknown-linux-musl",
        ("linux", "aarch64") => "aarch64-unknown-linux-musl",
        ("macos", "aarch64") => "aarch64-apple-darwin",
        ("macos", "x86_64") => "x86_64-apple-darwin",
        other => panic!("no release target for {other:?}"),
    }
}

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A release directory laid out like GitHub's download URLs
/// (`{dir}/v{version}/almarel-v{version}-{target}.tar.gz` + `.sha256`), holding
/// this build's binary packaged by scripts/package.sh, as release.yml does.
fn release_mirror() -> &'static Path {
    static MIRROR: OnceLock<PathBuf> = OnceLock::new();
    MIRROR.get_or_init(|| {
        let mirror = Path::new(env!("CARGO_TARGET_TMPDIR")).join("release-mirror");
        let _ = std::fs::remove_dir_all(&mirror);
        let out = package(host_release_target(), &mirror.join(format!("v{VERSION}")));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        mirror
    })
}

fn package(target: &str, out_dir: &Path) -> Output {
    Command::new("sh")
        .arg(root().join("scripts/package.sh"))
        .args([
            &format!("v{VERSION}"),
            target,
            env!("CARGO_BIN_EXE_almarel"),
        ])
        .arg(out_dir)
        .output()
        .unwrap()
}

fn install(args: &[&str], home: &Path) -> Output {
    Command::new("sh")
        .arg(root().join("scripts/install.sh"))
        .args(args)
        .env("HOME", home)
        .env_remove("ALMAREL_VERSION")
        .env_remove("ALMAREL_TARGET")
        .env_remove("ALMAREL_INSTALL_DIR")
        .env_remove("ALMAREL_BASE_URL")
        .output()
        .unwrap()
}

fn installed_version(bin: &Path) -> String {
    let out = Command::new(bin).arg("--version").output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn archives_are_named_and_laid_out_as_cargo_binstall_expects() {
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(root().join("Cargo.toml")).unwrap()).unwrap();
    let package = &manifest["package"];
    let binstall = &package["metadata"]["binstall"];
    let repo = package["repository"].as_str().unwrap();
    let target = host_release_target();
    let fill = |template: &str, suffix: &str| {
        template
            .replace("{ repo }", repo)
            .replace("{ version }", VERSION)
            .replace("{ target }", target)
            .replace("{ archive-suffix }", suffix)
            .replace("{ bin }", "almarel")
            .replace("{ binary-ext }", "")
    };
    assert_eq!(binstall["pkg-fmt"].as_str(), Some("tgz"));
    let url = fill(binstall["pkg-url"].as_str().unwrap(), ".tar.gz");
    let bin_dir = fill(binstall["bin-dir"].as_str().unwrap(), "");
    let archive = url.rsplit('/').next().unwrap();
    assert_eq!(
        url,
        format!("https://github.com/almafrica/almarel/releases/download/v{VERSION}/{archive}")
    );

    let dir = release_mirror().join(format!("v{VERSION}"));
    assert!(
        dir.join(archive).is_file(),
        "package.sh did not write {archive}"
    );
    let listing = Command::new("tar")
        .arg("tzf")
        .arg(dir.join(archive))
        .output()
        .unwrap();
    let listing = String::from_utf8(listing.stdout).unwrap();
    let mut entries: Vec<&str> = listing.lines().filter(|l| !l.ends_with('/')).collect();
    entries.sort();
    let name = format!("almarel-v{VERSION}-{target}");
    assert_eq!(
        entries,
        vec![
            format!("{name}/LICENSE"),
            format!("{name}/README.md"),
            bin_dir.clone()
        ],
    );
    let sum = std::fs::read_to_string(dir.join(format!("{archive}.sha256"))).unwrap();
    let (hex, file) = sum.trim_end().split_once("  ").unwrap();
    assert_eq!(file, archive);
    assert_eq!(hex.len(), 64);
    assert!(hex.chars().all(|c| c.is_ascii_hexdigit()));

    // Windows: a zip, as the binstall override says.
    assert_eq!(
        binstall["overrides"]["x86_64-pc-windows-msvc"]["pkg-fmt"].as_str(),
        Some("zip")
    );
    let script = std::fs::read_to_string(root().join("scripts/package.sh")).unwrap();
    assert!(script.contains(r#"*windows*) exe=almarel.exe; archive="$name.zip""#));
}

/// A loopback HTTP server for files under `dir`; records each path asked for.
fn serve(dir: &Path) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (dir, log) = (dir.to_owned(), Arc::clone(&seen));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
            log.lock().unwrap().push(path.clone());
            let file = dir.join(path.trim_start_matches('/'));
            let body = (!path.contains(".."))
                .then(|| std::fs::read(&file).ok())
                .flatten();
            let _ = match body {
                Some(body) => stream
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .and_then(|()| stream.write_all(&body)),
                None => stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                ),
            };
        }
    });
    (url, seen)
}

/// The README's download command, as written: the arguments after `sh -s --`.
fn readme_install_args() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let head: String = readme.lines().take(25).collect::<Vec<_>>().join("\n");
    let line = head
        .lines()
        .find(|l| l.contains("/scripts/install.sh | sh -s --"))
        .expect("the README's first lines offer the download command");
    assert!(line.starts_with("curl -fsSL https://raw.githubusercontent.com/almafrica/almarel/"));
    line.split("sh -s --")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn readme_starts_with_the_rehearsal_the_tests_and_installs_without_rust() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let head: Vec<&str> = readme.lines().take(25).collect();
    assert_eq!(head[2], "```sh");
    assert!(
        head[3].starts_with("cargo run --release -- rehearse "),
        "{}",
        head[3]
    );
    assert!(
        head[4].starts_with("cargo test --workspace --locked "),
        "{}",
        head[4]
    );
    let head = head.join("\n");
    assert!(head.contains("cargo binstall almarel"));
    let args = readme_install_args();
    assert_eq!(
        args,
        vec!["--version".to_owned(), VERSION.to_owned()],
        "README offers this release"
    );
    let script_ref = head
        .split("almafrica/almarel/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    assert_eq!(
        script_ref,
        format!("v{VERSION}"),
        "the script at the release's tag"
    );
}

#[test]
fn readme_download_command_installs_the_packaged_release_over_http() {
    let mirror = release_mirror();
    let (url, seen) = serve(mirror);
    let home = tempfile::tempdir().unwrap();
    let mut args = readme_install_args();
    args.extend(["--base-url".to_owned(), url]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = install(&args, home.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("checksum verified"), "{stderr}");
    let bin = home.path().join(".local/bin/almarel");
    assert_eq!(installed_version(&bin), format!("almarel {VERSION}"));
    let archive = format!(
        "/v{VERSION}/almarel-v{VERSION}-{}.tar.gz",
        host_release_target()
    );
    assert_eq!(
        *seen.lock().unwrap(),
        vec![archive.clone(), format!("{archive}.sha256")]
    );
}

#[test]
fn install_refuses_a_download_whose_checksum_differs() {
    let mirror = release_mirror();
    let tampered = tempfile::tempdir().unwrap();
    let dir = tampered.path().join(format!("v{VERSION}"));
    std::fs::create_dir_all(&dir).unwrap();
    let archive = format!("almarel-v{VERSION}-{}.tar.gz", host_release_target());
    let mut bytes = std::fs::read(mirror.join(format!("v{VERSION}")).join(&archive)).unwrap();
    bytes.extend_from_slice(b"tampered");
    std::fs::write(dir.join(&archive), bytes).unwrap();
    std::fs::copy(
        mirror.join(format!("v{VERSION}/{archive}.sha256")),
        dir.join(format!("{archive}.sha256")),
    )
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let target_dir = home.path().join("bin");
    let base = format!("file://{}", tampered.path().display());
    let out = install(
        &[
            "--version",
            VERSION,
            "--base-url",
            &base,
            "--dir",
            target_dir.to_str().unwrap(),
        ],
        home.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    assert!(stderr.contains("nothing was installed"), "{stderr}");
    assert!(!target_dir.join("almarel").exists());

    let missing = install(
        &[
            "--version",
            "9.9.9",
            "--base-url",
            &base,
            "--dir",
            target_dir.to_str().unwrap(),
        ],
        home.path(),
    );
    assert_eq!(missing.status.code(), Some(1));
    let usage = install(&["--version", "latest"], home.path());
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("X.Y.Z"));
}

#[test]
fn action_installs_the_release_matching_its_ref_once_per_job() {
    let mirror = release_mirror();
    let tmp = tempfile::tempdir().unwrap();
    let github_path = tmp.path().join("github_path");
    let run = |version: &str| {
        Command::new("bash")
            .arg("-c")
            .arg(action_step("install almarel"))
            .env("GITHUB_ACTION_PATH", root())
            .env("RUNNER_TEMP", tmp.path())
            .env("GITHUB_PATH", &github_path)
            .env("HOME", tmp.path())
            .env("ALMAREL_ACTION_VERSION", version)
            .env("ALMAREL_BASE_URL", mirror)
            .output()
            .unwrap()
    };
    let out = run("");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("checksum verified"), "{stderr}");
    let bin = tmp.path().join("almarel/bin");
    assert_eq!(
        installed_version(&bin.join("almarel")),
        format!("almarel {VERSION}")
    );
    assert_eq!(
        std::fs::read_to_string(&github_path).unwrap(),
        format!("{}\n", bin.display())
    );
    // A second step in the same job reuses it.
    let again = run(&format!("v{VERSION}"));
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("already installed"));
    // A release that does not exist fails the step.
    assert!(!run("9.9.9").status.success());
}

// ---------------------------------------------------------------------------
// Help, man page and completions, from the real binary

fn almarel(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_almarel"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands, from the top-level help's command list.
fn subcommands() -> Vec<String> {
    let help = almarel(&["--help"]);
    let list = help.split("Commands:\n").nth(1).unwrap();
    let subs: Vec<String> = list
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|s| *s != "help")
        .map(str::to_owned)
        .collect();
    assert!(subs.len() >= 12, "{subs:?}");
    subs
}

#[test]
fn every_command_help_has_an_example_and_a_global_options_section() {
    let mut commands: Vec<Vec<String>> = vec![vec![]];
    commands.extend(subcommands().into_iter().map(|s| vec![s]));
    for words in commands {
        for flag in ["-h", "--help"] {
            let mut args: Vec<&str> = words.iter().map(String::as_str).collect();
            args.push(flag);
            let help = almarel(&args);
            assert!(help.contains("\nGlobal options:\n"), "{args:?}:\n{help}");
            let example = help
                .split_once("\nExamples:\n")
                .or_else(|| help.split_once("\nExample:\n"))
                .unwrap_or_else(|| panic!("{args:?} has no example:\n{help}"))
                .1;
            assert!(
                example.trim_start().starts_with("almarel "),
                "{args:?}: {example}"
            );
        }
    }
}

#[test]
fn help_offers_only_the_global_flags_that_mean_something() {
    let verify = almarel(&["verify", "--help"]);
    assert!(
        !verify.contains("--yes") && !verify.contains("-y,"),
        "{verify}"
    );
    assert!(
        verify.contains("--dry-run"),
        "verify --dry-run records nothing"
    );
    for (sub, absent, present) in [
        ("tag", vec!["--yes"], vec!["--dry-run", "--json"]),
        (
            "status",
            vec!["--yes", "--dry-run"],
            vec!["--json", "--config"],
        ),
        ("checklist", vec!["--yes", "--dry-run"], vec!["--json"]),
        (
            "rehearse",
            vec!["--yes", "--dry-run", "--config", "-C <DIR>"],
            vec!["--json"],
        ),
        (
            "completions",
            vec!["--yes", "--dry-run", "--color", "--quiet"],
            vec!["--json"],
        ),
        (
            "approve",
            vec![],
            vec!["--yes", "--dry-run", "--json", "--config", "-C <DIR>"],
        ),
        ("rollback", vec![], vec!["--yes", "--dry-run"]),
    ] {
        let help = almarel(&[sub, "--help"]);
        for flag in absent {
            assert!(!help.contains(flag), "{sub} --help offers {flag}");
        }
        for flag in present {
            assert!(help.contains(flag), "{sub} --help lacks {flag}");
        }
    }
    // Hidden, not removed: a global flag still parses where it means nothing.
    let out = Command::new(env!("CARGO_BIN_EXE_almarel"))
        .args(["completions", "bash", "--yes", "--color", "never", "-q"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn man_page_has_environment_exit_status_files_and_no_dangling_reference() {
    let page = almarel(&["man"]);
    for section in [
        ".SH COMMANDS",
        ".SH \"ENVIRONMENT\"",
        ".SH \"EXIT STATUS\"",
        ".SH \"FILES\"",
    ] {
        assert!(page.contains(section), "{section}");
    }
    for var in [
        "COOLIFY_TOKEN",
        "GH_TOKEN",
        "ALMAREL_STATE_DIR",
        "NO_COLOR",
        "GITHUB_ACTIONS",
    ] {
        assert!(page.contains(var), "{var}");
    }
    for code in ["\n129\n", "\n130\n", "\n143\n"] {
        assert!(page.contains(code), "{code:?}");
    }
    let plain = page.replace("\\-", "-");
    assert!(
        !plain.contains("almarel-"),
        "refers to a page that does not exist"
    );
    assert!(
        !plain.contains("(1)"),
        "refers to a page that does not exist"
    );
}

/// Runs the bash completion for `words` (the last one is being completed)
/// in `dir`, and returns what it offers.
fn bash_complete(script: &Path, dir: &Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let cword = words.len() - 1;
    let program = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={cword}; \
         _almarel_with_tags almarel '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words[cword],
        words[cword - 1],
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(program)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completion_offers_phases_scenarios_and_release_tags() {
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("almarel.bash");
    std::fs::write(&script, almarel(&["completions", "bash"])).unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(&repo)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["commit", "-q", "--allow-empty", "-m", "one"]);
    git(&["tag", "v1.2.3"]);
    git(&["tag", "v1.3.0-rc.1"]);

    let phases = bash_complete(&script, &repo, &["almarel", "checklist", ""]);
    for p in [
        "before-merge",
        "before-tag",
        "during-deploy",
        "after-deploy",
        "v1.2.3",
    ] {
        assert!(phases.contains(&p.to_owned()), "{p}: {phases:?}");
    }
    let before = bash_complete(&script, &repo, &["almarel", "checklist", "before-"]);
    assert_eq!(before, ["before-merge", "before-tag"]);
    let scenarios = bash_complete(&script, &repo, &["almarel", "rehearse", ""]);
    assert!(
        scenarios.contains(&"failed-deploy".to_owned()),
        "{scenarios:?}"
    );
    assert!(
        !scenarios.iter().any(|s| s.starts_with("v1")),
        "{scenarios:?}"
    );
    let tags = bash_complete(&script, &repo, &["almarel", "deploy", "--tag", "v1.3"]);
    assert_eq!(tags, ["v1.3.0-rc.1"]);
    let status = bash_complete(&script, &repo, &["almarel", "-C", "repo", "status", "v"]);
    assert!(
        status.is_empty() || status.iter().all(|s| s.starts_with('v')),
        "{status:?}"
    );
    let from_outside = bash_complete(
        &script,
        tmp.path(),
        &["almarel", "-C", "repo", "status", "v"],
    );
    assert_eq!(
        from_outside,
        ["v1.2.3", "v1.3.0-rc.1"],
        "-C names the repository"
    );
    let app = bash_complete(&script, &repo, &["almarel", "deploy", "--app", "v"]);
    assert!(app.is_empty(), "no tags for --app: {app:?}");
}
