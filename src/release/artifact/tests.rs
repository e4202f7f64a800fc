//! Identity and promotion against the registry simulator.

use std::sync::Arc;
use std::time::Duration;

use almarel_sandbox::registry::{GITHUB_TOKEN, RegistrySim};
use secrecy::SecretString;

use super::*;
use crate::clock::SystemClock;
use crate::registry::{Config, github_credentials};
use crate::version::ReleaseTag;

const REPO: &str = "octo/api";
const SHA: &str = "4f2c9a1b3d5e7f9011223344556677889900aabb";

fn client(sim: &RegistrySim, token: Option<&str>) -> Client {
    Client::new(Config {
        clock: Arc::new(SystemClock),
        request_timeout: Duration::from_secs(5),
        allow_insecure_http: false,
        credentials: token
            .map(|t| vec![(sim.host(), github_credentials(SecretString::from(t)))])
            .unwrap_or_default(),
        log: None,
    })
    .unwrap()
}

fn app(sim: &RegistrySim) -> AppImage {
    AppImage::from_application(
        "api",
        &Application {
            docker_registry_image_name: Some(sim.image(REPO)),
            build_pack: Some("dockerimage".into()),
            ..Application::default()
        },
    )
}

/// `v1.3.0` and `prod-<sha>` from the default templates.
fn tags() -> Vec<String> {
    let tag = ReleaseTag::from_name("v1.3.0", "v").unwrap();
    release_tags("{tag}", "prod-{sha}", Some(&tag), SHA).unwrap()
}

#[test]
fn the_release_tags_are_rendered_from_the_templates() {
    assert_eq!(tags(), vec!["v1.3.0".to_owned(), format!("prod-{SHA}")]);
    assert_eq!(
        release_tags("{tag}", "prod-{short_sha}", None, SHA).unwrap(),
        vec!["prod-4f2c9a1".to_owned()]
    );
    let tag = ReleaseTag::from_name("v1.3.0", "v").unwrap();
    let e = release_tags("{nope}", "prod-{sha}", Some(&tag), SHA).unwrap_err();
    assert_eq!(e.kind, crate::error::Kind::Usage);
}

#[tokio::test]
async fn prod_sha_and_the_version_tag_on_one_digest_are_the_same_artifact() {
    let sim = RegistrySim::start().await.unwrap();
    let d = sim.control().push(REPO, &format!("prod-{SHA}"));
    sim.control().tag(REPO, "v1.3.0", &d);
    let id = identity(&client(&sim, Some(GITHUB_TOKEN)), &app(&sim), &tags()).await;
    assert_eq!(
        id.identity,
        Identity::Same {
            digest: Digest::parse(&d).unwrap()
        }
    );
    assert_eq!(
        id.sentence(),
        format!("api: v1.3.0 and prod-{SHA} are the same artifact ({d})")
    );
    assert!(id.check().ok);
    let json = serde_json::to_value(&id).unwrap();
    assert_eq!(json["identity"], "same");
    assert_eq!(json["digest"], d.as_str());
}

#[tokio::test]
async fn two_pushes_are_different_artifacts() {
    let sim = RegistrySim::start().await.unwrap();
    let d1 = sim.control().push(REPO, "v1.3.0");
    let d2 = sim.control().push(REPO, &format!("prod-{SHA}"));
    let id = identity(&client(&sim, Some(GITHUB_TOKEN)), &app(&sim), &tags()).await;
    let Identity::Different { tags } = &id.identity else {
        panic!("{id:?}");
    };
    assert_eq!(tags[0].digest.as_ref().unwrap().as_str(), d1);
    assert_eq!(tags[1].digest.as_ref().unwrap().as_str(), d2);
    assert!(!id.check().ok);
    assert!(
        id.sentence()
            .starts_with("api: not the same artifact: v1.3.0 → sha256:"),
        "{}",
        id.sentence()
    );
}

#[tokio::test]
async fn a_tag_not_pushed_is_reported_as_missing() {
    let sim = RegistrySim::start().await.unwrap();
    sim.control().push(REPO, "v1.3.0");
    let id = identity(&client(&sim, Some(GITHUB_TOKEN)), &app(&sim), &tags()).await;
    assert!(
        id.sentence()
            .contains(&format!("prod-{SHA} is not in the registry")),
        "{}",
        id.sentence()
    );
}

