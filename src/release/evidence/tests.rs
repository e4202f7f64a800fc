//! Recording and reading the evidence against the GitHub simulator: what
//! GitHub holds afterwards is the simulator's state; what was sent is its
//! recorder.

use std::sync::Arc;
use std::time::Duration;

use almarel_sandbox::github::{Fault, GithubSim, RunPlan};
use secrecy::SecretString;

use super::*;
use crate::clock::SystemClock;
use crate::github::Config;

const REPO: &str = "octo/app";
const PRODUCTION_ID: u64 = 161_088_068;

async fn setup() -> (GithubSim, Client, String) {
    let sim = GithubSim::start(REPO).await.unwrap();
    let client = Client::new(Config {
        api_url: sim.url(),
        repository: REPO.into(),
        token: SecretString::from("test-token"),
        clock: Arc::new(SystemClock),
        request_timeout: Duration::from_secs(10),
        log: None,
        tag_prefix: "v".into(),
        branch: "main".into(),
        deploy_workflow: "Deploy to Production".into(),
    })
    .unwrap();
    let sha = sim.add_commit("Add login page");
    (sim, client, sha)
}

fn evidence(env: &str, sha: &str, ok: bool) -> Evidence {
    Evidence {
        environment: env.into(),
        sha: sha.into(),
        ok,
        description: "health 200, version 1a2b3c4, web, 2 smoke steps".into(),
        environment_url: Some("https://app.example.com".into()),
        log_url: Some("https://github.com/octo/app/actions/runs/42".into()),
    }
}

fn posts(sim: &GithubSim) -> Vec<almarel_sandbox::Recorded> {
    sim.recorder()
        .matching("POST", &format!("/repos/{REPO}/deployments"))
}

#[tokio::test]
async fn record_reuses_the_deployment_github_created_on_approval() {
    let (sim, client, sha) = setup().await;
    let run = sim.add_run("Deploy to Production", &sha, RunPlan::awaiting_approval());
    let outcome = client
        .review(run, &[PRODUCTION_ID], true, "ship it")
        .await
        .unwrap();
    assert!(matches!(outcome, WriteOutcome::Accepted(_)));
    let approved = sim.deployments();
    assert_eq!(
        approved.len(),
        1,
        "GitHub creates the deployment on approval"
    );
    assert!(approved[0].from_approval);
    let journal = Journal::new();

    let r = record(&client, &journal, &evidence("production", &sha, true))
        .await
        .unwrap();

    let Recorded::Recorded {
        deployment_id,
        reused,
        state,
        ref description,
        ..
    } = r
    else {
        panic!("{r:?}");
    };
    assert_eq!(deployment_id, approved[0].id);
    assert!(reused);
    assert_eq!(state, StatusState::Success);
    assert_eq!(
        description,
        "almarel verify passed: health 200, version 1a2b3c4, web, 2 smoke steps"
    );
    let after = sim.deployments();
    assert_eq!(after.len(), 1, "no deployment created");
    assert_eq!(after[0].statuses.len(), 1);
    let s = &after[0].statuses[0];
    assert_eq!(s.state, "success");
    assert_eq!(&s.description, description);
    assert_eq!(s.environment_url, "https://app.example.com/");
    assert_eq!(s.log_url, "https://github.com/octo/app/actions/runs/42");
    let sent = posts(&sim);
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(
        sent[0].path,
        format!("/repos/{REPO}/deployments/{deployment_id}/statuses")
    );
    let body: serde_json::Value = serde_json::from_str(&sent[0].body).unwrap();
    assert_eq!(body["auto_inactive"], false);
    let j = journal.snapshot();
    assert_eq!(j.done.len(), 1, "{j:?}");
    assert!(j.done[0].contains("record `success`"), "{j:?}");
}

