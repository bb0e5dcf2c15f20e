//! The desired state (sync.md §1): one XSOAR user profile per JSON line, or per CSV row under
//! a header of profile keys, each with two keys of the sync's own: `groups` (the group names
//! the person must belong to) and `active` (default true). Each profile is mapped by the
//! instance's outgoing mapper exactly as iam-create-user maps it; the mapped `userName` is
//! the person's identity.
//!
//! A line that cannot be used (not a JSON object, a bad CSV row, no `userName` once mapped,
//! `groups` or `active` of the wrong kind) is an invalid line with its reason: it blocks the
//! plan, since the person on it would otherwise look like a leaver.

pub mod csv;

use serde_json::{Map, Value};
use std::collections::HashSet;

use crate::commands::{CREATE_TYPE, map_instance_profile};
use crate::error::json_kind;
use crate::mapper::InstanceMapper;
use crate::profile::OLD_USER_DATA;
use crate::scim::user::scalar_text;
use crate::transport::Transport;

/// A line's number and its object, or why it has none.
type Numbered = (usize, Result<Map<String, Value>, String>);

/// The key of the groups a person must belong to.
pub const GROUPS: &str = "groups";
/// The key of whether the person is to be active.
pub const ACTIVE: &str = "active";
/// What separates group names in a CSV cell.
const CSV_GROUP_SEPARATOR: char = ';';

/// How the desired state is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object a line.
    Jsonl,
    /// CSV with a header row of profile keys.
    Csv,
}

/// One person of the desired state.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredProfile {
    /// The line it is on, from 1.
    pub line: usize,
    /// The profile as given, without `groups`, `active` and `olduserdata`: what its jobs
    /// carry (the sync finds users by their id, never through `olduserdata`).
    pub profile: Map<String, Value>,
    /// The profile as iam-create-user maps it.
    pub body: Map<String, Value>,
    /// The body's `userName`: who the person is.
    pub user_name: String,
    /// The groups named, trimmed, each once, in the order given.
    pub groups: Vec<String>,
    pub active: bool,
}

/// A line that gives no usable profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidLine {
    pub line: usize,
    pub reason: String,
}

/// The profiles of the desired state `text`, mapped by `outgoing` (none: no mapping; the
/// platform's mapper is asked through `transport`), each or the reason its line is invalid,
/// in the order of the text.
pub fn read<'t, T: Transport>(
    format: Format,
    text: &'t str,
    outgoing: Option<&'t InstanceMapper>,
    transport: &'t mut T,
) -> impl Iterator<Item = Result<DesiredProfile, InvalidLine>> + 't {
    // A byte order mark, as spreadsheets write it, is not part of the first line.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let objects: Box<dyn Iterator<Item = Numbered> + 't> = match format {
        Format::Jsonl => Box::new(jsonl_objects(text)),
        Format::Csv => Box::new(csv_objects(text)),
    };
    objects.map(move |(line, object)| {
        object
            .and_then(|object| desired_profile(line, object, outgoing, transport))
            .map_err(|reason| InvalidLine { line, reason })
    })
}

/// The JSON object of each line that is not blank.
fn jsonl_objects(text: &str) -> impl Iterator<Item = Numbered> + '_ {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            let object = match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(object)) => Ok(object),
                Ok(other) => Err(format!("expected a JSON object, got {}", json_kind(&other))),
                Err(error) => Err(format!("not valid JSON ({error})")),
            };
            (index + 1, object)
        })
}

/// Each CSV row as an object of its header's keys: an empty cell is an absent key, `groups`
/// a list of the `;`-separated names. A bad header makes every row unreadable: it is the one
/// invalid line then.
fn csv_objects(text: &str) -> impl Iterator<Item = Numbered> + '_ {
    CsvObjects {
        records: csv::Records::new(text),
        columns: None,
        done: false,
    }
}

/// The rows of a CSV text as objects, once its header is read.
struct CsvObjects<'t> {
    records: csv::Records<'t>,
    /// The header's column names, once read.
    columns: Option<Vec<String>>,
    /// The header was bad: nothing more can be read.
    done: bool,
}

impl Iterator for CsvObjects<'_> {
    type Item = Numbered;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let (line, fields) = self.records.next()?;
        let Some(columns) = &self.columns else {
            match fields.and_then(header_columns) {
                Ok(columns) => {
                    self.columns = Some(columns);
                    return self.next();
                }
                Err(reason) => {
                    self.done = true;
                    return Some((line, Err(format!("bad CSV header: {reason}"))));
                }
            }
        };
        let object = fields
            .map_err(|reason| format!("bad CSV row: {reason}"))
            .and_then(|fields| row_object(columns, fields));
        Some((line, object))
    }
}

