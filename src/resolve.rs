//! Every verb's flags → a plain request value, before any I/O. Commands never
//! see clap types; a usage error (exit 2) in the arguments is found here.
//! (Converted so far: `tag`. The other verbs still take their clap args.)

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
        allow_gap: args.allow_gap,
        allow_same_commit: args.allow_same_commit,
    })
}

/// `almarel approve [REF | --run ID] [--reject] [--comment C] [--allow-untagged]
/// [--allow-prerelease] [--watch [--timeout T]]`.
pub fn approve(
    args: &crate::cli::ApproveArgs,
    settings: &Settings,
) -> Result<crate::commands::approve::Request> {
    use crate::commands::approve::{Request, Target};
    use crate::error::Error;
    let target = match (&args.reference, args.run) {
        (Some(r), Some(id)) => {
            return Err(Error::usage(format!(
                "give REF ({r}) or --run {id}, not both: almarel would review run {id} and ignore REF"
            ))
            .with_code("ref_and_run")
            .with_hint(format!(
                "drop one: `almarel approve {r}` finds the waiting run of that commit, `almarel approve --run {id}` reviews that run"
            )));
        }
        (Some(r), None) => {
            // REF is checked before anything is sent (SPEC §7.7).
            crate::version::parse_ref(r, &settings.git.tag_prefix)?;
            Target::Ref(Some(r.clone()))
        }
        (None, Some(id)) => Target::Run(id),
        (None, None) => Target::Ref(None),
    };
    Ok(Request {
        target,
        reject: args.reject,
        comment: args.comment.clone(),
        allow_untagged: args.allow_untagged,
        allow_prerelease: args.allow_prerelease,
        watch: args.watch,
        timeout: args.timeout,
    })
}
