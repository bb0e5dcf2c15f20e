//! XSOAR mapper paths: `.` separates keys, `\.` is a literal dot inside a key, `.[N]` (or a
//! bare `[N]` segment) indexes a list; a key applied to a list reads it from every item.

use serde_json::{Map, Value};
use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Borrowed for the compiled built-in mappers, owned for parsed ones.
    Key(Cow<'static, str>),
    Index(usize),
}

/// Split a path into segments.
pub fn parse(path: &str) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'.') => {
                current.push('.');
                chars.next();
            }
            '.' => segments.push(segment(std::mem::take(&mut current))),
            other => current.push(other),
        }
    }
    segments.push(segment(current));
    segments.retain(|s| !matches!(s, Segment::Key(k) if k.is_empty()));
    segments
}

fn segment(text: String) -> Segment {
    text.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|index| index.trim().parse().ok())
        .map_or(Segment::Key(Cow::Owned(text)), Segment::Index)
}

/// Read a path from an object (a mapper's source); none when any step is missing.
pub fn read_in(object: &Map<String, Value>, segments: &[Segment]) -> Option<Value> {
    match segments.split_first() {
        None => Some(Value::Object(object.clone())),
        Some((Segment::Key(key), rest)) => object.get(key.as_ref()).and_then(|v| read(v, rest)),
        Some((Segment::Index(_), _)) => None,
    }
}

/// Read a path below `value`; none when any step is missing.
pub fn read(value: &Value, segments: &[Segment]) -> Option<Value> {
    let Some((first, rest)) = segments.split_first() else {
        return Some(value.clone());
    };
    match (first, value) {
        (Segment::Key(key), Value::Object(map)) => {
            map.get(key.as_ref()).and_then(|v| read(v, rest))
        }
        (Segment::Index(index), Value::Array(items)) => {
            items.get(*index).and_then(|v| read(v, rest))
        }
        (Segment::Key(_), Value::Array(items)) => {
            let found: Vec<Value> = items
                .iter()
                .filter_map(|item| read(item, segments))
                .collect();
            (!found.is_empty()).then_some(Value::Array(found))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escaped_dots_stay_inside_a_key() {
        assert_eq!(
            parse(r"urn:scim:schemas:extension:enterprise:1\.0.costCenter"),
            vec![
                Segment::Key("urn:scim:schemas:extension:enterprise:1.0".into()),
                Segment::Key("costCenter".into())
            ]
        );
    }

    #[test]
    fn list_indexes_and_keys_over_lists() {
        let user = json!({"emails": [{"value": "a"}, {"value": "b"}], "n": {"x": 1}});
        assert_eq!(read(&user, &parse("emails.[1].value")), Some(json!("b")));
        assert_eq!(read(&user, &parse("emails.value")), Some(json!(["a", "b"])));
        assert_eq!(read(&user, &parse("emails.[5].value")), None);
        assert_eq!(read(&user, &parse("n.x")), Some(json!(1)));
        assert_eq!(read(&user, &parse("n.y")), None);
        assert_eq!(read(&user, &parse("n.x.deeper")), None);
    }
}
