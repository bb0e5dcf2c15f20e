//! The mappers an instance names (`mapper_out`, `mapper_in`) and who evaluates them: this
//! component's mapper engine, or the platform the connector runs inside (XSOAR's
//! `demisto.mapObject`, through the host's `platform.map-object`), as the invocation asks
//! (`config::Platform::mapping`).
//!
//! Inside XSOAR the platform maps, as the original integration does: the instance's mapper
//! names are then XSOAR's mappers, so any mapper the admin duplicated and edited works.
//! Outside XSOAR (iam-host, the Node host, the Python host's command line) the engine maps
//! the two built-in SCIM mappers and those of the `mappers` parameter.

use serde_json::{Map, Value};

use super::Mapper;
use crate::error::{Error, json_kind};
use crate::transport::Transport;

/// A mapper the instance names, ready to map.
#[derive(Debug, Clone)]
pub enum InstanceMapper {
    /// Evaluated here, by the mapper engine.
    Engine(Mapper),
    /// The platform's mapper of this name, evaluated by the platform.
    Platform(String),
}

impl InstanceMapper {
    /// The mapper named `name`: the platform's when `platform_mapping`, else the engine's
    /// (found in `configured`, then among the built-ins; an unknown name is a configuration
    /// error). None for the empty name, which means no mapping in both cases.
    pub fn resolve(
        name: &str,
        configured: &[Value],
        platform_mapping: bool,
    ) -> Result<Option<InstanceMapper>, Error> {
        if name.is_empty() {
            Ok(None)
        } else if platform_mapping {
            Ok(Some(InstanceMapper::Platform(name.to_string())))
        } else {
            Mapper::find(name, configured).map(|mapper| Some(InstanceMapper::Engine(mapper)))
        }
    }

    /// Map `source` for an incident type. The platform's mapper is asked through
    /// `transport` (`Transport::map_object`); what it cannot map is an error entry naming
    /// the mapper, the incident type and the platform's reason.
    pub fn map<T: Transport>(
        &self,
        incident_type: &str,
        source: &Map<String, Value>,
        transport: &mut T,
    ) -> Result<Map<String, Value>, Error> {
        match self {
            InstanceMapper::Engine(mapper) => mapper.map(incident_type, source),
            InstanceMapper::Platform(name) => {
                let failed = |why: String| Error::PlatformMapping {
                    mapper: name.clone(),
                    incident_type: incident_type.to_string(),
                    why,
                };
                let object = crate::json::map_text(source);
                let mapped = transport
                    .map_object(&object, name, incident_type)
                    .map_err(failed)?;
                match serde_json::from_str::<Value>(&mapped) {
                    Ok(Value::Object(mapped)) => Ok(mapped),
                    // XSOAR answers `null` when a mapper maps nothing.
                    Ok(Value::Null) => Ok(Map::new()),
                    Ok(other) => Err(failed(format!(
                        "it gave {}, not an object",
                        json_kind(&other)
                    ))),
                    Err(error) => Err(failed(format!("it gave text that is not JSON ({error})"))),
                }
            }
        }
    }

