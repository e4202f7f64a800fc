//! Benchmark driver for `scripts/bench.sh`: hosts the loopback simulators.
//!
//! `bench_fakes watch ALMAREL [SCALE]`: starts the GitHub simulator with a
//! simulated release (CI, Release and Deploy runs that change state over
//! `10 min × SCALE` of real time, ending with the deploy run waiting for
//! approval), runs `ALMAREL status v1.2.3 --watch` against it until it
//! returns, and prints one JSON line: the requests almarel made, how many
//! were `304 Not Modified` (free under GitHub's rate limit) and how many
//! counted, beside a naive poller that re-reads every polled resource every
//! 3 s over the same timeline. The naive count is computed from the same
//! timeline (wall time ÷ 3 s, rounded up, × the distinct paths almarel polls,
//! i.e. requested more than once), not by running a second poller.
//!
//! `bench_fakes requests ALMAREL`: counts the requests of `status v1.2.3`
//! (run twice: the first run and a repeat with the same cache), `approve
//! v1.2.3 --yes`, `deploy --tag 1.2.3 --yes` and `rollback --yes`, each in a
//! fresh world: a clone with releases v1.2.2 and v1.2.3, the GitHub
//! simulator with those plus 2,000 older release tags (six in seven
//! annotated), CI green, the deploy run waiting for approval (approved for
//! `deploy`), two Coolify apps and production serving what was deployed.
//! Prints one JSON line per run: GitHub requests that count against the rate
//! limit (all but `304`), `304`s, GraphQL queries among the counted, Coolify
//! requests, the exit status.
//!
//! `bench_fakes serve DIR [PROBE_MS]`: starts the GitHub, Coolify and
//! production simulators, writes `DIR/almarel.toml` pointing at them (a
//! release v1.2.3 with green CI and a deploy run waiting for approval; two
//! Coolify apps already on v1.2.3 (`verify` checks them too); production serving the release, each of its three probes
//! answering after PROBE_MS), prints `ready`, and serves until stdin closes.
//! Tokens: `GH_TOKEN=ghp_benchToken0000000000000000000000`,
//! `COOLIFY_TOKEN=7|almarel-sim-token-rdw`; the SHA is printed as `sha=...`.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::time::{Duration, Instant};

use almarel_sandbox::github::{GithubSim, RunPlan};

const TOKEN: &str = "ghp_benchToken0000000000000000000000";

