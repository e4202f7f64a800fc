//! `almarel completions <SHELL>` and `almarel man`: generated from the clap
//! command tree, so they always list every command and flag.
//!
//! clap_complete's static scripts are completed with what they cannot know at
//! generation time: release tags (`git tag -l`, run when completing) for every
//! REF and TAG argument in bash, zsh and fish, and the possible values of
//! positionals (checklist phases, rehearse scenarios, with descriptions) in
//! fish. clap_complete's dynamic completion is still behind its
//! `unstable-dynamic` feature, so the scripts are post-processed instead.
//! PowerShell and elvish get clap's script as is.

use std::fmt::Write as _;

use clap::CommandFactory;
use clap_complete::Shell;
use serde::Serialize;

use crate::cli::Cli;
use crate::env;
use crate::error::{Error, Result};
use crate::report::Report;
use crate::ui::Ui;

/// Where release tags are completed in one subcommand.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TagSlots {
    /// The subcommand's name.
    sub: String,
    /// Ids of positionals that take a release tag (REF, or PHASE which may be a REF).
    positionals: Vec<String>,
    /// Long names of options that take a release tag (`--tag TAG`).
    options: Vec<String>,
    /// Every spelling of every option that takes a value (`--app`, `-C`).
    value_options: Vec<String>,
}

fn is_tag_arg(a: &clap::Arg) -> bool {
    a.get_value_names().is_some_and(|names| {
        names
            .iter()
            .any(|n| ["REF", "TAG", "PHASE"].contains(&n.as_str()))
    })
}

fn takes_value(a: &clap::Arg) -> bool {
    a.get_num_args().is_some_and(|n| n.takes_values())
}

fn spellings(a: &clap::Arg) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(s) = a.get_short() {
        out.push(format!("-{s}"));
    }
    if let Some(l) = a.get_long() {
        out.push(format!("--{l}"));
    }
    out
}

/// The built command tree (global options propagated to each subcommand).
fn built() -> clap::Command {
    let mut cmd = Cli::command();
    cmd.build();
    cmd
}

fn tag_slots(cmd: &clap::Command) -> Vec<TagSlots> {
    cmd.get_subcommands()
        .filter_map(|sub| {
            let args: Vec<&clap::Arg> = sub.get_arguments().collect();
            let slots = TagSlots {
                sub: sub.get_name().to_owned(),
                positionals: args
                    .iter()
                    .filter(|a| a.is_positional() && is_tag_arg(a))
                    .map(|a| a.get_id().to_string())
                    .collect(),
                options: args
                    .iter()
                    .filter(|a| !a.is_positional() && is_tag_arg(a))
                    .filter_map(|a| a.get_long().map(str::to_owned))
                    .collect(),
                value_options: args
                    .iter()
                    .filter(|a| !a.is_positional() && takes_value(a))
                    .flat_map(|a| spellings(a))
                    .collect(),
            };
            (!slots.positionals.is_empty() || !slots.options.is_empty()).then_some(slots)
        })
        .collect()
}

/// The completion script for `shell`.
pub fn completion_script(shell: Shell) -> Result<String> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "almarel", &mut buf);
    let script = String::from_utf8(buf)
        .map_err(|e| Error::local(format!("completion script is not UTF-8: {e}")))?;
    let tree = built();
    let slots = tag_slots(&tree);
    let script = drop_hidden(shell, &script, &hidden_flags(&tree));
    Ok(match shell {
        Shell::Bash => bash_with_tags(script, &tree, &slots),
        Shell::Zsh => zsh_with_tags(&script, &slots),
        Shell::Fish => fish_with_extras(script, &tree, &slots),
        _ => script,
    })
}

/// Per subcommand, the spellings of its hidden options (global options that
/// mean nothing there, `cli::hidden_globals`): clap_complete offers hidden
/// options too, so they are taken out of the scripts.
fn hidden_flags(tree: &clap::Command) -> Vec<(String, Vec<String>)> {
    tree.get_subcommands()
        .map(|sub| {
            let flags = sub
                .get_arguments()
                .filter(|a| a.is_hide_set() && !a.is_positional())
                .flat_map(spellings)
                .collect();
            (sub.get_name().to_owned(), flags)
        })
        .filter(|(_, flags): &(String, Vec<String>)| !flags.is_empty())
        .collect()
}