#[tokio::test]
async fn record_creates_a_deployment_when_the_commit_has_none_in_that_environment() {
    let (sim, client, sha) = setup().await;
    // A production deployment of the same commit is not staging's.
    let production = sim.add_deployment(&sha, "production");
    let journal = Journal::new();

    let r = record(&client, &journal, &evidence("staging", &sha, false))
        .await
        .unwrap();

    let Recorded::Recorded {
        deployment_id,
        reused,
        state,
        ..
    } = r
    else {
        panic!("{r:?}");
    };
    assert!(!reused);
    assert_eq!(state, StatusState::Failure);
    assert_ne!(deployment_id, production);
    let sent = posts(&sim);
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert_eq!(sent[0].path, format!("/repos/{REPO}/deployments"));
    let body: serde_json::Value = serde_json::from_str(&sent[0].body).unwrap();
    assert_eq!(body["ref"], sha.as_str());
    assert_eq!(body["environment"], "staging");
    assert_eq!(body["auto_merge"], false);
    assert_eq!(body["required_contexts"], serde_json::json!([]));
    let all = sim.deployments();
    let created = all.iter().find(|d| d.id == deployment_id).unwrap();
    assert_eq!(created.sha, sha);
    assert_eq!(created.environment, "staging");
    assert_eq!(created.auto_merge, Some(false));
    assert_eq!(created.required_contexts, Some(vec![]));
    assert_eq!(created.statuses.len(), 1);
    assert_eq!(created.statuses[0].state, "failure");
    assert!(
        created.statuses[0]
            .description
            .starts_with("almarel verify failed: ")
    );
    let other = all.iter().find(|d| d.id == production).unwrap();
    assert!(other.statuses.is_empty(), "production left alone");
    assert_eq!(journal.snapshot().done.len(), 2);
}

#[tokio::test]
async fn record_uses_the_newest_of_several_deployments() {
    let (sim, client, sha) = setup().await;
    let older = sim.add_deployment(&sha, "production");
    let newer = sim.add_deployment(&sha, "production");
    assert!(newer > older);
    let r = record(
        &client,
        &Journal::new(),
        &evidence("production", &sha, true),
    )
    .await
    .unwrap();
    assert!(
        matches!(r, Recorded::Recorded { deployment_id, reused: true, .. } if deployment_id == newer),
        "{r:?}"
    );
    assert_eq!(posts(&sim).len(), 1);
}

#[tokio::test]
async fn a_403_is_cannot_record_and_nothing_is_sent() {
    let (sim, client, sha) = setup().await;
    sim.fault(Fault::new("GET", "/deployments", 1, 403));
    let journal = Journal::new();
    let r = record(&client, &journal, &evidence("production", &sha, true))
        .await
        .unwrap();
    assert!(
        matches!(
            r,
            Recorded::CannotRecord {
                deployment_id: None,
                ..
            }
        ),
        "{r:?}"
    );
    let warning = r.warning("production").unwrap();
    assert!(warning.contains("Deployments: write"), "{warning}");
    assert!(posts(&sim).is_empty());
    assert!(journal.snapshot().nothing_sent());
    assert!(sim.deployments().is_empty());
}

#[tokio::test]
async fn a_403_on_the_status_is_cannot_record_sent_once() {
    let (sim, client, sha) = setup().await;
    let id = sim.add_deployment(&sha, "production");
    sim.fault(Fault::new("POST", "/statuses", 1, 403));
    let r = record(
        &client,
        &Journal::new(),
        &evidence("production", &sha, true),
    )
    .await
    .unwrap();
    assert!(matches!(r, Recorded::CannotRecord { .. }), "{r:?}");
    assert_eq!(posts(&sim).len(), 1, "never re-sent");
    assert!(sim.deployments()[0].statuses.is_empty());
    assert_eq!(sim.deployments()[0].id, id);
}

#[tokio::test]
async fn a_404_on_create_is_cannot_record() {
    let (sim, client, sha) = setup().await;
    sim.fault(Fault::new("POST", "/deployments", 1, 404));
    let r = record(&client, &Journal::new(), &evidence("staging", &sha, true))
        .await
        .unwrap();
    assert!(matches!(r, Recorded::CannotRecord { .. }), "{r:?}");
    assert_eq!(posts(&sim).len(), 1, "no status without a deployment");
}

#[tokio::test]
async fn a_server_error_on_the_status_is_unknown_and_never_resent() {
    let (sim, client, sha) = setup().await;
    sim.add_deployment(&sha, "production");
    sim.fault(Fault::new("POST", "/statuses", 1, 502).after_applying());
    let journal = Journal::new();
    let r = record(&client, &journal, &evidence("production", &sha, true))
        .await
        .unwrap();
    assert!(matches!(r, Recorded::Unknown { .. }), "{r:?}");
    assert_eq!(posts(&sim).len(), 1);
    assert_eq!(sim.deployments()[0].statuses.len(), 1, "it was applied");
    assert_eq!(journal.snapshot().failed.len(), 1);
}

