//! The command tree and global flags (clap derive only; no I/O here).

// These doc comments are also the CLI help text, where `<remote>/<branch>` is
// meant literally; rustdoc would read them as HTML tags.
#![allow(rustdoc::invalid_html_tags)]

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A release CLI for teams that ship from GitHub to Coolify.
///
/// Each command checks what the release runbook's go/no-go checklist asks,
/// refuses what is unsafe, says what it did and what to run next, and can be
/// re-run after any failure.
#[derive(Debug, Parser)]
#[command(name = "almarel", version, about, long_about = None)]
#[command(
    after_help = "Examples:\n  almarel rehearse                  # a whole release on a built-in sandbox\n  \
almarel tag 1.2.3 --dry-run       # every \"Before Tagging\" check, nothing changed\n  \
almarel status v1.2.3 --watch     # follow the release to live\n\n\
Exit codes: 0 done, 1 failed outcome, 2 usage/config error, 3 refused by a safety check, \
4 remote failed or unreachable, 5 timed out, 129/130/143 interrupted by SIGHUP/SIGINT/SIGTERM.\n\
`almarel man` prints the manual page (environment, exit status, files)."
)]
pub struct Cli {
    /// Options every command accepts.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// `--env NAME`: the environment to act on.
    #[command(flatten)]
    pub environment: EnvArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Options accepted before or after the subcommand.
///
/// Shown under their own "Global options" heading. A subcommand where one of
/// them means nothing hides it from its help ([`hidden_globals`]); it still
/// parses there.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = GLOBAL_OPTIONS)]
pub struct GlobalArgs {
    /// Run as if started in DIR.
    #[arg(short = 'C', value_name = "DIR", global = true)]
    pub dir: Option<PathBuf>,
    /// Config file (default: almarel.toml at the git work tree's root).
    #[arg(long, value_name = "FILE", env = "ALMAREL_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Print exactly one JSON object on stdout (also on failure).
    #[arg(long, global = true)]
    pub json: bool,
    /// Answer yes to confirmations (required without a terminal).
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,
    /// Do every read and check, print each write it would make, change nothing.
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Print only results and errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail on stderr (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// When to use colour (NO_COLOR is honoured by `auto`).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
}

/// `--env NAME` (kept apart from [`GlobalArgs`] so code that builds
/// [`GlobalArgs`] by hand is unaffected). Settings are resolved for this
/// environment ([`crate::settings::Settings::select_environment`]).
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = GLOBAL_OPTIONS)]
pub struct EnvArgs {
    /// Environment to act on: production (the default) or a configured [environments.NAME].
    #[arg(long = "env", value_name = "NAME", global = true)]
    pub env: Option<String>,
}

/// The help heading of the global options.
pub const GLOBAL_OPTIONS: &str = "Global options";

/// Hidden copies of the global options `ids` (field names of [`GlobalArgs`]),
/// for a subcommand where they mean nothing: clap then does not propagate the
/// visible global there, so its help does not offer it, yet it still parses
/// (and sets the same [`GlobalArgs`] field).
pub fn hidden_globals(ids: &[&str]) -> Vec<clap::Arg> {
    EnvArgs::augment_args(GlobalArgs::augment_args(clap::Command::new("globals")))
        .get_arguments()
        .filter(|a| ids.contains(&a.get_id().as_str()))
        .map(|a| a.clone().hide(true))
        .collect()
}

/// The checklist phases, for completion and help (the phase argument also
/// accepts a REF, so any value parses).
pub const PHASES: &[(&str, &str)] = &[
    (
        "before-merge",
        "staging validated, known issues accepted, rollback impact reviewed",
    ),
    (
        "before-tag",
        "on the branch, clean tree, up to date, version above every tag",
    ),
    (
        "during-deploy",
        "CI green on the commit, production approval by a reviewer",
    ),
    (
        "after-deploy",
        "health 200, web app, /api/version SHA, smoke test",
    ),
];

/// Parses a checklist PHASE argument: any string (it may be a REF), while
/// offering [`PHASES`] with their descriptions to help and completions.
#[derive(Debug, Clone, Copy)]
pub struct PhaseOrRef;

impl clap::builder::TypedValueParser for PhaseOrRef {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(PHASES.iter().map(|(name, help)| {
            clap::builder::PossibleValue::new(*name).help(*help)
        })))
    }
}

