//! Every verb's flags → a plain request value, before any I/O. Commands never
//! see clap types; a usage error (exit 2) in the arguments is found here.
//! (Converted so far: `tag`, `freeze`, `unfreeze`. The other verbs still take
//! their clap args.)

use crate::cli::TagArgs;
use crate::commands::tag;
use crate::error::Result;
use crate::settings::Settings;
use crate::version::ReleaseVersion;

/// `almarel tag VERSION [--message M] [--no-push]`.
pub fn tag(args: &TagArgs, settings: &Settings) -> Result<tag::Request> {
    let g = &settings.git;
    Ok(tag::Request {
        version: ReleaseVersion::parse(&args.version, &g.tag_prefix, &g.prerelease)?,
        message: args.message.clone(),
        push: !args.no_push,
    })
}

/// `almarel freeze --reason TEXT [--cancel-running]`.
pub fn freeze(args: &crate::cli::FreezeArgs) -> Result<crate::release::freeze::FreezeRequest> {
    if args.reason.trim().is_empty() {
        return Err(crate::error::Error::usage("--reason must not be empty")
            .with_hint("say why, e.g. --reason \"checkout errors after v1.2.3\""));
    }
    Ok(crate::release::freeze::FreezeRequest {
        reason: args.reason.clone(),
        cancel_running: args.cancel_running,
    })
}

/// `almarel unfreeze [--only TAG]` (`TAG`: a release tag or version, checked
/// against `git.tag_prefix`).
pub fn unfreeze(
    args: &crate::cli::UnfreezeArgs,
    settings: &Settings,
) -> Result<crate::release::freeze::UnfreezeRequest> {
    let only = match &args.only {
        Some(t) => Some(crate::version::parse_tag(t, &settings.git.tag_prefix)?),
        None => None,
    };
    Ok(crate::release::freeze::UnfreezeRequest { only })
}
