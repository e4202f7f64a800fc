//! The registry client against the registry simulator: what the registry
//! answers is the simulator's state; what was asked is its recorder.

use std::sync::{Arc, Mutex};

use almarel_sandbox::registry::{GITHUB_TOKEN, OCI_INDEX, RegistrySim, sha256_digest};
use secrecy::SecretString;

use super::*;
use crate::clock::SystemClock;

const REPO: &str = "octo/api";

fn fast() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        base: Duration::from_millis(1),
        max: Duration::from_millis(5),
        rate_limit_waits: 1,
    }
}

fn config(host: &str, token: Option<&str>) -> Config {
    Config {
        clock: Arc::new(SystemClock),
        request_timeout: Duration::from_secs(5),
        allow_insecure_http: false,
        credentials: token
            .map(|t| vec![(host.to_owned(), github_credentials(SecretString::from(t)))])
            .unwrap_or_default(),
        log: None,
    }
}

fn client(sim: &RegistrySim, token: Option<&str>) -> Client {
    Client::new(config(&sim.host(), token))
        .unwrap()
        .with_retry_policy(fast())
}

fn image(sim: &RegistrySim) -> ImageRef {
    ImageRef::parse(&sim.image(REPO)).unwrap()
}

/// Every string an error carries to the user (message and hints).
fn error_text(e: &Error) -> String {
    let mut s = e.message.clone();
    for h in &e.hints {
        s.push('\n');
        s.push_str(h);
    }
    s
}

#[tokio::test]
async fn two_tags_of_one_push_have_the_same_digest_and_the_token_is_exchanged_once() {
    let sim = RegistrySim::start().await.unwrap();
    let c = sim.control();
    let d = c.push(REPO, "v1.3.0");
    c.tag(REPO, "prod-4f2c9a1", &d);
    let client = client(&sim, Some(GITHUB_TOKEN));
    let img = image(&sim);
    let a = client.digest(&img, "v1.3.0").await.unwrap().unwrap();
    let b = client.digest(&img, "prod-4f2c9a1").await.unwrap().unwrap();
    assert_eq!(a.as_str(), d);
    assert_eq!(a, b);

    let rec = sim.recorder();
    assert_eq!(
        rec.matching("GET", "/v2/")
            .iter()
            .filter(|r| r.path == "/v2/")
            .count(),
        1
    );
    let tokens = rec.matching("GET", "/token");
    assert_eq!(tokens.len(), 1, "{tokens:#?}");
    assert!(
        tokens[0]
            .path
            .contains("scope=repository%3Aocto%2Fapi%3Apull"),
        "{}",
        tokens[0].path
    );
    assert!(
        tokens[0]
            .headers
            .contains(&("authorization".into(), "Basic".into()))
    );
    let heads = rec.matching("HEAD", "/v2/octo/api/manifests/");
    assert_eq!(heads.len(), 2);
    for h in &heads {
        assert!(
            h.headers
                .contains(&("authorization".into(), "Bearer".into()))
        );
        let accept = &h.headers.iter().find(|(k, _)| k == "accept").unwrap().1;
        for t in MANIFEST_TYPES {
            assert!(accept.contains(t), "{accept}");
        }
    }
    // HEAD was enough: no manifest body was fetched.
    assert!(rec.matching("GET", "/v2/octo/api/manifests/").is_empty());
}

#[tokio::test]
async fn a_multi_platform_index_resolves_to_the_index_digest() {
    let sim = RegistrySim::start().await.unwrap();
    let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
    let d = sim.control().push_manifest(REPO, "v2.0.0", OCI_INDEX, body);
    let got = client(&sim, Some(GITHUB_TOKEN))
        .digest(&image(&sim), "v2.0.0")
        .await
        .unwrap();
    assert_eq!(got.unwrap().as_str(), d);
}

