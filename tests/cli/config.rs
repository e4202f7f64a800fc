//! Configuration errors: unknown keys and malformed TOML are exit 2 naming the line.

use crate::support::Run;
use crate::support::{Sandbox, json_stdout};

#[test]
fn unknown_key_is_exit_2_naming_key_and_line() {
    let sb = Sandbox::new();
    let dir = sb.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("almarel.toml"),
        "[git]\nbranch = \"main\"\ntag_prefx = \"v\"\n",
    )
    .unwrap();
    let out = sb
        .almarel(&dir)
        .args([
            "--config",
            "almarel.toml",
            "verify",
            "--expect-sha",
            "abcdef1",
        ])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tag_prefx") && err.contains("line 3"), "{err}");
}

#[test]
fn malformed_toml_is_exit_2_with_the_line_in_json() {
    let sb = Sandbox::new();
    let dir = sb.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("cfg.toml"),
        "[github]\nrepository = \"a/b\"\napi_url = \n",
    )
    .unwrap();
    let out = sb
        .almarel(&dir)
        .args([
            "--json",
            "--config",
            "cfg.toml",
            "verify",
            "--expect-sha",
            "abcdef1",
        ])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v = json_stdout(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["kind"], "usage");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("line 3"),
        "{v}"
    );
}

#[test]
fn missing_config_file_is_exit_2() {
    let sb = Sandbox::new();
    let out = sb
        .almarel(sb.path())
        .args(["--config", "nope.toml", "verify", "--expect-sha", "abcdef1"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

const TWO_ENVIRONMENTS: &str = "[github]\nrepository = \"acme/shop\"\n\n[environments.staging]\n[environments.staging.verify]\nhealth_url = \"https://staging.example.com/health\"\n";

#[test]
fn an_unknown_env_is_exit_2_naming_the_configured_ones_before_any_request() {
    let sb = Sandbox::new();
    let dir = sb.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("almarel.toml"), TWO_ENVIRONMENTS).unwrap();
    let out = sb
        .almarel(&dir)
        .args([
            "--json",
            "--config",
            "almarel.toml",
            "verify",
            "--env",
            "qa",
            "--expect-sha",
            "abcdef1",
        ])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v = json_stdout(&out);
    assert_eq!(v["error"]["kind"], "usage");
    assert_eq!(v["error"]["code"], "unknown_environment");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("--env qa: no such environment (configured: production, staging)"),
        "{v}"
    );
}

#[test]
fn env_is_accepted_before_the_subcommand_too() {
    let sb = Sandbox::new();
    let dir = sb.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("almarel.toml"), TWO_ENVIRONMENTS).unwrap();
    let out = sb
        .almarel(&dir)
        .args([
            "--env",
            "nowhere",
            "--config",
            "almarel.toml",
            "verify",
            "--expect-sha",
            "abcdef1",
        ])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("configured: production, staging"), "{err}");
}

#[test]
fn an_unknown_key_in_an_environment_is_exit_2_naming_key_and_line() {
    let sb = Sandbox::new();
    let dir = sb.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("almarel.toml"),
        "[environments.staging]\naccepts = [\"prerelease\"]\ngithub_env = \"staging\"\n",
    )
    .unwrap();
    let out = sb
        .almarel(&dir)
        .args([
            "--config",
            "almarel.toml",
            "verify",
            "--env",
            "staging",
            "--expect-sha",
            "abcdef1",
        ])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("github_env") && err.contains("line 3"),
        "{err}"
    );
}
