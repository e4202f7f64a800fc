//! Truth at the seams for the GitHub side (SPEC §7.7, §7.8): REF is checked
//! before anything is sent, tokens are trimmed and a control character in one
//! is exit 2 naming the variable, answers over 32 MiB are exit 4, and one run
//! discovers the token once.

use almarel_sandbox::coolify as csim;

use crate::support::github::{GhEnv, TOKEN, assert_no_token};
use crate::support::raw::{Behaviour, RawServer};
use crate::support::{Run, Sandbox, assert_no_panic, json_stdout, texts};

const BAD_REFS: [&str; 6] = [
    "../../etc/passwd",
    "main",
    "v1.2.3/../../x",
    "abc12",
    "v1.2.3?per_page=1",
    "1.2.3\n",
];

#[test]
fn a_bad_ref_is_exit_2_and_nothing_is_sent() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    for r in BAD_REFS {
        for cmd in [
            vec!["status", r],
            vec!["approve", r, "--yes"],
            vec!["checklist", "during-deploy", r],
        ] {
            let out = gh.almarel(&sb).args(&cmd).run().unwrap();
            assert_no_panic(&out);
            let (o, e) = texts(&out);
            assert_eq!(out.status.code(), Some(2), "{cmd:?}\n{o}\n{e}");
            assert!(
                e.contains("is not a release version, a tag or a commit SHA"),
                "{cmd:?}: {e}"
            );
            assert_no_token(&out);
        }
    }
    assert!(
        gh.sim.recorder().all().is_empty(),
        "requests were sent: {:?}",
        gh.sim.recorder().all()
    );
}

#[test]
fn a_good_ref_still_resolves() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("Add login page");
    gh.sim.add_tag("v1.2.3", &sha, true);
    for r in ["1.2.3", "v1.2.3", &sha[..7], &sha.to_uppercase()] {
        let out = gh.almarel(&sb).args(["--json", "status", r]).run().unwrap();
        let (o, e) = texts(&out);
        assert_ne!(out.status.code(), Some(2), "{r}\n{o}\n{e}");
        assert_eq!(json_stdout(&out)["sha"], sha.as_str(), "{r}: {o}");
    }
}

#[test]
fn a_bad_tag_prefix_is_exit_2_naming_the_key() {
    let sb = Sandbox::new();
    for prefix in ["release/", "v ", "x~", "-v"] {
        let gh = GhEnv::start_with(&sb, &format!("[git]\ntag_prefix = \"{prefix}\"\n"));
        let out = gh.almarel(&sb).args(["status", "1.2.3"]).run().unwrap();
        let (_, e) = texts(&out);
        assert_eq!(out.status.code(), Some(2), "{prefix:?}: {e}");
        assert!(e.contains("git.tag_prefix"), "{e}");
        assert!(gh.sim.recorder().all().is_empty());
    }
}

#[test]
fn github_tokens_are_trimmed() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("Add login page");
    gh.sim.add_tag("v1.2.3", &sha, true);
    for (var, value) in [
        ("GH_TOKEN", format!("{TOKEN}\n")),
        ("GH_TOKEN", format!("  {TOKEN}\r\n")),
        ("GITHUB_TOKEN", format!("\t{TOKEN} ")),
    ] {
        let out = gh
            .almarel(&sb)
            .env_remove("GH_TOKEN")
            .env(var, &value)
            .args(["status", "v1.2.3"])
            .run()
            .unwrap();
        assert_no_panic(&out);
        let (o, e) = texts(&out);
        assert_eq!(out.status.code(), Some(0), "{var}={value:?}\n{o}\n{e}");
        assert_no_token(&out);
    }
}

#[test]
fn a_control_character_inside_a_github_token_is_exit_2_naming_the_variable() {
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    for (var, value) in [
        ("GH_TOKEN", "ghp_sEcReT01\nsEcReT23".to_owned()),
        ("GITHUB_TOKEN", "ghp_sEcReT01\u{1b}[0msEcReT".to_owned()),
        ("GH_TOKEN", format!("{TOKEN}\u{7f}")),
    ] {
        let out = gh
            .almarel(&sb)
            .env_remove("GH_TOKEN")
            .env(var, &value)
            .args(["--json", "status", "v1.2.3"])
            .run()
            .unwrap();
        assert_no_panic(&out);
        let (o, e) = texts(&out);
        assert_eq!(out.status.code(), Some(2), "{var}\n{o}\n{e}");
        let v = json_stdout(&out);
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains(var) && msg.contains("control character"),
            "{v}"
        );
        assert_no_token(&out);
    }
    assert!(gh.sim.recorder().all().is_empty());
}