/// `--color` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal unless NO_COLOR is set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the "Before Tagging" list, create the annotated release tag on HEAD and push that one tag.
    ///
    /// Every check runs and is reported, each with its fix: HEAD is on git.branch; the
    /// working tree is clean (staged, modified and untracked files count; ignored files do
    /// not); HEAD equals the freshly fetched remote branch; the tag exists neither locally
    /// nor on the remote; the version is above every release tag, local or remote. If any
    /// fails: exit 3, nothing changed.
    ///
    /// Re-running is safe: a tag already on the remote at HEAD is success ("already
    /// tagged"); a tag only local at HEAD (--no-push, or a cut-off push) is pushed now. If
    /// the push fails (rejected, authentication, network) the tag this run created is
    /// deleted again and the exit code is 4.
    Tag(TagArgs),
    /// Show the release ledger for a tag or commit: tag, workflows, approval, release, production.
    Status(StatusArgs),
    /// Approve (or --reject) the waiting production deployment after checking the evidence.
    Approve(ApproveArgs),
    /// Set the release's image tag on each Coolify app, deploy, and follow it to the end.
    Deploy(DeployArgs),
    /// Check production: health 200, /api/version SHA, web app, smoke steps.
    Verify(VerifyArgs),
    /// Stop production releases: disable the deploy workflow and reject waiting deployments.
    Freeze(FreezeArgs),
    /// Resume production releases: enable the deploy workflow again.
    Unfreeze(UnfreezeArgs),
    /// Freeze, pick the previous good release, check DB migrations, redeploy it, verify it.
    ///
    /// Before any change: the target (--to, else the newest final release tag older than the
    /// one production runs), the migration files changed between the two (refused unless
    /// --allow-migrations), and the plan, confirmed. Then: freeze (unless --no-freeze),
    /// deploy the target on every Coolify app, verify production runs its commit.
    Rollback(RollbackArgs),
    /// The go/no-go checklist of the runbook, every automatable item evaluated live.
    Checklist(ChecklistArgs),
    /// Rehearse the whole runbook end to end on a sandbox (no credentials, nothing real touched).
    ///
    /// Starts a temporary git world and loopback simulators of GitHub, Coolify and
    /// production, then runs the real commands against them, step by step, narrating each
    /// runbook step. Exit 0 when every step ended as designed, 1 naming the step that did not.
    Rehearse(RehearseArgs),
    /// Write almarel.toml from what can be discovered (remote, workflows, Coolify apps), then run doctor.
    ///
    /// Discovers the repository from the git remote, the three workflows from
    /// .github/workflows (the deploy workflow is the one whose jobs name the production
    /// environment), the environment's protection rules, the Coolify Docker Image apps
    /// (GET /api/v1/applications) and verify URLs from their domains; flags win over what
    /// it discovers. Never overwrites an existing file without --force (exit 3). Without a
    /// terminal it needs --yes. Exit 0 once the file is written, whatever doctor found.
    Init(InitArgs),
    /// Check that a release could go through: tokens, workflows, approval, Coolify, verify URLs.
    ///
    /// Each check passes or fails with its fix (the token scope to add, the Coolify ability
    /// to grant, the setting to change). Changes nothing anywhere: its only POST is the
    /// Coolify deploy-ability probe, a deploy request without an application, which deploys
    /// nothing. Exit 0 when every check passes, 1 otherwise.
    Doctor(DoctorArgs),
    /// Print shell completions (bash, zsh, fish, powershell, elvish).
    Completions(CompletionsArgs),
    /// Print the man page (roff) on stdout.
    Man(ManArgs),
}

