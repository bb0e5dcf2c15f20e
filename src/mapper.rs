//! The XSOAR mapper interpreter (behaviour.md §7): loading a mapper definition (built in or
//! from the configuration's `mappers`), choosing the incident type, and evaluating each
//! field's rule (simple path, or root/accessor/transformers) against a source object.
//!
//! It knows XSOAR's mapper format, not SCIM or HTTP.

mod builtin;
pub mod instance;
// The check that `builtin.rs` is the JSON mappers compiled, and its generator.
#[cfg(test)]
mod codegen;
pub mod path;
pub mod transformers;

use serde_json::{Map, Value};
use std::borrow::Cow;

use crate::error::{Error, json_kind};
pub use instance::InstanceMapper;
use path::Segment;
use transformers::Operator;

/// The built-in mappers: the XSOAR exports in `mapper/builtin/`, compiled into
/// `mapper/builtin.rs` (a test keeps the two equal), because a fresh sandbox loads the
/// built-in mapper on every command and parsing its JSON would dominate the command's cost.
const BUILTIN_NAMES: [&str; 2] = [builtin::OUTGOING, builtin::INCOMING];

/// The incident type whose mapping stands in for a missing one.
const FALLBACK_INCIDENT_TYPE: &str = "User Profile";

/// Resolved transformer arguments by XSOAR argument name.
pub type Args = Map<String, Value>;

/// A mapper, ready to evaluate.
#[derive(Debug, Clone)]
pub struct Mapper {
    /// Borrowed for the built-ins, which are static data: finding one allocates no text.
    pub name: Cow<'static, str>,
    /// Incident type → its `internalMapping`.
    incident_types: Vec<(Cow<'static, str>, Fields)>,
}

/// The fields of an incident type: compiled in (built-ins), or parsed from configuration.
#[derive(Debug, Clone)]
enum Fields {
    Compiled(&'static [Field]),
    Parsed(Vec<Field>),
}

/// Text of a rule: borrowed in the compiled built-in mappers (static data, nothing to
/// build per command), owned in mappers parsed from the configuration.
type Text = Cow<'static, str>;
/// A list of a rule, borrowed or owned likewise.
type List<T> = Cow<'static, [T]>;

#[derive(Debug, Clone)]
struct Field {
    target: Text,
    rule: Rule,
}

#[derive(Debug, Clone)]
enum Rule {
    Simple(List<Segment>),
    Complex {
        root: Root,
        accessor: List<Segment>,
        transformers: List<Transformer>,
        /// behaviour.md §7 [fix]: the chain ends in ParseJSON, so values read from the source
        /// are spliced in as JSON string content.
        escape_for_json: bool,
    },
}

#[derive(Debug, Clone)]
enum Root {
    Path(List<Segment>),
    Template(Text),
}

#[derive(Debug, Clone)]
struct Transformer {
    operator: Operator,
    args: List<(Text, Argument)>,
}

#[derive(Debug, Clone)]
enum Argument {
    /// A literal that may hold `${field}` templates.
    Literal(Text),
    /// A path read from the source (`isContext: true`).
    Context(List<Segment>),
    /// A nested complex value.
    Rule(Cow<'static, Rule>),
}

impl Mapper {
    /// Find a mapper by id or name: the configuration's `mappers` first, then the built-ins.
    pub fn find(name: &str, configured: &[Value]) -> Result<Mapper, Error> {
        for definition in configured {
            let matches = ["id", "name"]
                .iter()
                .any(|key| definition.get(key).and_then(Value::as_str) == Some(name));
            if matches {
                return Mapper::from_definition(definition);
            }
        }
        if let Some(mapper) = builtin::by_name(name) {
            return Ok(mapper);
        }
        Err(Error::InvalidMapper(format!(
            "unknown mapper {name:?}; the built-in mappers are {BUILTIN_NAMES:?}{}",
            if configured.is_empty() {
                ""
            } else {
                " and those in \"mappers\""
            }
        )))
    }