/// The header's column names, trimmed: each named, none twice.
fn header_columns(names: Vec<String>) -> Result<Vec<String>, String> {
    let names: Vec<String> = names.iter().map(|name| name.trim().to_string()).collect();
    let mut seen = HashSet::with_capacity(names.len());
    for (at, name) in names.iter().enumerate() {
        if name.is_empty() {
            return Err(format!("its column {} has no name", at + 1));
        }
        if !seen.insert(name.as_str()) {
            return Err(format!("it names the column {name:?} twice"));
        }
    }
    Ok(names)
}

/// One CSV row as a profile object.
fn row_object(columns: &[String], fields: Vec<String>) -> Result<Map<String, Value>, String> {
    if fields.len() != columns.len() {
        return Err(format!(
            "bad CSV row: it has {} fields where the header has {}",
            fields.len(),
            columns.len()
        ));
    }
    let mut object = Map::new();
    for (column, cell) in columns.iter().zip(fields) {
        if cell.is_empty() {
            continue;
        }
        let value = if column == GROUPS {
            Value::Array(
                cell.split(CSV_GROUP_SEPARATOR)
                    .map(|name| Value::String(name.to_string()))
                    .collect(),
            )
        } else {
            Value::String(cell)
        };
        object.insert(column.clone(), value);
    }
    Ok(object)
}

/// The person of one object: its sync keys taken out and checked, mapped, with a `userName`.
fn desired_profile<T: Transport>(
    line: usize,
    mut profile: Map<String, Value>,
    outgoing: Option<&InstanceMapper>,
    transport: &mut T,
) -> Result<DesiredProfile, String> {
    let groups = group_names(profile.shift_remove(GROUPS))?;
    let active = active_flag(profile.shift_remove(ACTIVE))?;
    profile.shift_remove(OLD_USER_DATA);
    let body = map_instance_profile(outgoing, CREATE_TYPE, &profile, transport)
        .map_err(|error| error.to_string())?;
    let user_name = body
        .get("userName")
        .and_then(scalar_text)
        .ok_or("the profile has no userName once mapped by the outgoing mapper")?;
    Ok(DesiredProfile {
        line,
        profile,
        body,
        user_name,
        groups,
        active,
    })
}

/// `groups`: absent, or a list of names (trimmed; empty ones and repeats dropped).
fn group_names(value: Option<Value>) -> Result<Vec<String>, String> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(format!(
                "\"groups\" must be a list of group names, got {}",
                json_kind(&other)
            ));
        }
    };
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    let mut seen = HashSet::with_capacity(items.len());
    for item in &items {
        let Value::String(name) = item else {
            return Err(format!(
                "\"groups\" must be a list of group names, and holds {}",
                json_kind(item)
            ));
        };
        let name = name.trim();
        if !name.is_empty() && seen.insert(name) {
            names.push(name.to_string());
        }
    }
    Ok(names)
}

/// `active`: absent (true), a boolean, or `"true"`/`"false"` in any case.
fn active_flag(value: Option<Value>) -> Result<bool, String> {
    match value {
        None | Some(Value::Null) => Ok(true),
        Some(Value::Bool(active)) => Ok(active),
        Some(Value::String(text)) if text.trim().eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(text)) if text.trim().eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(format!(
            "\"active\" must be true or false, got {}",
            crate::json::text(&other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn group_names_are_trimmed_and_kept_once_in_the_order_given() {
        let names = group_names(Some(json!([" Eng ", "Ops", "", "Eng", "  ", "ops", "Ops"])));
        assert_eq!(names, Ok(vec!["Eng".into(), "Ops".into(), "ops".into()]));
        assert_eq!(group_names(None), Ok(vec![]));
        assert!(group_names(Some(json!(["a", 1]))).is_err());
        assert!(group_names(Some(json!("a"))).is_err());
    }

    #[test]
    fn a_header_names_each_column_once() {
        let header = |names: &[&str]| header_columns(names.iter().map(|n| n.to_string()).collect());
        assert_eq!(
            header(&[" email", "groups "]),
            Ok(vec!["email".into(), "groups".into()])
        );
        assert_eq!(
            header(&["email", "groups", " email "]),
            Err("it names the column \"email\" twice".into())
        );
        assert_eq!(
            header(&["email", " "]),
            Err("its column 2 has no name".into())
        );
    }
}
