//! `builtin.rs` is the built-in mappers' JSON exports compiled into static Rust data (so a
//! fresh sandbox parses no mapper): the test here regenerates it and fails on any
//! difference, and checks that the compiled and the parsed mappers map alike.

use serde_json::json;

use super::path::Segment;
use super::tests::{FULL_PROFILE, incoming, object, outgoing};
use super::*;

/// The JSON exports of the built-in mappers, as XSOAR writes them.
const BUILTIN_JSON: [(&str, &str); 2] = [
    (
        "OUTGOING",
        include_str!("builtin/mapper-user-profile-scim-outgoing.json"),
    ),
    (
        "INCOMING",
        include_str!("builtin/mapper-user-profile-scim-incoming.json"),
    ),
];

/// `mapper/builtin.rs` is what this interpreter reads from the JSON exports; rewrite it
/// with `IAM_REGENERATE=1 cargo test -p atlassian-iam builtin_mappers`.
#[test]
fn builtin_mappers_are_compiled_from_their_json() {
    let generated = render(&BUILTIN_JSON);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/mapper/builtin.rs");
    if std::env::var_os("IAM_REGENERATE").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let current = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        current == generated,
        "src/mapper/builtin.rs is stale: run IAM_REGENERATE=1 cargo test -p atlassian-iam builtin_mappers"
    );
}

#[test]
fn the_compiled_and_the_json_mappers_map_alike() {
    let profile = object(serde_json::from_str(FULL_PROFILE).unwrap());
    let from_json =
        Mapper::from_definition(&serde_json::from_str(BUILTIN_JSON[0].1).unwrap()).unwrap();
    for incident_type in ["User Profile - Create", "User Profile - Update", "Other"] {
        assert_eq!(
            outgoing().map(incident_type, &profile),
            from_json.map(incident_type, &profile)
        );
    }
    let user = object(
        json!({"userName": "u", "emails": [{"value": "e"}], "urn:scim:schemas:extension:enterprise:1.0": {"division": "d"}}),
    );
    let from_json =
        Mapper::from_definition(&serde_json::from_str(BUILTIN_JSON[1].1).unwrap()).unwrap();
    assert_eq!(
        incoming().map("User Profile", &user).unwrap(),
        from_json.map("User Profile", &user).unwrap()
    );
}

/// Renders parsed mappers as Rust source: static data, nothing built per command.
fn render(mappers: &[(&str, &str)]) -> String {
    let mut out = String::from(
        "//! @generated from `mapper/builtin/*.json` by the test\n//! `mapper::codegen::builtin_mappers_are_compiled_from_their_json`; do not edit by hand:\n//! change the JSON and run `IAM_REGENERATE=1 cargo test -p atlassian-iam builtin_mappers`.\n\n#![cfg_attr(rustfmt, rustfmt_skip)]\n\nuse std::borrow::Cow::Borrowed;\n\nuse super::path::Segment;\nuse super::transformers::Operator;\nuse super::{Argument, Field, Fields, Mapper, Root, Rule, Transformer};\n\n",
    );
    let mut bodies: Vec<String> = Vec::new();
    let mut arms = String::new();
    for (constant, json) in mappers {
        let mapper = Mapper::from_definition(&serde_json::from_str(json).unwrap()).unwrap();
        out.push_str(&format!(
            "pub const {constant}: &str = {:?};\n",
            mapper.name
        ));
        let mut types = Vec::new();
        for (incident_type, parsed) in &mapper.incident_types {
            let Fields::Parsed(parsed) = parsed else {
                unreachable!("parsed from JSON")
            };
            let body = fields(parsed);
            // Incident types with the same rules share one table.
            let index = bodies.iter().position(|b| *b == body).unwrap_or_else(|| {
                bodies.push(body);
                bodies.len() - 1
            });
            types.push(format!(
                "({incident_type:?}.into(), Fields::Compiled(FIELDS_{index}))"
            ));
        }
        arms.push_str(&format!("        {constant} => Mapper {{ name: {constant}.into(), incident_types: vec![{}] }},\n", types.join(", ")));
    }
    out.push_str(&format!("\npub fn by_name(name: &str) -> Option<Mapper> {{\n    Some(match name {{\n{arms}        _ => return None,\n    }})\n}}\n"));
    for (index, body) in bodies.iter().enumerate() {
        out.push_str(&format!(
            "\nstatic FIELDS_{index}: &[Field] = &[\n{body}];\n"
        ));
    }
    out
}

fn fields(fields: &[Field]) -> String {
    fields
        .iter()
        .map(|f| {
            format!(
                "    Field {{ target: Borrowed({:?}), rule: {} }},\n",
                f.target,
                rule(&f.rule)
            )
        })
        .collect()
}

fn rule(rule: &Rule) -> String {
    match rule {
        Rule::Simple(path) => format!("Rule::Simple({})", segments(path)),
        Rule::Complex {
            root,
            accessor,
            transformers,
            escape_for_json,
        } => format!(
            "Rule::Complex {{ root: {}, accessor: {}, transformers: Borrowed(&[{}]), escape_for_json: {escape_for_json} }}",
            match root {
                Root::Path(path) => format!("Root::Path({})", segments(path)),
                Root::Template(template) => format!("Root::Template(Borrowed({template:?}))"),
            },
            segments(accessor),
            transformers
                .iter()
                .map(transformer)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn transformer(t: &Transformer) -> String {
    let args: Vec<String> = t
        .args
        .iter()
        .map(|(name, arg)| format!("(Borrowed({name:?}), {})", argument(arg)))
        .collect();
    format!(
        "Transformer {{ operator: Operator::{:?}, args: Borrowed(&[{}]) }}",
        t.operator,
        args.join(", ")
    )
}

fn argument(arg: &Argument) -> String {
    match arg {
        Argument::Literal(text) => format!("Argument::Literal(Borrowed({text:?}))"),
        Argument::Context(path) => format!("Argument::Context({})", segments(path)),
        Argument::Rule(nested) => format!("Argument::Rule(Borrowed(&{}))", rule(nested)),
    }
}

fn segments(path: &[Segment]) -> String {
    let items: Vec<String> = path
        .iter()
        .map(|s| match s {
            Segment::Key(key) => format!("Segment::Key(Borrowed({key:?}))"),
            Segment::Index(index) => format!("Segment::Index({index})"),
        })
        .collect();
    format!("Borrowed(&[{}])", items.join(", "))
}
