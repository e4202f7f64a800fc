//! The docs' examples are checked: every TOML block in docs/ and the README
//! loads with almarel's own config loader.

use std::path::Path;

use almarel::cli::{ColorChoice, GlobalArgs};
use almarel::env::Env;
use almarel::settings::Settings;

fn toml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, l) if l.starts_with("```toml") => current = Some(String::new()),
            (Some(_), l) if l.starts_with("```") => blocks.extend(current.take()),
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

fn markdown_files() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    let mut stack = vec![root.join("docs")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "md") {
                files.push(p);
            }
        }
    }
    files
}

#[test]
fn every_toml_example_in_the_docs_loads() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, block) in toml_blocks(&text).into_iter().enumerate() {
            let path = dir.path().join("almarel.toml");
            std::fs::write(&path, &block).unwrap();
            let args = GlobalArgs {
                dir: None,
                config: Some(path),
                json: false,
                yes: false,
                dry_run: false,
                quiet: false,
                verbose: 0,
                color: ColorChoice::Never,
            };
            if let Err(e) = Settings::resolve(&args, &Env::default(), dir.path()) {
                panic!("{} block {}: {}\n{block}", file.display(), i + 1, e.message);
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 2,
        "expected TOML examples in the docs, found {checked}"
    );
}

/// Command examples: inline code spans and shell-block lines that start with
/// `almarel `, cut at shell operators; spans with placeholders in brackets or
/// alternatives (`[REF]`, `a|b`, `...`) are synopses, not examples.
fn command_examples(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_block = false;
    for line in markdown.lines() {
        let t = line.trim_start();
        if t.starts_with("```") {
            in_block = !in_block;
            continue;
        }
        let candidates: Vec<String> = if in_block {
            vec![t.trim_start_matches("$ ").to_owned()]
        } else {
            line.split('`')
                .enumerate()
                .filter(|(i, _)| i % 2 == 1)
                .map(|(_, s)| s.to_owned())
                .collect()
        };
        for c in candidates {
            let Some(rest) = c.strip_prefix("almarel ") else {
                continue;
            };
            // `<VERSION>`-style placeholders make it a synopsis, not an example.
            if rest.contains('<') && !rest.contains(" > ") {
                continue;
            }
            let cmd = rest
                .split(['#', '>', ';'])
                .next()
                .unwrap_or("")
                .split("&&")
                .next()
                .unwrap_or("")
                .split(" | ")
                .next()
                .unwrap_or("")
                .trim();
            if cmd.is_empty() || cmd.contains('[') || cmd.contains('|') || cmd.contains("...") {
                continue;
            }
            out.push(format!("almarel {cmd}"));
        }
    }
    out
}

#[test]
fn every_command_example_in_the_docs_parses() {
    use clap::Parser;
    let mut checked = 0;
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for example in command_examples(&text) {
            let words = shell_words(&example);
            if let Err(e) = almarel::cli::Cli::try_parse_from(&words) {
                use clap::error::ErrorKind;
                // `--help` examples are fine, and so is naming a command in
                // prose (`almarel freeze`) without its required arguments.
                let bare_name =
                    words.len() == 2 && matches!(e.kind(), ErrorKind::MissingRequiredArgument);
                if !bare_name
                    && !matches!(
                        e.kind(),
                        ErrorKind::DisplayHelp
                            | ErrorKind::DisplayVersion
                            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                    )
                {
                    panic!("{}: `{example}` does not parse:\n{e}", file.display());
                }
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 10,
        "expected command examples in the docs, found {checked}"
    );
}

/// Splits a command line like a shell would for simple quoting ("..." and '...').
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}
