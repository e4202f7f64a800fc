//! `almarel completions <SHELL>` and `almarel man`: generated from the clap
//! command tree, so they always list every command and flag.

use clap::CommandFactory;
use serde_json::{Value, json};

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::context::Context;
use crate::error::{Error, Result};

/// The completion script for `shell`.
pub fn completion_script(shell: clap_complete::Shell) -> Result<String> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "almarel", &mut buf);
    String::from_utf8(buf).map_err(|e| Error::local(format!("completion script is not UTF-8: {e}")))
}

/// The man page (roff).
pub fn man_page() -> Result<String> {
    let cmd = Cli::command();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .map_err(|e| Error::local(format!("cannot render the man page: {e}")))?;
    let mut page =
        String::from_utf8(buf).map_err(|e| Error::local(format!("man page is not UTF-8: {e}")))?;
    // One section per subcommand with its full help, so `man almarel`
    // documents every verb and flag.
    for sub in Cli::command().get_subcommands() {
        let name = sub.get_name().to_owned();
        let mut sub = sub.clone().bin_name(format!("almarel {name}"));
        let help = sub.render_long_help().to_string();
        page.push_str(&format!(".SH \"ALMAREL {}\"\n", name.to_uppercase()));
        page.push_str(".nf\n");
        for line in help.lines() {
            let escaped = line.replace('\\', "\\e");
            if escaped.starts_with('.') || escaped.starts_with('\'') {
                page.push_str("\\&");
            }
            page.push_str(&escaped);
            page.push('\n');
        }
        page.push_str(".fi\n");
    }
    Ok(page)
}

/// Runs `almarel completions`.
pub fn run_completions(ctx: &Context, args: &CompletionsArgs) -> Result<Value> {
    let script = completion_script(args.shell)?;
    ctx.ui.result(script.trim_end());
    Ok(json!({ "shell": args.shell.to_string(), "script": script }))
}

/// Runs `almarel man`.
pub fn run_man(ctx: &Context, _args: &ManArgs) -> Result<Value> {
    let page = man_page()?;
    ctx.ui.result(page.trim_end());
    Ok(json!({ "man": page }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_gets_every_subcommand() {
        use clap::ValueEnum;
        let subs: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_owned())
            .collect();
        for shell in clap_complete::Shell::value_variants() {
            let script = completion_script(*shell).unwrap();
            for sub in &subs {
                assert!(script.contains(sub.as_str()), "{shell}: {sub} missing");
            }
        }
    }

    #[test]
    fn man_page_documents_every_subcommand() {
        let page = man_page().unwrap();
        assert!(page.starts_with(".ie") || page.contains(".TH"), "not roff");
        for sub in Cli::command().get_subcommands() {
            assert!(
                page.contains(&format!("almarel {}", sub.get_name()).replace('-', "\\-"))
                    || page.contains(&format!("almarel {}", sub.get_name())),
                "{} missing",
                sub.get_name()
            );
        }
    }
}
