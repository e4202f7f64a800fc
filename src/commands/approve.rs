//! `almarel approve`.

use serde_json::Value;

use crate::cli::ApproveArgs;
use crate::context::Context;
use crate::error::{Error, Result};

/// Runs `almarel approve`.
pub async fn run(_ctx: &Context, _args: &ApproveArgs) -> Result<Value> {
    Err(Error::usage("`almarel approve` is not built yet"))
}
