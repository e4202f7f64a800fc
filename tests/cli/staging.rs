//! Staging and evidence (issue 14, SPEC §8.3): rc tags go to staging and are
//! refused for production; `verify` records one deployment status per run;
//! `checklist before-merge`, `approve` and `status` read it back.

use crate::support::Run;

use almarel_sandbox::coolify::{self as sim, AppSpec, CoolifySim};
use almarel_sandbox::github::{Fault, RunPlan, SimDeployment};
use almarel_sandbox::production::{self as prod, ProductionSim};
use almarel_sandbox::registry::RegistrySim;

use crate::support::coolify::*;
use crate::support::github::GhEnv;
use crate::support::{Sandbox, json_stdout, texts};

const STG_API: &str = "s7ta9apwccw4g0o0kw4okcs8";
const STG_WEB: &str = "s7tw3b0wccw4g0o0kw4okcs8";

struct World {
    _rt: tokio::runtime::Runtime,
    coolify: CoolifySim,
    _prod: ProductionSim,
    stg: ProductionSim,
    proj: Project,
    sb: Sandbox,
    /// The commit of `v1.3.0-rc.1`.
    rc: String,
    /// Serves `almafrica/api` and `almafrica/web` (public), the images of
    /// both environments' apps; `v1.3.0-rc.1` pushed.
    registry: RegistrySim,
    /// `(repository, digest)` of each `v1.3.0-rc.1` image.
    rc_digests: Vec<(String, String)>,
}

fn staging_apps() -> Vec<AppSpec> {
    vec![
        AppSpec::docker("stg-api", STG_API, "v1.3.0-rc.1").with_history(&["v1.3.0-rc.1"]),
        AppSpec::docker("stg-web", STG_WEB, "v1.3.0-rc.1").with_history(&["v1.3.0-rc.1"]),
    ]
}

/// Production (two apps, on v1.2.2) and staging (two apps, on
/// v1.3.0-rc.1, serving the rc's commit) on one Coolify; `extra` TOML
/// appended.
fn world(extra: &str) -> World {
    let rt = runtime();
    let registry = rt.block_on(RegistrySim::start()).unwrap();
    let mut rc_digests = Vec::new();
    for repo in ["almafrica/api", "almafrica/web"] {
        registry.control().set_public(repo, true);
        let d = registry.control().push(repo, "v1.3.0-rc.1");
        rc_digests.push((repo.to_owned(), d));
    }
    let mut apps = two_apps();
    apps.extend(staging_apps());
    for a in &mut apps {
        let repo = if a.name.ends_with("api") {
            "api"
        } else {
            "web"
        };
        a.image_name = registry.image(&format!("almafrica/{repo}"));
    }
    let coolify = coolify(&rt, sim::Config::new(apps));
    let prod = production(&rt, prod::Config::new(OLD_SHA));
    let stg = production(&rt, prod::Config::new(NEW_SHA));
    let sb = Sandbox::new();
    let s = stg.url();
    let mut toml = format!(
        "{}{}{extra}\n[environments.staging]\n",
        coolify_toml(&coolify.url(), &two_apps()),
        verify_toml(&prod.url())
    );
    for a in staging_apps() {
        toml.push_str(&format!(
            "[[environments.staging.coolify.apps]]\nname = \"{}\"\nuuid = \"{}\"\n",
            a.name.trim_start_matches("stg-"),
            a.uuid
        ));
    }
    toml.push_str(&format!(
        "[environments.staging.verify]\nhealth_url = \"{s}/health\"\nversion_url = \"{s}/api/version\"\nweb_url = \"{s}/\"\nweb_expect = \"<div id=\\\"root\\\">\"\n"
    ));
    let proj = deploy_project(&sb, &rt, &toml);
    // deploy_project tags v1.3.0-rc.1 last.
    let rc = proj.github.head();
    stg.control().set_sha(&rc);
    World {
        _rt: rt,
        coolify,
        _prod: prod,
        stg,
        proj,
        sb,
        rc,
        registry,
        rc_digests,
    }
}

impl World {
    fn almarel(&self) -> assert_cmd::Command {
        almarel(&self.sb, &self.proj.dir, sim::TOKEN)
    }
    fn deployments(&self) -> Vec<SimDeployment> {
        self.proj.github.deployments()
    }
    fn statuses(&self) -> usize {
        self.deployments().iter().map(|d| d.statuses.len()).sum()
    }
}

