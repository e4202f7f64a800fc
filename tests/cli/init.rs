//! `almarel init` in a fresh clone against the simulators: it writes a
//! commented config that loads and that `almarel doctor` then passes; it
//! never overwrites without `--force`, needs `--yes` without a terminal, and
//! `--dry-run` writes nothing.

use almarel_sandbox::coolify as sim;

use crate::doctor::{World, check};
use crate::support::{Run, assert_no_panic, json_stdout, texts};

fn init_args(w: &World) -> Vec<String> {
    vec![
        "init".into(),
        "--repository".into(),
        "octo/app".into(),
        "--github-api-url".into(),
        w.github.url(),
        "--coolify-url".into(),
        w.coolify.url(),
    ]
}

#[test]
fn init_in_a_fresh_clone_writes_a_config_that_doctor_passes() {
    let w = World::new();
    let out = w
        .almarel(sim::TOKEN)
        .args(init_args(&w))
        .args(["--yes", "--json"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let v = json_stdout(&out);
    assert_eq!(v["written"], true);
    assert_eq!(v["replaced"], false);
    assert_eq!(v["environment"], "production");
    assert_eq!(v["ci_workflow"]["name"], "CI");
    assert_eq!(v["release_workflow"]["name"], "Release");
    assert_eq!(v["deploy_workflow"]["name"], "Deploy to Production");
    assert_eq!(
        v["deploy_workflow"]["how"],
        "its jobs use the environment `production`"
    );
    let apps: Vec<&str> = v["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(apps, ["api", "web"]);
    // Doctor ran on the written file and passed.
    assert_eq!(v["doctor"]["failed"], 0, "{:#}", v["doctor"]);
    assert_eq!(v["next"], "almarel checklist");

    let text = std::fs::read_to_string(w.config()).unwrap();
    assert_eq!(text, v["config"].as_str().unwrap());
    for line in [
        "repository = \"octo/app\"".to_owned(),
        format!("api_url = \"{}\"", w.github.url()),
        "environment = \"production\"".to_owned(),
        "ci_workflow = \"CI\"".to_owned(),
        "deploy_workflow = \"Deploy to Production\"".to_owned(),
        "release_workflow = \"Release\"".to_owned(),
        format!("url = \"{}\"", w.coolify.url()),
        "uuid = \"k8s0wccw4g0o0kw4okcs8wss\"".to_owned(),
        format!("health_url = \"{}/health\"", w.prod.url()),
        format!("version_url = \"{}/api/version\"", w.prod.url()),
        format!("web_url = \"{}/\"", w.prod.url()),
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
    }
    // A comment above every key, and no secret.
    let lines: Vec<&str> = text.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if l.contains(" = ") && !l.starts_with('#') {
            assert!(
                i > 0 && lines[i - 1].starts_with('#'),
                "no comment above `{l}`:\n{text}"
            );
        }
    }
    assert!(!text.contains("sim-token") && !text.contains(crate::doctor::GH_TOKEN));
    assert!(text.contains("required reviewers @octocat"), "{text}");
    // The whole file, ports made stable, reviewed as a snapshot.
    let stable = text
        .replace(&w.github.url(), "http://127.0.0.1:GITHUB")
        .replace(&w.coolify.url(), "http://127.0.0.1:COOLIFY")
        .replace(&w.prod.url(), "http://127.0.0.1:PRODUCTION");
    insta::assert_snapshot!("init_almarel_toml", stable);

    // The file loads with the normal loader, and doctor passes on it.
    let out = w
        .almarel(sim::TOKEN)
        .args(["doctor", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    assert_eq!(json_stdout(&out)["ok"], true);
    w.assert_nothing_changed();
}

#[test]
fn init_discovers_the_repository_from_the_remote_and_prints_doctor() {
    let w = World::new();
    w.repos
        .git(&["remote", "set-url", "origin", "git@github.com:octo/app.git"]);
    let out = w
        .almarel(sim::TOKEN)
        .args(["init", "--yes", "--github-api-url"])
        .arg(w.github.url())
        .env("ALMAREL_COOLIFY_URL", w.coolify.url())
        .arg("--app")
        .arg("api")
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let (o, e) = texts(&out);
    assert!(o.contains("wrote ") && o.contains("almarel.toml"), "{o}");
    assert!(o.contains("doctor") && o.contains("✓"), "{o}");
    assert!(e.contains("next: almarel checklist"), "{e}");
    let text = std::fs::read_to_string(w.config()).unwrap();
    assert!(text.contains("repository = \"octo/app\""), "{text}");
    assert!(
        text.contains("name = \"api\"") && !text.contains("name = \"web\""),
        "{text}"
    );
}

#[test]
fn init_never_overwrites_without_force() {
    let w = World::new();
    w.write("# mine\n");
    let out = w
        .almarel(sim::TOKEN)
        .args(init_args(&w))
        .args(["--yes", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", texts(&out).1);
    let v = json_stdout(&out);
    assert_eq!(v["error"]["code"], "config_exists");
    assert!(
        v["error"]["hint"].as_str().unwrap().contains("--force"),
        "{v}"
    );
    assert_eq!(std::fs::read_to_string(w.config()).unwrap(), "# mine\n");
    // Refused before anything was read or sent.
    assert!(w.github.recorder().all().is_empty());
    assert!(w.coolify.recorder().all().is_empty());

    // --force replaces it (even a file that does not load).
    w.write("this is = = not toml\n");
    let out = w
        .almarel(sim::TOKEN)
        .args(init_args(&w))
        .args(["--yes", "--force", "--json", "--no-doctor"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let v = json_stdout(&out);
    assert_eq!(v["replaced"], true);
    assert!(v.get("doctor").is_none());
    assert!(
        std::fs::read_to_string(w.config())
            .unwrap()
            .contains("[github]")
    );
}

#[test]
fn without_a_terminal_init_needs_yes_and_dry_run_writes_nothing() {
    let w = World::new();
    let out = w.almarel(sim::TOKEN).args(init_args(&w)).run().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", texts(&out).1);
    assert!(texts(&out).1.contains("--yes"), "{}", texts(&out).1);
    assert!(!w.config().exists());

    let out = w
        .almarel(sim::TOKEN)
        .args(init_args(&w))
        .arg("--dry-run")
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let (o, _) = texts(&out);
    assert!(o.contains("would write") && o.contains("[coolify]"), "{o}");
    assert!(!w.config().exists());
}

#[test]
fn init_without_coolify_or_a_remote_repository_says_what_is_missing() {
    let w = World::new();
    // The clone's remote is a local path: no repository to discover.
    let out = w.almarel(sim::TOKEN).args(["init", "--yes"]).run().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", texts(&out).1);
    assert!(texts(&out).1.contains("--repository owner/name"));
    assert!(!w.config().exists());

    let out = w
        .almarel(sim::TOKEN)
        .args([
            "init",
            "--yes",
            "--json",
            "--repository",
            "octo/app",
            "--github-api-url",
        ])
        .arg(w.github.url())
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let v = json_stdout(&out);
    assert!(
        v["notes"].to_string().contains("no Coolify URL"),
        "{}",
        v["notes"]
    );
    // Doctor ran and found what is missing, yet init succeeded.
    assert_eq!(check(&v["doctor"], "coolify url")["ok"], false);
    assert_eq!(v["next"], "almarel doctor");
    let text = std::fs::read_to_string(w.config()).unwrap();
    assert!(text.contains("# [coolify] was not configured"), "{text}");
}

#[test]
fn an_unknown_app_is_a_usage_error_listing_the_apps() {
    let w = World::new();
    let out = w
        .almarel(sim::TOKEN)
        .args(init_args(&w))
        .args(["--yes", "--app", "worker"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", texts(&out).1);
    let e = texts(&out).1;
    assert!(
        e.contains("no Coolify app named `worker`") && e.contains("api, web"),
        "{e}"
    );
    assert!(!w.config().exists());
}

#[test]
fn init_writes_to_config_and_a_flag_wins_over_discovery() {
    let w = World::new();
    let out = w
        .almarel(sim::TOKEN)
        .args(init_args(&w))
        .args([
            "--yes",
            "--json",
            "--no-doctor",
            "--config",
            "ops/release.toml",
            "--ci-workflow",
            "ci.yml",
            "--version-url",
            "https://api.example.com/api/version",
        ])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let v = json_stdout(&out);
    assert_eq!(v["ci_workflow"]["how"], "flag");
    let text = std::fs::read_to_string(w.repos.work.join("ops/release.toml"));
    let text = text.unwrap_or_else(|e| panic!("{e}: {v:#}"));
    assert!(text.contains("ci_workflow = \"ci.yml\""), "{text}");
    assert!(
        text.contains("version_url = \"https://api.example.com/api/version\""),
        "{text}"
    );
    assert!(!w.config().exists());
    // The next command finds the file only when told where it is.
    let next = v["next"].as_str().unwrap();
    assert!(
        next.starts_with("almarel doctor --config ") && next.ends_with("ops/release.toml"),
        "{next}"
    );
}

#[test]
fn without_workflow_files_in_the_clone_init_reads_them_from_github() {
    let w = World::new();
    std::fs::remove_dir_all(w.repos.work.join(".github")).unwrap();
    // The deploy workflow is named oddly: only its jobs' environment says it deploys.
    w.github
        .set_default_file(".github/workflows/ci.yml", crate::doctor::CI_YML);
    w.github
        .set_default_file(".github/workflows/release.yml", crate::doctor::RELEASE_YML);
    w.github.set_default_file(
        ".github/workflows/deploy.yml",
        &crate::doctor::DEPLOY_YML.replace("environment: production", "environment: live"),
    );
    let out = w
        .almarel(sim::TOKEN)
        .args(init_args(&w))
        .args([
            "--yes",
            "--json",
            "--no-doctor",
            "--deploy-workflow",
            "deploy.yml",
        ])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let v = json_stdout(&out);
    assert_eq!(v["environment"], "live", "{v:#}");
    assert_eq!(v["ci_workflow"]["name"], "CI");
    assert_eq!(
        v["release_workflow"]["path"],
        ".github/workflows/release.yml"
    );
    assert!(
        v["notes"].to_string().contains("`live` does not exist"),
        "{}",
        v["notes"]
    );
}

/// `almarel init` (the simulators' URLs, nothing else) on a terminal.
fn init_on_terminal(w: &World, steps: &[(&str, &[u8])]) -> (Option<i32>, String) {
    let env = [
        ("GH_TOKEN", crate::doctor::GH_TOKEN),
        ("COOLIFY_TOKEN", sim::TOKEN),
    ];
    let (gh, cf) = (w.github.url(), w.coolify.url());
    let args = ["init", "--github-api-url", &gh, "--coolify-url", &cf];
    crate::support::on_terminal_steps(&w.repos.sb, &w.repos.work, &env, &args, steps)
}

/// On a terminal, init asks what it cannot discover: the repository (the
/// remote is a local path), which of the two Docker Image apps to deploy,
/// then confirms before writing.
#[test]
fn on_a_terminal_init_asks_for_the_repository_and_the_apps_then_confirms() {
    let w = World::new();
    let (code, text) = init_on_terminal(
        &w,
        &[
            ("GitHub repository (owner/name):", b"octo/app\n"),
            (
                "Coolify apps to deploy (api, web), comma-separated, empty for all:",
                b"web\n",
            ),
            ("[y/N]", b"y\n"),
        ],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("wrote ") && text.contains("next: almarel"),
        "{text}"
    );
    let written = std::fs::read_to_string(w.config()).unwrap();
    assert!(written.contains("repository = \"octo/app\""), "{written}");
    assert!(
        written.contains("name = \"web\"") && !written.contains("name = \"api\""),
        "{written}"
    );
    assert!(!text.contains(crate::doctor::GH_TOKEN) && !text.contains(sim::TOKEN));
}

/// A wrong answer is a usage error before anything is written; Ctrl-C at a
/// question ends init at once (130) with nothing written; "no" at the
/// confirmation writes nothing.
#[test]
fn on_a_terminal_a_bad_answer_ctrl_c_or_no_writes_nothing() {
    let w = World::new();
    let run = |steps: &[(&str, &[u8])]| init_on_terminal(&w, steps);
    let (code, text) = run(&[("GitHub repository (owner/name):", b"not a repo\n")]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("not a repo"), "{text}");
    assert!(!w.config().exists());

    let (code, text) = run(&[("GitHub repository (owner/name):", b"\x03")]);
    assert_eq!(code, Some(130), "{text}");
    assert!(text.contains("nothing was changed"), "{text}");
    assert!(!w.config().exists());

    let (code, text) = run(&[
        ("GitHub repository (owner/name):", b"octo/app\n"),
        ("empty for all:", b"\n"),
        ("[y/N]", b"n\n"),
    ]);
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("nothing was changed"), "{text}");
    assert!(!w.config().exists());
    w.assert_nothing_changed();
}
