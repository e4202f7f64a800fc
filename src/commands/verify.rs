//! `almarel verify`.

use serde_json::Value;

use crate::cli::VerifyArgs;
use crate::context::Context;
use crate::error::{Error, Result};

/// Runs `almarel verify`.
pub async fn run(_ctx: &Context, _args: &VerifyArgs) -> Result<Value> {
    Err(Error::usage("`almarel verify` is not built yet"))
}