#[tokio::test]
async fn without_a_token_identity_cannot_be_checked_and_says_why() {
    let sim = RegistrySim::start().await.unwrap();
    sim.control().push(REPO, "v1.3.0");
    let id = identity(&client(&sim, None), &app(&sim), &tags()).await;
    let Identity::Unknown { reason } = &id.identity else {
        panic!("{id:?}");
    };
    assert!(reason.contains("refused to show"), "{reason}");
    assert!(reason.contains("401"), "{reason}");
    assert!(
        id.sentence().contains("cannot be checked"),
        "{}",
        id.sentence()
    );
    // It stopped at the first refusal: one manifest request.
    assert_eq!(
        sim.recorder()
            .matching("HEAD", "/v2/octo/api/manifests/")
            .len(),
        1
    );
}

#[tokio::test]
async fn an_app_coolify_builds_itself_cannot_be_checked() {
    let sim = RegistrySim::start().await.unwrap();
    let built = AppImage::from_application(
        "web",
        &Application {
            build_pack: Some("nixpacks".into()),
            ..Application::default()
        },
    );
    let id = identity(&client(&sim, Some(GITHUB_TOKEN)), &built, &tags()).await;
    assert_eq!(
        id.identity,
        Identity::Unknown {
            reason: "app `web` is built by Coolify (nixpacks), not pulled from a registry".into()
        }
    );
    assert!(sim.recorder().all().is_empty());
}

fn digest(c: char) -> Digest {
    Digest::parse(&format!("sha256:{}", c.to_string().repeat(64))).unwrap()
}

fn rec(c: char) -> RecordedDigest {
    RecordedDigest::from(&digest(c))
}

fn cand(app: &str, lookup: Lookup) -> Candidate {
    Candidate {
        app: app.into(),
        image: Some("ghcr.io/octo/api".into()),
        tag: "v1.3.0".into(),
        lookup,
    }
}

#[test]
fn the_verified_digest_is_promoted() {
    let c = cand(
        "api",
        Lookup::Found {
            digest: digest('a'),
        },
    );
    let p = check_promotion(Some(&rec('a')), &c, false).unwrap();
    assert_eq!(
        p.promotion,
        Promotion::Verified {
            digest: digest('a')
        }
    );
    assert!(p.sentence().contains("the image verified in staging"));
}

#[test]
fn another_digest_is_refused_naming_the_override() {
    let c = cand(
        "api",
        Lookup::Found {
            digest: digest('b'),
        },
    );
    let e = check_promotion(Some(&rec('a')), &c, false).unwrap_err();
    assert_eq!(e.kind, crate::error::Kind::Refused);
    assert_eq!(e.kind.exit_code(), 3);
    assert_eq!(e.code, Some("digest_mismatch"));
    assert!(e.message.contains(digest('a').as_str()), "{}", e.message);
    assert!(e.message.contains(digest('b').as_str()), "{}", e.message);
    assert!(
        e.hints.iter().any(|h| h.contains(ALLOW_UNVERIFIED_DIGEST)),
        "{:?}",
        e.hints
    );
    // A tag that is not in the registry is not the verified image either.
    let e = check_promotion(Some(&rec('a')), &cand("api", Lookup::Missing), false).unwrap_err();
    assert!(e.message.contains("not in the registry"), "{}", e.message);
    // The override lets it through and says so.
    let p = check_promotion(Some(&rec('a')), &c, true).unwrap();
    assert_eq!(
        p.promotion,
        Promotion::Overridden {
            verified: rec('a'),
            candidate: Some(digest('b'))
        }
    );
    assert!(p.sentence().contains(ALLOW_UNVERIFIED_DIGEST));
}