/// `almarel tag`.
#[derive(Debug, Clone, Args)]
#[command(args = hidden_globals(&["yes"]))]
#[command(
    after_help = "Examples:\n  almarel tag 1.2.3 --dry-run   # run every check, change nothing\n  \
almarel tag 1.2.3             # tag HEAD as v1.2.3 and push that tag\n  \
almarel tag 1.3.0-rc.1        # a release candidate (identifiers from git.prerelease)"
)]
pub struct TagArgs {
    /// The version: 1.2.3, v1.2.3 or 1.2.3-rc.1 (strict SemVer).
    #[arg(value_name = "VERSION", id = "release_version")]
    pub version: String,
    /// Tag message (default: "Release v<VERSION>").
    #[arg(short, long)]
    pub message: Option<String>,
    /// Create the tag locally only; a later `almarel tag` pushes it.
    #[arg(long)]
    pub no_push: bool,
    /// Allow a version that skips releases (e.g. 2.1.0 after 1.2.3; the next are 1.2.4, 1.3.0, 2.0.0).
    #[arg(long)]
    pub allow_gap: bool,
    /// Allow tagging a commit that already carries a final release tag.
    #[arg(long)]
    pub allow_same_commit: bool,
}

/// `almarel status`.
#[derive(Debug, Clone, Args)]
#[command(args = hidden_globals(&["yes", "dry_run"]))]
#[command(
    after_help = "Examples:\n  almarel status                    # the commit at <remote>/<branch>\n  \
almarel status v1.2.3 --watch     # follow the release until it is live or needs approval\n  \
almarel status v1.2.3 --json      # the ledger as one JSON object"
)]
pub struct StatusArgs {
    /// A tag (v1.2.3 or 1.2.3) or commit SHA (7-40 hex); default: the commit at <remote>/<branch>.
    #[arg(value_name = "REF")]
    pub reference: Option<String>,
    /// Follow the release until it is live, needs the approval, or failed.
    #[arg(long)]
    pub watch: bool,
    /// Deadline for --watch.
    #[arg(long, value_parser = parse_duration, default_value = "30m")]
    pub timeout: Duration,
    /// Where --watch ends: approval, runs or live (default: live when coolify or verify.version_url is configured, else runs).
    #[arg(long, value_name = "END", requires = "watch", value_parser = ["approval", "runs", "live"])]
    pub until: Option<String>,
    /// With --watch: start the expected workflows that will not start (workflow_dispatch) for REF, and follow their runs.
    #[arg(long, requires = "watch")]
    pub dispatch: bool,
}

/// `almarel approve`.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  almarel approve v1.2.3 --dry-run  # the evidence, nothing approved\n  \
almarel approve v1.2.3 --watch    # approve, then follow the deploy run to live\n  \
almarel approve --reject --comment \"smoke test failed on staging\""
)]
pub struct ApproveArgs {
    /// A tag or commit SHA whose waiting deploy run to review; default: the commit at <remote>/<branch>.
    #[arg(value_name = "REF")]
    pub reference: Option<String>,
    /// Review this workflow run instead of looking it up by commit.
    #[arg(long, value_name = "ID")]
    pub run: Option<u64>,
    /// Reject the deployment instead of approving it.
    #[arg(long)]
    pub reject: bool,
    /// Review comment (default: the checks that passed).
    #[arg(long)]
    pub comment: Option<String>,
    /// Approve a commit that carries no release tag (it ships as prod-<sha>).
    #[arg(long)]
    pub allow_untagged: bool,
    /// Approve a commit whose only release tag is a pre-release.
    #[arg(long)]
    pub allow_prerelease: bool,
    /// Follow the approved run, then production and the Coolify apps, until the release is live.
    #[arg(long)]
    pub watch: bool,
    /// Deadline for --watch.
    #[arg(long, value_parser = parse_duration, default_value = "30m")]
    pub timeout: Duration,
}

/// `almarel deploy`.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  almarel deploy --tag v1.2.3 --dry-run   # the image tag and app each write would set\n  \
almarel deploy --tag v1.2.3 --yes       # every app in coolify.apps, followed to the end\n  \
almarel deploy v1.2.3 --app api --no-wait"
)]
pub struct DeployArgs {
    /// A tag or commit SHA whose release tag to deploy; default: the commit at <remote>/<branch>.
    #[arg(value_name = "REF", conflicts_with = "tag")]
    pub reference: Option<String>,
    /// The release tag to deploy (1.2.3 means v1.2.3).
    #[arg(long)]
    pub tag: Option<String>,
    /// Deploy only this app (repeatable; names from coolify.apps).
    #[arg(long = "app", value_name = "NAME")]
    pub apps: Vec<String>,
    /// Deploy a commit without a release tag, as coolify.untagged_image_tag.
    #[arg(long)]
    pub allow_untagged: bool,
    /// Deploy a pre-release tag.
    #[arg(long)]
    pub allow_prerelease: bool,
    /// Production: deploy even when the image digest is not the one verified in staging for the commit.
    #[arg(long)]
    pub allow_unverified_digest: bool,
    /// Deploy even though CI for the commit did not conclude `success`.
    #[arg(long)]
    pub allow_failed_ci: bool,
    /// Deploy even though the commit's deploy run waits for, or was refused,
    /// the production approval (recorded in the audit log).
    #[arg(long)]
    pub skip_approval: bool,
    /// Deadline for the deployments to finish.
    #[arg(long, value_parser = parse_duration, default_value = "20m")]
    pub timeout: Duration,
    /// Return after triggering, with the deployment uuids.
    #[arg(long)]
    pub no_wait: bool,
}

