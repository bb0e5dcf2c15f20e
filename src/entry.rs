//! XSOAR war-room entries as JSON text: the IAM result entry (Type 1 with `IAM.Vendor`,
//! `IAM.UserProfile` and the markdown table), text and JSON entries, and error entries
//! (Type 4). The vendor result's key order is part of the contract (behaviour.md §5).

use serde_json::{Value, json};
use std::borrow::Cow;

use crate::{json, markdown};

/// The brand a result shows when the platform names none (`config::Platform::brand`; inside
/// XSOAR it is the calling context's `IntegrationBrand`, as the original integration shows).
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

    /// The markdown title, `<Action> User Results (<brand>)`, as the original's.
    fn title(self, brand: &str) -> String {
        let action = match self {
            Action::Get => "Get",
            Action::Create => "Create",
            Action::Update => "Update",
            Action::Disable => "Disable",
        };
        format!("{action} User Results ({brand})")
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
    /// The fields in their fixed order; `details` borrowed, not copied.
    fn fields(&self, brand: &str, instance_name: &str) -> [(&'static str, Cow<'_, Value>); 13] {
        let owned = |value: Value| Cow::Owned(value);
        [
            ("brand", owned(json!(brand))),
            ("instanceName", owned(json!(instance_name))),
            ("action", owned(json!(self.action.as_str()))),
            ("success", owned(json!(self.success))),
            ("active", owned(json!(self.active))),
            ("id", owned(json!(self.id))),
            ("username", owned(json!(self.username))),
            ("email", owned(json!(self.email))),
            ("errorCode", owned(json!(self.error_code))),
            ("errorMessage", owned(json!(self.error_message))),
            ("details", Cow::Borrowed(&self.details)),
            ("skipped", owned(json!(self.skipped))),
            ("reason", owned(json!(self.reason))),
        ]
    }
}

/// An IAM command's result, rendered. Each part is serialised once and spliced into the
/// entry, which holds the vendor result twice.
#[derive(Debug, Clone, PartialEq)]
pub struct IamOutput {
    pub result: VendorResult,
    /// JSON: what goes to `IAM.UserProfile`.
    pub profile_json: String,
    /// JSON: the result's `details`.
    pub details_json: String,
    pub markdown: String,
    pub entry_json: String,
}

impl IamOutput {
    /// The output of `result` by the integration `brand`'s instance `instance_name`.
    pub fn new(
        result: VendorResult,
        profile: &Value,
        brand: &str,
        instance_name: &str,
    ) -> IamOutput {
        IamOutput::with_profile_json(result, json::text(profile), brand, instance_name)
    }

    /// `new` with the profile already serialised.
    pub fn with_profile_json(
        result: VendorResult,
        profile_json: String,
        brand: &str,
        instance_name: &str,
    ) -> IamOutput {
        let fields = result.fields(brand, instance_name);
        let columns: &[&str] = if result.skipped {
            &SKIPPED_COLUMNS
        } else {
            &COLUMNS
        };
        let row: Vec<(&str, &Value)> = columns
            .iter()
            .filter_map(|column| {
                fields
                    .iter()
                    .find(|(key, _)| key == column)
                    .map(|(key, value)| (*key, value.as_ref()))
            })
            .collect();
        let markdown = markdown::table(&result.action.title(brand), &row);

        let details_json = json::text(&result.details);
        let mut vendor_json = String::with_capacity(details_json.len() + 400);
        vendor_json.push('{');
        for (index, (key, value)) in fields.iter().enumerate() {
            if index > 0 {
                vendor_json.push(',');
            }
            json::push_string_literal(&mut vendor_json, key);
            vendor_json.push(':');
            if *key == "details" {
                vendor_json.push_str(&details_json);
            } else {
                json::push_value(&mut vendor_json, value);
            }
        }
        vendor_json.push('}');

        let mut entry_json = String::with_capacity(
            2 * vendor_json.len() + profile_json.len() + markdown.len() + 400,
        );
        entry_json.push_str(r#"{"Type":1,"ContentsFormat":"json","Contents":"#);
        entry_json.push_str(&vendor_json);
        entry_json.push_str(r#","EntryContext":{"#);
        json::push_string_literal(&mut entry_json, USER_PROFILE_KEY);
        entry_json.push(':');
        entry_json.push_str(&profile_json);
        entry_json.push(',');
        json::push_string_literal(&mut entry_json, VENDOR_KEY);
        entry_json.push(':');
        entry_json.push_str(&vendor_json);
        entry_json.push_str(r#"},"HumanReadable":"#);
        json::push_string_literal(&mut entry_json, &markdown);
        entry_json.push('}');
        drop(fields);
        IamOutput {
            result,
            profile_json,
            details_json,
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
        let output = IamOutput::new(result.clone(), &json!({"email": "e@x"}), BRAND, "inst1");
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
    fn the_brand_the_platform_names_is_the_vendor_brand_and_in_the_title() {
        let result = VendorResult {
            action: Action::Get,
            success: true,
            active: Some(true),
            id: Some("u1".into()),
            username: None,
            email: None,
            error_code: None,
            error_message: String::new(),
            details: json!({}),
            skipped: false,
            reason: String::new(),
        };
        let output = IamOutput::new(result, &json!({}), "Atlassian IAM (Wasm)", "i");
        let entry: Value = serde_json::from_str(&output.entry_json).unwrap();
        assert_eq!(entry["Contents"]["brand"], "Atlassian IAM (Wasm)");
        assert_eq!(
            entry["HumanReadable"],
            "### Get User Results (Atlassian IAM (Wasm))\n|brand|instanceName|success|active|id|\n|---|---|---|---|---|\n| Atlassian IAM (Wasm) | i | true | true | u1 |\n"
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
