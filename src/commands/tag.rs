//! `almarel tag`.

use serde_json::Value;

use crate::cli::TagArgs;
use crate::context::Context;
use crate::error::{Error, Result};

/// Runs `almarel tag`.
pub async fn run(_ctx: &Context, _args: &TagArgs) -> Result<Value> {
    Err(Error::usage("`almarel tag` is not built yet"))
}