/// Whether a zsh `_arguments` spec line declares `flag`
/// (`'--yes[…]'`, `'(-v --verbose)-q[…]'`, `'*-v[…]'`, `'-C+[…]'`, `'--color=[…]'`).
fn zsh_declares(line: &str, flag: &str) -> bool {
    let mut rest = line.trim_start().trim_start_matches('\'');
    if rest.starts_with('(') {
        rest = rest.split_once(')').map_or(rest, |(_, r)| r);
    }
    let rest = rest.trim_start_matches('*');
    rest.strip_prefix(flag)
        .is_some_and(|r| r.starts_with('[') || r.starts_with("=[") || r.starts_with("+["))
}

/// Whether `line` leaves a multi-line record open (first line) or closes it
/// (a continuation line): a zsh `_arguments` spec ends with `\`; a fish value
/// list opens and closes with an unescaped double quote.
fn toggles_record(shell: Shell, line: &str) -> bool {
    if shell == Shell::Zsh {
        return !line.trim_end().ends_with('\\');
    }
    let mut quotes = 0;
    let mut escaped = false;
    for c in line.chars() {
        if c == '"' && !escaped {
            quotes += 1;
        }
        escaped = c == '\\' && !escaped;
    }
    quotes % 2 == 1
}

/// Removes each subcommand's hidden options from the generated script.
fn drop_hidden(shell: Shell, script: &str, hidden: &[(String, Vec<String>)]) -> String {
    let mut out = String::with_capacity(script.len());
    // The subcommand whose block (bash, zsh) the current line is in.
    let mut current: Option<&(String, Vec<String>)> = None;
    // A dropped zsh spec or fish `complete` can span lines (the `--color`
    // values with their descriptions): the rest of it is dropped too.
    let mut dropping_rest = false;
    for line in script.split_inclusive('\n') {
        let trimmed = line.trim();
        if dropping_rest {
            dropping_rest = match shell {
                Shell::Zsh => toggles_record(shell, line),
                _ => !toggles_record(shell, line),
            };
            continue;
        }
        match shell {
            Shell::Bash => {
                if let Some(name) = trimmed
                    .strip_prefix("almarel__subcmd__")
                    .and_then(|r| r.strip_suffix(')'))
                {
                    current = hidden.iter().find(|(sub, _)| sub == name);
                } else if let (Some((_, flags)), Some(opts)) = (
                    current,
                    trimmed
                        .strip_prefix("opts=\"")
                        .and_then(|r| r.strip_suffix('"')),
                ) {
                    let kept: Vec<&str> = opts
                        .split_whitespace()
                        .filter(|w| !flags.iter().any(|f| f == w))
                        .collect();
                    let indent = &line[..line.len() - line.trim_start().len()];
                    out.push_str(&format!("{indent}opts=\"{}\"\n", kept.join(" ")));
                    current = None;
                    continue;
                }
            }
            Shell::Zsh => {
                if let Some(name) = trimmed.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
                    current = hidden.iter().find(|(sub, _)| sub == name);
                } else if trimmed == ";;" {
                    current = None;
                } else if let Some((_, flags)) = current {
                    if flags.iter().any(|f| zsh_declares(line, f)) {
                        dropping_rest = toggles_record(shell, line);
                        continue;
                    }
                }
            }
            Shell::Fish => {
                let hit = hidden.iter().any(|(sub, flags)| {
                    line.contains(&format!("\"__fish_almarel_using_subcommand {sub}\""))
                        && flags.iter().any(|f| {
                            let token = match f.strip_prefix("--") {
                                Some(long) => format!(" -l {long} "),
                                None => format!(" -s {} ", f.trim_start_matches('-')),
                            };
                            line.contains(&token)
                        })
                });
                if hit {
                    dropping_rest = toggles_record(shell, line);
                    continue;
                }
            }
            _ => {}
        }
        out.push_str(line);
    }
    out
}

