//! The result of a group command (behaviour.md §8.3) and its entry (§8.4): `Contents` with
//! only the keys that have a value, in the fixed order, the same object under the
//! command's context key, and the one-row markdown table.

use serde_json::{Map, Value, json};

use super::GroupCommand;
use crate::{json, markdown};

/// A group command's result, typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupResult {
    pub success: bool,
    /// The SCIM id of the group.
    pub id: Option<String>,
    pub display_name: Option<String>,
    /// The group's members, for a get with `includeMembers`.
    pub members: Option<Value>,
    /// The HTTP status of a failure; none for transport failures and ambiguous matches.
    pub error_code: Option<u16>,
    pub error_message: Option<String>,
    /// For a failed update, how much of the membership change was applied.
    pub details: Option<Value>,
}

impl GroupResult {
    /// `Contents`: the keys in the order of §8.3, each only when it has a value (never null,
    /// never an empty string).
    pub fn contents(&self, brand: &str, instance_name: &str) -> Map<String, Value> {
        let text = |value: &Option<String>| {
            value
                .as_deref()
                .filter(|text| !text.is_empty())
                .map(|text| json!(text))
        };
        let fields = [
            ("brand", Some(json!(brand))),
            (
                "instanceName",
                (!instance_name.is_empty()).then(|| json!(instance_name)),
            ),
            ("success", Some(json!(self.success))),
            ("id", text(&self.id)),
            ("displayName", text(&self.display_name)),
            ("members", self.members.clone()),
            ("errorCode", self.error_code.map(|code| json!(code))),
            ("errorMessage", text(&self.error_message)),
            ("details", self.details.clone()),
        ];
        fields
            .into_iter()
            .filter_map(|(key, value)| match value {
                None | Some(Value::Null) => None,
                Some(value) => Some((key.to_string(), value)),
            })
            .collect()
    }
}

/// A group command's result, rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupOutput {
    pub result: GroupResult,
    pub entry_json: String,
}

impl GroupOutput {
    /// The output of `result` by the integration `brand`'s instance `instance_name`.
    pub fn new(
        command: GroupCommand,
        result: GroupResult,
        brand: &str,
        instance_name: &str,
    ) -> GroupOutput {
        let contents = result.contents(brand, instance_name);
        let row: Vec<(&str, &Value)> = contents
            .iter()
            .map(|(key, value)| (key.as_str(), value))
            .collect();
        let markdown = markdown::table(&command.title(brand), &row);
        let contents_json = json::text(&Value::Object(contents));
        let mut entry_json = String::with_capacity(2 * contents_json.len() + markdown.len() + 120);
        entry_json.push_str(r#"{"Type":1,"ContentsFormat":"json","Contents":"#);
        entry_json.push_str(&contents_json);
        entry_json.push_str(r#","EntryContext":{"#);
        json::push_string_literal(&mut entry_json, command.context_key());
        entry_json.push(':');
        entry_json.push_str(&contents_json);
        entry_json.push_str(r#"},"HumanReadable":"#);
        json::push_string_literal(&mut entry_json, &markdown);
        entry_json.push('}');
        GroupOutput { result, entry_json }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry;

    macro_rules! assert_text_eq {
        ($actual:expr, $expected:expr) => {{
            let (actual, expected) = (&$actual, &$expected);
            assert!(
                actual == expected,
                "\n--- expected\n{expected}\n--- actual\n{actual}\n---"
            );
        }};
    }

    #[test]
    fn a_found_group_with_members_as_an_entry() {
        let result = GroupResult {
            success: true,
            id: Some("g1".into()),
            display_name: Some("Eng|Ops".into()),
            members: Some(json!([{"value": "u1", "display": "a@x.com"}, {"value": "u2"}])),
            ..GroupResult::default()
        };
        let output = GroupOutput::new(GroupCommand::Get, result, entry::BRAND, "inst1");
        assert_text_eq!(
            output.entry_json,
            concat!(
                r#"{"Type":1,"ContentsFormat":"json","Contents":{"brand":"Atlassian IAM","instanceName":"inst1","success":true,"id":"g1","displayName":"Eng|Ops","members":[{"value":"u1","display":"a@x.com"},{"value":"u2"}]},"#,
                r#""EntryContext":{"GetGroup(val.id && val.id == obj.id)":{"brand":"Atlassian IAM","instanceName":"inst1","success":true,"id":"g1","displayName":"Eng|Ops","members":[{"value":"u1","display":"a@x.com"},{"value":"u2"}]}},"#,
                r####""HumanReadable":"### Get Group Results (Atlassian IAM)\n|brand|instanceName|success|id|displayName|members|\n|---|---|---|---|---|---|\n| Atlassian IAM | inst1 | true | g1 | Eng\\|Ops | {'value': 'u1', 'display': 'a@x.com'},<br>{'value': 'u2'} |\n"}"####
            )
        );
    }

    #[test]
    fn absent_and_empty_values_have_no_key_and_empty_members_no_column() {
        let result = GroupResult {
            success: false,
            id: Some(String::new()),
            display_name: Some("Eng".into()),
            members: Some(json!([])),
            error_code: None,
            error_message: Some("boom".into()),
            details: Some(json!({"succeededRequests": 1, "totalRequests": 3})),
        };
        let output = GroupOutput::new(GroupCommand::Update, result, entry::BRAND, "inst1");
        assert_text_eq!(
            output.entry_json,
            concat!(
                r#"{"Type":1,"ContentsFormat":"json","Contents":{"brand":"Atlassian IAM","instanceName":"inst1","success":false,"displayName":"Eng","members":[],"errorMessage":"boom","details":{"succeededRequests":1,"totalRequests":3}},"#,
                r#""EntryContext":{"UpdateGroup(val.id && val.id == obj.id)":{"brand":"Atlassian IAM","instanceName":"inst1","success":false,"displayName":"Eng","members":[],"errorMessage":"boom","details":{"succeededRequests":1,"totalRequests":3}}},"#,
                r####""HumanReadable":"### Update Group Results (Atlassian IAM)\n|brand|instanceName|success|displayName|errorMessage|details|\n|---|---|---|---|---|---|\n| Atlassian IAM | inst1 | false | Eng | boom | succeededRequests: 1<br>totalRequests: 3 |\n"}"####
            )
        );
    }

    #[test]
    fn each_command_has_its_title_and_context_key() {
        for (command, title, key) in [
            (GroupCommand::Get, "Get", "GetGroup"),
            (GroupCommand::Create, "Create", "CreateGroup"),
            (GroupCommand::Update, "Update", "UpdateGroup"),
            (GroupCommand::Delete, "Delete", "DeleteGroup"),
        ] {
            assert_eq!(
                command.title(entry::BRAND),
                format!("{title} Group Results (Atlassian IAM)")
            );
            assert_eq!(
                command.title("Atlassian IAM (Wasm)"),
                format!("{title} Group Results (Atlassian IAM (Wasm))")
            );
            assert_eq!(
                command.context_key(),
                format!("{key}(val.id && val.id == obj.id)")
            );
        }
    }
}
