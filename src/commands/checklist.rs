//! `almarel checklist` (in progress).

use serde_json::Value;

use crate::cli::ChecklistArgs;
use crate::context::Context;
use crate::error::Result;

/// Runs `almarel checklist`.
pub async fn run(_ctx: &Context, _args: &ChecklistArgs) -> Result<Value> {
    Ok(Value::Null)
}