/// Bash: a wrapper around clap's `_almarel` that adds release tags where a
/// REF or TAG goes, registered in its place.
fn bash_with_tags(mut script: String, tree: &clap::Command, slots: &[TagSlots]) -> String {
    let top_values: Vec<String> = tree
        .get_arguments()
        .filter(|a| !a.is_positional() && takes_value(a))
        .flat_map(spellings)
        .collect();
    let mut cases = String::new();
    for s in slots {
        let _ = writeln!(cases, "        {})", s.sub);
        let _ = writeln!(cases, "            case \"$prev\" in");
        if !s.options.is_empty() {
            let opts: Vec<String> = s.options.iter().map(|o| format!("--{o}")).collect();
            let _ = writeln!(
                cases,
                "                {}) COMPREPLY=(); tags=1 ;;",
                opts.join("|")
            );
        }
        let others: Vec<&String> = s
            .value_options
            .iter()
            .filter(|v| !s.options.iter().any(|o| **v == format!("--{o}")))
            .collect();
        if !others.is_empty() {
            let others: Vec<&str> = others.iter().map(|v| v.as_str()).collect();
            let _ = writeln!(cases, "                {}) ;;", others.join("|"));
        }
        if !s.positionals.is_empty() {
            let _ = writeln!(cases, "                *) tags=1 ;;");
        }
        let _ = writeln!(cases, "            esac ;;");
    }
    let _ = write!(
        script,
        r#"
# Release tags (`git tag -l`, in the directory given with -C) wherever a REF or
# TAG goes; added by almarel around clap's completion function.
_almarel_release_tags() {{
    local dir=. i
    for ((i = 1; i < COMP_CWORD; i++)); do
        [[ ${{COMP_WORDS[i]}} == -C ]] && dir=${{COMP_WORDS[i+1]}}
    done
    git -C "$dir" tag -l 2>/dev/null
}}

_almarel_with_tags() {{
    _almarel "$@"
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}} sub="" tags=0 i
    [[ $cur == -* ]] && return 0
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${{COMP_WORDS[i]}} in
            {top}) ((i++)) ;;
            -*) ;;
            *) sub=${{COMP_WORDS[i]}}; break ;;
        esac
    done
    case "$sub" in
{cases}    esac
    if ((tags)); then
        COMPREPLY+=( $(compgen -W "$(_almarel_release_tags)" -- "$cur") )
    fi
    return 0
}}

if [[ "${{BASH_VERSINFO[0]}}" -eq 4 && "${{BASH_VERSINFO[1]}}" -ge 4 || "${{BASH_VERSINFO[0]}}" -gt 4 ]]; then
    complete -F _almarel_with_tags -o nosort -o bashdefault -o default almarel
else
    complete -F _almarel_with_tags -o bashdefault -o default almarel
fi
"#,
        top = top_values.join("|"),
    );
    script
}

/// Zsh: the REF and TAG arguments' action becomes `_almarel_release_tags`.
fn zsh_with_tags(script: &str, slots: &[TagSlots]) -> String {
    let mut prefixes = Vec::new();
    for s in slots {
        for p in &s.positionals {
            prefixes.push(format!("'::{p} -- "));
            prefixes.push(format!("':{p} -- "));
        }
        for o in &s.options {
            prefixes.push(format!("'--{o}=["));
        }
    }
    let mut out = String::with_capacity(script.len() + 512);
    let function = r#"(( $+functions[_almarel_release_tags] )) ||
_almarel_release_tags() {
    local -a tags
    local dir=. i=${words[(I)-C]}
    (( i > 0 )) && dir=${words[i+1]}
    tags=(${(f)"$(git -C $dir tag -l 2>/dev/null)"})
    _describe -t tags 'release tag' tags
}

"#;
    let mut inserted = false;
    for line in script.split_inclusive('\n') {
        if !inserted && line.starts_with("if [ \"$funcstack[1]\" = \"_almarel\" ]") {
            out.push_str(function);
            inserted = true;
        }
        let rewritten = prefixes
            .iter()
            .any(|p| line.starts_with(p.as_str()))
            .then(|| line.replacen(":_default' \\", ":_almarel_release_tags' \\", 1));
        out.push_str(rewritten.as_deref().unwrap_or(line));
    }
    if !inserted {
        out.push('\n');
        out.push_str(function);
    }
    out
}