#[test]
fn what_cannot_be_checked_says_so() {
    let c = cand(
        "api",
        Lookup::Unknown {
            reason: "registry ghcr.io refused to show ghcr.io/octo/api".into(),
        },
    );
    let p = check_promotion(Some(&rec('a')), &c, false).unwrap();
    assert_eq!(
        p.sentence(),
        "api: the image verified in staging cannot be checked: registry ghcr.io refused to show ghcr.io/octo/api"
    );
    let found = cand(
        "api",
        Lookup::Found {
            digest: digest('b'),
        },
    );
    let p = check_promotion(None, &found, false).unwrap();
    assert!(
        matches!(p.promotion, Promotion::CannotCheck { ref reason } if reason.contains("no image digest"))
    );
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["promotion"], "cannot_check");
}

#[test]
fn one_refusal_names_every_app_that_differs() {
    let verified: BTreeMap<String, RecordedDigest> =
        [("api".into(), rec('a')), ("web".into(), rec('c'))]
            .into_iter()
            .collect();
    let cands = vec![
        cand(
            "api",
            Lookup::Found {
                digest: digest('b'),
            },
        ),
        cand(
            "web",
            Lookup::Found {
                digest: digest('d'),
            },
        ),
        cand(
            "worker",
            Lookup::Found {
                digest: digest('e'),
            },
        ),
    ];
    let e = check_promotions(&verified, &cands, false).unwrap_err();
    assert!(
        e.message.contains("app `api`") && e.message.contains("app `web`"),
        "{}",
        e.message
    );
    assert!(!e.message.contains("worker"));
    let ok = check_promotions(&verified, &cands[2..], false).unwrap();
    assert!(matches!(ok[0].promotion, Promotion::CannotCheck { .. }));
}

#[tokio::test]
async fn staging_verified_digest_against_the_registry_end_to_end() {
    let sim = RegistrySim::start().await.unwrap();
    let staged = sim.control().push(REPO, "v1.3.0-rc.1");
    let client = client(&sim, Some(GITHUB_TOKEN));
    let app = app(&sim);
    // Staging verified the rc; the final tag points at the same digest.
    sim.control().tag(REPO, "v1.3.0", &staged);
    let verified = match lookup(&client, &app, "v1.3.0-rc.1").await {
        Lookup::Found { digest } => digest,
        other => panic!("{other:?}"),
    };
    let c = candidate(&client, &app, "v1.3.0").await;
    let p = check_promotion(Some(&RecordedDigest::from(&verified)), &c, false).unwrap();
    assert_eq!(
        p.promotion,
        Promotion::Verified {
            digest: verified.clone()
        }
    );
    // A rebuild pushed under the final tag is refused.
    sim.control().push(REPO, "v1.3.0");
    let c = candidate(&client, &app, "v1.3.0").await;
    let e = check_promotion(Some(&RecordedDigest::from(&verified)), &c, false).unwrap_err();
    assert_eq!(e.code, Some("digest_mismatch"));
}

#[test]
fn recorded_images_round_trip_and_shorten_when_room_is_short() {
    let images = vec![
        ("api".to_owned(), digest('a')),
        ("web".to_owned(), digest('b')),
    ];
    let full = record_images(&images, 200).unwrap();
    assert_eq!(full, format!("api@{} web@{}", digest('a'), digest('b')));
    let text = format!("verified v1.3.0-rc.1: health, version, 2 smoke steps; {full}.");
    let back = read_recorded_images(&text);
    assert_eq!(back.get("api"), Some(&rec('a')));
    assert_eq!(back.get("web"), Some(&rec('b')));
    // 140-character descriptions: shortened to 16 hex digits, still matching.
    let short = record_images(&images, 60).unwrap();
    assert_eq!(
        short,
        "api@sha256:aaaaaaaaaaaaaaaa web@sha256:bbbbbbbbbbbbbbbb"
    );
    let back = read_recorded_images(&short);
    assert!(back["api"].matches(&digest('a')));
    assert!(!back["api"].matches(&digest('b')));
    let p = check_promotion(
        back.get("api"),
        &cand(
            "api",
            Lookup::Found {
                digest: digest('a'),
            },
        ),
        false,
    )
    .unwrap();
    assert_eq!(
        p.promotion,
        Promotion::Verified {
            digest: digest('a')
        }
    );
    assert_eq!(record_images(&images, 20), None);
    // Fewer than 16 hex digits, other words with `@`: not a recorded digest.
    assert!(read_recorded_images("api@sha256:abcdef by octocat@example.com").is_empty());
}
