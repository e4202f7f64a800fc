//! Reading a workflow file's YAML into a [`Workflow`]: the three forms of
//! `on:`, the filters (compiled, so a bad pattern is found here), the jobs'
//! environments, and the combinations GitHub refuses.

use yaml_rust2::{Yaml, YamlLoader};

use super::{Filter, Job, ParseError, RefFilters, Workflow, WorkflowRunTrigger};

impl Workflow {
    /// Parses a workflow file's text. YAML that does not parse is
    /// [`ParseError::Yaml`]; a file GitHub would refuse is
    /// [`ParseError::Invalid`]. Never panics.
    pub fn parse(text: &str) -> Result<Workflow, ParseError> {
        let docs = YamlLoader::load_from_str(text).map_err(|e| ParseError::Yaml(e.to_string()))?;
        let doc = match docs.as_slice() {
            [] => return Err(invalid("the file is empty")),
            [doc] => doc,
            _ => return Err(invalid("the file holds more than one YAML document")),
        };
        let Yaml::Hash(top) = doc else {
            return Err(invalid("the top level is not a mapping"));
        };
        let name = match get(top, "name") {
            None | Some(Yaml::Null) => None,
            Some(y) => Some(scalar(y).ok_or_else(|| invalid("name is not a string"))?),
        };
        let mut workflow = Workflow {
            name,
            ..Workflow::default()
        };
        match get(top, "on") {
            None | Some(Yaml::Null) => return Err(invalid("it has no 'on:' triggers")),
            Some(Yaml::Hash(events)) => {
                for (key, value) in events {
                    let event =
                        scalar(key).ok_or_else(|| invalid("an event under on: is not a name"))?;
                    workflow.add_event(&event, value)?;
                }
            }
            Some(Yaml::Array(events)) => {
                for e in events {
                    let event =
                        scalar(e).ok_or_else(|| invalid("an event in on: [...] is not a name"))?;
                    workflow.add_event(&event, &Yaml::Null)?;
                }
            }
            Some(y) => {
                let event = scalar(y)
                    .ok_or_else(|| invalid("on: is neither an event, a list nor a mapping"))?;
                workflow.add_event(&event, &Yaml::Null)?;
            }
        }
        workflow.jobs = jobs(get(top, "jobs"))?;
        Ok(workflow)
    }

    fn add_event(&mut self, event: &str, value: &Yaml) -> Result<(), ParseError> {
        let at = format!("on.{event}");
        if !matches!(value, Yaml::Null | Yaml::Hash(_)) && event != "schedule" {
            return Err(invalid(format!("{at} is not a mapping")));
        }
        match event {
            "push" => self.push = Some(ref_filters(value, &at, true)?),
            "pull_request" => self.pull_request = Some(ref_filters(value, &at, false)?),
            "workflow_dispatch" => self.workflow_dispatch = true,
            "workflow_run" => self.workflow_run = Some(workflow_run(value, &at)?),
            "schedule" => self.schedule = schedule(value, &at)?,
            _ => {}
        }
        if !self.events.iter().any(|e| e == event) {
            self.events.push(event.to_owned());
        }
        Ok(())
    }
}

fn invalid(message: impl Into<String>) -> ParseError {
    ParseError::Invalid(message.into())
}

fn get<'a>(map: &'a yaml_rust2::yaml::Hash, key: &str) -> Option<&'a Yaml> {
    map.get(&Yaml::String(key.to_owned()))
}