/// Fish quoting inside a double-quoted `-a` list, as clap does for values.
fn fish_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\'', "\\'")
        .replace('"', "\\\"")
        .replace('$', "\\$")
}

/// Fish: release tags for REF and TAG arguments, and the possible values of
/// positionals (with their descriptions), which clap's fish script leaves out.
fn fish_with_extras(script: String, tree: &clap::Command, slots: &[TagSlots]) -> String {
    // A TAG option's own line (with its description) gets the tags as values.
    let mut script: String = script
        .split_inclusive('\n')
        .map(|line| {
            let tag_option = slots.iter().any(|s| {
                line.contains(&format!("\"__fish_almarel_using_subcommand {}\"", s.sub))
                    && s.options
                        .iter()
                        .any(|o| line.contains(&format!(" -l {o} ")))
            });
            if tag_option && !toggles_record(Shell::Fish, line) {
                format!("{} -f -a \"(__almarel_release_tags)\"\n", line.trim_end())
            } else {
                line.to_owned()
            }
        })
        .collect();
    script.push_str(
        r#"
# Added by almarel: release tags (`git tag -l`, in the -C directory) and the
# values of positional arguments.
function __almarel_release_tags
    set -l dir .
    set -l words (commandline -opc)
    set -l i (contains -i -- -C $words)
    if test -n "$i"; and test (count $words) -gt $i
        set dir $words[(math $i + 1)]
    end
    git -C $dir tag -l 2>/dev/null
end
"#,
    );
    for sub in tree.get_subcommands() {
        let cond = format!("__fish_almarel_using_subcommand {}", sub.get_name());
        for a in sub.get_arguments().filter(|a| a.is_positional()) {
            let values: Vec<String> = a
                .get_possible_values()
                .iter()
                .filter(|v| !v.is_hide_set())
                .map(|v| match v.get_help() {
                    Some(h) => format!("{}\\t'{}'", v.get_name(), fish_escape(&h.to_string())),
                    None => v.get_name().to_owned(),
                })
                .collect();
            if !values.is_empty() {
                let _ = writeln!(
                    script,
                    "complete -c almarel -n \"{cond}\" -f -a \"{}\"",
                    values.join("\n")
                );
            }
        }
    }
    for s in slots {
        let cond = format!("__fish_almarel_using_subcommand {}", s.sub);
        if !s.positionals.is_empty() {
            let _ = writeln!(
                script,
                "complete -c almarel -n \"{cond}\" -f -a \"(__almarel_release_tags)\" -d 'release tag'"
            );
        }
    }
    script
}