#[test]
fn coolify_tokens_are_trimmed_and_control_characters_refused() {
    use crate::support::coolify as cs;
    let rt = cs::runtime();
    let c = cs::coolify(&rt, csim::Config::new(cs::two_apps()));
    let sb = Sandbox::new();
    let dir = cs::deploy_project(&sb, &rt, &cs::coolify_toml(&c.url(), &cs::two_apps()));
    let out = cs::almarel(&sb, &dir, &format!(" {}\n", csim::TOKEN))
        .args(["deploy", "--tag", "1.2.3", "--dry-run"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    let before = c.recorder().all().len();
    assert!(before > 0, "the trimmed token was used");

    let out = cs::almarel(&sb, &dir, "9|abc\ndef")
        .args(["deploy", "--tag", "1.2.3", "--dry-run"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(2), "{o}\n{e}");
    assert!(
        e.contains("COOLIFY_TOKEN") && e.contains("control character"),
        "{e}"
    );
    assert!(
        !o.contains("abc") && !e.contains("9|abc"),
        "the value leaked: {e}"
    );
    assert_eq!(c.recorder().all().len(), before, "nothing sent to Coolify");
}

#[test]
fn an_answer_over_32_mib_is_exit_4_without_a_retry() {
    // Announced by Content-Length.
    let announced = RawServer::start(Behaviour::Respond(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 40000000\r\nconnection: close\r\n\r\n[".to_vec(),
    ));
    // Not announced: a chunked body that keeps going past the cap.
    let mut streamed =
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
            .to_vec();
    let chunk = vec![b' '; 1024 * 1024];
    for _ in 0..34 {
        streamed.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        streamed.extend_from_slice(&chunk);
        streamed.extend_from_slice(b"\r\n");
    }
    streamed.extend_from_slice(b"0\r\n\r\n");
    let streamed = RawServer::start(Behaviour::Respond(streamed));
    for server in [announced, streamed] {
        let sb = Sandbox::new();
        let dir = sb.path().join("proj");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("almarel.toml"),
            format!(
                "[github]\nrepository = \"octo/app\"\napi_url = \"{}\"\n",
                server.url
            ),
        )
        .unwrap();
        let out = sb
            .almarel(&dir)
            .env("GH_TOKEN", TOKEN)
            .args(["--config", "almarel.toml", "status", "v1.2.3"])
            .timeout(std::time::Duration::from_secs(60))
            .run()
            .unwrap();
        assert_no_panic(&out);
        let (o, e) = texts(&out);
        assert_eq!(out.status.code(), Some(4), "{o}\n{e}");
        assert!(e.contains("larger than 32 MiB"), "{e}");
        assert_eq!(server.count("GET"), 1, "{:?}", server.requests());
        assert_no_token(&out);
    }
}

#[cfg(unix)]
#[test]
fn one_run_discovers_the_github_token_once() {
    use std::os::unix::fs::PermissionsExt;

    use crate::support::coolify as cs;
    let rt = cs::runtime();
    let c = cs::coolify(&rt, csim::Config::new(cs::two_apps()));
    let sb = Sandbox::new();
    let dir = cs::deploy_project(&sb, &rt, &cs::coolify_toml(&c.url(), &cs::two_apps()));
    // A `gh` on PATH that counts its calls and prints the token.
    let bin = sb.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = sb.path().join("gh-calls");
    let gh = bin.join("gh");
    std::fs::write(
        &gh,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\necho '{}'\n",
            calls.display(),
            cs::GH_TOKEN
        ),
    )
    .unwrap();
    std::fs::set_permissions(&gh, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // deploy reads the tag's commit, the freeze state and who deploys from
    // GitHub: three uses, one client.
    let out = cs::almarel(&sb, &dir, csim::TOKEN)
        .env_remove("GH_TOKEN")
        .env("PATH", path)
        .args(["-v", "deploy", "--tag", "1.2.3", "--yes"])
        .run()
        .unwrap();
    assert_no_panic(&out);
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    let lines = std::fs::read_to_string(&calls).unwrap();
    assert_eq!(lines.lines().count(), 1, "gh was called: {lines}");
    assert!(
        lines.starts_with("auth token --hostname 127.0.0.1"),
        "{lines}"
    );
    assert_eq!(
        e.matches("github token from gh auth token").count(),
        1,
        "{e}"
    );
    assert!(!e.contains(cs::GH_TOKEN), "{e}");
    // The token reached GitHub (the freeze state and the tag were read).
    assert!(!dir.github.recorder().all().is_empty());
}

#[test]
fn status_and_checklist_name_who_approved_and_a_rejection() {
    use almarel_sandbox::github::RunPlan;
    let sb = Sandbox::new();
    let gh = GhEnv::start(&sb);
    let sha = gh.sim.add_commit("Add login page");
    gh.sim.add_tag("v1.2.3", &sha, true);
    gh.sim.add_run("CI", &sha, RunPlan::success());
    gh.sim
        .add_run("Deploy to Production", &sha, RunPlan::awaiting_approval());
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.3", "--yes"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");

    let out = gh
        .almarel(&sb)
        .args(["--json", "status", "v1.2.3"])
        .run()
        .unwrap();
    let v = json_stdout(&out);
    assert_eq!(v["approval"]["state"], "approved", "{v}");
    assert!(
        v["approval"]["by"].as_str().is_some_and(|b| !b.is_empty()),
        "{v}"
    );
    let out = gh.almarel(&sb).args(["status", "v1.2.3"]).run().unwrap();
    let (o, _) = texts(&out);
    assert!(o.contains("production approved by @"), "{o}");
    let out = gh
        .almarel(&sb)
        .args(["--json", "checklist", "during-deploy", "v1.2.3"])
        .run()
        .unwrap();
    let items = json_stdout(&out)["items"].to_string();
    assert!(items.contains("production approved by @"), "{items}");

    // Rejected on another commit: status and checklist say so.
    let other = gh.sim.add_commit("Risky change");
    gh.sim.add_tag("v1.2.4", &other, true);
    gh.sim.add_run("CI", &other, RunPlan::success());
    gh.sim
        .add_run("Deploy to Production", &other, RunPlan::awaiting_approval());
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.2.4", "--reject", "--yes"])
        .run()
        .unwrap();
    let (o, e) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    let out = gh
        .almarel(&sb)
        .args(["--json", "status", "v1.2.4"])
        .run()
        .unwrap();
    assert_eq!(json_stdout(&out)["approval"]["state"], "rejected");
    let out = gh
        .almarel(&sb)
        .args(["--json", "checklist", "during-deploy", "v1.2.4"])
        .run()
        .unwrap();
    let items = json_stdout(&out)["items"].to_string();
    assert!(items.contains("production rejected by @"), "{items}");
}
