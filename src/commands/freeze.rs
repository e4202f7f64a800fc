//! `almarel freeze` and `almarel unfreeze`.

use serde_json::Value;

use crate::cli::{FreezeArgs, UnfreezeArgs};
use crate::context::Context;
use crate::error::{Error, Result};

/// Runs `almarel freeze`.
pub async fn run_freeze(_ctx: &Context, _args: &FreezeArgs) -> Result<Value> {
    Err(Error::usage("`almarel freeze` is not built yet"))
}

/// Runs `almarel unfreeze`.
pub async fn run_unfreeze(_ctx: &Context, _args: &UnfreezeArgs) -> Result<Value> {
    Err(Error::usage("`almarel unfreeze` is not built yet"))
}
