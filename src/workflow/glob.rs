//! GitHub's filter patterns for branch, tag and path filters, as documented in
//! "Workflow syntax for GitHub Actions", *Filter pattern cheat sheet*:
//!
//! * `*` matches zero or more characters, but not `/`;
//! * `**` matches zero or more of any character (a leading `**/`, or one right
//!   after a `/`, also matches no directory at all: `**/README.md` matches
//!   `README.md`);
//! * `?` matches zero or one of the preceding character (`*.jsx?` matches
//!   `page.js` and `page.jsx`);
//! * `+` matches one or more of the preceding character (`[0-9]+`);
//! * `[…]` matches one character listed or in a range; ranges only within
//!   `a-z`, `A-Z` or `0-9`;
//! * `\` makes the next character literal;
//! * a leading `!` negates the pattern within a list ([`Filter`]); patterns
//!   are checked in order and the last one that matches decides.
//!
//! Everything else (including `.`) is a literal character; matching is
//! case-sensitive and must cover the whole name.

use std::fmt;

/// A pattern GitHub would refuse: the whole workflow file is then invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pattern '{pattern}': {problem}")]
pub struct GlobError {
    /// The pattern as written.
    pub pattern: String,
    /// What is wrong with it.
    pub problem: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rep {
    One,
    ZeroOrOne,
    OneOrMore,
    ZeroOrMore,
}

impl Rep {
    fn with_optional(self) -> Rep {
        match self {
            Rep::One | Rep::ZeroOrOne => Rep::ZeroOrOne,
            Rep::OneOrMore | Rep::ZeroOrMore => Rep::ZeroOrMore,
        }
    }