#[tokio::test]
async fn a_rate_limited_status_is_sent_again_once_the_limit_resets() {
    let (sim, client, sha) = setup().await;
    sim.add_deployment(&sha, "production");
    sim.fault(Fault::new("POST", "/statuses", 1, 429).header("retry-after", "1"));
    let r = record(
        &client,
        &Journal::new(),
        &evidence("production", &sha, true),
    )
    .await
    .unwrap();
    assert!(r.is_recorded(), "{r:?}");
    assert_eq!(posts(&sim).len(), 2);
    assert_eq!(sim.deployments()[0].statuses.len(), 1);
}

#[tokio::test]
async fn no_token_or_url_credential_reaches_github() {
    let (sim, client, sha) = setup().await;
    let mut e = evidence("production", &sha, false);
    e.description =
        "smoke login failed at https://bot:s3cretpass@api.example.com/login?token=abc123 \
                     with Bearer eyJhbGciOi.payload.sig, ghp_0123456789abcdefghijklmnopqrstuvwxyz \
                     and 12|abcdefghijklmnopqrstuvwxyz"
            .into();
    e.environment_url = Some("https://user:pw@app.example.com/?key=k9#frag".into());
    let r = record(&client, &Journal::new(), &e).await.unwrap();
    assert!(r.is_recorded(), "{r:?}");
    for rec in sim.recorder().all() {
        for secret in [
            "s3cretpass",
            "token=abc123",
            "eyJhbGciOi",
            "ghp_0123456789",
            "abcdefghijklmnopqrstuvwxyz",
            "pw@",
            "k9",
        ] {
            assert!(!rec.body.contains(secret), "{secret} in {}", rec.body);
            assert!(!rec.path.contains(secret), "{secret} in {}", rec.path);
        }
    }
    let s = &sim.deployments()[0].statuses[0];
    assert!(s.description.chars().count() <= 140, "{}", s.description);
    assert!(
        s.description
            .contains("https://api.example.com/login with Bearer ***"),
        "{}",
        s.description
    );
    assert_eq!(s.environment_url, "https://app.example.com/");
}

#[tokio::test]
async fn read_returns_the_newest_verdict_and_ignores_other_statuses() {
    let (sim, client, sha) = setup().await;
    assert_eq!(read(&client, "production", &sha).await.unwrap(), None);
    let id = sim.add_deployment(&sha, "production");
    // GitHub Actions' own status when the environment job succeeded: not a verify.
    sim.add_deployment_status(id, "success", "Deployment finished successfully.");
    assert_eq!(read(&client, "production", &sha).await.unwrap(), None);
    record(
        &client,
        &Journal::new(),
        &evidence("production", &sha, false),
    )
    .await
    .unwrap();
    record(
        &client,
        &Journal::new(),
        &evidence("production", &sha, true),
    )
    .await
    .unwrap();
    let v = read(&client, "production", &sha).await.unwrap().unwrap();
    assert!(v.ok);
    assert_eq!(v.state, "success");
    assert_eq!(v.sha, sha);
    assert_eq!(v.environment, "production");
    assert_eq!(v.deployment_id, id);
    assert_eq!(
        v.log_url.as_deref(),
        Some("https://github.com/octo/app/actions/runs/42")
    );
    assert!(v.at.ends_with('Z'), "{}", v.at);
    // Another environment knows nothing of it.
    assert_eq!(read(&client, "staging", &sha).await.unwrap(), None);
}

#[tokio::test]
async fn last_verified_is_the_newest_success_in_the_environment() {
    let (sim, client, first) = setup().await;
    assert_eq!(last_verified(&client, "staging").await.unwrap(), None);
    let second = sim.add_commit("Fix checkout");
    record(&client, &Journal::new(), &evidence("staging", &first, true))
        .await
        .unwrap();
    record(
        &client,
        &Journal::new(),
        &evidence("staging", &second, false),
    )
    .await
    .unwrap();
    record(
        &client,
        &Journal::new(),
        &evidence("production", &second, true),
    )
    .await
    .unwrap();
    let v = last_verified(&client, "staging").await.unwrap().unwrap();
    assert_eq!(
        v.sha, first,
        "the failed verify of the newer commit is not a verified version"
    );
    assert!(v.ok);
    record(
        &client,
        &Journal::new(),
        &evidence("staging", &second, true),
    )
    .await
    .unwrap();
    let v = last_verified(&client, "staging").await.unwrap().unwrap();
    assert_eq!(v.sha, second);
}

