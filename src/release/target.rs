//! The release's target facts shared by deploy, rollback, verify, status and
//! live: which apps a command acts on, the image tag a release ships as
//! (`coolify.image_tag` / `coolify.untagged_image_tag` rendered), and the
//! commit a release tag points at.

use crate::context::Context;
use crate::error::{Error, Result};
use crate::settings::CoolifyApp;
use crate::version::ReleaseTag;

/// The apps to deploy: all of `coolify.apps`, or the `--app` names (an unknown
/// name is a usage error listing the configured ones).
pub fn select_apps(configured: &[CoolifyApp], names: &[String]) -> Result<Vec<CoolifyApp>> {
    if configured.is_empty() {
        return Err(Error::usage("coolify.apps is empty: no app to deploy")
            .with_hint("add [[coolify.apps]] entries (name, uuid) to almarel.toml"));
    }
    if names.is_empty() {
        return Ok(configured.to_vec());
    }
    let mut out: Vec<CoolifyApp> = Vec::new();
    for n in names {
        let app = configured.iter().find(|a| &a.name == n).ok_or_else(|| {
            Error::usage(format!("--app {n}: no such app in coolify.apps")).with_hint(format!(
                "configured apps: {}",
                configured
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        if !out.contains(app) {
            out.push(app.clone());
        }
    }
    Ok(out)
}

/// The placeholders an image tag template may use.
pub const PLACEHOLDERS: [&str; 4] = ["tag", "version", "sha", "short_sha"];

/// Checks a template's placeholders (usage error naming the key).
pub fn check_template(key: &str, template: &str) -> Result<()> {
    for p in placeholders(template) {
        if !PLACEHOLDERS.contains(&p.as_str()) {
            return Err(Error::usage(format!(
                "{key}: unknown placeholder {{{p}}} in `{template}`"
            ))
            .with_hint("use {tag} {version} {sha} {short_sha}"));
        }
    }
    Ok(())
}

fn placeholders(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        let after = &rest[i + 1..];
        match after.find('}') {
            Some(j) => {
                out.push(after[..j].to_owned());
                rest = &after[j + 1..];
            }
            None => break,
        }
    }
    out
}

/// Renders an image tag template: `{tag}` (`v1.2.3`), `{version}` (`1.2.3`),
/// `{sha}` (40 hex), `{short_sha}` (7). The result must be a valid docker tag.
pub fn render_image_tag(
    key: &str,
    template: &str,
    tag: Option<&ReleaseTag>,
    sha: Option<&str>,
) -> Result<String> {
    check_template(key, template)?;
    let mut out = template.to_owned();
    for p in placeholders(template) {
        let value = match p.as_str() {
            "tag" => tag.map(|t| t.name.clone()),
            "version" => tag.map(|t| t.version.to_string()),
            "sha" => sha.map(str::to_owned),
            "short_sha" => sha.map(|s| crate::version::short_sha(s).to_owned()),
            _ => None,
        };
        let value = value.ok_or_else(|| {
            Error::usage(format!(
                "{key} `{template}` uses {{{p}}}, which is not known for this target"
            ))
            .with_hint(if tag.is_none() {
                "an untagged commit has no {tag}/{version}: use {sha} or {short_sha}"
            } else {
                "use {tag} or {version}"
            })
        })?;
        out = out.replace(&format!("{{{p}}}"), &value);
    }
    if !is_docker_tag(&out) {
        return Err(Error::usage(format!(
            "image tag `{out}` (from {key} `{template}`) is not a valid docker tag"
        ))
        .with_hint("docker tags are [A-Za-z0-9_][A-Za-z0-9_.-]*, at most 128 characters"));
    }
    Ok(out)
}

fn is_docker_tag(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= 128
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The commit a release tag points at (annotated tags peeled): local git
/// when almarel runs in a clone that has the tag, else GitHub's refs API. An
/// unknown tag is a usage error (exit 2).
pub async fn tag_commit(ctx: &Context, tag: &str) -> Result<String> {
    if let Some(sha) = local_tag_commit(ctx, tag) {
        ctx.ui.detail(1, &format!("{tag} is {sha} (local git)"));
        return Ok(sha);
    }
    let gh = ctx.github().await?;
    match gh.tag_commit(tag).await? {
        Some(sha) => {
            ctx.ui
                .detail(1, &format!("{tag} is {sha} ({} on GitHub)", gh.repo()));
            Ok(sha)
        }
        None => Err(Error::usage(format!(
            "tag {tag} exists neither in this clone nor in {}",
            gh.repo()
        ))
        .with_hint("check the name (was it pushed? `almarel tag X.Y.Z` pushes it)")),
    }
}

/// The commit of `tag` in the local clone almarel runs in, if it has the tag
/// (annotated tags peeled).
pub fn local_tag_commit(ctx: &Context, tag: &str) -> Option<String> {
    crate::git::Repo::discover(&ctx.settings.workdir)
        .ok()?
        .resolve_tag(tag)
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(n: &str) -> ReleaseTag {
        ReleaseTag::from_name(n, "v").unwrap()
    }

    #[test]
    fn image_tag_templates() {
        let sha = "1a2b3c4d5e6f70819293a4b5c6d7e8f901234567";
        let t = tag("v1.2.3");
        assert_eq!(
            render_image_tag("k", "{tag}", Some(&t), None).unwrap(),
            "v1.2.3"
        );
        assert_eq!(
            render_image_tag("k", "{version}-{short_sha}", Some(&t), Some(sha)).unwrap(),
            "1.2.3-1a2b3c4"
        );
        assert_eq!(
            render_image_tag("k", "prod-{sha}", None, Some(sha)).unwrap(),
            format!("prod-{sha}")
        );
        let e = render_image_tag("coolify.image_tag", "{tags}", Some(&t), None).unwrap_err();
        assert!(e.message.contains("coolify.image_tag") && e.message.contains("{tags}"));
        assert!(render_image_tag("k", "{tag}", None, Some(sha)).is_err());
        assert!(render_image_tag("k", "-{tag}", Some(&t), None).is_err());
    }

    #[test]
    fn app_selection() {
        let apps = vec![
            CoolifyApp {
                name: "api".into(),
                uuid: "u1".into(),
            },
            CoolifyApp {
                name: "web".into(),
                uuid: "u2".into(),
            },
        ];
        assert_eq!(select_apps(&apps, &[]).unwrap().len(), 2);
        assert_eq!(select_apps(&apps, &["web".into()]).unwrap()[0].uuid, "u2");
        let e = select_apps(&apps, &["worker".into()]).unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::Usage);
        assert!(e.hint().unwrap().contains("api, web"));
        assert!(select_apps(&[], &[]).is_err());
    }
}
