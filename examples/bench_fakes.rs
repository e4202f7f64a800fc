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
//! `bench_fakes serve DIR [PROBE_MS]`: starts the GitHub, Coolify and
//! production simulators, writes `DIR/almarel.toml` pointing at them (a
//! release v1.2.3 with green CI and a deploy run waiting for approval; two
//! Coolify apps; production serving the release, each of its three probes
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
        _ => {
            eprintln!("usage: bench_fakes watch ALMAREL [SCALE] | serve DIR [PROBE_MS]");
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
        coolify::AppSpec::docker("api", "k8s0wccw4g0o0kw4okcs8wss", "v1.2.2"),
        coolify::AppSpec::docker("web", "w3b0wccw4g0o0kw4okcs8wss", "v1.2.2"),
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