#[tokio::test]
async fn different_pushes_have_different_digests_and_a_missing_tag_is_none() {
    let sim = RegistrySim::start().await.unwrap();
    let c = sim.control();
    let d1 = c.push(REPO, "v1.3.0");
    let d2 = c.push(REPO, "prod-4f2c9a1");
    assert_ne!(d1, d2);
    let client = client(&sim, Some(GITHUB_TOKEN));
    let img = image(&sim);
    assert_eq!(
        client
            .digest(&img, "v1.3.0")
            .await
            .unwrap()
            .unwrap()
            .as_str(),
        d1
    );
    assert_eq!(
        client
            .digest(&img, "prod-4f2c9a1")
            .await
            .unwrap()
            .unwrap()
            .as_str(),
        d2
    );
    assert_eq!(client.digest(&img, "v9.9.9").await.unwrap(), None);
}

#[tokio::test]
async fn without_a_token_a_private_image_is_refused_with_the_reason() {
    let sim = RegistrySim::start().await.unwrap();
    sim.control().push(REPO, "v1.3.0");
    let e = client(&sim, None)
        .digest(&image(&sim), "v1.3.0")
        .await
        .unwrap_err();
    assert_eq!(e.kind, crate::error::Kind::Remote);
    assert_eq!(e.code, Some("registry_unauthorized"));
    assert!(e.message.contains("answered 401"), "{}", e.message);
    assert!(
        e.message.contains("to an anonymous request"),
        "{}",
        e.message
    );
    // The token request went out anonymously.
    let tokens = sim.recorder().matching("GET", "/token");
    assert_eq!(tokens.len(), 1);
    assert!(tokens[0].headers.iter().all(|(k, _)| k != "authorization"));
}

#[tokio::test]
async fn a_public_image_is_read_anonymously() {
    let sim = RegistrySim::start().await.unwrap();
    let d = sim.control().push(REPO, "v1.3.0");
    sim.control().set_public(REPO, true);
    let got = client(&sim, None)
        .digest(&image(&sim), "v1.3.0")
        .await
        .unwrap();
    assert_eq!(got.unwrap().as_str(), d);
}

#[tokio::test]
async fn no_token_appears_in_any_error_or_log_line() {
    let sim = RegistrySim::start().await.unwrap();
    sim.control().push(REPO, "v1.3.0");
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let mut cfg = config(&sim.host(), Some(GITHUB_TOKEN));
    cfg.log = Some(Arc::new(move |l: &str| {
        sink.lock().unwrap().push(l.to_owned());
    }));
    let client = Client::new(cfg).unwrap().with_retry_policy(fast());
    let img = image(&sim);

    let mut errors = Vec::new();
    // Credentials refused by the token service.
    sim.control().refuse_credentials(true);
    errors.push(client.digest(&img, "v1.3.0").await.unwrap_err());
    // A wrong token.
    sim.control().refuse_credentials(false);
    sim.control().set_password(Some("another-token"));
    let fresh = Client::new(config(&sim.host(), Some(GITHUB_TOKEN))).unwrap();
    errors.push(fresh.digest(&img, "v1.3.0").await.unwrap_err());
    // A token that was issued, then a registry that keeps failing.
    sim.control().set_password(Some(GITHUB_TOKEN));
    let ok = Client::new(config(&sim.host(), Some(GITHUB_TOKEN)))
        .unwrap()
        .with_retry_policy(fast());
    ok.digest(&img, "v1.3.0").await.unwrap();
    sim.control().fail_next(10, 503);
    errors.push(ok.digest(&img, "v1.3.0").await.unwrap_err());

    let issued = sim.control().issued_tokens();
    assert!(!issued.is_empty());
    let mut secrets = issued.clone();
    secrets.push(GITHUB_TOKEN.to_owned());
    let text: Vec<String> = errors
        .iter()
        .map(error_text)
        .chain(lines.lock().unwrap().iter().cloned())
        .collect();
    assert!(!lines.lock().unwrap().is_empty());
    for t in &text {
        for s in &secrets {
            assert!(!t.contains(s.as_str()), "a token leaked into: {t}");
        }
    }
    assert_eq!(errors[0].code, Some("registry_unauthorized"));
    assert!(errors[0].message.contains("403"), "{}", errors[0].message);
    assert_eq!(errors[1].code, Some("registry_unauthorized"));
    assert!(errors[2].message.contains("503"), "{}", errors[2].message);
    // Debug output of the client and its config hides the token too.
    let debug = format!("{ok:?} {:?}", config(&sim.host(), Some(GITHUB_TOKEN)));
    assert!(!debug.contains(GITHUB_TOKEN), "{debug}");
}

