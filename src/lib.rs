//! almarel: a release CLI for teams that ship from GitHub to Coolify.
//!
//! The binary (`src/main.rs`) parses the command line, resolves
//! [`settings::Settings`] once, builds a [`context::Context`] and runs one
//! command from [`commands`]. Everything here is a library: it never prints
//! except through [`ui::Ui`] and never exits; `main` picks the exit code from
//! [`error::Kind`].

pub mod audit;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod context;
pub mod coolify;
pub mod env;
pub mod error;
pub mod git;
pub mod github;
pub mod journal;
pub mod net;
pub mod probe;
pub mod registry;
pub mod release;
pub mod report;
pub mod resolve;
pub mod settings;
pub mod setup;
pub mod signals;
pub mod transport;
pub mod ui;
pub mod version;
pub mod workflow;

use std::path::Path;

use clap::Parser;

/// Parses `args`, runs the command and returns the process exit code.
pub fn main_with(args: Vec<std::ffi::OsString>, env: env::Env, cwd: &Path) -> u8 {
    // `almarel --version` alone: answered without building clap's command tree.
    if let [_, flag] = args.as_slice() {
        if flag == "--version" || flag == "-V" {
            let line = format!("almarel {}\n", env!("CARGO_PKG_VERSION"));
            return match std::io::Write::write_all(&mut std::io::stdout(), line.as_bytes()) {
                Ok(()) => 0,
                Err(_) => 1,
            };
        }
    }
    if cfg!(panic = "abort") {
        std::panic::set_hook(Box::new(report_panic));
    }
    let cli = match cli::Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return parse_error(&e, &args),
    };
    let settings = if matches!(cli.command, cli::Command::Init(_)) {
        settings::Settings::resolve_for_init(&cli.global, &env, cwd)
    } else {
        settings::Settings::resolve(&cli.global, &env, cwd)
            .and_then(|s| s.select_environment(cli.environment.env.as_deref()))
    };
    let ui = match &settings {
        Ok(s) => ui::Ui::new(&s.global, &env),
        Err(_) => ui::Ui::new(&fallback_global(&cli.global), &env),
    };
    let settings = match settings {
        Ok(s) => s,
        Err(e) => return commands::finish(&ui, Err(e)),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return commands::finish(&ui, Err(error::Error::local(format!("cannot start: {e}"))));
        }
    };
    let ctx = context::Context::new(settings, ui.clone(), env);
    let outcome = runtime.block_on(commands::run_interruptible(&ctx, &cli.command));
    let code = commands::finish(&ui, outcome);
    // Do not wait for background tasks (a cancelled poll, an in-flight request).
    runtime.shutdown_background();
    code
}

/// With `panic = "abort"` (release builds) a panic, on any thread (a
/// blocking git task included), stops the process at once: say clearly that
/// it is a bug, where, and what to do, before the abort.
fn report_panic(info: &std::panic::PanicHookInfo<'_>) {
    let what = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned());
    let at = info
        .location()
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    let thread = std::thread::current()
        .name()
        .map(|n| format!(" (thread {n})"))
        .unwrap_or_default();
    let text = format!(
        "error: almarel panicked, an internal error (a bug): {what}{at}{thread}\n\
         hint: nothing after this point ran; check what was already done (git tag -l, almarel status), \
         and report it at {}/issues with the command line\n",
        env!("CARGO_PKG_REPOSITORY")
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), text.as_bytes());
}

fn fallback_global(g: &cli::GlobalArgs) -> settings::Global {
    settings::Global {
        json: g.json,
        yes: g.yes,
        dry_run: g.dry_run,
        quiet: g.quiet,
        verbose: g.verbose,
        color: g.color,
    }
}

/// A command line clap could not parse: clap's own message (exit 2), or one
/// JSON object when `--json` was given; `--help`/`--version` print and exit 0.
fn parse_error(e: &clap::Error, args: &[std::ffi::OsString]) -> u8 {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
        || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    {
        let _ = e.print();
        return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            2
        } else {
            0
        };
    }
    if args.iter().any(|a| a == "--json") {
        let g = settings::Global {
            json: true,
            yes: false,
            dry_run: false,
            quiet: true,
            verbose: 0,
            color: cli::ColorChoice::Never,
        };
        let ui = ui::Ui::new(&g, &env::Env::default());
        let text = e.to_string();
        let body = text.split("\n\nUsage:").next().unwrap_or(&text);
        let message = body
            .trim_start_matches("error: ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        return commands::finish(
            &ui,
            Err(error::Error::usage(message).with_hint("see almarel --help")),
        );
    }
    let _ = e.print();
    2
}