fn main() {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("watch") => watch(args),
        Some("serve") => serve(args),
        Some("requests") => requests(args),
        _ => {
            eprintln!(
                "usage: bench_fakes watch ALMAREL [SCALE] | serve DIR [PROBE_MS] | requests ALMAREL"
            );
            std::process::exit(2);
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn serve(mut args: impl Iterator<Item = String>) {
    use almarel_sandbox::{coolify, production};
    let dir = std::path::PathBuf::from(
        args.next()
            .expect("usage: bench_fakes serve DIR [PROBE_MS]"),
    );
    let probe_ms: u64 = args
        .next()
        .map_or(500, |s| s.parse().expect("PROBE_MS is a number"));
    let rt = runtime();
    let sim = rt.block_on(GithubSim::start("octo/app")).unwrap();
    sim.require_token(TOKEN);
    let prev = sim.add_commit("Previous release");
    sim.add_tag("v1.2.2", &prev, true);
    let sha = sim.add_commit("Add login page");
    sim.add_tag("v1.2.3", &sha, true);
    sim.add_run("CI", &sha, RunPlan::success());
    sim.add_run("Deploy to Production", &sha, RunPlan::awaiting_approval());
    let apps = vec![
        coolify::AppSpec::docker("api", "k8s0wccw4g0o0kw4okcs8wss", "v1.2.3")
            .with_history(&["v1.2.2", "v1.2.3"]),
        coolify::AppSpec::docker("web", "w3b0wccw4g0o0kw4okcs8wss", "v1.2.3")
            .with_history(&["v1.2.2", "v1.2.3"]),
    ];
    let c = rt
        .block_on(coolify::start(coolify::Config::new(apps.clone())))
        .unwrap();
    let p = rt
        .block_on(production::start(production::Config::new(&sha)))
        .unwrap();
    let control = p.control();
    for path in ["/health", "/api/version", "/"] {
        control.set_latency(path, Duration::from_millis(probe_ms));
    }
    let mut toml = format!(
        "[github]\nrepository = \"octo/app\"\napi_url = \"{}\"\n[coolify]\nurl = \"{}\"\n",
        sim.url(),
        c.url()
    );
    for a in &apps {
        toml.push_str(&format!(
            "[[coolify.apps]]\nname = \"{}\"\nuuid = \"{}\"\n",
            a.name, a.uuid
        ));
    }
    let u = p.url();
    toml.push_str(&format!(
        "[verify]\nhealth_url = \"{u}/health\"\nversion_url = \"{u}/api/version\"\nweb_url = \"{u}/\"\n"
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("almarel.toml"), toml).unwrap();
    println!("sha={sha}");
    println!("ready");
    let mut sink = String::new();
    while std::io::stdin()
        .read_line(&mut sink)
        .map(|n| n > 0)
        .unwrap_or(false)
    {
        sink.clear();
    }
}

fn watch(mut args: impl Iterator<Item = String>) {
    let bin = std::fs::canonicalize(args.next().expect("usage: watch_bench ALMAREL [SCALE]"))
        .expect("the almarel binary exists");
    let scale: f64 = args
        .next()
        .map_or(1.0, |s| s.parse().expect("SCALE is a number"));
    let minutes = |m: f64| Duration::from_secs_f64(m * 60.0 * scale);

    let rt = runtime();
    let sim = rt.block_on(GithubSim::start("octo/app")).unwrap();
    sim.require_token(TOKEN);
    let prev = sim.add_commit("Previous release");
    sim.add_tag("v1.2.2", &prev, true);
    let sha = sim.add_commit("Add login page");
    sim.add_tag("v1.2.3", &sha, true);
    // The timeline: CI green at 6 min, Release at 8 min, deploy waiting at 10 min.
    sim.add_run(
        "CI",
        &sha,
        RunPlan::completes_after(minutes(6.0), "success"),
    );
    sim.add_run(
        "Release",
        &sha,
        RunPlan::completes_after(minutes(8.0), "success"),
    );
    sim.add_run(
        "Deploy to Production",
        &sha,
        RunPlan::waiting_after(minutes(10.0)),
    );

    let dir = tempdir();
    std::fs::write(
        dir.join("almarel.toml"),
        format!(
            "[github]\nrepository = \"octo/app\"\napi_url = \"{}\"\n",
            sim.url()
        ),
    )
    .unwrap();
    let started = Instant::now();
    let out = std::process::Command::new(&bin)
        .current_dir(&dir)
        .env_clear()
        .env("HOME", &dir)
        .env("ALMAREL_STATE_DIR", dir.join("state"))
        .env("NO_COLOR", "1")
        .env("GH_TOKEN", TOKEN)
        .args([
            "--config",
            "almarel.toml",
            "status",
            "v1.2.3",
            "--watch",
            "--timeout",
            "30m",
        ])
        .output()
        .expect("run almarel");
    let wall = started.elapsed();
    let all = sim.recorder().all();
    let not_modified = all.iter().filter(|r| r.status == 304).count();
    let counted = all.len() - not_modified;
    // What counted, for docs/PERFORMANCE.md (stderr).
    for r in all.iter().filter(|r| r.status != 304) {
        eprintln!("counted: {} {} → {}", r.method, r.path, r.status);
    }
    // One poll round: the distinct paths almarel requested more than once
    // (what it polls; one-time look-ups such as the tag are left out, which
    // makes the naive figure a lower bound).
    let mut seen = std::collections::BTreeMap::<&str, usize>::new();
    for r in &all {
        *seen.entry(r.path.as_str()).or_default() += 1;
    }
    let first_round = seen.values().filter(|n| **n > 1).count().max(1);
    let polls = (wall.as_secs_f64() / 3.0).ceil() as usize;
    let naive = polls * first_round;
    println!(
        "{{\"exit\": {}, \"wall_s\": {:.1}, \"requests\": {}, \"not_modified\": {}, \"counted\": {}, \
         \"paths_polled\": {}, \"naive_polls\": {}, \"naive_counted\": {}, \"ratio\": {:.1}}}",
        out.status.code().unwrap_or(-1),
        wall.as_secs_f64(),
        all.len(),
        not_modified,
        counted,
        first_round,
        polls,
        naive,
        naive as f64 / counted.max(1) as f64
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("almarel-watch-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "Bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .args(args)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn requests(mut args: impl Iterator<Item = String>) {
    use almarel_sandbox::{coolify, production};
    use std::collections::HashMap;
    let bin = std::fs::canonicalize(args.next().expect("usage: bench_fakes requests ALMAREL"))
        .expect("the almarel binary exists");
    let cases: [(&str, &[&str], &str, bool); 4] = [
        ("status", &["status", "v1.2.3"], "v1.2.2", true),
        ("approve", &["approve", "v1.2.3", "--yes"], "v1.2.2", false),
        (
            "deploy",
            &["deploy", "--tag", "1.2.3", "--yes"],
            "v1.2.2",
            false,
        ),
        ("rollback", &["rollback", "--yes"], "v1.2.3", false),
    ];
    let rt = runtime();
    for (name, cmd, running, repeat) in cases {
        let root = std::env::temp_dir().join(format!(
            "almarel-requests-bench-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        let (origin, work, home) = (
            root.join("origin.git"),
            root.join("work"),
            root.join("home"),
        );
        for d in [&origin, &work, &home] {
            std::fs::create_dir_all(d).unwrap();
        }
        git(&origin, &["init", "-q", "--bare", "-b", "main"]);
        git(&work, &["init", "-q", "-b", "main"]);
        git(
            &work,
            &["remote", "add", "origin", origin.to_str().unwrap()],
        );
        let mut shas = HashMap::new();
        for (tag, file) in [("v1.2.2", "a.txt"), ("v1.2.3", "b.txt")] {
            std::fs::write(work.join(file), tag).unwrap();
            git(&work, &["add", file]);
            git(&work, &["commit", "-q", "-m", &format!("Release {tag}")]);
            git(&work, &["tag", "-a", tag, "-m", tag]);
            shas.insert(tag.to_owned(), git(&work, &["rev-parse", "HEAD"]));
        }
        git(&work, &["push", "-q", "origin", "main", "--tags"]);

        let sim = rt.block_on(GithubSim::start("octo/app")).unwrap();
        sim.require_token(TOKEN);
        for i in 0..100 {
            let c = sim.add_commit(&format!("change {i}"));
            for j in 0..20 {
                sim.add_tag(&format!("v0.{i}.{j}"), &c, (i * 20 + j) % 7 != 0);
            }
        }
        for tag in ["v1.2.2", "v1.2.3"] {
            sim.register_commit(&shas[tag], &format!("Release {tag}"));
            sim.add_tag(tag, &shas[tag], true);
        }
        let sha = shas["v1.2.3"].clone();
        sim.add_release("v1.2.3", false);
        sim.add_run("CI", &sha, RunPlan::success());
        let deploy_plan = if name == "deploy" {
            RunPlan::success()
        } else {
            RunPlan::awaiting_approval()
        };
        let deploy_run = sim.add_run("Deploy to Production", &sha, deploy_plan);
        if name == "deploy" {
            sim.set_run_actor(deploy_run, "octocat");
        }
        let apps = vec![
            coolify::AppSpec::docker("api", "k8s0wccw4g0o0kw4okcs8wss", running),
            coolify::AppSpec::docker("web", "w3b0wccw4g0o0kw4okcs8wss", running),
        ];
        let c = rt
            .block_on(coolify::start(coolify::Config::new(apps.clone())))
            .unwrap();
        let p = rt
            .block_on(production::start(production::Config::new(&shas[running])))
            .unwrap();
        let control = p.control();
        let by_tag = shas.clone();
        c.on_finish(move |_app, image_tag| {
            if let Some(s) = by_tag.get(image_tag) {
                control.set_sha(s);
            }
        });
        let mut toml = format!(
            "[github]\nrepository = \"octo/app\"\napi_url = \"{}\"\n[coolify]\nurl = \"{}\"\n",
            sim.url(),
            c.url()
        );
        for a in &apps {
            toml.push_str(&format!(
                "[[coolify.apps]]\nname = \"{}\"\nuuid = \"{}\"\n",
                a.name, a.uuid
            ));
        }
        let u = p.url();
        toml.push_str(&format!(
            "[verify]\nhealth_url = \"{u}/health\"\nversion_url = \"{u}/api/version\"\nweb_url = \"{u}/\"\n"
        ));
        let config = root.join("almarel.toml");
        std::fs::write(&config, toml).unwrap();
        let runs: &[&str] = if repeat {
            &["first", "repeat"]
        } else {
            &["first"]
        };
        for run in runs {
            let (g0, c0) = (sim.recorder().all().len(), c.recorder().all().len());
            let out = std::process::Command::new(&bin)
                .current_dir(&work)
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("HOME", &home)
                .env("ALMAREL_STATE_DIR", root.join("state"))
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("NO_COLOR", "1")
                .env("GH_TOKEN", TOKEN)
                .env("COOLIFY_TOKEN", coolify::TOKEN)
                .arg("--config")
                .arg(&config)
                .args(cmd)
                .output()
                .expect("run almarel");
            let gh = sim.recorder().all()[g0..].to_vec();
            let not_modified = gh.iter().filter(|r| r.status == 304).count();
            let graphql = gh.iter().filter(|r| r.path == "/graphql").count();
            let coolify_requests = c.recorder().all().len() - c0;
            if !out.status.success() {
                eprintln!(
                    "warning: `{}` exited {:?}: {}",
                    cmd.join(" "),
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            println!(
                "{{\"command\": \"{name}\", \"run\": \"{run}\", \"exit\": {}, \"github_counted\": {}, \
                 \"github_304\": {not_modified}, \"graphql\": {graphql}, \"coolify\": {coolify_requests}}}",
                out.status.code().unwrap_or(-1),
                gh.len() - not_modified,
            );
        }
        let _ = std::fs::remove_dir_all(&root);
    }
}
