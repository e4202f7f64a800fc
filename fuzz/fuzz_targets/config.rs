//! Fuzz target: see `almarel_fuzz::config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        almarel_fuzz::config(s);
    }
});
