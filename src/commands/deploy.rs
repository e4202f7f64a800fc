//! `almarel deploy`.

use serde_json::Value;

use crate::cli::DeployArgs;
use crate::context::Context;
use crate::error::{Error, Result};

/// Runs `almarel deploy`.
pub async fn run(_ctx: &Context, _args: &DeployArgs) -> Result<Value> {
    Err(Error::usage("`almarel deploy` is not built yet"))
}