/// A scalar as text (`1.0` and `true` are names too); `None` for the rest.
fn scalar(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A list of names: a sequence of scalars, or one scalar.
fn names(y: &Yaml, at: &str) -> Result<Vec<String>, ParseError> {
    match y {
        Yaml::Array(items) => items
            .iter()
            .map(|i| {
                scalar(i).ok_or_else(|| invalid(format!("{at} holds something other than a name")))
            })
            .collect(),
        Yaml::Null => Ok(Vec::new()),
        other => scalar(other)
            .map(|s| vec![s])
            .ok_or_else(|| invalid(format!("{at} is not a list"))),
    }
}

fn filter(map: &yaml_rust2::yaml::Hash, at: &str, key: &str) -> Result<Option<Filter>, ParseError> {
    let Some(y) = get(map, key) else {
        return Ok(None);
    };
    let at = format!("{at}.{key}");
    let entries = names(y, &at)?;
    let list = Filter::new(&entries).map_err(|e| invalid(format!("{at}: {e}")))?;
    Ok(Some(list))
}

/// Rejects what GitHub rejects: both forms of one filter, or an include list
/// with only `!` patterns.
fn exclusive(
    at: &str,
    include: &Option<Filter>,
    ignore: &Option<Filter>,
    key: &str,
    positive_needed: bool,
) -> Result<(), ParseError> {
    if include.is_some() && ignore.is_some() {
        return Err(invalid(format!(
            "{at} has both {key} and {key}-ignore, which GitHub does not allow for one event"
        )));
    }
    if let Some(list) = include
        .as_ref()
        .filter(|l| positive_needed && l.only_negated())
    {
        return Err(invalid(format!(
            "{at}.{key} {list} has only '!' patterns; GitHub needs at least one without '!' (or use {key}-ignore)"
        )));
    }
    Ok(())
}

fn ref_filters(value: &Yaml, at: &str, with_tags: bool) -> Result<RefFilters, ParseError> {
    let Yaml::Hash(map) = value else {
        return Ok(RefFilters::default());
    };
    let f = RefFilters {
        branches: filter(map, at, "branches")?,
        branches_ignore: filter(map, at, "branches-ignore")?,
        tags: if with_tags {
            filter(map, at, "tags")?
        } else {
            None
        },
        tags_ignore: if with_tags {
            filter(map, at, "tags-ignore")?
        } else {
            None
        },
        paths: filter(map, at, "paths")?,
        paths_ignore: filter(map, at, "paths-ignore")?,
    };
    exclusive(at, &f.branches, &f.branches_ignore, "branches", true)?;
    exclusive(at, &f.tags, &f.tags_ignore, "tags", true)?;
    exclusive(at, &f.paths, &f.paths_ignore, "paths", false)?;
    Ok(f)
}

fn workflow_run(value: &Yaml, at: &str) -> Result<WorkflowRunTrigger, ParseError> {
    let Yaml::Hash(map) = value else {
        return Ok(WorkflowRunTrigger::default());
    };
    let list = |key: &str| match get(map, key) {
        Some(y) => names(y, &format!("{at}.{key}")),
        None => Ok(Vec::new()),
    };
    let run = WorkflowRunTrigger {
        workflows: list("workflows")?,
        types: list("types")?,
        branches: filter(map, at, "branches")?,
        branches_ignore: filter(map, at, "branches-ignore")?,
    };
    exclusive(at, &run.branches, &run.branches_ignore, "branches", true)?;
    Ok(run)
}

fn schedule(value: &Yaml, at: &str) -> Result<Vec<String>, ParseError> {
    match value {
        Yaml::Null => Ok(Vec::new()),
        Yaml::Array(items) => items
            .iter()
            .map(|item| match item {
                Yaml::Hash(m) => get(m, "cron")
                    .and_then(scalar)
                    .ok_or_else(|| invalid(format!("{at}: an entry has no cron"))),
                _ => Err(invalid(format!("{at}: an entry is not {{cron: …}}"))),
            })
            .collect(),
        _ => Err(invalid(format!("{at} is not a list of {{cron: …}}"))),
    }
}

fn jobs(value: Option<&Yaml>) -> Result<Vec<Job>, ParseError> {
    let map = match value {
        None | Some(Yaml::Null) => return Ok(Vec::new()),
        Some(Yaml::Hash(map)) => map,
        Some(_) => return Err(invalid("jobs is not a mapping")),
    };
    let mut out = Vec::new();
    for (key, job) in map {
        let id = scalar(key).ok_or_else(|| invalid("a job id is not a name"))?;
        let Yaml::Hash(body) = job else {
            return Err(invalid(format!("jobs.{id} is not a mapping")));
        };
        let name = get(body, "name").and_then(scalar);
        let environment = match get(body, "environment") {
            None | Some(Yaml::Null) => None,
            Some(Yaml::Hash(env)) => Some(
                get(env, "name")
                    .and_then(scalar)
                    .ok_or_else(|| invalid(format!("jobs.{id}.environment has no name")))?,
            ),
            Some(y) => Some(
                scalar(y).ok_or_else(|| invalid(format!("jobs.{id}.environment is not a name")))?,
            ),
        };
        out.push(Job {
            id,
            name,
            environment,
        });
    }
    Ok(out)
}