/// Every environment variable almarel reads, for the man page's ENVIRONMENT.
const ENVIRONMENT: &[(&str, &str)] = &[
    (env::ALMAREL_CONFIG, "Config file, as --config."),
    (env::ALMAREL_GIT_REMOTE, "Overrides git.remote."),
    (env::ALMAREL_GIT_BRANCH, "Overrides git.branch."),
    (
        env::ALMAREL_GITHUB_REPOSITORY,
        "Overrides github.repository (owner/name).",
    ),
    (env::ALMAREL_GITHUB_API_URL, "Overrides github.api_url."),
    (
        env::ALMAREL_GITHUB_ENVIRONMENT,
        "Overrides github.environment.",
    ),
    (env::ALMAREL_COOLIFY_URL, "Overrides coolify.url."),
    (
        env::ALMAREL_STATE_DIR,
        "Directory of the audit log (see FILES).",
    ),
    (env::GH_TOKEN, "GitHub token, first choice."),
    (
        env::GITHUB_TOKEN,
        "GitHub token when GH_TOKEN is unset (what GitHub Actions provides); without either, `gh auth token` is asked.",
    ),
    (
        env::COOLIFY_TOKEN,
        "Coolify API token, the whole <id>|<secret> value.",
    ),
    (
        env::GITHUB_API_URL,
        "Set by GitHub Actions: fills github.api_url only when nothing else does.",
    ),
    (
        env::GITHUB_REPOSITORY,
        "Set by GitHub Actions: fills github.repository only when nothing else does.",
    ),
    (
        env::GITHUB_ACTIONS,
        "true inside GitHub Actions: Markdown summary, ::error:: annotations, step outputs, no colour, never a prompt.",
    ),
    (
        env::GITHUB_STEP_SUMMARY,
        "File that receives the Markdown job summary in GitHub Actions.",
    ),
    (
        env::GITHUB_OUTPUT,
        "File that receives the tag, sha, version and deployments outputs in GitHub Actions.",
    ),
    (
        env::GITHUB_SERVER_URL,
        "Set by GitHub Actions: with GITHUB_REPOSITORY and GITHUB_RUN_ID it makes the run's URL, the log_url verify records.",
    ),
    (
        env::GITHUB_RUN_ID,
        "Set by GitHub Actions: deploy inside a deploy run of the same commit keeps that run's approval; verify records the run as log_url.",
    ),
    (
        env::NO_COLOR,
        "Any value turns colour off with --color auto.",
    ),
    (
        env::XDG_STATE_HOME,
        "Base of the audit log's directory when ALMAREL_STATE_DIR is unset.",
    ),
    (
        env::XDG_CACHE_HOME,
        "Base of the GitHub answer cache ($XDG_CACHE_HOME/almarel, else ~/.cache/almarel): ETags and bodies for conditional requests, peeled tags; one directory per token (a hash, never the token).",
    ),
    (
        env::HOME,
        "The audit log's directory when neither ALMAREL_STATE_DIR nor XDG_STATE_HOME is set.",
    ),
    (
        env::PATH,
        "Searched for gh (the GitHub CLI), asked for a token with `gh auth token` when no token variable is set.",
    ),
];

/// SPEC §4's exit codes, for the man page's EXIT STATUS.
const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "Done (or nothing to do)."),
    (
        "1",
        "It ran, and the outcome is a failure: a check, a deployment or a watched run failed.",
    ),
    (
        "2",
        "Usage or configuration error; nothing was sent anywhere.",
    ),
    (
        "3",
        "Refused by a safety check or a missing confirmation; nothing was changed.",
    ),
    (
        "4",
        "A remote (git remote, GitHub, Coolify) failed, refused authentication, or could not be reached.",
    ),
    (
        "5",
        "Timed out waiting; the remote operation may still be running.",
    ),
    (
        "129",
        "Interrupted by SIGHUP; says what was done, what was in flight and how to resume.",
    ),
    (
        "130",
        "Interrupted by SIGINT (Ctrl-C); says what was done, what was in flight and how to resume.",
    ),
    (
        "143",
        "Interrupted by SIGTERM (e.g. a cancelled Actions job); says what was done, what was in flight and how to resume.",
    ),
];

/// roff-escapes one line of text (backslashes, hyphens, leading control characters).
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

fn tagged_section(page: &mut String, title: &str, items: &[(&str, &str)], bold: bool) {
    let _ = writeln!(page, ".SH \"{title}\"");
    for (name, text) in items {
        let name = roff(name);
        let _ = writeln!(page, ".TP");
        let _ = writeln!(
            page,
            "{}",
            if bold {
                format!("\\fB{name}\\fR")
            } else {
                name
            }
        );
        let _ = writeln!(page, "{}", roff(text));
    }
}