#[tokio::test]
async fn without_the_digest_header_the_manifest_body_is_hashed() {
    let sim = RegistrySim::start().await.unwrap();
    let d = sim.control().push(REPO, "v1.3.0");
    sim.control().set_digest_header(false);
    let got = client(&sim, Some(GITHUB_TOKEN))
        .digest(&image(&sim), "v1.3.0")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.as_str(), d);
    let rec = sim.recorder();
    assert_eq!(
        rec.matching("HEAD", "/v2/octo/api/manifests/v1.3.0").len(),
        1
    );
    assert_eq!(
        rec.matching("GET", "/v2/octo/api/manifests/v1.3.0").len(),
        1
    );
}

#[tokio::test]
async fn a_registry_that_refuses_head_is_asked_with_get() {
    let sim = RegistrySim::start().await.unwrap();
    let d = sim.control().push(REPO, "v1.3.0");
    sim.control().set_head_allowed(false);
    let got = client(&sim, Some(GITHUB_TOKEN))
        .digest(&image(&sim), "v1.3.0")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.as_str(), d);
    assert_eq!(
        sim.recorder()
            .matching("GET", "/v2/octo/api/manifests/")
            .len(),
        1
    );
}

#[test]
fn the_computed_digest_is_sha256_of_the_bytes() {
    let body = b"{\"schemaVersion\":2}";
    assert_eq!(Digest::sha256_of(body).as_str(), sha256_digest(body));
    assert_eq!(
        Digest::sha256_of(b"").as_str(),
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[tokio::test]
async fn a_503_is_retried() {
    let sim = RegistrySim::start().await.unwrap();
    let d = sim.control().push(REPO, "v1.3.0");
    let client = client(&sim, Some(GITHUB_TOKEN));
    let img = image(&sim);
    client.digest(&img, "v1.3.0").await.unwrap();
    sim.control().fail_next(2, 503);
    let got = client.digest(&img, "v1.3.0").await.unwrap().unwrap();
    assert_eq!(got.as_str(), d);
    let heads = sim
        .recorder()
        .matching("HEAD", "/v2/octo/api/manifests/v1.3.0");
    let statuses: Vec<u16> = heads.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![200, 503, 503, 200]);
}

#[tokio::test]
async fn credentials_go_only_to_a_realm_on_the_registrys_host() {
    let sim = RegistrySim::start().await.unwrap();
    sim.control().push(REPO, "v1.3.0");
    // The image names the registry `localhost:PORT`; its realm is on
    // `127.0.0.1:PORT`, another host as far as credentials go.
    let port = sim.host().rsplit_once(':').unwrap().1.to_owned();
    let host = format!("localhost:{port}");
    let img = ImageRef::parse(&format!("{host}/{REPO}")).unwrap();
    let client = Client::new(config(&host, Some(GITHUB_TOKEN))).unwrap();
    let e = client.digest(&img, "v1.3.0").await.unwrap_err();
    assert_eq!(e.code, Some("registry_unauthorized"));
    let tokens = sim.recorder().matching("GET", "/token");
    assert_eq!(tokens.len(), 1);
    assert!(tokens[0].headers.iter().all(|(k, _)| k != "authorization"));
}

#[test]
fn image_names_parse_like_docker() {
    let e = ImageRef::parse("ghcr.io/Octo/api").unwrap_err();
    assert_eq!(e.kind, crate::error::Kind::Usage);
    assert!(e.message.contains("ghcr.io/Octo/api"), "{}", e.message);
    let i = ImageRef::parse("ghcr.io/octo/api").unwrap();
    assert_eq!(
        (i.host.as_str(), i.repository.as_str()),
        ("ghcr.io", "octo/api")
    );
    assert!(i.is_ghcr());
    assert_eq!(i.base_url(), "https://ghcr.io");
    let i = ImageRef::parse("ghcr.io/octo/api:v1.3.0").unwrap();
    assert_eq!(i.repository, "octo/api");
    let i = ImageRef::parse("nginx").unwrap();
    assert_eq!(i.to_string(), "docker.io/library/nginx");
    assert_eq!(i.base_url(), "https://registry-1.docker.io");
    let i = ImageRef::parse("octo/api@sha256:abc").unwrap();
    assert_eq!(i.to_string(), "docker.io/octo/api");
    let i = ImageRef::parse("127.0.0.1:5000/octo/api:v1").unwrap();
    assert_eq!(
        (i.host.as_str(), i.repository.as_str()),
        ("127.0.0.1:5000", "octo/api")
    );
    assert_eq!(i.base_url(), "http://127.0.0.1:5000");
    let i = ImageRef::parse("registry.example.com:5000/a/b").unwrap();
    assert_eq!(i.base_url(), "https://registry.example.com:5000");
    assert!(ImageRef::parse("https://ghcr.io/octo/api").is_err());
    assert!(ImageRef::parse("").is_err());
}

#[test]
fn challenges_parse_with_quoted_commas() {
    assert_eq!(
        parse_challenge(
            r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:user/image:pull,push""#
        ),
        Some(Challenge::Bearer {
            realm: "https://ghcr.io/token".into(),
            service: Some("ghcr.io".into())
        })
    );
    assert_eq!(
        parse_challenge(r#"Basic realm="Registry""#),
        Some(Challenge::Basic)
    );
    assert_eq!(parse_challenge("Bearer service=\"x\""), None);
    assert_eq!(parse_challenge("Negotiate"), None);
}

#[test]
fn digests_are_checked_and_shortened() {
    let hex = "a".repeat(64);
    let d = Digest::parse(&format!("sha256:{hex}")).unwrap();
    assert_eq!(d.short(), "sha256:aaaaaaaaaaaa");
    assert!(Digest::parse("sha256:abc").is_none());
    assert!(Digest::parse(&format!("md5:{hex}")).is_none());
}

#[tokio::test]
async fn an_expired_token_is_exchanged_again_once() {
    let sim = RegistrySim::start().await.unwrap();
    let d = sim.control().push(REPO, "v1.3.0");
    let client = client(&sim, Some(GITHUB_TOKEN));
    let img = image(&sim);
    client.digest(&img, "v1.3.0").await.unwrap();
    sim.control().expire_tokens();
    let got = client.digest(&img, "v1.3.0").await.unwrap().unwrap();
    assert_eq!(got.as_str(), d);
    let rec = sim.recorder();
    assert_eq!(rec.matching("GET", "/token").len(), 2);
    let statuses: Vec<u16> = rec
        .matching("HEAD", "/v2/octo/api/manifests/v1.3.0")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![200, 401, 200]);
}

#[test]
fn token_answers_and_error_bodies_are_read() {
    use secrecy::ExposeSecret as _;
    assert_eq!(
        token_of(r#"{"token":"abc"}"#).unwrap().expose_secret(),
        "abc"
    );
    assert_eq!(
        token_of(r#"{"access_token":"xyz","expires_in":300}"#)
            .unwrap()
            .expose_secret(),
        "xyz"
    );
    assert!(token_of(r#"{"token":""}"#).is_none());
    assert!(token_of("not json").is_none());
    assert_eq!(
        error_detail(
            r#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#
        ),
        " (DENIED requested access to the resource is denied)"
    );
    assert_eq!(error_detail("<html>oops</html>"), "");
}
