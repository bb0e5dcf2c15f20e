//! XSOAR war-room entries as JSON text: the IAM result entry (Type 1 with `IAM.Vendor`,
//! `IAM.UserProfile` and the markdown table), text and JSON entries, and error entries
//! (Type 4). The vendor result's key order is part of the contract (behaviour.md §5).

use serde_json::{Map, Value, json};

use crate::markdown;

pub const BRAND: &str = "Atlassian IAM";
const USER_PROFILE_KEY: &str = "IAM.UserProfile(val.email && val.email == obj.email)";
const VENDOR_KEY: &str = "IAM.Vendor(val.instanceName && val.instanceName == obj.instanceName && val.email && val.email == obj.email)";
const COLUMNS: [&str; 10] = [
    "brand",
    "instanceName",
    "success",
    "active",
    "id",
    "username",
    "email",
    "errorCode",
    "errorMessage",
    "details",
];
const SKIPPED_COLUMNS: [&str; 4] = ["brand", "instanceName", "skipped", "reason"];

/// The IAM action that produced a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Get,
    Create,
    Update,
    Disable,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Get => "get",
            Action::Create => "create",
            Action::Update => "update",
            Action::Disable => "disable",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Action::Get => "Get User Results (Atlassian IAM)",
            Action::Create => "Create User Results (Atlassian IAM)",
            Action::Update => "Update User Results (Atlassian IAM)",
            Action::Disable => "Disable User Results (Atlassian IAM)",
        }
    }
}

/// `IAM.Vendor` (behaviour.md §5).
#[derive(Debug, Clone, PartialEq)]
pub struct VendorResult {
    pub action: Action,
    pub success: bool,
    pub active: Option<bool>,
    pub id: Option<String>,
    pub username: Option<String>,
    pub email: Option<String>,
    pub error_code: Option<u16>,
    pub error_message: String,
    pub details: Value,
    pub skipped: bool,
    pub reason: String,
}

impl VendorResult {
    /// The result as JSON, keys in the fixed order.
    pub fn to_json(&self, instance_name: &str) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("brand".into(), json!(BRAND));
        out.insert("instanceName".into(), json!(instance_name));
        out.insert("action".into(), json!(self.action.as_str()));
        out.insert("success".into(), json!(self.success));
        out.insert("active".into(), json!(self.active));
        out.insert("id".into(), json!(self.id));
        out.insert("username".into(), json!(self.username));
        out.insert("email".into(), json!(self.email));
        out.insert("errorCode".into(), json!(self.error_code));
        out.insert("errorMessage".into(), json!(self.error_message));
        out.insert("details".into(), self.details.clone());
        out.insert("skipped".into(), json!(self.skipped));
        out.insert("reason".into(), json!(self.reason));
        out
    }
}

/// An IAM command's result, rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct IamOutput {
    pub result: VendorResult,
    /// What goes to `IAM.UserProfile`.
    pub profile: Value,
    pub markdown: String,
    pub entry_json: String,
}

impl IamOutput {
    pub fn new(result: VendorResult, profile: Value, instance_name: &str) -> IamOutput {
        let vendor = result.to_json(instance_name);
        let columns: &[&str] = if result.skipped {
            &SKIPPED_COLUMNS
        } else {
            &COLUMNS
        };
        let markdown = markdown::table(result.action.title(), &vendor, columns);
        let mut context = Map::new();
        context.insert(USER_PROFILE_KEY.into(), profile.clone());
        context.insert(VENDOR_KEY.into(), Value::Object(vendor.clone()));
        let mut entry = Map::new();
        entry.insert("Type".into(), json!(1));
        entry.insert("ContentsFormat".into(), json!("json"));
        entry.insert("Contents".into(), Value::Object(vendor));
        entry.insert("EntryContext".into(), Value::Object(context));
        entry.insert("HumanReadable".into(), json!(markdown));
        let entry_json = Value::Object(entry).to_string();
        IamOutput {
            result,
            profile,
            markdown,
            entry_json,
        }
    }
}

/// A Type 1 text entry (test-module's `ok`).
pub fn text_entry(text: &str) -> String {
    json!({"Type": 1, "ContentsFormat": "text", "Contents": text}).to_string()
}

/// A Type 1 JSON entry (get-mapping-fields).
pub fn json_entry(contents: &Value) -> String {
    json!({"Type": 1, "ContentsFormat": "json", "Contents": contents}).to_string()
}

/// A Type 4 error entry.
pub fn error_entry(message: &str) -> String {
    json!({"Type": 4, "ContentsFormat": "text", "Contents": message}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_keys_keep_their_order_and_empty_texts_are_empty_strings() {
        let result = VendorResult {
            action: Action::Disable,
            success: true,
            active: None,
            id: None,
            username: None,
            email: Some("e@x".into()),
            error_code: None,
            error_message: String::new(),
            details: Value::Null,
            skipped: true,
            reason: "User does not exist".into(),
        };
        let output = IamOutput::new(result, json!({"email": "e@x"}), "inst1");
        assert_eq!(
            output.entry_json,
            concat!(
                r#"{"Type":1,"ContentsFormat":"json","Contents":{"brand":"Atlassian IAM","instanceName":"inst1","action":"disable","success":true,"active":null,"id":null,"username":null,"email":"e@x","errorCode":null,"errorMessage":"","details":null,"skipped":true,"reason":"User does not exist"},"#,
                r#""EntryContext":{"IAM.UserProfile(val.email && val.email == obj.email)":{"email":"e@x"},"IAM.Vendor(val.instanceName && val.instanceName == obj.instanceName && val.email && val.email == obj.email)":{"brand":"Atlassian IAM","instanceName":"inst1","action":"disable","success":true,"active":null,"id":null,"username":null,"email":"e@x","errorCode":null,"errorMessage":"","details":null,"skipped":true,"reason":"User does not exist"}},"#,
                r####""HumanReadable":"### Disable User Results (Atlassian IAM)\n|brand|instanceName|skipped|reason|\n|---|---|---|---|\n| Atlassian IAM | inst1 | true | User does not exist |\n"}"####
            )
        );
    }

    #[test]
    fn error_and_text_entries() {
        assert_eq!(
            error_entry("bad \"x\""),
            r#"{"Type":4,"ContentsFormat":"text","Contents":"bad \"x\""}"#
        );
        assert_eq!(
            text_entry("ok"),
            r#"{"Type":1,"ContentsFormat":"text","Contents":"ok"}"#
        );
    }
}
