//! doctor's verify checks: health 200, the version endpoint's JSON carries
//! a commit SHA, the web URL answers HTML. Smoke steps are not run.

use super::{fail_from, get};
use crate::context::Context;
use crate::report::Check;
use crate::settings::VerifySettings;

/// The three probes run at once (as `verify` runs them): an unreachable
/// production costs one timeout, not three.
pub(super) async fn checks(ctx: &Context, checks: &mut Vec<Check>) {
    let v = &ctx.settings.verify;
    let (h, ver, w) = tokio::join!(health(v), version(v), web(v));
    checks.extend([h, ver, w]);
}

async fn health(v: &VerifySettings) -> Check {
    let timeout = v.request_timeout;
    match &v.health_url {
        None => Check::pass(
            "verify health_url",
            "not set: verify skips the health check",
        ),
        Some(url) => match get(url, timeout).await {
            Ok((200, _, _)) => Check::pass("verify health_url", format!("{url} answers 200")),
            Ok((status, _, _)) => Check::fail(
                "verify health_url",
                format!("{url} answered {status}, not 200"),
                "check verify.health_url and that production is healthy",
            ),
            Err(why) => Check::fail(
                "verify health_url",
                format!("cannot reach {url}: {why}"),
                "check verify.health_url and that this machine can reach production",
            ),
        },
    }
}

async fn version(v: &VerifySettings) -> Check {
    match &v.version_url {
        None => Check::fail(
            "verify version_url",
            "verify.version_url is not set: verify, status and rollback cannot tell which commit production runs",
            "set [verify] version_url to the endpoint whose JSON carries the running commit SHA",
        ),
        Some(url) => match crate::probe::running_sha(v).await {
            Ok(sha) => Check::pass(
                "verify version_url",
                format!(
                    "{url} answers with the commit {}",
                    crate::version::short_sha(&sha)
                ),
            ),
            Err(e) if e.message.contains("SHA") => Check::fail(
                "verify version_url",
                e.message.clone(),
                format!(
                    "make {url} answer JSON with the running commit SHA (e.g. {{\"commit\": \"<40 hex>\"}}), or set verify.version_sha_pointer to where it is"
                ),
            ),
            Err(e) => fail_from(
                "verify version_url",
                &e,
                "check verify.version_url and that production is up",
            ),
        },
    }
}

async fn web(v: &VerifySettings) -> Check {
    match &v.web_url {
        None => Check::pass("verify web_url", "not set: verify skips the web check"),
        Some(url) => match get(url, v.request_timeout).await {
            Ok((200, ct, body)) => {
                let html = ct.contains("html") || body.trim_start().starts_with('<');
                let expected = v.web_expect.as_deref().is_none_or(|x| body.contains(x));
                if !html {
                    Check::fail(
                        "verify web_url",
                        format!("{url} answers 200 but not HTML ({ct})"),
                        "point verify.web_url at the web app's page, not the API",
                    )
                } else if !expected {
                    Check::fail(
                        "verify web_url",
                        format!(
                            "{url} answers HTML without {:?}",
                            v.web_expect.as_deref().unwrap_or_default()
                        ),
                        "fix verify.web_expect, or check that the web app is deployed",
                    )
                } else {
                    Check::pass("verify web_url", format!("{url} answers 200 with HTML"))
                }
            }
            Ok((status, _, _)) => Check::fail(
                "verify web_url",
                format!("{url} answered {status}, not 200"),
                "check verify.web_url and that the web app is up",
            ),
            Err(why) => Check::fail(
                "verify web_url",
                format!("cannot reach {url}: {why}"),
                "check verify.web_url and that this machine can reach it",
            ),
        },
    }
}
