//! The names of the environment variables the sandbox sets for almarel. They
//! must match almarel's own (`almarel::env`); a test there checks they do.

/// Path of the `almarel.toml` to use.
pub const ALMAREL_CONFIG: &str = "ALMAREL_CONFIG";
/// Directory of the audit log.
pub const ALMAREL_STATE_DIR: &str = "ALMAREL_STATE_DIR";
/// The GitHub token.
pub const GH_TOKEN: &str = "GH_TOKEN";
/// The Coolify token.
pub const COOLIFY_TOKEN: &str = "COOLIFY_TOKEN";
