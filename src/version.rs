//! Release versions: strict parsing of what `almarel tag` accepts, and
//! recognising release tags among a repository's tags.

use semver::Version;

use crate::error::{Error, Result};

/// A release version accepted by `almarel tag`: `MAJOR.MINOR.PATCH` or
/// `MAJOR.MINOR.PATCH-<id>.<N>` with `<id>` among the allowed identifiers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReleaseVersion(pub Version);

impl ReleaseVersion {
    /// Parses user input (`1.2.3`, `v1.2.3`, `1.2.3-rc.1`); `prefix` is the tag prefix.
    pub fn parse(input: &str, prefix: &str, allowed_ids: &[String]) -> Result<Self> {
        let hint = format!(
            "use MAJOR.MINOR.PATCH, e.g. 1.2.3, or a pre-release like 1.2.3-{}.1",
            allowed_ids.first().map(String::as_str).unwrap_or("rc")
        );
        let bad = |why: &str| {
            Error::usage(format!("`{input}` is not a release version: {why}"))
                .with_hint(hint.clone())
        };
        if input.is_empty() {
            return Err(bad("it is empty"));
        }
        if input.chars().any(char::is_whitespace) {
            return Err(bad("it contains spaces"));
        }
        let core = input
            .strip_prefix(prefix)
            .filter(|_| !prefix.is_empty())
            .or_else(|| input.strip_prefix('v'))
            .unwrap_or(input);
        let v = Version::parse(core).map_err(|e| bad(&e.to_string()))?;
        if !v.build.is_empty() {
            return Err(bad("build metadata (+...) is not allowed in a release tag"));
        }
        if !v.pre.is_empty() {
            let parts: Vec<&str> = v.pre.as_str().split('.').collect();
            let shape_ok = parts.len() == 2
                && allowed_ids.iter().any(|id| id == parts[0])
                && !parts[1].is_empty()
                && parts[1].chars().all(|c| c.is_ascii_digit());
            if !shape_ok {
                return Err(bad(&format!(
                    "pre-release `{}` is not <id>.<N> with <id> one of [{}] (git.prerelease)",
                    v.pre,
                    allowed_ids.join(", ")
                )));
            }
        }
        Ok(ReleaseVersion(v))
    }

    /// The tag name: prefix + version (`v1.2.3`).
    pub fn tag_name(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.0)
    }

    /// Whether this is a pre-release (`-rc.N`).
    pub fn is_prerelease(&self) -> bool {
        !self.0.pre.is_empty()
    }
}

impl std::fmt::Display for ReleaseVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A tag in the repository that names a release: prefix + SemVer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseTag {
    /// The tag's name (`v1.2.3`).
    pub name: String,
    /// Its version.
    pub version: Version,
}

impl ReleaseTag {
    /// Recognises `name` as a release tag (prefix + SemVer without build metadata).
    pub fn from_name(name: &str, prefix: &str) -> Option<ReleaseTag> {
        let core = name.strip_prefix(prefix)?;
        let version = Version::parse(core).ok()?;
        version.build.is_empty().then(|| ReleaseTag {
            name: name.to_owned(),
            version,
        })
    }
    /// Whether this is a pre-release.
    pub fn is_prerelease(&self) -> bool {
        !self.version.pre.is_empty()
    }
}

/// Normalises a user-given tag: `1.2.3` → `v1.2.3`; `v1.2.3` stays.
pub fn normalize_tag(input: &str, prefix: &str) -> String {
    if input.starts_with(prefix) && !prefix.is_empty() {
        input.to_owned()
    } else if input.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        format!("{prefix}{input}")
    } else {
        input.to_owned()
    }
}

/// Picks the release tag to ship among the tags at one commit: a final tag
/// wins over a pre-release; among equals, the highest version.
pub fn preferred_tag(tags: &[ReleaseTag]) -> Option<&ReleaseTag> {
    tags.iter()
        .max_by(|a, b| (!a.is_prerelease(), &a.version).cmp(&(!b.is_prerelease(), &b.version)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rc() -> Vec<String> {
        vec!["rc".into()]
    }

    #[test]
    fn accepts_the_spec_forms() {
        for ok in ["1.2.3", "v1.2.3", "1.2.3-rc.1", "0.0.1", "10.20.30-rc.12"] {
            assert!(ReleaseVersion::parse(ok, "v", &rc()).is_ok(), "{ok}");
        }
        assert_eq!(
            ReleaseVersion::parse("v1.2.3", "v", &rc())
                .unwrap()
                .tag_name("v"),
            "v1.2.3"
        );
    }

    #[test]
    fn refuses_malformed_versions() {
        for bad in [
            "",
            " ",
            "1.2",
            "1.2.3.4",
            "01.2.3",
            "1.02.3",
            "1.2.03",
            "1.2.3-beta",
            "1.2.3+build",
            "1.2.3 ",
            " 1.2.3",
            "1 .2.3",
            "v",
            "vv1.2.3",
            "1.2.3-rc",
            "1.2.3-rc.",
            "1.2.3-rc.1.2",
            "1.2.3-rc.x",
            "1.2.3-RC.1",
            "-1.2.3",
            "1.2.x",
            "latest",
            "1.2.3-rc.01",
            "١.٢.٣",
        ] {
            let e = ReleaseVersion::parse(bad, "v", &rc()).unwrap_err();
            assert_eq!(e.kind, crate::error::Kind::Usage, "{bad:?}");
        }
    }

    #[test]
    fn beta_is_allowed_when_configured() {
        let ids = vec!["rc".to_string(), "beta".to_string()];
        assert!(ReleaseVersion::parse("1.2.3-beta.1", "v", &ids).is_ok());
    }

    #[test]
    fn precedence_orders_rcs_before_final() {
        let p = |s| ReleaseVersion::parse(s, "v", &rc()).unwrap();
        assert!(p("1.2.3-rc.2") > p("1.2.3-rc.1"));
        assert!(p("1.2.3") > p("1.2.3-rc.2"));
        assert!(p("1.2.10") > p("1.2.9"));
    }

    #[test]
    fn release_tags_and_preference() {
        assert!(ReleaseTag::from_name("v1.2.3", "v").is_some());
        assert!(ReleaseTag::from_name("1.2.3", "v").is_none());
        assert!(ReleaseTag::from_name("vnext", "v").is_none());
        let tags = vec![
            ReleaseTag::from_name("v1.2.3-rc.1", "v").unwrap(),
            ReleaseTag::from_name("v1.2.3", "v").unwrap(),
        ];
        assert_eq!(preferred_tag(&tags).unwrap().name, "v1.2.3");
        assert_eq!(normalize_tag("1.2.3", "v"), "v1.2.3");
        assert_eq!(normalize_tag("v1.2.3", "v"), "v1.2.3");
    }
}
