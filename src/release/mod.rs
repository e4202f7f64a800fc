//! The release model shared by every command: "which release is this", "is
//! it approved", "is it live" are answered here, never re-derived in a
//! command (docs/ARCHITECTURE.md).

pub mod approval;
pub mod artifact;
pub mod deploy;
pub mod environments;
pub mod evidence;
pub mod freeze;
pub mod live;
pub mod preflight;
pub mod progress;
pub mod tags;
pub mod target;
pub mod trigger;
pub mod watch;
