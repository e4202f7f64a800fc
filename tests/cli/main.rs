//! Integration tests: the real binary, run hermetically (HOME in a temp dir,
//! no global git config, no network) against real git repositories and the
//! loopback simulators of `almarel_sandbox`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod support;

mod actions;
mod approve;
mod audit;
mod checklist;
mod config;
mod deploy;
mod docs;
mod doctor;
mod faults;
mod freeze;
mod fuzz_seeds;
mod init;
mod interrupt;
mod redteam;
mod rehearse;
mod rollback;
mod scale;
mod seams;
mod secrets;
mod staging;
mod status;
mod tag;
mod verify;
mod watch;
mod workflows;
