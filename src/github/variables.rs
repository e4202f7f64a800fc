//! Repository variables (the freeze record) and `workflow_dispatch`.
//!
//! Shapes from GitHub's REST description (github/rest-api-description,
//! `api.github.com.json`, API version 2022-11-28), operations
//! `actions/get-repo-variable` (200 `{name, value, created_at, updated_at}`),
//! `actions/create-repo-variable` (201 `{}`), `actions/update-repo-variable`
//! (204), `actions/delete-repo-variable` (204) and
//! `actions/create-workflow-dispatch` (204). They are not in
//! `operations.json`; the simulator copies the same example bodies.

use ::http::Method;
use serde::Deserialize;

use super::Client;
use super::http::Idempotency;
use crate::error::{Error, Result};

/// A repository variable as `GET .../actions/variables/{name}` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Variable {
    /// The name (GitHub stores it upper-cased).
    pub name: String,
    /// The value.
    pub value: String,
    /// When it was created.
    #[serde(default)]
    pub created_at: Option<String>,
    /// When it was last changed.
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// What reading a variable found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariableRead {
    /// It exists.
    Found(Variable),
    /// It does not exist (404).
    Absent,
    /// The token may not read variables (403): GitHub's message.
    Denied(String),
}

/// What a variable write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariableWrite {
    /// Applied (or, for a delete, already absent).
    Applied,
    /// The token may not write variables (403, or 404 on a repository it
    /// can read): GitHub's message.
    Denied(String),
}

fn denied(e: &Error) -> bool {
    e.code == Some("permission_denied")
}

impl Client {
    fn variable_url(&self, name: &str) -> String {
        self.repo_url(&format!("/actions/variables/{name}"))
    }

    /// `GET .../actions/variables/{name}`.
    pub async fn variable(&self, name: &str) -> Result<VariableRead> {
        let url = self.variable_url(name);
        match self
            .http()
            .request(Method::GET, &url, None, Idempotency::Repeatable)
            .await
        {
            Ok(r) if r.status.as_u16() == 404 => Ok(VariableRead::Absent),
            Ok(r) => {
                let r = self.http().expect_ok(r, &url)?;
                r.json("variable").map(VariableRead::Found)
            }
            Err(e) if denied(&e) => Ok(VariableRead::Denied(e.message)),
            Err(e) => Err(e),
        }
    }

    /// Creates or updates the variable: `PATCH .../variables/{name}` (204),
    /// or `POST .../variables` (201) when `exists` is false or the PATCH
    /// finds none. Repeating it is harmless (same value).
    pub async fn set_variable(
        &self,
        name: &str,
        value: &str,
        exists: bool,
    ) -> Result<VariableWrite> {
        let body = serde_json::json!({"name": name, "value": value});
        if exists {
            let url = self.variable_url(name);
            match self
                .http()
                .request(Method::PATCH, &url, Some(&body), Idempotency::Repeatable)
                .await
            {
                Ok(r) if r.status.is_success() => return Ok(VariableWrite::Applied),
                Ok(r) if r.status.as_u16() == 404 => {}
                Ok(r) => {
                    return self
                        .http()
                        .expect_ok(r, &url)
                        .map(|_| VariableWrite::Applied);
                }
                Err(e) if denied(&e) => return Ok(VariableWrite::Denied(e.message)),
                Err(e) => return Err(e),
            }
        }
        let url = self.repo_url("/actions/variables");
        match self
            .http()
            .request(Method::POST, &url, Some(&body), Idempotency::Repeatable)
            .await
        {
            Ok(r) if r.status.is_success() => Ok(VariableWrite::Applied),
            // Created meanwhile (or by a repeated POST): update it.
            Ok(r) if r.status.as_u16() == 409 => {
                Box::pin(self.set_variable(name, value, true)).await
            }
            Ok(r) if r.status.as_u16() == 404 => Ok(VariableWrite::Denied(
                r.message().unwrap_or_else(|| "Not Found".to_owned()),
            )),
            Ok(r) => self
                .http()
                .expect_ok(r, &url)
                .map(|_| VariableWrite::Applied),
            Err(e) if denied(&e) => Ok(VariableWrite::Denied(e.message)),
            Err(e) => Err(e),
        }
    }

    /// `DELETE .../actions/variables/{name}` (204); absent already is applied.
    pub async fn delete_variable(&self, name: &str) -> Result<VariableWrite> {
        let url = self.variable_url(name);
        match self
            .http()
            .request(Method::DELETE, &url, None, Idempotency::Repeatable)
            .await
        {
            Ok(r) if r.status.is_success() || r.status.as_u16() == 404 => {
                Ok(VariableWrite::Applied)
            }
            Ok(r) => self
                .http()
                .expect_ok(r, &url)
                .map(|_| VariableWrite::Applied),
            Err(e) if denied(&e) => Ok(VariableWrite::Denied(e.message)),
            Err(e) => Err(e),
        }
    }
}
