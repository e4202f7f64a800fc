//! Peeling annotated tags without one request per tag.
//!
//! `git/matching-refs` lists a tag ref with the SHA of its tag object, not
//! of the commit. Asking `git/tags/{sha}` for each costs one rate-limited
//! request per annotated tag (2,000 for a repository with 2,000 releases).
//! Instead the tag objects not peeled yet are asked in one GraphQL query per
//! [`GRAPHQL_BATCH`] tags (`object(oid:)` under aliases). A tag object is
//! immutable, so every answer is kept: in memory for the run and in the
//! persistent cache ([`super::cache::DiskCache`]) for later runs, which then
//! peel nothing at all. A refused query is tried again with [`SMALL_BATCH`]
//! tags; when GraphQL is unavailable (an old GitHub Enterprise, a proxy that
//! only passes REST) the tags are peeled one by one over REST, as before.

use ::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::http::Idempotency;
use super::{Client, GitObject};
use crate::error::Result;

/// Tag objects asked per GraphQL query (one alias each). GitHub limits a
/// query to 500,000 nodes; an `object(oid:)` lookup is one.
pub const GRAPHQL_BATCH: usize = 1000;

/// The batch tried when a query of [`GRAPHQL_BATCH`] is refused (a server
/// with a lower complexity limit), before falling back to REST.
pub const SMALL_BATCH: usize = 100;

/// The GraphQL endpoint next to a REST base: `https://api.github.com/graphql`,
/// and `https://HOST/api/graphql` for GitHub Enterprise's `https://HOST/api/v3`.
pub fn graphql_url(api_url: &str) -> String {
    let api = api_url.trim_end_matches('/');
    match api.strip_suffix("/api/v3") {
        Some(base) => format!("{base}/api/graphql"),
        None => format!("{api}/graphql"),
    }
}

fn is_oid(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The query asking the target of each tag object in `oids` (valid hex only:
/// they are written into the query text; owner and name are variables).
fn query(oids: &[&str]) -> String {
    let mut q =
        String::from("query($owner:String!,$name:String!){repository(owner:$owner,name:$name){");
    for (i, oid) in oids.iter().enumerate() {
        q.push_str(&format!(
            "t{i}:object(oid:\"{oid}\"){{...on Tag{{target{{__typename oid}}}}}}"
        ));
    }
    q.push_str("}}");
    q
}

impl Client {
    /// Records peeled tags (tag object SHA, target SHA) in memory and, with
    /// `persist`, in the persistent cache (one write for the whole list).
    pub(super) fn remember_peels(&self, new: &[(String, String)], persist: bool) {
        if new.is_empty() {
            return;
        }
        if let Ok(mut p) = self.peeled.lock() {
            for (t, c) in new {
                p.insert(t.clone(), c.clone());
            }
        }
        if let (true, Some(disk)) = (persist, &self.disk) {
            disk.add_peeled(new);
        }
    }

    /// Peels every annotated tag among `objects` that is not peeled yet, with
    /// GraphQL in batches; afterwards [`Client::peel`] answers them without a
    /// request. Tags GraphQL could not answer are left to `peel` (REST).
    pub(super) async fn peel_all<'a>(
        &self,
        objects: impl IntoIterator<Item = &'a GitObject>,
    ) -> Result<()> {
        let known = self.peeled.lock().map(|p| p.clone()).unwrap_or_default();
        let mut todo: Vec<String> = objects
            .into_iter()
            .filter(|o| o.kind == "tag" && is_oid(&o.sha) && !known.contains_key(&o.sha))
            .map(|o| o.sha.clone())
            .collect();
        todo.sort();
        todo.dedup();
        // One tag costs one request either way; REST needs no GraphQL access.
        if todo.len() < 2 {
            return Ok(());
        }
        // (original tag object, the object reached so far)
        let mut pending: Vec<(String, String)> = todo.into_iter().map(|t| (t.clone(), t)).collect();
        let mut learned = Vec::new();
        for _ in 0..5 {
            if pending.is_empty() {
                break;
            }
            let mut next = Vec::new();
            let mut batch = GRAPHQL_BATCH;
            let mut at = 0;
            while at < pending.len() {
                let chunk = &pending[at..(at + batch).min(pending.len())];
                let oids: Vec<&str> = chunk.iter().map(|(_, cur)| cur.as_str()).collect();
                let Some(targets) = self.graphql_targets(&oids).await? else {
                    if batch > SMALL_BATCH {
                        // A query too big for this server: smaller ones.
                        batch = SMALL_BATCH;
                        continue;
                    }
                    // No GraphQL here: keep what was learned, REST does the rest.
                    self.remember_peels(&learned, true);
                    return Ok(());
                };
                at += chunk.len();
                for ((orig, _), target) in chunk.iter().zip(targets) {
                    match target {
                        Some((kind, oid)) if kind == "Tag" => next.push((orig.clone(), oid)),
                        Some((_, oid)) => learned.push((orig.clone(), oid)),
                        None => {}
                    }
                }
            }
            pending = next;
        }
        self.remember_peels(&learned, true);
        Ok(())
    }

    /// The target (`__typename`, `oid`) of each tag object in `oids`, in
    /// order (`None` for one GitHub did not answer); `Ok(None)` when GraphQL
    /// is not available, refused (403) or answered something else. Rate
    /// limits, bad credentials and network failures are errors as for any
    /// request.
    async fn graphql_targets(
        &self,
        oids: &[&str],
    ) -> Result<Option<Vec<Option<(String, String)>>>> {
        let body = json!({
            "query": query(oids),
            "variables": {"owner": self.owner, "name": self.name},
        });
        let url = graphql_url(&self.api_url);
        let resp = match self
            .http
            .request(Method::POST, &url, Some(&body), Idempotency::Repeatable)
            .await
        {
            Ok(resp) => resp,
            // A 403 on GraphQL alone (a proxy or an SSO policy passing only
            // REST): REST peels the tags, and reports what concerns them.
            Err(e) if e.code == Some("permission_denied") => return Ok(None),
            Err(e) => return Err(e),
        };
        if resp.status != StatusCode::OK {
            return Ok(None);
        }
        let Ok(v) = serde_json::from_str::<Value>(&resp.body) else {
            return Ok(None);
        };
        let Some(repo) = v.pointer("/data/repository").filter(|r| r.is_object()) else {
            return Ok(None);
        };
        Ok(Some(
            (0..oids.len())
                .map(|i| {
                    let t = repo.get(format!("t{i}"))?.get("target")?;
                    let kind = t.get("__typename")?.as_str()?;
                    let oid = t.get("oid")?.as_str().filter(|o| is_oid(o))?;
                    Some((kind.to_owned(), oid.to_owned()))
                })
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_graphql_endpoint_sits_next_to_the_rest_base() {
        assert_eq!(
            graphql_url("https://api.github.com"),
            "https://api.github.com/graphql"
        );
        assert_eq!(
            graphql_url("https://ghe.example.com/api/v3/"),
            "https://ghe.example.com/api/graphql"
        );
        assert_eq!(
            graphql_url("http://127.0.0.1:9"),
            "http://127.0.0.1:9/graphql"
        );
    }

    #[test]
    fn the_query_asks_each_object_under_its_alias() {
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        let q = query(&[&a, &b]);
        assert!(q.starts_with("query($owner:String!,$name:String!)"), "{q}");
        assert!(q.contains(&format!("t0:object(oid:\"{a}\")")), "{q}");
        assert!(q.contains(&format!("t1:object(oid:\"{b}\")")), "{q}");
        assert!(q.contains("...on Tag{target{__typename oid}}"), "{q}");
    }
}