#[test]
fn an_rc_deploys_to_staging_and_is_refused_for_production() {
    let w = world("");
    // Production: refused, naming the rule and --env staging; nothing sent.
    let out = w
        .almarel()
        .args(["deploy", "--tag", "1.3.0-rc.1", "--yes", "--json"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let v = json_stdout(&out);
    assert_eq!(v["error"]["code"], "prerelease", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("production accepts final releases only"),
        "{v}"
    );
    let hints = v["error"]["hints"].to_string();
    assert!(hints.contains("deploy it with --env staging"), "{hints}");
    assert!(hints.contains("--allow-prerelease"), "{hints}");
    assert!(
        w.coolify.recorder().all().iter().all(|r| r.method == "GET"),
        "production refused, yet Coolify got a write"
    );

    // Staging takes it: only staging's apps change; next names --env staging.
    let out = w
        .almarel()
        .args(["deploy", "--tag", "1.3.0-rc.1", "--env", "staging", "--yes"])
        .run()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains("next: almarel verify --expect-tag v1.3.0-rc.1 --env staging")
            || stderr.contains("next: almarel verify --expect-tag v1.3.0-rc.1 --env staging"),
        "{stdout}\n{stderr}"
    );
    assert_eq!(w.coolify.image_tag(STG_API).as_deref(), Some("v1.3.0-rc.1"));
    let prod_api = &two_apps()[0].uuid;
    assert_eq!(w.coolify.image_tag(prod_api).as_deref(), Some("v1.2.2"));
    let deploys: Vec<_> = w
        .coolify
        .recorder()
        .all()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect();
    assert!(!deploys.is_empty());
    assert!(
        deploys
            .iter()
            .all(|r| r.path.contains(STG_API) || r.path.contains(STG_WEB)),
        "{deploys:?}"
    );
}

#[test]
fn verify_records_exactly_one_status_per_run_to_the_environment_and_commit() {
    let w = world("");
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", "--expect-tag", "v1.3.0-rc.1", "--env", "staging"];
        args.extend_from_slice(extra);
        w.almarel().args(&args).run().unwrap()
    };
    // Success.
    let out = verify(&["--json"]);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let v = json_stdout(&out);
    assert_eq!(v["evidence"]["result"], "recorded", "{v}");
    assert_eq!(v["evidence"]["environment"], "staging", "{v}");
    let d = w.deployments();
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].environment, "staging");
    assert_eq!(d[0].sha, w.rc);
    assert_eq!(d[0].statuses.len(), 1);
    let s = &d[0].statuses[0];
    assert_eq!(s.state, "success");
    // The digests of staging's images first, then what was checked.
    assert!(
        s.description
            .starts_with("almarel verify passed: api@sha256:")
            && s.description.contains("; v1.3.0-rc.1 ("),
        "{}",
        s.description
    );
    assert!(s.description.contains("health"), "{}", s.description);
    for secret in [GH_TOKEN, sim::TOKEN, SMOKE_PASSWORD] {
        assert!(!s.description.contains(secret));
    }
    assert_eq!(s.environment_url, format!("{}/", w.stg.url()));

    // The human report says where it went.
    let out = verify(&[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        texts(&out)
            .0
            .contains("recorded as a deployment status for staging"),
        "{}",
        texts(&out).0
    );
    assert_eq!(w.statuses(), 2);

    // A short --expect-sha records on the same deployment (GitHub's `sha=`
    // filter matches full SHAs only).
    let out = w
        .almarel()
        .args(["verify", "--expect-sha", &w.rc[..7], "--env", "staging"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let d = w.deployments();
    assert_eq!(d.len(), 1, "a second deployment for the short SHA: {d:?}");
    assert_eq!(d[0].statuses.len(), 3);

    // Failure: staging runs another commit; one failure status, same deployment.
    w.stg.control().set_sha(&w.proj.v123);
    let out = verify(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", texts(&out).1);
    assert!(
        texts(&out)
            .1
            .contains(&format!("staging runs {}", &w.proj.v123[..7])),
        "{}",
        texts(&out).1
    );
    let d = w.deployments();
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].statuses.len(), 4);
    let s = d[0].statuses.last().unwrap();
    assert_eq!(s.state, "failure");
    assert!(
        s.description.starts_with("almarel verify failed:"),
        "{}",
        s.description
    );

    // 403: a warning, the exit code unchanged (1 here, then 0).
    w.proj.github.fault(Fault::new("POST", "/statuses", 1, 403));
    let out = verify(&[]);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("was not recorded"), "{stderr}");
    assert!(stderr.contains("Deployments: write"), "{stderr}");
    w.stg.control().set_sha(&w.rc);
    w.proj.github.fault(Fault::new("POST", "/statuses", 1, 403));
    let out = verify(&[]);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("was not recorded"), "{stderr}");
    assert_eq!(w.statuses(), 4);

    // --no-record and --dry-run send nothing.
    let before = w
        .proj
        .github
        .recorder()
        .all()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    for flag in ["--no-record", "--dry-run"] {
        let out = verify(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    }
    let after = w
        .proj
        .github
        .recorder()
        .all()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(before, after);
    assert_eq!(w.statuses(), 4);
}

