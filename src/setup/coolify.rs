//! doctor's Coolify checks: the URL answers, the token is accepted (API
//! enabled, IP allowed, `read`), the `deploy` ability (probed with a deploy
//! request naming no app), each app a Docker Image app, `read:sensitive`.

use super::{REMOTE_BUDGET, fail_from, get};
use crate::clock::Deadline;
use crate::context::Context;
use crate::report::Check;

pub(super) async fn checks(ctx: &Context, checks: &mut Vec<Check>) {
    let s = &ctx.settings;
    let Some(url) = s.coolify.url.clone() else {
        checks.push(Check::fail(
            "coolify url",
            "coolify.url is not set: almarel deploy and rollback cannot run",
            "set [coolify] url (the dashboard's base URL) and the apps; `almarel init` lists them",
        ));
        return;
    };
    if let Err(e) = crate::net::check_secret_url("coolify.url", &url, s.allow_insecure_http) {
        checks.push(fail_from("coolify url", &e, "use https for coolify.url"));
        return;
    }
    match get(&format!("{url}/api/health"), s.coolify.request_timeout).await {
        Ok((200, _, _)) => checks.push(Check::pass(
            "coolify url",
            format!("{url} answers (/api/health 200)"),
        )),
        Ok((status, _, _)) => {
            checks.push(Check::fail(
                "coolify url",
                format!("{url}/api/health answered {status}"),
                "check coolify.url: the Coolify dashboard's base URL, without /api",
            ));
            return;
        }
        Err(why) => {
            checks.push(Check::fail(
                "coolify url",
                format!("cannot reach {url}: {why}"),
                "check coolify.url and that this machine can reach Coolify",
            ));
            return;
        }
    }
    let client = match ctx.coolify() {
        Ok(c) => c.with_deadline(Deadline::after(ctx.clock.as_ref(), REMOTE_BUDGET)),
        Err(e) => {
            checks.push(fail_from(
                "coolify token",
                &e,
                "set COOLIFY_TOKEN to an API token with read, deploy and write",
            ));
            return;
        }
    };
    match client.version().await {
        Ok(v) => checks.push(Check::pass(
            "coolify token",
            format!("from COOLIFY_TOKEN: accepted, API enabled, `read` ability (Coolify {v})"),
        )),
        Err(e) => {
            checks.push(fail_from(
                "coolify token",
                &e,
                crate::coolify::TOKEN_ABILITIES_HINT,
            ));
            return;
        }
    }
    match client.has_deploy_ability().await {
        Ok(true) => checks.push(Check::pass(
            "coolify deploy",
            "the token has the `deploy` ability (probed with a deploy request naming no app: nothing deployed)",
        )),
        Ok(false) => checks.push(Check::fail(
            "coolify deploy",
            "the token lacks the `deploy` ability (Coolify: \"Missing required permissions: deploy\")",
            "grant `deploy`: in Coolify, Keys & Tokens → API Tokens, create a token with read, deploy and write \
             (ticking Deploy resets the others: tick it first, then add read and write), and set COOLIFY_TOKEN to it",
        )),
        Err(e) => checks.push(fail_from(
            "coolify deploy",
            &e,
            crate::coolify::TOKEN_ABILITIES_HINT,
        )),
    }
    if s.coolify.apps.is_empty() {
        checks.push(Check::fail(
            "coolify apps",
            "coolify.apps is empty: deploy has nothing to deploy",
            "add [[coolify.apps]] entries (name, uuid); `almarel init` lists the Docker Image apps",
        ));
        return;
    }
    let mut first_found = None;
    for app in &s.coolify.apps {
        let name = format!("app {}", app.name);
        match client.application(&app.name, &app.uuid).await {
            Ok(a) if a.is_docker_image() => {
                first_found.get_or_insert_with(|| app.clone());
                checks.push(Check::pass(
                    name,
                    format!(
                        "{}: Docker Image app {}:{}",
                        app.uuid,
                        a.docker_registry_image_name.as_deref().unwrap_or("?"),
                        a.image_tag().unwrap_or("latest")
                    ),
                ));
            }
            Ok(a) => checks.push(Check::fail(
                name,
                format!(
                    "{}: build pack `{}`, not a Docker Image app; almarel deploys by setting the image tag",
                    app.uuid,
                    a.build_pack.as_deref().unwrap_or("unknown")
                ),
                "make it a Docker Image app (build pack dockerimage) fed by the images CI builds, or remove it from coolify.apps",
            )),
            Err(e) => checks.push(fail_from(
                &name,
                &e,
                "check the uuid in coolify.apps (the last part of the app's URL in Coolify)",
            )),
        }
    }
    if let Some(app) = first_found {
        let detail = match client.app_deployments(&app.name, &app.uuid, 1).await {
            Ok(list) => match list.deployments.first() {
                Some(d) if d.logs.is_some() => {
                    "the token can read deployment logs: deploy shows build logs and confirms the deployed image from them".to_owned()
                }
                Some(_) => "the token cannot read deployment logs (optional: grant `read:sensitive` to see build logs on failures)".to_owned(),
                None => format!("not known yet: app {} has no deployment to read", app.name),
            },
            Err(e) => format!("not known: {}", e.message),
        };
        checks.push(Check::pass("coolify read:sensitive", detail));
    }
}