/// `almarel verify`.
#[derive(Debug, Clone, Args)]
#[command(args = hidden_globals(&["yes"]))]
#[command(
    after_help = "Examples:\n  almarel verify --expect-tag v1.2.3          # one attempt of every check\n  \
almarel verify --expect-sha 3f2a9c1 --wait 5m   # retry until production runs it\n  \
almarel verify --expect-tag v1.2.3 --json"
)]
#[command(group(clap::ArgGroup::new("expect").required(true).args(["expect_sha", "expect_tag"])))]
pub struct VerifyArgs {
    /// The commit SHA production must run (7-40 hex; prefixes match).
    #[arg(long, value_name = "SHA")]
    pub expect_sha: Option<String>,
    /// The release tag whose commit production must run.
    #[arg(long, value_name = "TAG")]
    pub expect_tag: Option<String>,
    /// Retry failing checks until they pass or this runs out (default: one attempt).
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    pub wait: Duration,
    /// Pause between attempts with --wait.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub interval: Duration,
    /// Do not record the verdict as a GitHub deployment status (SPEC 8.3).
    #[arg(long)]
    pub no_record: bool,
}

/// `almarel freeze`.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  almarel freeze --reason \"incident 42: checkout errors\" --dry-run\n  \
almarel freeze --reason \"incident 42\" --cancel-running --yes"
)]
pub struct FreezeArgs {
    /// Why releases are frozen (used as the rejection comment).
    #[arg(long)]
    pub reason: String,
    /// Also cancel deploy runs still in progress.
    #[arg(long)]
    pub cancel_running: bool,
}

/// `almarel unfreeze`.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  almarel unfreeze --dry-run   # what would be enabled again\n  \
almarel unfreeze --yes       # resume releases (CI: no prompt)\n  \
almarel unfreeze --only v1.2.4 --yes   # roll the fix forward; everything else stays frozen"
)]
pub struct UnfreezeArgs {
    /// Roll this one release forward under the freeze: record the exception,
    /// enable the deploy workflow for it (starting its run if it has none) and
    /// reject every other waiting production deployment. `almarel freeze`
    /// restores the freeze, `almarel unfreeze` lifts it.
    #[arg(long, value_name = "TAG")]
    pub only: Option<String>,
}

/// `almarel rollback`.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  almarel rollback --dry-run        # the plan: target, migrations, writes\n  \
almarel rollback                  # previous final release, after confirmation\n  \
almarel rollback --to v1.2.2 --no-freeze --yes   # continue after the freeze succeeded"
)]
pub struct RollbackArgs {
    /// The release tag to go back to (default: the newest final release older than production's).
    #[arg(long, value_name = "TAG")]
    pub to: Option<String>,
    /// Roll back even though database migrations changed between the two releases.
    #[arg(long)]
    pub allow_migrations: bool,
    /// Do not freeze releases first (e.g. when continuing after the freeze succeeded).
    #[arg(long)]
    pub no_freeze: bool,
    /// How long verify may wait for production to run the target.
    #[arg(long, value_parser = parse_duration, default_value = "5m")]
    pub wait: Duration,
    /// The image tag to deploy, when the release shipped under another tag (e.g. prod-<sha>).
    #[arg(long, value_name = "TAG")]
    pub image_tag: Option<String>,
    /// Deadline for the Coolify deployments.
    #[arg(long, value_parser = parse_duration, default_value = "20m")]
    pub timeout: Duration,
}