#[test]
fn the_actions_run_url_is_built_from_the_environment() {
    let env = Env::from_pairs([
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_SERVER_URL", "https://github.com/"),
        ("GITHUB_REPOSITORY", "octo/app"),
        ("GITHUB_RUN_ID", "1234567"),
    ]);
    assert_eq!(
        actions_run_url(&env).as_deref(),
        Some("https://github.com/octo/app/actions/runs/1234567")
    );
    assert_eq!(
        actions_run_url(&env.clone().with("GITHUB_ACTIONS", "")),
        None
    );
    assert_eq!(
        actions_run_url(&env.clone().with("GITHUB_RUN_ID", "12a")),
        None
    );
    assert_eq!(
        actions_run_url(&env.with("GITHUB_SERVER_URL", "javascript:alert(1)")),
        None
    );
}

#[test]
fn descriptions_are_marked_sanitised_and_capped() {
    assert_eq!(describe(true, ""), "almarel verify passed");
    assert_eq!(describe(false, " web "), "almarel verify failed: web");
    let long = describe(true, &"x".repeat(300));
    assert_eq!(long.chars().count(), 140);
    assert_eq!(
        sanitize("see (https://a:b@h.example.com/p?q=1), token abc"),
        "see (https://h.example.com/p), token ***"
    );
    assert_eq!(sanitize("github_pat_11ABCDEFG0123456789_xyz"), "***");
    assert_eq!(sanitize("version 1.2.3 at 12|ab"), "version 1.2.3 at 12|ab");
}

#[tokio::test]
async fn staging_validated_turns_green_only_after_a_successful_staging_verify_of_that_commit() {
    let (sim, client, sha) = setup().await;
    let other = sim.add_commit("Unrelated");
    let settings = crate::settings::parse_config_text(
        "[approve]\nrequire_staging = true\n[environments.staging]\n",
    )
    .unwrap();
    let check = |v: Option<Verified>| staging_check("staging", &sha, v.as_ref());
    let v = read(&client, "staging", &sha).await.unwrap();
    let c = check(v.clone());
    assert!(!c.ok);
    assert!(c.detail.starts_with("no verify of "), "{c:?}");
    assert_eq!(
        c.fix.as_deref(),
        Some(format!("almarel verify --env staging --expect-sha {sha}").as_str())
    );
    let e = require_staging(&settings, &sha, v.as_ref()).unwrap_err();
    assert_eq!(e.exit_code(), 3);
    assert_eq!(e.code, Some("staging_not_verified"));
    // A success elsewhere (production, another commit) does not count.
    record(
        &client,
        &Journal::new(),
        &evidence("production", &sha, true),
    )
    .await
    .unwrap();
    record(&client, &Journal::new(), &evidence("staging", &other, true))
        .await
        .unwrap();
    assert!(!check(read(&client, "staging", &sha).await.unwrap()).ok);
    record(&client, &Journal::new(), &evidence("staging", &sha, false))
        .await
        .unwrap();
    let c = check(read(&client, "staging", &sha).await.unwrap());
    assert!(!c.ok && c.detail.contains("failed at"), "{c:?}");
    record(&client, &Journal::new(), &evidence("staging", &sha, true))
        .await
        .unwrap();
    let v = read(&client, "staging", &sha).await.unwrap();
    let c = check(v.clone());
    assert!(c.ok, "{c:?}");
    assert!(c.detail.contains("verified in staging at "), "{c:?}");
    require_staging(&settings, &sha, v.as_ref()).unwrap();
    // Without the setting nothing is required.
    let plain = crate::settings::parse_config_text("").unwrap();
    require_staging(&plain, &sha, None).unwrap();
    // Every environment's last verified version, in order.
    let each = last_verified_each(&client, &settings.environments).await;
    let names: Vec<&str> = each.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["production", "staging"]);
    assert_eq!(each[0].1.as_ref().unwrap().as_ref().unwrap().sha, sha);
    assert_eq!(each[1].1.as_ref().unwrap().as_ref().unwrap().sha, sha);
}
