//! Integration tests: the real binary, run hermetically (HOME in a temp dir,
//! no global git config, no network) against real git repositories and the
//! loopback simulators of `almarel::sandbox`.

// Test helpers outside #[test] functions may unwrap too (clippy.toml only covers #[test]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod approve;
mod config;
mod deploy;
mod freeze;
mod status;
mod tag;
mod verify;
