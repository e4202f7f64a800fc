//! The `almarel.toml` init writes: a comment above every key, values
//! quoted by the TOML serializer, comments free of line breaks.

use super::{ChosenApp, ChosenWorkflow};
use crate::settings::Settings;

pub(super) struct Verify {
    pub(super) health: Option<(String, String)>,
    pub(super) version: Option<(String, String)>,
    pub(super) web: Option<(String, String)>,
}

pub(super) struct FileParts<'a> {
    pub(super) settings: &'a Settings,
    pub(super) repository: &'a str,
    pub(super) environment: &'a str,
    pub(super) rules: Option<&'a str>,
    pub(super) ci: &'a ChosenWorkflow,
    pub(super) release: &'a ChosenWorkflow,
    pub(super) deploy: &'a ChosenWorkflow,
    pub(super) coolify_url: Option<&'a str>,
    pub(super) apps: &'a [ChosenApp],
    pub(super) verify: &'a Verify,
}

/// Text safe inside a `#` comment (no line breaks or other control characters).
pub(super) fn c(s: &str) -> String {
    s.replace(char::is_control, " ")
}

/// A TOML string literal.
pub(super) fn q(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

pub(super) fn workflow_line(out: &mut String, key: &str, what: &str, w: &ChosenWorkflow) {
    let whence = match &w.path {
        Some(p) => format!("{p}; chosen by: {}", w.how),
        None => format!("chosen by: {}", w.how),
    };
    out.push_str(&format!(
        "# {what} ({}).\n{key} = {}\n",
        c(&whence),
        q(&w.name)
    ));
}

pub(super) fn render_file(p: &FileParts<'_>) -> String {
    let s = p.settings;
    let mut out = String::new();
    out.push_str(
        "# almarel.toml, written by `almarel init`. Every key is optional; see\n\
         # docs/configuration.md. No secrets here: the GitHub token comes from GH_TOKEN,\n\
         # GITHUB_TOKEN or `gh auth login`, the Coolify token from COOLIFY_TOKEN.\n\
         # Check the setup with `almarel doctor`.\n\n",
    );
    out.push_str("[git]\n");
    out.push_str(&format!(
        "# The remote release tags are pushed to and fetched from.\nremote = {}\n",
        q(&s.git.remote)
    ));
    out.push_str(&format!(
        "# The release branch: tags are made on it, CI must pass on it.\nbranch = {}\n",
        q(&s.git.branch)
    ));
    out.push_str(&format!(
        "# Release tags are <tag_prefix><version>, e.g. {}1.2.3.\ntag_prefix = {}\n\n",
        s.git.tag_prefix,
        q(&s.git.tag_prefix)
    ));
    out.push_str("[github]\n");
    out.push_str(&format!(
        "# The repository on GitHub.\nrepository = {}\n",
        q(p.repository)
    ));
    out.push_str(&format!(
        "# The REST API (GitHub Enterprise Server: https://HOST/api/v3).\napi_url = {}\n",
        q(&s.github.api_url)
    ));
    let rules = p
        .rules
        .map(|r| format!(" Protection rules found: {}.", c(r)))
        .unwrap_or_default();
    out.push_str(&format!(
        "# The environment that guards production: its approval is what `almarel approve` gives.{rules}\nenvironment = {}\n",
        q(p.environment)
    ));
    workflow_line(
        &mut out,
        "ci_workflow",
        "CI: its success on the release commit is what approve and deploy check",
        p.ci,
    );
    workflow_line(
        &mut out,
        "deploy_workflow",
        "Deploy: waits for the production approval, then deploys; disabling it is the freeze",
        p.deploy,
    );
    workflow_line(
        &mut out,
        "release_workflow",
        "Release: runs on the release tag and creates the GitHub Release",
        p.release,
    );
    out.push('\n');
    match p.coolify_url {
        Some(url) => {
            out.push_str("[coolify]\n");
            out.push_str(&format!(
                "# The Coolify dashboard's base URL (the token comes from COOLIFY_TOKEN).\nurl = {}\n",
                q(url)
            ));
            out.push_str(&format!(
                "# The image tag deploy sets for a release: {{tag}} {{version}} {{sha}} {{short_sha}}.\nimage_tag = {}\n",
                q(&s.coolify.image_tag)
            ));
            out.push_str(&format!(
                "# The image tag CI deploys for a commit without a release tag.\nuntagged_image_tag = {}\n",
                q(&s.coolify.untagged_image_tag)
            ));
            for a in p.apps {
                let image = a.image.as_deref().unwrap_or("?");
                let domain = a
                    .domain
                    .as_deref()
                    .map(|d| format!(", {d}"))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "\n# The Coolify app {} (Docker Image {}{}).\n[[coolify.apps]]\n# Its name in almarel's output and in `--app`.\nname = {}\n# Its uuid in Coolify (the last part of the app's URL).\nuuid = {}\n",
                    c(&a.name),
                    c(image),
                    c(&domain),
                    q(&a.name),
                    q(&a.uuid)
                ));
            }
            out.push('\n');
        }
        None => out.push_str(
            "# [coolify] was not configured: re-run `almarel init --coolify-url URL` with\n\
             # COOLIFY_TOKEN set, or add url and [[coolify.apps]] (name, uuid) here.\n\n",
        ),
    }
    let v = p.verify;
    if v.health.is_none() && v.version.is_none() && v.web.is_none() {
        out.push_str(
            "# [verify] was not configured: add version_url (JSON with the running commit SHA),\n\
             # health_url and web_url, or pass --version-url/--health-url/--web-url to init.\n",
        );
        return out;
    }
    out.push_str("[verify]\n");
    let whence = |app: &str| {
        if app.is_empty() {
            String::new()
        } else {
            format!(" (from the domain of the app {})", c(app))
        }
    };
    if let Some((url, app)) = &v.health {
        out.push_str(&format!(
            "# Must answer 200{}.\nhealth_url = {}\n",
            whence(app),
            q(url)
        ));
    }
    if let Some((url, app)) = &v.version {
        out.push_str(&format!(
            "# Its JSON carries the running commit SHA, at /commit, /sha, … or version_sha_pointer{}.\nversion_url = {}\n",
            whence(app),
            q(url)
        ));
    }
    if let Some((url, app)) = &v.web {
        out.push_str(&format!(
            "# The web app: must answer 200 with HTML{}.\nweb_url = {}\n",
            whence(app),
            q(url)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_quotes_what_it_writes_and_loads() {
        let settings = crate::settings::parse_config_text("").unwrap();
        let wf = ChosenWorkflow {
            name: "CI \"main\"".into(),
            path: None,
            how: "flag".into(),
        };
        let apps = vec![ChosenApp {
            name: "api \\ \"x\"\n[oops]".into(),
            uuid: "u1".into(),
            domain: Some("https://api.example.com".into()),
            image: None,
        }];
        let text = render_file(&FileParts {
            settings: &settings,
            repository: "o/r",
            environment: "prod",
            rules: None,
            ci: &wf,
            release: &wf,
            deploy: &wf,
            coolify_url: Some("https://coolify.example.com"),
            apps: &apps,
            verify: &Verify {
                health: None,
                version: Some(("https://api.example.com/api/version".into(), "api".into())),
                web: None,
            },
        });
        let loaded = crate::settings::parse_config_text(&text).unwrap();
        assert_eq!(loaded.github.ci_workflow, "CI \"main\"");
        assert_eq!(loaded.coolify.apps[0].name, "api \\ \"x\"\n[oops]");
        assert_eq!(loaded.github.environment, "prod");
        assert!(loaded.verify.health_url.is_none());
    }
}