/// `almarel checklist`.
#[derive(Debug, Clone, Args)]
#[command(args = hidden_globals(&["yes", "dry_run"]))]
#[command(
    after_help = "Phases: before-merge, before-tag, during-deploy, after-deploy (default: all).\n\
Examples:\n  almarel checklist before-tag --version 1.2.3\n  \
almarel checklist after-deploy v1.2.3\n  almarel checklist --json"
)]
pub struct ChecklistArgs {
    /// The phase (before-merge, before-tag, during-deploy, after-deploy), or a REF when no phase is given.
    #[arg(value_name = "PHASE", value_parser = PhaseOrRef, hide_possible_values = true)]
    pub phase: Option<String>,
    /// A tag or commit SHA; default: the commit at <remote>/<branch>.
    #[arg(value_name = "REF")]
    pub reference: Option<String>,
    /// The version about to be tagged (checked: valid and above every release tag).
    #[arg(long, value_name = "X")]
    pub version: Option<String>,
}

/// `almarel rehearse`.
#[derive(Debug, Clone, Args)]
#[command(args = hidden_globals(&["dir", "config", "yes", "dry_run"]))]
#[command(
    after_help = "Examples:\n  almarel rehearse                    # tag, status --watch, approve, watch the run deploy, verify\n  \
almarel rehearse failed-deploy      # web deploy fails: freeze, rollback, verify, unfreeze\n  \
almarel rehearse roll-forward       # frozen: the fix goes out (unfreeze --only), another commit does not\n  \
almarel rehearse --interactive      # type each command yourself in a second terminal"
)]
pub struct RehearseArgs {
    /// The scenario to rehearse.
    #[arg(value_enum, default_value_t = Scenario::Release)]
    pub scenario: Scenario,
    /// Pause before each command so you can type it in a second terminal (needs a terminal).
    #[arg(long)]
    pub interactive: bool,
}

/// The scenarios `almarel rehearse` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// tag, status --watch, approve, watch the deploy run deploy and verify, verify.
    Release,
    /// The web deploy fails inside the deploy run: freeze, rollback, verify the previous release, unfreeze.
    FailedDeploy,
    /// Approving an rc is refused until the final tag sits on the same commit.
    RcToProduction,
    /// Rollback across a DB migration is refused until --allow-migrations.
    Migration,
    /// CI fails: approve is refused.
    RedCi,
    /// Frozen: the fix is tagged and rolled forward (unfreeze --only) while another commit stays out.
    RollForward,
    /// An rc deployed and verified in staging, then the final tag, approve showing the staging evidence, production.
    StagingToProduction,
}

/// `almarel init`.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  almarel init                       # discover, show the file, ask, write, run doctor\n  \
almarel init --dry-run             # print the file it would write, write nothing\n  \
almarel init --yes --coolify-url https://coolify.example.com --app api --app web\n  \
almarel init --force --yes         # replace an existing almarel.toml"
)]
pub struct InitArgs {
    /// Replace an existing almarel.toml.
    #[arg(long)]
    pub force: bool,
    /// The repository, owner/name (default: from the git remote's URL).
    #[arg(long, value_name = "OWNER/NAME")]
    pub repository: Option<String>,
    /// The GitHub REST API URL (GHES: https://HOST/api/v3).
    #[arg(long, value_name = "URL")]
    pub github_api_url: Option<String>,
    /// The GitHub Environment that guards production (default: the deploy workflow's).
    #[arg(long, value_name = "NAME")]
    pub environment: Option<String>,
    /// The CI workflow (name or file name).
    #[arg(long, value_name = "WORKFLOW")]
    pub ci_workflow: Option<String>,
    /// The deploy workflow (name or file name).
    #[arg(long, value_name = "WORKFLOW")]
    pub deploy_workflow: Option<String>,
    /// The release workflow (name or file name).
    #[arg(long, value_name = "WORKFLOW")]
    pub release_workflow: Option<String>,
    /// The Coolify base URL (apps are listed from its API with COOLIFY_TOKEN).
    #[arg(long, value_name = "URL")]
    pub coolify_url: Option<String>,
    /// Configure this Coolify app (repeatable; default: every Docker Image app).
    #[arg(long = "app", value_name = "NAME")]
    pub apps: Vec<String>,
    /// verify.health_url (default: <api app's domain>/health).
    #[arg(long, value_name = "URL")]
    pub health_url: Option<String>,
    /// verify.version_url (default: <api app's domain>/api/version).
    #[arg(long, value_name = "URL")]
    pub version_url: Option<String>,
    /// verify.web_url (default: the web app's domain).
    #[arg(long, value_name = "URL")]
    pub web_url: Option<String>,
    /// Write the file without running doctor afterwards.
    #[arg(long)]
    pub no_doctor: bool,
}

