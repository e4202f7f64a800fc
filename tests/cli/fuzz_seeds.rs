//! The fuzz targets' properties (`fuzz/src/checks.rs`, shared with the
//! cargo-fuzz targets) run on the committed seed corpus (`fuzz/seeds/`) and on
//! cheap mutations of it (truncations, byte flips, duplications), so every
//! `cargo test` checks that the version parser, the config loader and the
//! response decoders never panic, even where cargo-fuzz cannot run.

#[path = "../../fuzz/src/checks.rs"]
#[allow(dead_code, missing_docs)]
mod checks;

use std::path::Path;

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out.sort();
    out
}

/// Each seed, plus deterministic mutations of it.
fn mutations(seed: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![seed.to_vec()];
    let n = seed.len();
    let step = (n / 40).max(1);
    for cut in (0..n).step_by(step) {
        out.push(seed[..cut].to_vec());
        out.push(seed[cut..].to_vec());
    }
    for (i, flip) in (0..n).step_by(step).zip(
        [b'"', b'{', b']', b'0', b'\\', 0xff, b'\n', b'=', b'-', b'.']
            .iter()
            .cycle(),
    ) {
        let mut m = seed.to_vec();
        m[i] = *flip;
        out.push(m);
    }
    let mut doubled = seed.to_vec();
    doubled.extend_from_slice(seed);
    out.push(doubled);
    out
}

#[test]
fn version_parser_never_panics_on_seeds_and_mutations() {
    for seed in seeds("version") {
        for m in mutations(&seed) {
            checks::version(&String::from_utf8_lossy(&m));
        }
    }
}

#[test]
fn config_loader_never_panics_on_seeds_and_mutations() {
    for seed in seeds("config") {
        for m in mutations(&seed) {
            checks::config(&String::from_utf8_lossy(&m));
        }
    }
}

#[test]
fn response_decoders_never_panic_on_seeds_and_mutations() {
    for seed in seeds("responses") {
        for m in mutations(&seed) {
            checks::responses(&m);
        }
    }
}

#[test]
fn the_seeds_are_what_the_decoders_expect() {
    // The seeds must exercise the success paths, not only the error paths.
    assert!(
        almarel::settings::parse_config_text(&String::from_utf8_lossy(
            &std::fs::read(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/config/full-example.toml")
            )
            .unwrap()
        ))
        .is_ok()
    );
    let decoded = seeds("responses")
        .iter()
        .filter(|s| serde_json::from_slice::<serde_json::Value>(s).is_ok())
        .count();
    assert!(decoded >= 10, "{decoded}");
}