/// The man page (roff): name, synopsis, description, global options, each
/// command with its full help, ENVIRONMENT, EXIT STATUS, FILES, examples.
/// It refers to no other almarel page (there is only this one).
pub fn man_page() -> Result<String> {
    let man = clap_mangen::Man::new(Cli::command());
    let mut buf = Vec::new();
    let render = |buf: &mut Vec<u8>| -> std::io::Result<()> {
        man.render_title(buf)?;
        man.render_name_section(buf)?;
        man.render_synopsis_section(buf)?;
        man.render_description_section(buf)?;
        man.render_options_section(buf)
    };
    render(&mut buf).map_err(|e| Error::local(format!("cannot render the man page: {e}")))?;
    let mut page =
        String::from_utf8(buf).map_err(|e| Error::local(format!("man page is not UTF-8: {e}")))?;
    // One section per subcommand with its full help, so `man almarel`
    // documents every verb and flag.
    page.push_str(".SH COMMANDS\n");
    for sub in Cli::command().get_subcommands() {
        let name = sub.get_name().to_owned();
        let mut sub = sub.clone().bin_name(format!("almarel {name}"));
        let help = sub.render_long_help().to_string();
        let _ = writeln!(page, ".SS \"almarel {name}\"");
        page.push_str(".nf\n");
        for line in help.lines() {
            page.push_str(&roff(line));
            page.push('\n');
        }
        page.push_str(".fi\n");
    }
    tagged_section(&mut page, "ENVIRONMENT", ENVIRONMENT, true);
    page.push_str(
        ".TP\nother variables\nA verify.smoke step's ${VAR} reads VAR from the environment \
(e.g. SMOKE_EMAIL); such values are treated as secrets.\n",
    );
    tagged_section(&mut page, "EXIT STATUS", EXIT_STATUS, false);
    tagged_section(
        &mut page,
        "FILES",
        &[
            (
                "almarel.toml",
                "The configuration, at the git work tree's root; --config or ALMAREL_CONFIG names another file. No secrets: tokens come from the environment. `almarel init` writes it; `almarel doctor` checks it.",
            ),
            (
                "$ALMAREL_STATE_DIR/audit.jsonl",
                "The audit log: one JSON line when a change starts and one with its outcome. Without ALMAREL_STATE_DIR: $XDG_STATE_HOME/almarel/audit.jsonl, else ~/.local/state/almarel/audit.jsonl.",
            ),
        ],
        true,
    );
    let mut extra = Vec::new();
    man.render_extra_section(&mut extra)
        .and_then(|()| man.render_version_section(&mut extra))
        .map_err(|e| Error::local(format!("cannot render the man page: {e}")))?;
    page.push_str(
        &String::from_utf8(extra)
            .map_err(|e| Error::local(format!("man page is not UTF-8: {e}")))?,
    );
    Ok(page)
}

/// What `almarel completions` is asked for (resolved by
/// [`crate::resolve::completions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletionsRequest {
    /// The shell to generate the script for.
    pub shell: Shell,
}

/// What `almarel man` is asked for (resolved by [`crate::resolve::man`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ManRequest {}

/// The result of `almarel completions`: the script, printed as is on stdout
/// (`--json`: `{shell, script}`).
#[derive(Debug, Clone, Serialize)]
pub struct CompletionsReport {
    /// The shell's name (`bash`, `zsh`, …).
    pub shell: String,
    /// The whole script.
    pub script: String,
}

impl Report for CompletionsReport {
    fn render(&self, ui: &Ui) {
        ui.result(self.script.trim_end());
    }
}

/// The result of `almarel man`: the roff page, printed as is on stdout
/// (`--json`: `{man}`).
#[derive(Debug, Clone, Serialize)]
pub struct ManReport {
    /// The whole page (roff).
    pub man: String,
}

impl Report for ManReport {
    fn render(&self, ui: &Ui) {
        ui.result(self.man.trim_end());
    }
}

/// Runs `almarel completions`.
pub fn run_completions(req: &CompletionsRequest) -> Result<CompletionsReport> {
    Ok(CompletionsReport {
        shell: req.shell.to_string(),
        script: completion_script(req.shell)?,
    })
}

