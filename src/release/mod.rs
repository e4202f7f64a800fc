//! The release model shared by every command (see `docs/ARCHITECTURE.md`).

pub mod deploy;
pub mod live;
