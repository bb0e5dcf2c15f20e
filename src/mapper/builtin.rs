//! @generated from `mapper/builtin/*.json` by the test
//! `mapper::codegen::builtin_mappers_are_compiled_from_their_json`; do not edit by hand:
//! change the JSON and run `IAM_REGENERATE=1 cargo test -p atlassian-iam builtin_mappers`.

#![cfg_attr(rustfmt, rustfmt_skip)]

use std::borrow::Cow::Borrowed;

use super::path::Segment;
use super::transformers::Operator;
use super::{Argument, Field, Fields, Mapper, Root, Rule, Transformer};

pub const OUTGOING: &str = "User Profile - SCIM (Outgoing)";
pub const INCOMING: &str = "User Profile - SCIM (Incoming)";

pub fn by_name(name: &str) -> Option<Mapper> {
    Some(match name {
        OUTGOING => Mapper { name: OUTGOING.into(), incident_types: vec![("User Profile - Create".into(), Fields::Compiled(FIELDS_0)), ("User Profile - Update".into(), Fields::Compiled(FIELDS_0))] },
        INCOMING => Mapper { name: INCOMING.into(), incident_types: vec![("User Profile".into(), Fields::Compiled(FIELDS_1))] },
        _ => return None,
    })
}

static FIELDS_0: &[Field] = &[
    Field { target: Borrowed("emails"), rule: Rule::Complex { root: Root::Path(Borrowed(&[Segment::Key(Borrowed("email"))])), accessor: Borrowed(&[]), transformers: Borrowed(&[Transformer { operator: Operator::Concat, args: Borrowed(&[(Borrowed("prefix"), Argument::Literal(Borrowed("[{\"primary\": true, \"type\": \"work\", \"value\": \""))), (Borrowed("suffix"), Argument::Literal(Borrowed("\"}]")))]) }, Transformer { operator: Operator::ParseJson, args: Borrowed(&[]) }]), escape_for_json: true } },
    Field { target: Borrowed("externalId"), rule: Rule::Simple(Borrowed(&[Segment::Key(Borrowed("employeeid"))])) },
    Field { target: Borrowed("name"), rule: Rule::Complex { root: Root::Template(Borrowed("${givenname}")), accessor: Borrowed(&[]), transformers: Borrowed(&[Transformer { operator: Operator::Concat, args: Borrowed(&[(Borrowed("prefix"), Argument::Literal(Borrowed("{\"givenName\": \""))), (Borrowed("suffix"), Argument::Literal(Borrowed("\", \"familyName\": \"")))]) }, Transformer { operator: Operator::Concat, args: Borrowed(&[(Borrowed("suffix"), Argument::Literal(Borrowed("${surname}")))]) }, Transformer { operator: Operator::Concat, args: Borrowed(&[(Borrowed("suffix"), Argument::Literal(Borrowed("\"}")))]) }, Transformer { operator: Operator::ParseJson, args: Borrowed(&[]) }]), escape_for_json: true } },
    Field { target: Borrowed("phoneNumbers"), rule: Rule::Complex { root: Root::Path(Borrowed(&[Segment::Key(Borrowed("mobilephone"))])), accessor: Borrowed(&[]), transformers: Borrowed(&[Transformer { operator: Operator::Concat, args: Borrowed(&[(Borrowed("prefix"), Argument::Literal(Borrowed("[{\"type\": \"work\", \"value\": \""))), (Borrowed("suffix"), Argument::Literal(Borrowed("\"}]")))]) }, Transformer { operator: Operator::ParseJson, args: Borrowed(&[]) }]), escape_for_json: true } },
    Field { target: Borrowed("title"), rule: Rule::Simple(Borrowed(&[Segment::Key(Borrowed("title"))])) },
    Field { target: Borrowed("urn:scim:schemas:extension:enterprise:1.0"), rule: Rule::Complex { root: Root::Template(Borrowed("${employeenumber}")), accessor: Borrowed(&[]), transformers: Borrowed(&[Transformer { operator: Operator::Concat, args: Borrowed(&[(Borrowed("prefix"), Argument::Literal(Borrowed("{\"employeeNumber\": \""))), (Borrowed("suffix"), Argument::Literal(Borrowed("\", \"department\": \"")))]) }, Transformer { operator: Operator::Concat, args: Borrowed(&[(Borrowed("suffix"), Argument::Literal(Borrowed("${department}")))]) }, Transformer { operator: Operator::Concat, args: Borrowed(&[(Borrowed("suffix"), Argument::Literal(Borrowed("\", \"division\": \"")))]) }, Transformer { operator: Operator::Concat, args: Borrowed(&[(Borrowed("suffix"), Argument::Literal(Borrowed("${division}")))]) }, Transformer { operator: Operator::Concat, args: Borrowed(&[(Borrowed("suffix"), Argument::Literal(Borrowed("\", \"costCenter\": \"")))]) }, Transformer { operator: Operator::Concat, args: Borrowed(&[(Borrowed("suffix"), Argument::Literal(Borrowed("${costcentercode}")))]) }, Transformer { operator: Operator::Concat, args: Borrowed(&[(Borrowed("suffix"), Argument::Literal(Borrowed("\", \"countryCode\": \"")))]) }, Transformer { operator: Operator::Concat, args: Borrowed(&[(Borrowed("suffix"), Argument::Literal(Borrowed("${countrycodenumber}")))]) }, Transformer { operator: Operator::Concat, args: Borrowed(&[(Borrowed("suffix"), Argument::Literal(Borrowed("\", \"managerflag\": \"")))]) }, Transformer { operator: Operator::Concat, args: Borrowed(&[(Borrowed("suffix"), Argument::Literal(Borrowed("${peoplemanagerflag}")))]) }, Transformer { operator: Operator::Concat, args: Borrowed(&[(Borrowed("suffix"), Argument::Literal(Borrowed("\"}")))]) }, Transformer { operator: Operator::ParseJson, args: Borrowed(&[]) }]), escape_for_json: true } },
    Field { target: Borrowed("userName"), rule: Rule::Simple(Borrowed(&[Segment::Key(Borrowed("username"))])) },
    Field { target: Borrowed("displayName"), rule: Rule::Simple(Borrowed(&[Segment::Key(Borrowed("displayname"))])) },
    Field { target: Borrowed("userType"), rule: Rule::Simple(Borrowed(&[Segment::Key(Borrowed("employeetype"))])) },
];