    /// Load an XSOAR mapper JSON object, checking every rule.
    pub fn from_definition(definition: &Value) -> Result<Mapper, Error> {
        let name = definition
            .get("name")
            .or_else(|| definition.get("id"))
            .and_then(Value::as_str)
            .unwrap_or("(unnamed)")
            .to_string();
        let bad = |why: String| Error::InvalidMapper(format!("mapper {name:?}: {why}"));
        let Some(Value::Object(mapping)) = definition.get("mapping") else {
            return Err(bad("\"mapping\" must be an object of incident types".into()));
        };
        let mut incident_types = Vec::with_capacity(mapping.len());
        for (incident_type, entry) in mapping {
            let fields = match entry.get("internalMapping") {
                Some(Value::Object(fields)) => fields,
                Some(Value::Null) | None => &Map::new(),
                Some(other) => {
                    return Err(bad(format!(
                        "internalMapping of {incident_type:?} must be an object, got {}",
                        json_kind(other)
                    )));
                }
            };
            let mut parsed = Vec::with_capacity(fields.len());
            for (target, rule) in fields {
                let context = |why: String| bad(format!("field {target:?}: {why}"));
                if let Some(rule) = parse_rule(rule).map_err(context)? {
                    parsed.push(Field {
                        target: Cow::Owned(target.clone()),
                        rule,
                    });
                }
            }
            incident_types.push((Cow::Owned(incident_type.clone()), Fields::Parsed(parsed)));
        }
        Ok(Mapper {
            name: Cow::Owned(name),
            incident_types,
        })
    }

    /// Map `source` for an incident type. Fields whose value ends up missing, null or
    /// empty are left out; the output keeps `internalMapping` order.
    pub fn map(
        &self,
        incident_type: &str,
        source: &Map<String, Value>,
    ) -> Result<Map<String, Value>, Error> {
        let fields = self.fields_for(incident_type)?;
        let mut out = Map::new();
        for field in fields.iter() {
            let value = evaluate(&field.rule, source, false).map_err(|why| {
                Error::InvalidMapper(format!(
                    "mapper {:?}, field {:?}: {why}",
                    self.name, field.target
                ))
            })?;
            if !transformers::is_empty(&value)
                && let Some(value) = value
            {
                out.insert(field.target.to_string(), value);
            }
        }
        Ok(out)
    }

