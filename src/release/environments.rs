//! Which release may go to which environment (`accepts` in
//! `[environments.<name>]`): pre-releases (`X.Y.Z-rc.N`) to staging, final
//! releases to production, unless the file says otherwise.
//!
//! Commands call [`accepts`] with the resolved [`Settings`] (whose
//! [`Settings::environment`] is the one `--env` picked) before any write; a
//! refusal is exit 3, names the rule and where the version can go instead.

use semver::Version;

use crate::error::{Error, Result};
use crate::settings::{EnvironmentSettings, Settings};

/// Whether `settings.environment` takes `version`. The refusal (exit 3, code
/// `environment_refuses_version`) names the rule, the environment that takes
/// the version (`--env staging`), and the override when there is one.
pub fn accepts(settings: &Settings, version: &Version) -> Result<()> {
    check(
        &settings.environment,
        &settings.environments,
        &format!("{}{version}", settings.git.tag_prefix),
        !version.pre.is_empty(),
    )
}

/// [`accepts`] on plain values: `env` is the target, `all` every configured
/// environment (for the hint), `tag` the release's tag name.
pub fn check(
    env: &EnvironmentSettings,
    all: &[EnvironmentSettings],
    tag: &str,
    prerelease: bool,
) -> Result<()> {
    let takes = |e: &EnvironmentSettings| {
        if prerelease {
            e.accepts.prerelease
        } else {
            e.accepts.final_release
        }
    };
    if takes(env) {
        return Ok(());
    }
    let (what, only) = if prerelease {
        ("a pre-release", "final releases only")
    } else {
        ("a final release", "pre-releases only")
    };
    let mut err = Error::refused(format!(
        "{tag} is {what}; {} accepts {only} (environments.{}.accepts = {:?})",
        env.name,
        env.name,
        env.accepts.words()
    ))
    .with_code("environment_refuses_version");
    let elsewhere: Vec<&str> = all
        .iter()
        .filter(|e| e.name != env.name && takes(e))
        .map(|e| e.name.as_str())
        .collect();
    if let Some(first) = elsewhere.first() {
        err = err.with_hint(format!("deploy it with --env {first}"));
    }
    if prerelease {
        err = err.with_hint(format!(
            "tag a final release (almarel tag X.Y.Z) for {}; or pass --allow-prerelease if you mean it",
            env.name
        ));
    } else {
        err = err.with_hint(format!(
            "add \"final\" to [environments.{}] accepts in almarel.toml to allow it",
            env.name
        ));
    }
    Err(err)
}

/// `next` followed by `--env NAME` when `--env` named the environment, so a
/// printed next command acts on the same one.
pub fn next_with_env(settings: &Settings, next: crate::report::Next) -> crate::report::Next {
    if !settings.environment_given {
        return next;
    }
    add_env(next, &settings.environment.name)
}

/// The verbs that take `--env` (SPEC §8.3).
const ENV_VERBS: [&str; 8] = [
    "status",
    "approve",
    "deploy",
    "verify",
    "rollback",
    "checklist",
    "freeze",
    "unfreeze",
];

/// `next` with `--env env` appended, when its verb takes `--env` and it
/// names none yet; otherwise `next` as it is.
pub fn add_env(next: crate::report::Next, env: &str) -> crate::report::Next {
    let args = next.args();
    let takes_env = args
        .first()
        .is_some_and(|v| ENV_VERBS.contains(&v.as_str()));
    if !takes_env || args.iter().any(|a| a == "--env" || a.starts_with("--env=")) {
        return next;
    }
    let mut words = args.to_vec();
    words.extend(["--env".to_owned(), env.to_owned()]);
    crate::report::Next::new(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::parse_config_text;

    const TWO: &str = r#"
[environments.staging]
[environments.staging.verify]
health_url = "https://staging.example.com/health"
"#;

    fn version(v: &str) -> Version {
        Version::parse(v).unwrap()
    }

    #[test]
    fn production_takes_finals_and_refuses_a_pre_release_naming_staging() {
        let s = parse_config_text(TWO).unwrap();
        accepts(&s, &version("1.3.0")).unwrap();
        let e = accepts(&s, &version("1.3.0-rc.1")).unwrap_err();
        assert_eq!(e.exit_code(), 3);
        assert_eq!(e.code, Some("environment_refuses_version"));
        assert!(
            e.message.starts_with(
                "v1.3.0-rc.1 is a pre-release; production accepts final releases only"
            ),
            "{}",
            e.message
        );
        assert_eq!(e.hint(), Some("deploy it with --env staging"));
        assert!(e.hints[1].contains("--allow-prerelease"), "{:?}", e.hints);
    }

    #[test]
    fn staging_takes_both_by_default() {
        let s = parse_config_text(TWO)
            .unwrap()
            .select_environment(Some("staging"))
            .unwrap();
        accepts(&s, &version("1.3.0-rc.1")).unwrap();
        accepts(&s, &version("1.3.0")).unwrap();
    }

    #[test]
    fn an_environment_for_pre_releases_only_refuses_a_final_naming_production() {
        let s = parse_config_text(&TWO.replace(
            "[environments.staging]\n",
            "[environments.staging]\naccepts = [\"prerelease\"]\n",
        ))
        .unwrap()
        .select_environment(Some("staging"))
        .unwrap();
        let e = accepts(&s, &version("2.0.0")).unwrap_err();
        assert_eq!(e.exit_code(), 3);
        assert!(
            e.message
                .contains("v2.0.0 is a final release; staging accepts pre-releases only"),
            "{}",
            e.message
        );
        assert_eq!(e.hint(), Some("deploy it with --env production"));
    }

    #[test]
    fn a_single_environment_config_refuses_pre_releases_without_naming_another() {
        let s = parse_config_text("").unwrap();
        let e = accepts(&s, &version("1.0.0-rc.2")).unwrap_err();
        assert_eq!(e.hints.len(), 1, "{:?}", e.hints);
        assert!(e.hint().unwrap().contains("--allow-prerelease"));
        // Production may be configured to take pre-releases.
        let s =
            parse_config_text("[environments.production]\naccepts = [\"prerelease\", \"final\"]\n")
                .unwrap();
        accepts(&s, &version("1.0.0-rc.2")).unwrap();
    }
}