static FIELDS_1: &[Field] = &[
    Field { target: Borrowed("Cost Center Code"), rule: Rule::Simple(Borrowed(&[Segment::Key(Borrowed("urn:scim:schemas:extension:enterprise:1.0")), Segment::Key(Borrowed("costCenter"))])) },
    Field { target: Borrowed("Country Code Number"), rule: Rule::Simple(Borrowed(&[Segment::Key(Borrowed("urn:scim:schemas:extension:enterprise:1.0")), Segment::Key(Borrowed("countryCode"))])) },
    Field { target: Borrowed("Department"), rule: Rule::Simple(Borrowed(&[Segment::Key(Borrowed("urn:scim:schemas:extension:enterprise:1.0")), Segment::Key(Borrowed("department"))])) },
    Field { target: Borrowed("Division"), rule: Rule::Complex { root: Root::Path(Borrowed(&[Segment::Key(Borrowed("urn:scim:schemas:extension:enterprise:1.0"))])), accessor: Borrowed(&[Segment::Key(Borrowed("division"))]), transformers: Borrowed(&[]), escape_for_json: false } },
    Field { target: Borrowed("Email"), rule: Rule::Simple(Borrowed(&[Segment::Key(Borrowed("emails")), Segment::Index(0), Segment::Key(Borrowed("value"))])) },
    Field { target: Borrowed("Employee ID"), rule: Rule::Simple(Borrowed(&[Segment::Key(Borrowed("externalId"))])) },
    Field { target: Borrowed("Employee Number"), rule: Rule::Simple(Borrowed(&[Segment::Key(Borrowed("urn:scim:schemas:extension:enterprise:1.0")), Segment::Key(Borrowed("employeeNumber"))])) },
    Field { target: Borrowed("Given Name"), rule: Rule::Simple(Borrowed(&[Segment::Key(Borrowed("name")), Segment::Key(Borrowed("givenName"))])) },
    Field { target: Borrowed("Mobile Phone"), rule: Rule::Simple(Borrowed(&[Segment::Key(Borrowed("phoneNumbers")), Segment::Index(0), Segment::Key(Borrowed("value"))])) },
    Field { target: Borrowed("People Manager Flag"), rule: Rule::Simple(Borrowed(&[Segment::Key(Borrowed("urn:scim:schemas:extension:enterprise:1.0")), Segment::Key(Borrowed("managerflag"))])) },
    Field { target: Borrowed("Surname"), rule: Rule::Simple(Borrowed(&[Segment::Key(Borrowed("name")), Segment::Key(Borrowed("familyName"))])) },
    Field { target: Borrowed("Title"), rule: Rule::Simple(Borrowed(&[Segment::Key(Borrowed("title"))])) },
    Field { target: Borrowed("User Type"), rule: Rule::Simple(Borrowed(&[Segment::Key(Borrowed("userType"))])) },
    Field { target: Borrowed("Username"), rule: Rule::Simple(Borrowed(&[Segment::Key(Borrowed("userName"))])) },
];