#[test]
fn checklist_before_merge_turns_green_only_after_a_staging_verify_of_that_commit() {
    let w = world("");
    let item = |w: &World| {
        let out = w
            .almarel()
            .args(["checklist", "before-merge", "v1.3.0-rc.1", "--json"])
            .run()
            .unwrap();
        let v = json_stdout(&out);
        let i = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| {
                i["name"]
                    .as_str()
                    .unwrap()
                    .starts_with("Staging validation")
            })
            .cloned()
            .unwrap();
        (out.status.code(), i)
    };
    let (code, i) = item(&w);
    assert_eq!(code, Some(1), "{i}");
    assert_eq!(i["kind"], "automated", "{i}");
    assert_eq!(i["status"], "fail", "{i}");
    assert!(
        i["evidence"]
            .as_str()
            .unwrap()
            .contains("almarel verify --env staging --expect-sha"),
        "{i}"
    );
    // A verify of another commit does not count.
    w.stg.control().set_sha(&w.proj.v123);
    let out = w
        .almarel()
        .args(["verify", "--expect-tag", "v1.2.3", "--env", "staging"])
        .run()
        .unwrap();
    assert_eq!(w.statuses(), 1, "{}", texts(&out).1);
    assert_eq!(item(&w).1["status"], "fail");
    // A failed verify of the commit does not either.
    let out = w
        .almarel()
        .args(["verify", "--expect-tag", "v1.3.0-rc.1", "--env", "staging"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(item(&w).1["status"], "fail");
    // A successful one does.
    w.stg.control().set_sha(&w.rc);
    let out = w
        .almarel()
        .args(["verify", "--expect-tag", "v1.3.0-rc.1", "--env", "staging"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let (code, i) = item(&w);
    assert_eq!(i["status"], "pass", "{i}");
    assert_eq!(code, Some(0), "{i}");
    assert!(
        i["evidence"]
            .as_str()
            .unwrap()
            .contains("verified in staging at"),
        "{i}"
    );

    // status shows each environment's last verified version.
    let out = w.almarel().args(["status", "v1.3.0-rc.1"]).run().unwrap();
    let (stdout, stderr) = texts(&out);
    assert!(
        stdout.contains("verified in staging") && stdout.contains("last verified v1.3.0-rc.1"),
        "{stdout}\n{stderr}"
    );
    assert!(stdout.contains("verified in production"), "{stdout}");
    let out = w
        .almarel()
        .args(["status", "v1.3.0-rc.1", "--json"])
        .run()
        .unwrap();
    let v = json_stdout(&out);
    let staging = v["verified"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["environment"] == "staging")
        .cloned()
        .unwrap();
    assert_eq!(staging["last"]["sha"], w.rc.as_str(), "{v}");

    // `--env` carries over to the next step (it acts on the same environment).
    let out = w
        .almarel()
        .args(["status", "v1.3.0-rc.1", "--env", "staging", "--json"])
        .run()
        .unwrap();
    let v = json_stdout(&out);
    let next = v["next"].as_str().unwrap_or_default().to_owned();
    assert!(
        next.starts_with("almarel ") && next.ends_with(" --env staging"),
        "{v}"
    );
}

const STAGING_TOML: &str = "[environments.staging]\n[environments.staging.verify]\nhealth_url = \"https://staging.example.com/health\"\n";

fn final_candidate(sb: &Sandbox, extra: &str) -> (GhEnv, String) {
    let gh = GhEnv::start_with(sb, extra);
    let sha = gh.sim.add_commit("release 1.3.0");
    gh.sim.add_tag("v1.3.0-rc.1", &sha, true);
    gh.sim.add_tag("v1.3.0", &sha, true);
    gh.sim.add_run("CI", &sha, RunPlan::success());
    gh.sim
        .add_run("Deploy to Production", &sha, RunPlan::awaiting_approval());
    (gh, sha)
}

fn reviews(gh: &GhEnv) -> usize {
    gh.sim
        .recorder()
        .all()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/pending_deployments"))
        .count()
}

#[test]
fn approve_shows_the_staging_evidence_and_enforces_it_when_required() {
    // Required, missing: exit 3, staging_not_verified, nothing sent.
    let sb = Sandbox::new();
    let (gh, sha) = final_candidate(
        &sb,
        &format!("[approve]\nrequire_staging = true\n{STAGING_TOML}"),
    );
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.3.0", "--yes", "--json"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let v = json_stdout(&out);
    assert_eq!(v["error"]["code"], "staging_not_verified", "{v}");
    let hints = v["error"]["hints"].to_string();
    assert!(
        hints.contains(&format!("almarel verify --env staging --expect-sha {sha}")),
        "{hints}"
    );
    assert_eq!(v["staging"]["ok"], false, "{v}");
    assert_eq!(reviews(&gh), 0);

    // A failed verify is not enough either.
    let d = gh.sim.add_deployment(&sha, "staging");
    gh.sim
        .add_deployment_status(d, "failure", "almarel verify failed: version")
        .unwrap();
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.3.0", "--yes"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", texts(&out).1);
    assert_eq!(reviews(&gh), 0);

    // A successful verify in staging: shown, and the approval goes through.
    gh.sim
        .add_deployment_status(
            d,
            "success",
            "almarel verify passed: v1.3.0-rc.1: health passed",
        )
        .unwrap();
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.3.0", "--yes"])
        .run()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains(&format!("{} verified in staging at", &sha[..7])),
        "{stdout}"
    );
    assert_eq!(reviews(&gh), 1);

    // Not required: shown, not enforced.
    let sb = Sandbox::new();
    let (gh, _) = final_candidate(&sb, STAGING_TOML);
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.3.0", "--yes"])
        .run()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("recorded in staging"), "{stdout}");
    assert_eq!(reviews(&gh), 1);

    // A single-environment config: no staging line, no extra request.
    let sb = Sandbox::new();
    let (gh, _) = final_candidate(&sb, "");
    let out = gh
        .almarel(&sb)
        .args(["approve", "v1.3.0", "--yes"])
        .run()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stdout.contains("staging"), "{stdout}");
    assert!(
        gh.sim
            .recorder()
            .all()
            .iter()
            .all(|r| !r.path.contains("/deployments")),
        "a single environment reads no evidence"
    );
}

