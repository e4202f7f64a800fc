//! The result vocabulary every command shares and the [`Report`] trait its
//! result implements, rendered once by [`crate::commands::finish`]: for
//! humans (stdout), as one `--json` object, and for GitHub Actions
//! (`$GITHUB_OUTPUT`, the job summary). The `next:` line is printed there,
//! in one place, never by a command.
//!
//! The JSON vocabulary is documented in `docs/json.md`.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::ui::Ui;

/// One evaluated check: `{name, ok, detail}` (plus `fix` when it failed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Short name (`branch`, `clean`, `ci`, …).
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was found.
    pub detail: String,
    /// How to fix it, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    /// A passing check.
    pub fn pass(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            ok: true,
            detail: detail.into(),
            fix: None,
        }
    }
    /// A failing check with its fix.
    pub fn fail(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            name: name.into(),
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// One step a dry run would take: `{action, target, detail}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanItem {
    /// The verb (`create tag`, `push`, `deploy`, …).
    pub action: String,
    /// What it acts on (a tag, an app, a run).
    pub target: String,
    /// The rest, in words.
    pub detail: String,
}

/// The exact next command, built from its argument words (without the
/// leading `almarel`). Displays as `almarel a b c`, quoting words the shell
/// would split or expand; serializes as that string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Next {
    args: Vec<String>,
}

impl Next {
    /// `almarel` followed by `args`.
    pub fn new<I, S>(args: I) -> Next
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Next {
            args: args.into_iter().map(Into::into).collect(),
        }
    }

    /// The argument words (without `almarel`).
    pub fn args(&self) -> &[String] {
        &self.args
    }
}

/// A word as a POSIX shell reads it back unchanged.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+%^".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

impl fmt::Display for Next {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("almarel")?;
        for a in &self.args {
            write!(f, " {}", shell_quote(a))?;
        }
        Ok(())
    }
}

impl Serialize for Next {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A command's result. Serialize gives its `--json` object (without `ok`
/// and `next`, which [`crate::commands::finish`] adds).
pub trait Report: Serialize {
    /// Prints the results for humans on stdout (through `ui.result`).
    fn render(&self, ui: &Ui);
    /// The exact next command, if there is one.
    fn next(&self) -> Option<Next> {
        None
    }
    /// The `$GITHUB_OUTPUT` pairs.
    fn outputs(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    /// The Markdown appended to the Actions job summary.
    fn summary(&self) -> Option<String> {
        None
    }
}

/// A [`Report`] behind a pointer (the object-safe face `finish` uses).
pub trait Rendered: Send {
    /// See [`Report::render`].
    fn render(&self, ui: &Ui);
    /// See [`Report::next`].
    fn next(&self) -> Option<Next>;
    /// See [`Report::outputs`].
    fn outputs(&self) -> Vec<(&'static str, String)>;
    /// See [`Report::summary`].
    fn summary(&self) -> Option<String>;
    /// The report serialized.
    fn to_json(&self) -> serde_json::Value;
}

impl<T: Report + Send> Rendered for T {
    fn render(&self, ui: &Ui) {
        Report::render(self, ui);
    }
    fn next(&self) -> Option<Next> {
        Report::next(self)
    }
    fn outputs(&self) -> Vec<(&'static str, String)> {
        Report::outputs(self)
    }
    fn summary(&self) -> Option<String> {
        Report::summary(self)
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// What a command returns to be rendered once.
pub enum Outcome {
    /// A typed report: rendered, its `next:` printed and its JSON built by `finish`.
    Report(Box<dyn Rendered>),
}

impl Outcome {
    /// Wraps a typed report.
    pub fn report<T: Report + Send + 'static>(report: T) -> Outcome {
        Outcome::Report(Box::new(report))
    }
}

impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Report(r) => write!(f, "Report({})", r.to_json()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_quotes_what_the_shell_would_split() {
        let n = Next::new(["freeze", "--reason", "it's broken", "--yes"]);
        assert_eq!(
            n.to_string(),
            r"almarel freeze --reason 'it'\''s broken' --yes"
        );
        assert_eq!(
            Next::new(["status", "v1.2.3", "--watch"]).to_string(),
            "almarel status v1.2.3 --watch"
        );
        assert_eq!(
            serde_json::to_value(Next::new(["deploy", ""])).unwrap(),
            serde_json::json!("almarel deploy ''")
        );
    }
}