    /// The requested incident type, else `User Profile`, else the only one.
    fn fields_for(&self, incident_type: &str) -> Result<Cow<'_, [Field]>, Error> {
        let by_name = |wanted: &str| self.incident_types.iter().find(|(name, _)| name == wanted);
        let found = by_name(incident_type)
            .or_else(|| by_name(FALLBACK_INCIDENT_TYPE))
            .or(match self.incident_types.as_slice() {
                [only] => Some(only),
                _ => None,
            });
        match found {
            Some((_, Fields::Compiled(fields))) => Ok(Cow::Borrowed(fields)),
            Some((_, Fields::Parsed(fields))) => Ok(Cow::Borrowed(fields)),
            None => Err(Error::InvalidMapper(format!(
                "mapper {:?} has no mapping for incident type {incident_type:?} nor for {FALLBACK_INCIDENT_TYPE:?}",
                self.name
            ))),
        }
    }
}

/// A rule object `{"simple": …, "complex": …}`; none when it maps nothing.
fn parse_rule(rule: &Value) -> Result<Option<Rule>, String> {
    match rule.get("complex") {
        Some(complex @ Value::Object(_)) => parse_complex(complex).map(Some),
        Some(Value::Null) | None => match rule.get("simple") {
            Some(Value::String(path)) if !path.is_empty() => {
                Ok(Some(Rule::Simple(Cow::Owned(path::parse(path)))))
            }
            Some(Value::String(_)) | Some(Value::Null) | None => Ok(None),
            Some(other) => Err(format!(
                "\"simple\" must be a string, got {}",
                json_kind(other)
            )),
        },
        Some(other) => Err(format!(
            "\"complex\" must be an object, got {}",
            json_kind(other)
        )),
    }
}

fn parse_complex(complex: &Value) -> Result<Rule, String> {
    let root = complex
        .get("root")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let root = if root.contains("${") {
        Root::Template(Cow::Owned(root.to_string()))
    } else {
        Root::Path(Cow::Owned(path::parse(root)))
    };
    let accessor = path::parse(
        complex
            .get("accessor")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    );
    match complex.get("filters") {
        None | Some(Value::Null) => {}
        Some(Value::Array(filters)) if filters.is_empty() => {}
        Some(_) => return Err("filters are not supported; transform the value instead".into()),
    }
    let mut transformers = Vec::new();
    if let Some(list) = complex.get("transformers").and_then(Value::as_array) {
        for transformer in list {
            let name = transformer
                .get("operator")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let operator = Operator::from_name(name)
                .ok_or_else(|| format!("unsupported transformer {name:?}"))?;
            let mut args = Vec::new();
            if let Some(Value::Object(given)) = transformer.get("args") {
                for (arg_name, arg) in given {
                    if let Some(argument) = parse_argument(arg)? {
                        args.push((Cow::Owned(arg_name.clone()), argument));
                    }
                }
            }
            transformers.push(Transformer {
                operator,
                args: Cow::Owned(args),
            });
        }
    }
    let escape_for_json = transformers
        .last()
        .is_some_and(|t| t.operator == Operator::ParseJson);
    Ok(Rule::Complex {
        root,
        accessor: Cow::Owned(accessor),
        transformers: Cow::Owned(transformers),
        escape_for_json,
    })
}

/// `{"isContext": bool, "value": {"simple": …, "complex": …} | null}`.
fn parse_argument(arg: &Value) -> Result<Option<Argument>, String> {
    let value = match arg.get("value") {
        None | Some(Value::Null) => return Ok(None),
        Some(value) => value,
    };
    if let Some(complex @ Value::Object(_)) = value.get("complex") {
        return parse_complex(complex).map(|rule| Some(Argument::Rule(Cow::Owned(rule))));
    }
    let simple = match value.get("simple") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => return Ok(None),
        Some(other) => other.to_string(),
    };
    let is_context = arg
        .get("isContext")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok(Some(if is_context {
        Argument::Context(Cow::Owned(path::parse(&simple)))
    } else {
        Argument::Literal(Cow::Owned(simple))
    }))
}

fn evaluate(
    rule: &Rule,
    source: &Map<String, Value>,
    escape: bool,
) -> Result<Option<Value>, String> {
    match rule {
        Rule::Simple(segments) => Ok(path::read_in(source, segments)),
        Rule::Complex {
            root,
            accessor,
            transformers,
            escape_for_json,
        } => {
            let escape = escape || *escape_for_json;
            let mut value = match root {
                Root::Template(template) => Some(Value::String(expand(template, source, escape))),
                Root::Path(segments) => path::read_in(source, segments).map(|v| escaped(v, escape)),
            };
            if !accessor.is_empty() {
                value = value.and_then(|v| path::read(&v, accessor));
            }
            for transformer in transformers.iter() {
                if transformers::is_empty(&value) && !transformer.operator.applies_to_empty() {
                    continue;
                }
                let mut args = Args::new();
                for (name, argument) in transformer.args.iter() {
                    let resolved = match argument {
                        Argument::Literal(text) => {
                            Some(Value::String(expand(text, source, escape)))
                        }
                        Argument::Context(segments) => {
                            path::read_in(source, segments).map(|v| escaped(v, escape))
                        }
                        Argument::Rule(rule) => evaluate(rule, source, escape)?,
                    };
                    if let Some(resolved) = resolved {
                        args.insert(name.to_string(), resolved);
                    }
                }
                value = transformers::apply(transformer.operator, value, &args)?;
            }
            Ok(value)
        }
    }
}

/// A value read from the source, as JSON string content when it will be spliced into JSON.
fn escaped(value: Value, escape: bool) -> Value {
    match value {
        Value::String(text) if escape => Value::String(crate::json::string_content(&text)),
        other => other,
    }
}

fn expand(template: &str, source: &Map<String, Value>, escape: bool) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let text = path::read_in(source, &path::parse(&after[..end]))
            .map(|v| transformers::text_of(&v))
            .unwrap_or_default();
        if escape {
            out.push_str(&crate::json::string_content(&text));
        } else {
            out.push_str(&text);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(super) fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    pub(super) fn outgoing() -> Mapper {
        Mapper::find("User Profile - SCIM (Outgoing)", &[]).unwrap()
    }

    pub(super) fn incoming() -> Mapper {
        Mapper::find("User Profile - SCIM (Incoming)", &[]).unwrap()
    }

    pub(super) const FULL_PROFILE: &str = r#"{"email":"jd@example.com","username":"jdoe","givenname":"John","surname":"Doe","displayname":"John Doe","title":"Engineer","employeeid":"E42","mobilephone":"+1 555 0100","employeenumber":"1042","department":"R&D","division":"Cloud","costcentercode":"CC7","countrycodenumber":"840","peoplemanagerflag":"true","employeetype":"Employee"}"#;

    #[test]
    fn the_builtin_outgoing_mapper_yields_every_field_of_the_spec_for_a_full_profile() {
        let profile = object(serde_json::from_str(FULL_PROFILE).unwrap());
        for incident_type in ["User Profile - Create", "User Profile - Update"] {
            let mapped = outgoing().map(incident_type, &profile).unwrap();
            let expected = json!({
                "emails": [{"primary": true, "type": "work", "value": "jd@example.com"}],
                "externalId": "E42",
                "name": {"givenName": "John", "familyName": "Doe"},
                "phoneNumbers": [{"type": "work", "value": "+1 555 0100"}],
                "title": "Engineer",
                "urn:scim:schemas:extension:enterprise:1.0": {
                    "employeeNumber": "1042", "department": "R&D", "division": "Cloud",
                    "costCenter": "CC7", "countryCode": "840", "managerflag": "true"
                },
                "userName": "jdoe",
                "displayName": "John Doe",
                "userType": "Employee"
            });
            assert_eq!(Value::Object(mapped.clone()), expected);
            let keys: Vec<&String> = mapped.keys().collect();
            assert_eq!(
                keys,
                [
                    "emails",
                    "externalId",
                    "name",
                    "phoneNumbers",
                    "title",
                    "urn:scim:schemas:extension:enterprise:1.0",
                    "userName",
                    "displayName",
                    "userType"
                ]
            );
        }
    }

    #[test]
    fn sparse_profiles_leave_fields_out_instead_of_emitting_them_empty() {
        let mapped = outgoing()
            .map("User Profile - Update", &object(json!({"email": "a@b.c"})))
            .unwrap();
        assert_eq!(
            Value::Object(mapped),
            json!({"emails": [{"primary": true, "type": "work", "value": "a@b.c"}]})
        );
        let mapped = outgoing()
            .map(
                "User Profile - Update",
                &object(json!({"username": "u", "surname": "S", "department": "D"})),
            )
            .unwrap();
        assert_eq!(Value::Object(mapped), json!({"userName": "u"}));
        let mapped = outgoing()
            .map(
                "User Profile - Create",
                &object(json!({"givenname": "G", "employeenumber": "7", "title": ""})),
            )
            .unwrap();
        assert_eq!(
            Value::Object(mapped),
            json!({
                "name": {"givenName": "G", "familyName": ""},
                "urn:scim:schemas:extension:enterprise:1.0": {"employeeNumber": "7", "department": "", "division": "", "costCenter": "", "countryCode": "", "managerflag": ""}
            })
        );
        // SCIM-shaped input uses none of the mapper's source fields.
        let mapped = outgoing()
            .map(
                "User Profile - Create",
                &object(json!({"userName": "u", "emails": []})),
            )
            .unwrap();
        assert!(mapped.is_empty());
    }

    #[test]
    fn the_builtin_incoming_mapper_yields_the_xsoar_fields() {
        let user = json!({
            "userName": "jdoe", "externalId": "E42", "title": "Engineer", "userType": "Employee",
            "name": {"givenName": "John", "familyName": "Doe"},
            "emails": [{"value": "jd@example.com", "primary": true}],
            "phoneNumbers": [{"type": "work", "value": "+1"}],
            "urn:scim:schemas:extension:enterprise:1.0": {"employeeNumber": "1042", "department": "R&D", "division": "Cloud", "costCenter": "CC7", "countryCode": "840", "managerflag": true}
        });
        let mapped = incoming().map("User Profile", &object(user)).unwrap();
        assert_eq!(
            Value::Object(mapped),
            json!({
                "Cost Center Code": "CC7", "Country Code Number": "840", "Department": "R&D", "Division": "Cloud",
                "Email": "jd@example.com", "Employee ID": "E42", "Employee Number": "1042", "Given Name": "John",
                "Mobile Phone": "+1", "People Manager Flag": true, "Surname": "Doe", "Title": "Engineer",
                "User Type": "Employee", "Username": "jdoe"
            })
        );
        let seed_user = json!({"userName": "testDemisto", "emails": [{"primary": true, "type": "work", "value": "test@paloaltonetworks.com"}], "title": "Team Lead", "groups": []});
        let mapped = incoming().map("User Profile", &object(seed_user)).unwrap();
        assert_eq!(
            serde_json::to_string(&mapped).unwrap(),
            r#"{"Email":"test@paloaltonetworks.com","Title":"Team Lead","Username":"testDemisto"}"#
        );
    }

    #[test]
    fn quotes_backslashes_and_control_characters_survive_parse_json_chains() {
        let name = "Robert \"Bob\" O'Brien \\ \n\t\u{1}é😀";
        let profile = object(
            json!({"givenname": name, "surname": name, "email": name, "employeenumber": name, "department": name}),
        );
        let mapped = outgoing().map("User Profile - Create", &profile).unwrap();
        assert_eq!(mapped["name"]["givenName"], name);
        assert_eq!(mapped["name"]["familyName"], name);
        assert_eq!(mapped["emails"][0]["value"], name);
        assert_eq!(
            mapped["urn:scim:schemas:extension:enterprise:1.0"]["department"],
            name
        );
    }

    /// Property: any string in any profile field maps without error and arrives unchanged.
    #[test]
    fn any_string_in_any_field_round_trips_into_the_scim_body() {
        let fields = [
            ("email", "/emails/0/value"),
            ("username", "/userName"),
            ("givenname", "/name/givenName"),
            ("surname", "/name/familyName"),
            ("displayname", "/displayName"),
            ("title", "/title"),
            ("employeeid", "/externalId"),
            ("mobilephone", "/phoneNumbers/0/value"),
            ("employeetype", "/userType"),
            (
                "department",
                "/urn:scim:schemas:extension:enterprise:1.0/department",
            ),
            (
                "division",
                "/urn:scim:schemas:extension:enterprise:1.0/division",
            ),
            (
                "costcentercode",
                "/urn:scim:schemas:extension:enterprise:1.0/costCenter",
            ),
            (
                "countrycodenumber",
                "/urn:scim:schemas:extension:enterprise:1.0/countryCode",
            ),
            (
                "peoplemanagerflag",
                "/urn:scim:schemas:extension:enterprise:1.0/managerflag",
            ),
        ];
        let alphabet: Vec<char> =
            "aZ9 \"'\\/{}[]:,.${}\n\r\t\u{0}\u{1}\u{1f}\u{7f}é日😀\u{200b}\u{feff}%+@"
                .chars()
                .collect();
        let mapper = outgoing();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..3000 {
            let len = (next() % 24 + 1) as usize;
            let text: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let (field, pointer) = fields[(next() % fields.len() as u64) as usize];
            let mut profile = object(json!({"employeenumber": "1", "givenname": "g"}));
            profile.insert(field.into(), Value::String(text.clone()));
            let mapped = Value::Object(mapper.map("User Profile - Create", &profile).unwrap());
            assert_eq!(
                mapped.pointer(pointer),
                Some(&Value::String(text.clone())),
                "field {field} with {text:?}"
            );
        }
    }

    #[test]
    fn incident_types_fall_back_to_user_profile_then_to_the_only_one() {
        let definition = json!({"name": "m", "mapping": {
            "User Profile": {"internalMapping": {"a": {"simple": "x"}}},
            "Other": {"internalMapping": {"b": {"simple": "x"}}}
        }});
        let mapper = Mapper::from_definition(&definition).unwrap();
        assert_eq!(
            Value::Object(mapper.map("Missing", &object(json!({"x": 1}))).unwrap()),
            json!({"a": 1})
        );
        assert_eq!(
            Value::Object(mapper.map("Other", &object(json!({"x": 1}))).unwrap()),
            json!({"b": 1})
        );
        let only = Mapper::from_definition(
            &json!({"name": "o", "mapping": {"Only": {"internalMapping": {"c": {"simple": "x"}}}}}),
        )
        .unwrap();
        assert_eq!(
            Value::Object(only.map("Anything", &object(json!({"x": 2}))).unwrap()),
            json!({"c": 2})
        );
        let two = Mapper::from_definition(&json!({"name": "t", "mapping": {"A": {"internalMapping": {}}, "B": {"internalMapping": {}}}})).unwrap();
        assert!(
            two.map("C", &Map::new())
                .unwrap_err()
                .to_string()
                .contains("no mapping for incident type \"C\"")
        );
    }

    #[test]
    fn configured_mappers_are_found_by_id_or_name_before_the_builtins() {
        let custom = json!({"id": "custom-id", "name": "Custom", "mapping": {"User Profile": {"internalMapping": {"userName": {"simple": "email"}}}}});
        let by_id = Mapper::find("custom-id", std::slice::from_ref(&custom)).unwrap();
        let by_name = Mapper::find("Custom", std::slice::from_ref(&custom)).unwrap();
        for mapper in [by_id, by_name] {
            assert_eq!(
                Value::Object(
                    mapper
                        .map("User Profile - Create", &object(json!({"email": "e"})))
                        .unwrap()
                ),
                json!({"userName": "e"})
            );
        }
    }

    #[test]
    fn unknown_mappers_and_unsupported_transformers_are_configuration_errors() {
        let err = Mapper::find("Nope", &[]).unwrap_err().to_string();
        assert!(
            err.starts_with("Invalid mapper configuration: unknown mapper \"Nope\""),
            "{err}"
        );
        let bad = json!({"name": "B", "mapping": {"User Profile": {"internalMapping": {"x": {"complex": {"root": "a", "transformers": [{"operator": "toTitleCase", "args": {}}]}}}}}});
        let err = Mapper::find("B", &[bad]).unwrap_err().to_string();
        assert_eq!(
            err,
            "Invalid mapper configuration: mapper \"B\": field \"x\": unsupported transformer \"toTitleCase\""
        );
    }

    #[test]
    fn complex_rules_read_root_then_accessor_and_context_arguments() {
        let definition = json!({"name": "c", "mapping": {"User Profile": {"internalMapping": {
            "div": {"complex": {"root": r"ext:1\.0", "accessor": "division", "filters": [], "transformers": []}},
            "who": {"complex": {"root": "first", "transformers": [
                {"operator": "concat", "args": {"suffix": {"isContext": true, "value": {"simple": "last"}}, "prefix": {"isContext": false, "value": {"simple": "${title}: "}}}},
                {"operator": "toUpperCase", "args": {}}
            ]}},
            "fallback": {"complex": {"root": "missing", "transformers": [
                {"operator": "toUpperCase", "args": {}},
                {"operator": "SetIfEmpty", "args": {"defaultValue": {"isContext": false, "value": {"simple": "none"}}}}
            ]}}
        }}}});
        let mapper = Mapper::from_definition(&definition).unwrap();
        let source = object(
            json!({"ext:1.0": {"division": "D"}, "first": "ann ", "last": "lee", "title": "dr"}),
        );
        assert_eq!(
            Value::Object(mapper.map("User Profile", &source).unwrap()),
            json!({"div": "D", "who": "DR: ANN LEE", "fallback": "none"})
        );
    }

    #[test]
    fn templates_read_missing_fields_as_empty() {
        assert_eq!(
            expand(
                "${a}-${b.c}-${zz}-${",
                &object(json!({"a": 1, "b": {"c": "x"}})),
                false
            ),
            "1-x--${"
        );
    }
}
