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

/// A REF the user gave, validated before any request (SPEC §7.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefSpec {
    /// A tag name with the configured prefix (`v1.2.3`; `1.2.3` becomes `v1.2.3`).
    Tag(String),
    /// A commit SHA, 7–40 hex characters (lowercased).
    Sha(String),
}

impl RefSpec {
    /// The tag name or SHA.
    pub fn as_str(&self) -> &str {
        match self {
            RefSpec::Tag(s) | RefSpec::Sha(s) => s,
        }
    }
}

/// Whether `s` is 7–40 hex characters (a full or abbreviated commit SHA).
pub fn is_sha(s: &str) -> bool {
    (7..=40).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The first 7 characters of a SHA (the whole string when shorter).
pub fn short_sha(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// Whether `s` is safe as the part of a tag name after the prefix: ASCII
/// letters, digits and `.-_+`, not starting with `.` or `-`, no `..`, not
/// ending in `.` or `.lock`.
fn plain_tag_rest(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+'))
        && !s.starts_with(['.', '-'])
        && !s.contains("..")
        && !s.ends_with('.')
        && !s.ends_with(".lock")
}

/// Validates REF before it goes anywhere (SPEC §7.7): a version (`1.2.3`,
/// `v1.2.3`, `1.2.3-rc.1`: the tag prefix + that version), a tag with the
/// configured prefix (`v1.2.3`, `vnext`), or 7–40 hex (a commit). Anything
/// else is a usage error (exit 2) quoting the input.
pub fn parse_ref(input: &str, prefix: &str) -> Result<RefSpec> {
    let hint = format!(
        "give a release version (1.2.3), a tag with the prefix `{prefix}` ({prefix}1.2.3) or a commit SHA (7-40 hex)"
    );
    if input.trim().is_empty() {
        return Err(Error::usage("REF is empty").with_hint(hint));
    }
    let shown: String = input
        .chars()
        .flat_map(char::escape_debug)
        .take(80)
        .collect();
    let bad = || {
        Error::usage(format!(
            "`{shown}` is not a release version, a tag or a commit SHA"
        ))
        .with_hint(hint.clone())
    };
    // A version, with the prefix, a `v`, or bare.
    let core = (!prefix.is_empty())
        .then(|| input.strip_prefix(prefix))
        .flatten()
        .or_else(|| input.strip_prefix('v'))
        .unwrap_or(input);
    if core.starts_with(|c: char| c.is_ascii_digit()) && plain_tag_rest(core) {
        if let Ok(v) = Version::parse(core) {
            if v.build.is_empty() {
                return Ok(RefSpec::Tag(format!("{prefix}{v}")));
            }
        }
    }
    if is_sha(input) {
        return Ok(RefSpec::Sha(input.to_ascii_lowercase()));
    }
    match input.strip_prefix(prefix) {
        Some(rest) if !prefix.is_empty() && plain_tag_rest(rest) => {
            Ok(RefSpec::Tag(input.to_owned()))
        }
        _ => Err(bad()),
    }
}

/// Validates a tag given by name (`--tag`, `--to`): like [`parse_ref`] but a
/// SHA is not a tag. Returns the full tag name.
pub fn parse_tag(input: &str, prefix: &str) -> Result<String> {
    let input = input.trim();
    let as_tag = |s: &str| {
        let rest = s.strip_prefix(prefix).filter(|_| !prefix.is_empty());
        rest.is_some_and(plain_tag_rest)
    };
    match parse_ref(input, prefix) {
        Ok(RefSpec::Tag(t)) => Ok(t),
        // Hex that also reads as prefix + name (prefix `a`, tag `abcdef1`).
        Ok(RefSpec::Sha(s)) if as_tag(&s) => Ok(s),
        Ok(RefSpec::Sha(s)) => Err(Error::usage(format!("`{s}` is a commit SHA, not a tag"))
            .with_hint(format!(
                "give a release tag ({prefix}1.2.3) or version (1.2.3)"
            ))),
        Err(e) => Err(e),
    }
}

/// Checks `git.tag_prefix`: empty, or a plain ref component (no `/`,
/// whitespace, control characters, `~^:?*[\`, `..`, `@{`, no leading `.` or `-`).
pub fn check_tag_prefix(prefix: &str) -> Result<()> {
    let bad_char = prefix.chars().find(|c| {
        c.is_whitespace()
            || c.is_control()
            || matches!(c, '/' | '~' | '^' | ':' | '?' | '*' | '[' | '\\')
    });
    let why = if let Some(c) = bad_char {
        Some(format!("it contains {:?}", c))
    } else if prefix.contains("..") || prefix.contains("@{") {
        Some("it contains `..` or `@{`".to_owned())
    } else if prefix.starts_with(['.', '-']) {
        Some("it starts with `.` or `-`".to_owned())
    } else {
        None
    };
    match why {
        None => Ok(()),
        Some(why) => Err(Error::usage(format!(
            "git.tag_prefix `{}` is not a plain tag name prefix: {why}",
            prefix.escape_debug()
        ))
        .with_hint("use letters, digits and `.-_` (the default is `v`), or an empty prefix")),
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
    #[test]
    fn refs_are_validated_before_use() {
        let t = |s: &str| RefSpec::Tag(s.to_owned());
        assert_eq!(parse_ref("1.2.3", "v").unwrap(), t("v1.2.3"));
        assert_eq!(parse_ref("v1.2.3-rc.1", "v").unwrap(), t("v1.2.3-rc.1"));
        assert_eq!(parse_ref("vnext", "v").unwrap(), t("vnext"));
        assert_eq!(parse_ref("1.2.3", "").unwrap(), t("1.2.3"));
        assert_eq!(
            parse_ref("release-1.2.3", "release-").unwrap(),
            t("release-1.2.3")
        );
        assert_eq!(parse_ref("v1.2.3", "release-").unwrap(), t("release-1.2.3"));
        assert_eq!(
            parse_ref("ABCDEF1", "v").unwrap(),
            RefSpec::Sha("abcdef1".into())
        );
        assert_eq!(
            parse_ref(&"a".repeat(40), "v").unwrap(),
            RefSpec::Sha("a".repeat(40))
        );
        for bad in [
            "",
            " ",
            "../../etc/passwd",
            "v1.2.3/../../x",
            "abc123",
            &"a".repeat(41),
            "main",
            "origin/main",
            "v1.2.3 ",
            "v1.2.3\n",
            "v..",
            "v.hidden",
            "v-x",
            "vx.lock",
            "v1.2.3?x=1",
            "v1.2.3#x",
            "v%2e%2e",
            "nextv",
            "deadbeef-not",
        ] {
            let e = parse_ref(bad, "v").unwrap_err();
            assert_eq!(e.kind, crate::error::Kind::Usage, "{bad:?}");
            assert!(!e.message.contains('\n'), "{bad:?}");
        }
        // With an empty prefix only versions and SHAs are refs.
        assert!(parse_ref("next", "").is_err());
    }

    #[test]
    fn tags_by_name() {
        assert_eq!(parse_tag("1.2.3", "v").unwrap(), "v1.2.3");
        assert_eq!(parse_tag("v1.2.3", "v").unwrap(), "v1.2.3");
        assert!(parse_tag("abcdef1", "v").is_err());
        assert!(parse_tag("../x", "v").is_err());
    }

    #[test]
    fn tag_prefixes() {
        for ok in ["", "v", "release-", "app_v", "r.1"] {
            assert!(check_tag_prefix(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "a/b", "v ", "x~", "x^", "x:", "x?", "x*", "x[", "x\\", "..", "-v", "v\n", "@{",
        ] {
            let e = check_tag_prefix(bad).unwrap_err();
            assert!(e.message.contains("git.tag_prefix"), "{bad:?}");
        }
    }

    #[test]
    fn shas() {
        assert!(is_sha("abcdef1"));
        assert!(!is_sha("abcdef"));
        assert!(!is_sha("abcdefg"));
        assert_eq!(short_sha("0123456789"), "0123456");
        assert_eq!(short_sha("012"), "012");
    }
}