    fn with_repeat(self) -> Rep {
        match self {
            Rep::One | Rep::OneOrMore => Rep::OneOrMore,
            Rep::ZeroOrOne | Rep::ZeroOrMore => Rep::ZeroOrMore,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Atom {
    Char(char),
    /// Inclusive ranges; a listed character is a range of one.
    Class(Vec<(char, char)>),
}

impl Atom {
    fn matches(&self, c: char) -> bool {
        match self {
            Atom::Char(a) => *a == c,
            Atom::Class(ranges) => ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Atom(Atom, Rep),
    /// `*`: any run of characters without `/`.
    Star,
    /// `**`: any run of characters.
    DoubleStar,
    /// `**/` at the start of a segment: nothing, or anything ending in `/`.
    AnyDirs,
}

/// One compiled pattern (without the list-level `!`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    source: String,
    tokens: Vec<Token>,
}

impl Glob {
    /// Compiles `pattern`; an unclosed or empty `[]`, a range outside `a-z`,
    /// `A-Z`, `0-9`, or a trailing `\` is an error.
    pub fn new(pattern: &str) -> Result<Glob, GlobError> {
        let fail = |problem: String| GlobError {
            pattern: pattern.to_owned(),
            problem,
        };
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens: Vec<Token> = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            match c {
                '\\' => {
                    let Some(&next) = chars.get(i + 1) else {
                        return Err(fail("ends with an escape character '\\'".into()));
                    };
                    tokens.push(Token::Atom(Atom::Char(next), Rep::One));
                    i += 2;
                }
                '*' if chars.get(i + 1) == Some(&'*') => {
                    let segment_start = i == 0 || chars[i - 1] == '/';
                    if segment_start && chars.get(i + 2) == Some(&'/') {
                        tokens.push(Token::AnyDirs);
                        i += 3;
                    } else {
                        tokens.push(Token::DoubleStar);
                        i += 2;
                    }
                }
                '*' => {
                    tokens.push(Token::Star);
                    i += 1;
                }
                '?' | '+' => {
                    match tokens.last_mut() {
                        Some(Token::Atom(_, rep)) => {
                            *rep = if c == '?' {
                                rep.with_optional()
                            } else {
                                rep.with_repeat()
                            };
                        }
                        // After a wildcard it changes nothing: `*` already
                        // matches zero or more.
                        Some(_) => {}
                        None => tokens.push(Token::Atom(Atom::Char(c), Rep::One)),
                    }
                    i += 1;
                }
                '[' => {
                    let (ranges, next) = class(&chars, i + 1).map_err(fail)?;
                    tokens.push(Token::Atom(Atom::Class(ranges), Rep::One));
                    i = next;
                }
                _ => {
                    tokens.push(Token::Atom(Atom::Char(c), Rep::One));
                    i += 1;
                }
            }
        }
        Ok(Glob {
            source: pattern.to_owned(),
            tokens,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the pattern matches all of `name`.
    pub fn is_match(&self, name: &str) -> bool {
        let text: Vec<char> = name.chars().collect();
        let mut memo = vec![Memo::Unknown; (self.tokens.len() + 1) * (text.len() + 1)];
        Matcher {
            tokens: &self.tokens,
            text: &text,
            memo: &mut memo,
        }
        .at(0, 0)
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Parses a `[…]` body starting after the `[`; returns the ranges and the
/// index after the closing `]`.
fn class(chars: &[char], start: usize) -> Result<(Vec<(char, char)>, usize), String> {
    let mut ranges = Vec::new();
    let mut i = start;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err("'[' is never closed by ']'".into());
        };
        if c == ']' {
            if ranges.is_empty() {
                return Err("'[]' lists no character".into());
            }
            return Ok((ranges, i + 1));
        }
        let c = if c == '\\' {
            i += 1;
            *chars
                .get(i)
                .ok_or_else(|| "'[' is never closed by ']'".to_owned())?
        } else {
            c
        };
        let is_range =
            chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|d| *d != ']');
        if is_range {
            let d = chars[i + 2];
            let same_kind = (c.is_ascii_lowercase() && d.is_ascii_lowercase())
                || (c.is_ascii_uppercase() && d.is_ascii_uppercase())
                || (c.is_ascii_digit() && d.is_ascii_digit());
            if !same_kind || c > d {
                return Err(format!(
                    "range '{c}-{d}' is not within a-z, A-Z or 0-9 in ascending order"
                ));
            }
            ranges.push((c, d));
            i += 3;
        } else {
            ranges.push((c, c));
            i += 1;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Memo {
    Unknown,
    No,
    Yes,
}

struct Matcher<'a> {
    tokens: &'a [Token],
    text: &'a [char],
    memo: &'a mut [Memo],
}

impl Matcher<'_> {
    /// Whether tokens `t..` match text `s..`.
    fn at(&mut self, t: usize, s: usize) -> bool {
        let slot = t * (self.text.len() + 1) + s;
        match self.memo[slot] {
            Memo::Yes => return true,
            Memo::No => return false,
            Memo::Unknown => {}
        }
        let found = self.compute(t, s);
        self.memo[slot] = if found { Memo::Yes } else { Memo::No };
        found
    }

    fn compute(&mut self, t: usize, s: usize) -> bool {
        let Some(token) = self.tokens.get(t) else {
            return s == self.text.len();
        };
        let here = self.text.get(s).copied();
        match token {
            Token::Atom(atom, rep) => {
                let one = here.is_some_and(|c| atom.matches(c));
                match rep {
                    Rep::One => one && self.at(t + 1, s + 1),
                    Rep::ZeroOrOne => self.at(t + 1, s) || (one && self.at(t + 1, s + 1)),
                    Rep::OneOrMore => one && (self.at(t + 1, s + 1) || self.at(t, s + 1)),
                    Rep::ZeroOrMore => self.at(t + 1, s) || (one && self.at(t, s + 1)),
                }
            }
            Token::Star => {
                self.at(t + 1, s) || (here.is_some_and(|c| c != '/') && self.at(t, s + 1))
            }
            Token::DoubleStar => self.at(t + 1, s) || (here.is_some() && self.at(t, s + 1)),
            Token::AnyDirs => {
                self.at(t + 1, s)
                    || (s..self.text.len()).any(|k| self.text[k] == '/' && self.at(t + 1, k + 1))
            }
        }
    }
}

/// One entry of a filter list: a pattern, possibly negated with `!`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The entry as written in the workflow (with its `!`).
    pub text: String,
    /// Whether it starts with `!`.
    pub negated: bool,
    glob: Glob,
}

impl Pattern {
    /// Compiles one list entry; a leading `!` negates it.
    pub fn new(text: &str) -> Result<Pattern, GlobError> {
        let (negated, body) = match text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        Ok(Pattern {
            text: text.to_owned(),
            negated,
            glob: Glob::new(body)?,
        })
    }

    /// Whether the pattern (ignoring its `!`) matches `name`.
    pub fn is_match(&self, name: &str) -> bool {
        self.glob.is_match(name)
    }
}

/// An ordered list of patterns (`branches`, `tags`, `paths`, …): a name is
/// selected when the last pattern that matches it is a positive one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    patterns: Vec<Pattern>,
}

impl Filter {
    /// Compiles every entry.
    pub fn new<S: AsRef<str>>(entries: &[S]) -> Result<Filter, GlobError> {
        let patterns = entries
            .iter()
            .map(|e| Pattern::new(e.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Filter { patterns })
    }

    /// The entries in order.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// Whether the list selects `name` (the last matching entry is positive).
    pub fn selects(&self, name: &str) -> bool {
        self.deciding(name).is_some_and(|p| !p.negated)
    }

    /// The entry that decides for `name`: the last one that matches, if any.
    pub fn deciding(&self, name: &str) -> Option<&Pattern> {
        self.patterns.iter().rev().find(|p| p.is_match(name))
    }

    /// Whether every entry is negated (GitHub requires a positive one).
    pub fn only_negated(&self) -> bool {
        !self.patterns.is_empty() && self.patterns.iter().all(|p| p.negated)
    }
}

impl fmt::Display for Filter {
    /// `['a', '!b']`, the way the reasons show a filter.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, p) in self.patterns.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "'{}'", p.text)?;
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, name: &str) -> bool {
        Glob::new(pattern).unwrap().is_match(name)
    }

    fn filter(entries: &[&str]) -> Filter {
        Filter::new(entries).unwrap()
    }

    // The cheat sheet's "Patterns to match branches and tags", row by row.

    #[test]
    fn star_does_not_cross_a_slash() {
        assert!(m("feature/*", "feature/my-branch"));
        assert!(m("feature/*", "feature/your-branch"));
        assert!(!m("feature/*", "feature/beta-a/my-branch"));
        assert!(!m("feature/*", "feature"));
    }

    #[test]
    fn double_star_crosses_slashes() {
        assert!(m("feature/**", "feature/beta-a/my-branch"));
        assert!(m("feature/**", "feature/your-branch"));
        assert!(m("feature/**", "feature/mona/the/octocat"));
        assert!(!m("feature/**", "features/x"));
    }

    #[test]
    fn plain_names_match_exactly() {
        assert!(m("main", "main"));
        assert!(m("releases/mona-the-octocat", "releases/mona-the-octocat"));
        assert!(!m("main", "main2"));
        assert!(!m("main", "Main"), "case-sensitive");
        assert!(!m("v1.3.0", "v1x3x0"), "'.' is literal");
    }

    #[test]
    fn lone_star_matches_names_without_a_slash() {
        assert!(m("*", "main"));
        assert!(m("*", "releases"));
        assert!(m("*", ""));
        assert!(!m("*", "releases/10"));
    }

    #[test]
    fn lone_double_star_matches_everything() {
        assert!(m("**", "all/the/branches"));
        assert!(m("**", "every/tag"));
        assert!(m("**", "main"));
    }

    #[test]
    fn leading_star_suffix() {
        assert!(m("*feature", "mona-feature"));
        assert!(m("*feature", "feature"));
        assert!(m("*feature", "ver-10-feature"));
        assert!(!m("*feature", "feature-x"));
    }

    #[test]
    fn prefix_star() {
        assert!(m("v2*", "v2"));
        assert!(m("v2*", "v2.0"));
        assert!(m("v2*", "v2.9"));
        assert!(!m("v2*", "v1.2"));
    }

    #[test]
    fn semver_class_with_plus() {
        let p = "v[12].[0-9]+.[0-9]+";
        assert!(m(p, "v1.10.1"));
        assert!(m(p, "v2.0.0"));
        assert!(!m(p, "v3.0.0"));
        assert!(!m(p, "v1..0"), "+ needs at least one");
        assert!(!m(p, "v1.3.0-rc.1"));
    }

    // The cheat sheet's "Patterns to match file paths".

    #[test]
    fn question_mark_makes_the_preceding_character_optional() {
        assert!(m("*.jsx?", "page.js"));
        assert!(m("*.jsx?", "page.jsx"));
        assert!(!m("*.jsx?", "page.jsxx"));
        assert!(!m("*.jsx?", "src/page.js"));
        // Not "any one character": that was an older wording of the docs.
        assert!(m("Octoc?t", "Octot"));
        assert!(!m("Octoc?t", "Octocat"));
    }

    #[test]
    fn path_patterns_from_the_cheat_sheet() {
        assert!(m("*", "README.md") && m("*", "server.rb"));
        assert!(m("**", "all/the/files.md"));
        assert!(m("*.js", "app.js") && !m("*.js", "js/index.js"));
        assert!(m("**.js", "index.js") && m("**.js", "js/index.js") && m("**.js", "src/js/app.js"));
        assert!(m("docs/*", "docs/README.md") && !m("docs/*", "docs/mona/octocat.txt"));
        assert!(m("docs/**", "docs/README.md") && m("docs/**", "docs/mona/octocat.txt"));
        for p in [
            "docs/README.md",
            "docs/mona/hello-world.md",
            "docs/a/markdown/file.md",
        ] {
            assert!(m("docs/**/*.md", p), "{p}");
        }
        for p in [
            "docs/hello.md",
            "dir/docs/my-file.txt",
            "space/docs/plan/space.doc",
        ] {
            assert!(m("**/docs/**", p), "{p}");
        }
        assert!(m("**/README.md", "README.md") && m("**/README.md", "js/README.md"));
        assert!(!m("**/README.md", "js/NOTREADME.md"));
        assert!(m("**/*src/**", "a/src/app.js") && m("**/*src/**", "my-src/code/js/app.js"));
        assert!(m("**/*-post.md", "my-post.md") && m("**/*-post.md", "path/their-post.md"));
        for p in [
            "migrate-10909.sql",
            "db/migrate-v1.0.sql",
            "db/sept/migrate-v1.sql",
        ] {
            assert!(m("**/migrate-*.sql", p), "{p}");
        }
    }

    #[test]
    fn character_classes() {
        assert!(m("[CB]at", "Cat") && m("[CB]at", "Bat") && !m("[CB]at", "Rat"));
        assert!(m("[1-2]00", "100") && m("[1-2]00", "200") && !m("[1-2]00", "300"));
        assert!(m("[0-9a-z]", "7") && m("[0-9a-z]", "q") && !m("[0-9a-z]", "Q"));
        assert!(m("release/v[0-9].[0-9]", "release/v1.2"));
        assert!(m("[a-]x", "-x"), "a trailing '-' is listed, not a range");
    }

    #[test]
    fn escapes_make_special_characters_literal() {
        assert!(m("feat\\*", "feat*"));
        assert!(!m("feat\\*", "feature"));
        assert!(m("a\\+b", "a+b"));
        assert!(m("\\!x", "!x"));
    }

    #[test]
    fn bad_patterns_are_errors() {
        assert!(
            Glob::new("v[0-9")
                .unwrap_err()
                .problem
                .contains("never closed")
        );
        assert!(
            Glob::new("[]x")
                .unwrap_err()
                .problem
                .contains("no character")
        );
        assert!(
            Glob::new("[a-Z]")
                .unwrap_err()
                .problem
                .contains("a-z, A-Z or 0-9")
        );
        assert!(Glob::new("[9-0]").is_err());
        assert!(Glob::new("[!-/]").is_err());
        assert!(Glob::new("x\\").is_err());
        let e = Glob::new("[a-Z]").unwrap_err();
        assert_eq!(
            e.to_string(),
            "pattern '[a-Z]': range 'a-Z' is not within a-z, A-Z or 0-9 in ascending order"
        );
    }

    #[test]
    fn negation_order_the_last_match_decides() {
        // The docs' example for branches.
        let f = filter(&["releases/**", "!releases/**-alpha"]);
        assert!(f.selects("releases/10"));
        assert!(f.selects("releases/beta/mona"));
        assert!(!f.selects("releases/10-alpha"));
        assert!(!f.selects("releases/beta/3-alpha"));
        assert!(!f.selects("main"));
        assert_eq!(
            f.deciding("releases/10-alpha").unwrap().text,
            "!releases/**-alpha"
        );
        assert!(f.deciding("main").is_none());

        // The cheat sheet's paths examples: a later positive re-includes.
        let f = filter(&["*.md", "!README.md"]);
        assert!(f.selects("hello.md"));
        assert!(!f.selects("README.md"));
        assert!(!f.selects("docs/hello.md"));
        let f = filter(&["*.md", "!README.md", "README*"]);
        assert!(f.selects("hello.md") && f.selects("README.md") && f.selects("README.doc"));
    }

    #[test]
    fn bang_is_special_only_at_the_start() {
        let f = filter(&["a!b"]);
        assert!(f.selects("a!b"));
        assert!(!f.patterns()[0].negated);
        assert!(filter(&["!x"]).only_negated());
        assert!(!filter(&["y", "!x"]).only_negated());
    }

    #[test]
    fn filters_render_as_the_reasons_show_them() {
        assert_eq!(
            filter(&["release-*", "!release-1"]).to_string(),
            "['release-*', '!release-1']"
        );
    }

    #[test]
    fn long_names_stay_fast() {
        let name = "a/".repeat(200) + "b";
        assert!(m("**/**/**/*b", &name));
        assert!(!m("**/**/**/*c", &name));
    }
}