/// `almarel doctor`.
#[derive(Debug, Clone, Args)]
#[command(args = hidden_globals(&["yes", "dry_run"]))]
#[command(
    after_help = "Examples:\n  almarel doctor             # every check, each with its fix\n  \
almarel doctor --json      # {checks: [{name, ok, detail, fix}]}\n  \
almarel -C ../shop doctor  # another project's setup"
)]
pub struct DoctorArgs {}

/// `almarel completions`.
#[derive(Debug, Clone, Args)]
#[command(args = hidden_globals(&["dir", "config", "yes", "dry_run", "quiet", "verbose", "color"]))]
#[command(
    after_help = "Examples:\n  almarel completions bash > ~/.local/share/bash-completion/completions/almarel\n  \
almarel completions zsh > \"${fpath[1]}/_almarel\"\n  \
almarel completions fish > ~/.config/fish/completions/almarel.fish"
)]
pub struct CompletionsArgs {
    /// The shell to generate completions for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `almarel man`.
#[derive(Debug, Clone, Args)]
#[command(args = hidden_globals(&["dir", "config", "yes", "dry_run", "quiet", "verbose", "color"]))]
#[command(
    after_help = "Example:\n  almarel man > /usr/local/share/man/man1/almarel.1 && man almarel"
)]
pub struct ManArgs {}

/// Parses a humantime duration (`90s`, `5m`, `1h`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| format!("{e} (use e.g. 90s, 5m, 1h)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli = Cli::try_parse_from(["almarel", "tag", "1.2.3", "--json", "--dry-run", "-vv"])
            .expect("parses");
        assert!(cli.global.json && cli.global.dry_run);
        assert_eq!(cli.global.verbose, 2);
    }

    #[test]
    fn hidden_globals_still_parse_after_the_subcommand() {
        let cli = Cli::try_parse_from(["almarel", "verify", "--expect-tag", "v1", "--yes", "-q"])
            .expect("parses");
        assert!(cli.global.yes && cli.global.quiet);
        let cli = Cli::try_parse_from([
            "almarel",
            "rehearse",
            "-C",
            "/tmp",
            "--config",
            "a.toml",
            "--dry-run",
        ])
        .expect("parses");
        assert_eq!(cli.global.dir, Some(PathBuf::from("/tmp")));
        assert_eq!(cli.global.config, Some(PathBuf::from("a.toml")));
        assert!(cli.global.dry_run);
        let cli =
            Cli::try_parse_from(["almarel", "man", "-vv", "--color", "never"]).expect("parses");
        assert_eq!(cli.global.verbose, 2);
        assert_eq!(cli.global.color, ColorChoice::Never);
        let cli = Cli::try_parse_from(["almarel", "-y", "status"]).expect("parses");
        assert!(cli.global.yes);
    }

    #[test]
    fn phase_accepts_a_ref_and_offers_the_phases() {
        let cli = Cli::try_parse_from(["almarel", "checklist", "v1.2.3"]).expect("parses");
        let Command::Checklist(a) = cli.command else {
            panic!("not checklist")
        };
        assert_eq!(a.phase.as_deref(), Some("v1.2.3"));
        let cmd = Cli::command();
        let checklist = cmd.find_subcommand("checklist").expect("checklist");
        let phase = checklist
            .get_arguments()
            .find(|a| a.get_id() == "phase")
            .expect("phase");
        let offered: Vec<String> = phase
            .get_possible_values()
            .iter()
            .map(|v| v.get_name().to_owned())
            .collect();
        assert_eq!(
            offered,
            [
                "before-merge",
                "before-tag",
                "during-deploy",
                "after-deploy"
            ]
        );
        assert_eq!(
            offered,
            crate::commands::checklist::PHASES,
            "the phases checklist runs"
        );
    }

    #[test]
    fn durations_use_humantime() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert!(parse_duration("soon").is_err());
    }
}
