//! `almarel status`.

use serde_json::Value;

use crate::cli::StatusArgs;
use crate::context::Context;
use crate::error::{Error, Result};

/// Runs `almarel status`.
pub async fn run(_ctx: &Context, _args: &StatusArgs) -> Result<Value> {
    Err(Error::usage("`almarel status` is not built yet"))
}