/// Runs `almarel man`.
pub fn run_man(_req: &ManRequest) -> Result<ManReport> {
    Ok(ManReport { man: man_page()? })
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
        for shell in Shell::value_variants() {
            let script = completion_script(*shell).unwrap();
            for sub in &subs {
                assert!(script.contains(sub.as_str()), "{shell}: {sub} missing");
            }
        }
    }

    #[test]
    fn completions_leave_out_the_flags_a_command_hides() {
        let bash = completion_script(Shell::Bash).unwrap();
        let opts_of = |sub: &str| {
            let block = bash
                .split(&format!("almarel__subcmd__{sub})\n"))
                .nth(1)
                .unwrap_or_else(|| panic!("{sub}"));
            block.lines().next().unwrap().to_owned()
        };
        assert!(!opts_of("verify").contains("--yes") && !opts_of("verify").contains(" -y "));
        assert!(opts_of("verify").contains("--dry-run"));
        assert!(opts_of("approve").contains("--yes"));
        assert!(!opts_of("rehearse").contains("--config"));
        let zsh = completion_script(Shell::Zsh).unwrap();
        let verify = zsh.split("\n(verify)\n").nth(1).unwrap();
        let verify = &verify[..verify.find("\n;;").unwrap()];
        assert!(
            !verify.contains("'--yes[") && !verify.contains("'-y["),
            "{verify}"
        );
        assert!(verify.contains("'--dry-run["), "{verify}");
        let approve = zsh.split("\n(approve)\n").nth(1).unwrap();
        assert!(approve[..approve.find("\n;;").unwrap()].contains("'--yes["));
        let fish = completion_script(Shell::Fish).unwrap();
        assert!(!fish.contains("using_subcommand verify\" -s y -l yes"));
        assert!(fish.contains("using_subcommand approve\" -s y -l yes"));
        assert!(fish.contains("using_subcommand verify\" -l dry-run"));
    }

    /// The records of a script: lines joined while a multi-line record is open.
    fn records(shell: Shell, script: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut open = false;
        for line in script.lines() {
            if open {
                if let Some(last) = out.last_mut() {
                    last.push('\n');
                    last.push_str(line);
                }
                open = match shell {
                    Shell::Zsh => toggles_record(shell, line),
                    _ => !toggles_record(shell, line),
                };
            } else {
                out.push(line.to_owned());
                open = match shell {
                    Shell::Zsh => line.starts_with('\'') && toggles_record(shell, line),
                    _ => toggles_record(shell, line),
                };
            }
        }
        out
    }

    #[test]
    fn scripts_stay_well_formed_after_post_processing() {
        let fish = completion_script(Shell::Fish).unwrap();
        for r in records(Shell::Fish, &fish) {
            let first = r.split_whitespace().next().unwrap_or("");
            assert!(
                r.is_empty()
                    || r.starts_with(' ')
                    || [
                        "complete", "function", "end", "#", "set", "if", "else", "return"
                    ]
                    .contains(&first)
                    || first.starts_with('#'),
                "stray fish line: {r}"
            );
        }
        let zsh = completion_script(Shell::Zsh).unwrap();
        let lines: Vec<&str> = zsh.lines().collect();
        for r in records(Shell::Zsh, &zsh) {
            // Every `_arguments` spec is whole: opened by a quote, ended by `\`.
            if r.starts_with("'-") || r.starts_with("'(") || r.starts_with("'*") {
                assert!(r.ends_with("' \\"), "cut zsh spec: {r}");
            }
            assert!(
                !r.starts_with("always\\:") && !r.starts_with("never\\:"),
                "orphan: {r}"
            );
        }
        assert!(lines.len() > 100);
        // Real parsers, where this machine has them.
        for (shell, program, args) in [
            (Shell::Zsh, "zsh", vec!["-n"]),
            (Shell::Fish, "fish", vec!["--no-execute"]),
            (Shell::Bash, "bash", vec!["-n"]),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("script");
            std::fs::write(&file, completion_script(shell).unwrap()).unwrap();
            if let Ok(out) = std::process::Command::new(program)
                .args(&args)
                .arg(&file)
                .output()
            {
                assert!(
                    out.status.success(),
                    "{program}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }

    #[test]
    fn release_tags_go_where_a_ref_or_tag_goes() {
        let slots = tag_slots(&built());
        let find = |name: &str| slots.iter().find(|s| s.sub == name).cloned();
        for sub in ["status", "approve", "deploy", "checklist"] {
            let s = find(sub).unwrap_or_else(|| panic!("{sub}"));
            assert!(!s.positionals.is_empty(), "{sub}");
        }
        assert!(find("deploy").unwrap().options.contains(&"tag".to_owned()));
        assert!(
            find("verify")
                .unwrap()
                .options
                .contains(&"expect-tag".to_owned())
        );
        assert!(find("rollback").unwrap().options.contains(&"to".to_owned()));
        assert!(
            find("deploy")
                .unwrap()
                .value_options
                .contains(&"--app".to_owned())
        );
        assert!(find("rehearse").is_none() && find("man").is_none());

        let zsh = completion_script(Shell::Zsh).unwrap();
        assert!(zsh.contains("_almarel_release_tags() {"));
        assert!(
            zsh.contains(":TAG:_almarel_release_tags' \\"),
            "deploy --tag"
        );
        assert!(
            zsh.lines()
                .any(|l| l.starts_with("'::reference -- ")
                    && l.ends_with(":_almarel_release_tags' \\")),
            "status REF"
        );
        let define = zsh.find("_almarel_release_tags() {").unwrap();
        let call = zsh.find("if [ \"$funcstack[1]\" = \"_almarel\" ]").unwrap();
        assert!(define < call, "defined before zsh runs _almarel");

        let fish = completion_script(Shell::Fish).unwrap();
        assert!(fish.contains("function __almarel_release_tags"));
        assert!(fish.lines().any(|l| l.starts_with(
            "complete -c almarel -n \"__fish_almarel_using_subcommand deploy\" -l tag -d "
        ) && l.ends_with(" -r -f -a \"(__almarel_release_tags)\"")));
        assert!(
            fish.contains("before-merge\\t'staging validated"),
            "phases with descriptions"
        );
        assert!(
            fish.contains("failed-deploy\\t'The web deploy fails"),
            "scenarios with descriptions"
        );

        let zsh_scenarios =
            zsh.contains("failed\\-deploy\\:\"") || zsh.contains("failed-deploy\\:\"");
        assert!(zsh_scenarios, "zsh describes scenarios");
        assert!(
            zsh.contains("before-merge\\:\"staging validated"),
            "zsh describes phases"
        );
    }

    fn section<'a>(page: &'a str, title: &str) -> &'a str {
        let start = page
            .find(&format!(".SH \"{title}\"\n"))
            .or_else(|| page.find(&format!(".SH {title}\n")))
            .unwrap_or_else(|| panic!("no {title} section"));
        let rest = &page[start + 4..];
        &rest[..rest.find("\n.SH ").map_or(rest.len(), |i| i + 1)]
    }

    #[test]
    fn man_page_documents_every_subcommand_environment_exit_status_and_files() {
        let page = man_page().unwrap();
        assert!(page.contains(".TH"), "not roff");
        let commands = section(&page, "COMMANDS");
        for sub in Cli::command().get_subcommands() {
            assert!(
                commands.contains(&format!(".SS \"almarel {}\"", sub.get_name())),
                "{} missing",
                sub.get_name()
            );
        }
        // Every variable env.rs declares is documented.
        let environment = section(&page, "ENVIRONMENT");
        let declared: Vec<&str> = include_str!("../env.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("pub const "))
            .filter_map(|l| l.split(':').next())
            .collect();
        assert!(declared.len() >= 15, "{declared:?}");
        for name in declared {
            assert!(
                environment.contains(&roff(name)),
                "{name} not in ENVIRONMENT"
            );
        }
        let exit = section(&page, "EXIT STATUS");
        for code in ["0", "1", "2", "3", "4", "5", "129", "130", "143"] {
            assert!(exit.contains(&format!(".TP\n{code}\n")), "exit {code}");
        }
        assert!(exit.contains("SIGTERM") && exit.contains("SIGHUP"));
        let files = section(&page, "FILES");
        assert!(files.contains("almarel.toml"));
        assert!(files.contains("audit.jsonl"));
        assert!(files.contains("~/.local/state/almarel/audit.jsonl"));
        // No page of its own for any subcommand exists: none is referred to.
        let unescaped = page.replace("\\-", "-");
        assert!(
            !unescaped.contains("almarel-"),
            "a reference to another page"
        );
        assert!(!page.contains("(1)"), "a reference to another page");
    }
}
