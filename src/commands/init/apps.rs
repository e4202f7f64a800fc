//! init's Coolify apps: the Docker Image apps `GET /api/v1/applications`
//! lists, all of them or those picked (`--app`, or asked on a terminal).

use super::{ChosenApp, Request};
use crate::context::Context;
use crate::coolify::Application;
use crate::error::{Error, Result};

pub(super) async fn pick_apps(
    ctx: &Context,
    req: &Request,
    all: &[Application],
    notes: &mut Vec<String>,
) -> Result<Vec<ChosenApp>> {
    let docker: Vec<&Application> = all.iter().filter(|a| a.is_docker_image()).collect();
    let others: Vec<String> = all
        .iter()
        .filter(|a| !a.is_docker_image())
        .filter_map(|a| a.name.clone())
        .collect();
    if !others.is_empty() {
        notes.push(format!(
            "left out (not Docker Image apps, almarel cannot set their image tag): {}",
            others.join(", ")
        ));
    }
    let name_of = |a: &Application| a.name.clone().unwrap_or_default();
    let mut wanted: Vec<String> = req.apps.clone();
    if wanted.is_empty() && docker.len() > 1 && ctx.ui.can_ask() && !ctx.settings.global.yes {
        let names: Vec<String> = docker.iter().map(|a| name_of(a)).collect();
        if let Some(answer) = ctx
            .ui
            .ask(&format!(
                "Coolify apps to deploy ({}), comma-separated, empty for all:",
                names.join(", ")
            ))
            .await?
        {
            wanted = answer
                .split(',')
                .map(|x| x.trim().to_owned())
                .filter(|x| !x.is_empty())
                .collect();
        }
    }
    let picked: Vec<&Application> = if wanted.is_empty() {
        docker.clone()
    } else {
        let mut out = Vec::new();
        for w in &wanted {
            match all.iter().find(|a| a.name.as_deref() == Some(w.as_str())) {
                Some(a) if a.is_docker_image() => out.push(a),
                Some(a) => {
                    return Err(Error::usage(format!(
                        "the Coolify app `{w}` is not a Docker Image app (build pack {})",
                        a.build_pack.as_deref().unwrap_or("unknown")
                    ))
                    .with_hint(
                        "almarel deploys by setting the image tag: pick Docker Image apps",
                    ));
                }
                None => {
                    let names: Vec<String> = docker.iter().map(|a| name_of(a)).collect();
                    return Err(Error::usage(format!("no Coolify app named `{w}`"))
                        .with_hint(format!("the Docker Image apps are: {}", names.join(", "))));
                }
            }
        }
        out
    };
    if picked.is_empty() {
        notes.push(
            "Coolify has no Docker Image app: add [[coolify.apps]] once there is one".to_owned(),
        );
    }
    Ok(picked
        .into_iter()
        .map(|a| ChosenApp {
            name: name_of(a),
            uuid: a.uuid.clone().unwrap_or_default(),
            domain: a
                .fqdn
                .as_deref()
                .and_then(|f| f.split(',').map(str::trim).find(|d| !d.is_empty()))
                .map(|d| d.trim_end_matches('/').to_owned()),
            image: a.docker_registry_image_name.clone(),
        })
        .filter(|a| !a.name.is_empty() && !a.uuid.is_empty())
        .collect())
}

pub(super) fn pick_by_name<'a>(apps: &'a [ChosenApp], words: &[&str]) -> Option<&'a ChosenApp> {
    words.iter().find_map(|w| {
        apps.iter()
            .find(|a| a.name.to_ascii_lowercase().contains(w))
    })
}
