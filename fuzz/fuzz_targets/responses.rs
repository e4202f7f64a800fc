//! Fuzz target: see `almarel_fuzz::responses`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    almarel_fuzz::responses(data);
});
