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