    /// The mapper's name, as the instance gave it.
    pub fn name(&self) -> &str {
        match self {
            InstanceMapper::Engine(mapper) => &mapper.name,
            InstanceMapper::Platform(name) => name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::fake::FakeTransport;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn with_platform_mapping_any_name_is_the_platforms_and_the_engine_is_never_asked() {
        let mapper = InstanceMapper::resolve("My Custom Outgoing", &[], true)
            .unwrap()
            .unwrap();
        let mut transport = FakeTransport::default();
        transport
            .platform_answers
            .push_back(Ok(r#"{"userName":"jdoe","nickName":"JD"}"#.into()));
        let mapped = mapper
            .map(
                "User Profile - Create",
                &object(json!({"username": "jdoe", "nick": "JD"})),
                &mut transport,
            )
            .unwrap();
        assert_eq!(
            Value::Object(mapped),
            json!({"userName": "jdoe", "nickName": "JD"})
        );
        assert_eq!(
            transport.platform_asked,
            [(
                r#"{"username":"jdoe","nick":"JD"}"#.to_string(),
                "My Custom Outgoing".to_string(),
                "User Profile - Create".to_string()
            )]
        );
        assert!(transport.sent.is_empty());
    }

    #[test]
    fn without_platform_mapping_the_engine_maps_and_an_unknown_name_is_a_configuration_error() {
        let mut transport = FakeTransport::default();
        let builtin = InstanceMapper::resolve("User Profile - SCIM (Outgoing)", &[], false)
            .unwrap()
            .unwrap();
        let mapped = builtin
            .map(
                "User Profile - Create",
                &object(json!({"username": "jdoe"})),
                &mut transport,
            )
            .unwrap();
        assert_eq!(Value::Object(mapped), json!({"userName": "jdoe"}));
        assert!(transport.platform_asked.is_empty());
        let unknown = InstanceMapper::resolve("My Custom Outgoing", &[], false).unwrap_err();
        assert!(
            unknown
                .to_string()
                .starts_with("Invalid mapper configuration: unknown mapper \"My Custom Outgoing\""),
            "{unknown}"
        );
    }

    #[test]
    fn the_empty_name_is_no_mapping_either_way() {
        for platform in [false, true] {
            assert!(
                InstanceMapper::resolve("", &[], platform)
                    .unwrap()
                    .is_none()
            );
        }
    }

    #[test]
    fn what_the_platform_cannot_map_is_an_error_naming_mapper_type_and_reason() {
        let mapper = InstanceMapper::Platform("Custom In".into());
        let source = object(json!({"userName": "jdoe"}));
        let cases = [
            (
                Err("mapper not found".to_string()),
                "The platform could not map with its mapper \"Custom In\" for incident type \"User Profile\": mapper not found",
            ),
            (
                Ok("[1]".to_string()),
                "The platform could not map with its mapper \"Custom In\" for incident type \"User Profile\": it gave an array, not an object",
            ),
        ];
        for (answer, message) in cases {
            let mut transport = FakeTransport::default();
            transport.platform_answers.push_back(answer);
            let error = mapper
                .map("User Profile", &source, &mut transport)
                .unwrap_err();
            assert_eq!(error.to_string(), message);
        }
        // A host without a platform mapper says so, in the same sentence.
        let error = mapper
            .map("User Profile", &source, &mut FakeTransport::default())
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "The platform could not map with its mapper \"Custom In\" for incident type \"User Profile\": this host has no platform mapper"
        );
    }
}

/// The platform's mapping in whole commands (`invocation::run`, as a host runs them), with a
/// fake platform mapper: what it answers stands for what XSOAR's `demisto.mapObject` gives
/// for an admin's own mappers, names the engine does not know.
#[cfg(test)]
mod in_commands {
    use crate::invocation::{self, EntryType};
    use crate::transport::Method;
    use crate::transport::fake::{FakeTransport, json};
    use serde_json::{Value, json};

    const OUT: &str = "Acme Outgoing (duplicated from SCIM)";
    const IN: &str = "Acme Incoming (duplicated from SCIM)";

    fn invocation(command: &str, args: Value) -> String {
        json!({
            "command": command,
            "params": {
                "url": "https://api.atlassian.com", "directory_id": "d1",
                "mapper_out": OUT, "mapper_in": IN, "instance_name": "Acme_instance_1",
                "platform": {"mapping": true, "brand": "Atlassian IAM (Wasm)"}
            },
            "args": args
        })
        .to_string()
    }

    fn entry(json_text: &str) -> Value {
        serde_json::from_str(json_text).unwrap()
    }

    /// iam-create-user with an outgoing mapper of the admin's that maps `costcenter` to the
    /// SCIM enterprise 2.0 extension (the built-in one knows neither). XSOAR's mapping of the
    /// profile gives the object the fake answers; the POST carries it with `schemas` and
    /// `active` added (behaviour.md §4.2), and the result is the created user.
    #[test]
    fn create_posts_what_the_platforms_outgoing_mapper_gave() {
        let profile =
            json!({"email": "jdoe@acme.example", "username": "jdoe", "costcenter": "CC-9"});
        let by_xsoar = json!({
            "userName": "jdoe",
            "emails": [{"value": "jdoe@acme.example", "primary": true}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"costCenter": "CC-9"}
        });
        let created = r#"{"id":"u-1","userName":"jdoe","active":true,"emails":[{"value":"jdoe@acme.example","primary":true}]}"#;
        let mut transport = FakeTransport::answering(vec![
            json(200, r#"{"totalResults":0,"Resources":[]}"#),
            json(201, created),
        ]);
        transport
            .platform_answers
            .push_back(Ok(by_xsoar.to_string()));
        let outcome = invocation::run(
            &invocation("iam-create-user", json!({"user-profile": profile})),
            Some("access_token"),
            &mut transport,
        );
        assert_eq!(
            outcome.entry_type,
            EntryType::Note,
            "{}",
            outcome.entry_json
        );
        assert_eq!(
            transport.platform_asked,
            [(
                profile.to_string(),
                OUT.to_string(),
                "User Profile - Create".to_string()
            )]
        );
        let (lookup, post) = (&transport.sent[0], &transport.sent[1]);
        assert_eq!(lookup.method, Method::Get);
        assert_eq!(
            lookup.url,
            "https://api.atlassian.com/scim/directory/d1/Users?filter=userName%20eq%20%22jdoe%22"
        );
        assert_eq!(post.method, Method::Post);
        let body: Value = serde_json::from_str(post.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({
                "userName": "jdoe",
                "emails": [{"value": "jdoe@acme.example", "primary": true}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"costCenter": "CC-9"},
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "active": true
            })
        );
        let vendor = json!({
            "brand": "Atlassian IAM (Wasm)", "instanceName": "Acme_instance_1", "action": "create",
            "success": true, "active": true, "id": "u-1", "username": "jdoe",
            "email": "jdoe@acme.example", "errorCode": null, "errorMessage": "",
            "details": serde_json::from_str::<Value>(created).unwrap(),
            "skipped": false, "reason": ""
        });
        let entry = entry(&outcome.entry_json);
        assert_eq!(entry["Contents"], vendor);
        assert!(
            entry["HumanReadable"]
                .as_str()
                .unwrap()
                .starts_with("### Create User Results (Atlassian IAM (Wasm))\n")
        );
    }

    /// iam-get-user: the profile is mapped for `User Profile - Update` to find the user, and
    /// the user read is mapped by the admin's incoming mapper for `User Profile`; that object
    /// is what goes to IAM.UserProfile (behaviour.md §4.1).
    #[test]
    fn get_maps_the_user_read_with_the_platforms_incoming_mapper() {
        let profile = json!({"email": "jdoe@acme.example"});
        let user = json!({
            "id": "u-1", "userName": "jdoe@acme.example", "active": false,
            "emails": [{"value": "jdoe@acme.example", "primary": true}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"costCenter": "CC-9"}
        });
        let by_xsoar_in = json!({"email": "jdoe@acme.example", "username": "jdoe@acme.example", "costcenter": "CC-9"});
        let mut transport = FakeTransport::answering(vec![json(
            200,
            &json!({"totalResults": 1, "Resources": [user]}).to_string(),
        )]);
        transport
            .platform_answers
            .push_back(Ok(json!({"userName": "jdoe@acme.example"}).to_string()));
        transport
            .platform_answers
            .push_back(Ok(by_xsoar_in.to_string()));
        let outcome = invocation::run(
            &invocation("iam-get-user", json!({"user-profile": profile})),
            Some("access_token"),
            &mut transport,
        );
        assert_eq!(
            outcome.entry_type,
            EntryType::Note,
            "{}",
            outcome.entry_json
        );
        assert_eq!(
            transport.platform_asked,
            [
                (
                    profile.to_string(),
                    OUT.to_string(),
                    "User Profile - Update".to_string()
                ),
                (user.to_string(), IN.to_string(), "User Profile".to_string()),
            ]
        );
        let entry = entry(&outcome.entry_json);
        let vendor = json!({
            "brand": "Atlassian IAM (Wasm)", "instanceName": "Acme_instance_1", "action": "get",
            "success": true, "active": false, "id": "u-1", "username": "jdoe@acme.example",
            "email": "jdoe@acme.example", "errorCode": null, "errorMessage": "",
            "details": user, "skipped": false, "reason": ""
        });
        assert_eq!(entry["Contents"], vendor);
        assert_eq!(
            entry["EntryContext"]["IAM.UserProfile(val.email && val.email == obj.email)"],
            by_xsoar_in
        );
    }

    /// What the platform cannot map ends the command in a Type 4 entry that says so, before
    /// any request.
    #[test]
    fn a_platform_mapping_error_is_a_type_4_entry_and_nothing_is_sent() {
        let mut transport = FakeTransport::default();
        transport
            .platform_answers
            .push_back(Err("the platform mapper failed: mapper not found".into()));
        let outcome = invocation::run(
            &invocation(
                "iam-disable-user",
                json!({"user-profile": {"email": "a@b.c"}}),
            ),
            Some("access_token"),
            &mut transport,
        );
        assert_eq!(outcome.entry_type, EntryType::Error);
        assert_eq!(
            entry(&outcome.entry_json),
            json!({"Type": 4, "ContentsFormat": "text", "Contents": format!(
                "The platform could not map with its mapper {OUT:?} for incident type \"User Profile - Update\": the platform mapper failed: mapper not found"
            )})
        );
        assert!(transport.sent.is_empty());
    }

    /// The same names without platform mapping are the engine's, which does not know them.
    #[test]
    fn without_platform_mapping_the_admins_mapper_names_are_a_configuration_error() {
        let text = invocation("iam-get-user", json!({"user-profile": {"email": "a@b.c"}}))
            .replace(r#""mapping":true"#, r#""mapping":false"#);
        let mut transport = FakeTransport::default();
        let outcome = invocation::run(&text, Some("access_token"), &mut transport);
        assert_eq!(outcome.entry_type, EntryType::Error);
        assert!(
            outcome.entry_json.contains("unknown mapper"),
            "{}",
            outcome.entry_json
        );
        assert!(transport.platform_asked.is_empty() && transport.sent.is_empty());
    }
}