#[test]
fn production_deploys_only_the_digest_verified_in_staging() {
    let w = world("");
    // Staging's verify records the digests of the images it runs.
    let out = w
        .almarel()
        .args(["verify", "--expect-tag", "v1.3.0-rc.1", "--env", "staging"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);
    let d = w.deployments();
    let description = &d[0].statuses[0].description;
    assert!(
        description.starts_with("almarel verify passed: api@sha256:")
            && description.contains(" web@sha256:"),
        "{description}"
    );
    // The final tag on the same commit, pointing at another build: refused.
    w.proj.github.add_tag("v1.3.0", &w.rc, true);
    for repo in ["almafrica/api", "almafrica/web"] {
        w.registry.control().push(repo, "v1.3.0");
    }
    let out = w
        .almarel()
        .args(["deploy", "--tag", "v1.3.0", "--yes", "--json"])
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", texts(&out).1);
    let v = json_stdout(&out);
    assert_eq!(v["error"]["code"], "digest_mismatch", "{v}");
    assert!(
        v["error"]["hints"]
            .to_string()
            .contains("--allow-unverified-digest"),
        "{v}"
    );
    assert!(
        w.coolify.recorder().all().iter().all(|r| r.method == "GET"),
        "refused, yet Coolify got a write"
    );
    // v1.3.0 is the very image staging verified: it goes, and says so.
    for (repo, digest) in &w.rc_digests {
        w.registry.control().tag(repo, "v1.3.0", digest);
    }
    let out = w
        .almarel()
        .args(["deploy", "--tag", "v1.3.0", "--yes"])
        .run()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("api: v1.3.0 is sha256:")
            && stderr.contains("the image verified in staging"),
        "{stderr}"
    );
    assert_eq!(
        w.coolify.image_tag(&two_apps()[0].uuid).as_deref(),
        Some("v1.3.0")
    );
}

/// SIGTERM while a staging deploy's trigger is in flight: the printed
/// continuation acts on staging too (`--env staging`), never production.
#[test]
fn an_interrupted_staging_deploy_continues_on_staging() {
    let w = world("");
    w.coolify.slow(
        "POST",
        "/api/v1/deploy",
        std::time::Duration::from_secs(30),
        1,
    );
    let child = spawnable(&w.sb, &w.proj.dir, sim::TOKEN)
        .args(["deploy", "--tag", "1.3.0-rc.1", "--env", "staging", "--yes"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while w
        .coolify
        .recorder()
        .matching("POST", "/api/v1/deploy")
        .is_empty()
        && started.elapsed() < std::time::Duration::from_secs(20)
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    crate::support::check_next(&out);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(
        stderr.contains("next: almarel deploy --tag v1.3.0-rc.1")
            && stderr
                .lines()
                .filter(|l| l.starts_with("next: "))
                .all(|l| l.contains("--env staging")),
        "{stderr}"
    );
}
