//! @generated from `mapper/builtin/*.json` by the test
//! `mapper::tests::builtin_mappers_are_compiled_from_their_json`; do not edit by hand:
//! change the JSON and run `IAM_REGENERATE=1 cargo test -p atlassian-iam builtin_mappers`.

#![cfg_attr(rustfmt, rustfmt_skip)]

use super::path::Segment;
use super::transformers::Operator;
use super::{Argument, Field, Fields, Mapper, Root, Rule, Transformer};

pub const OUTGOING: &str = "User Profile - SCIM (Outgoing)";
pub const INCOMING: &str = "User Profile - SCIM (Incoming)";

pub fn by_name(name: &str) -> Option<Mapper> {
    Some(match name {
        OUTGOING => Mapper { name: OUTGOING.into(), incident_types: vec![("User Profile - Create".into(), Fields::Compiled(fields_0)), ("User Profile - Update".into(), Fields::Compiled(fields_0))] },
        INCOMING => Mapper { name: INCOMING.into(), incident_types: vec![("User Profile".into(), Fields::Compiled(fields_1))] },
        _ => return None,
    })
}

fn fields_0() -> Vec<Field> {
    vec![
        Field { target: "emails".into(), rule: Rule::Complex { root: Root::Path(vec![Segment::Key("email".into())]), accessor: vec![], transformers: vec![Transformer { operator: Operator::Concat, args: vec![("prefix".into(), Argument::Literal("[{\"primary\": true, \"type\": \"work\", \"value\": \"".into())), ("suffix".into(), Argument::Literal("\"}]".into()))] }, Transformer { operator: Operator::ParseJson, args: vec![] }], escape_for_json: true } },
        Field { target: "externalId".into(), rule: Rule::Simple(vec![Segment::Key("employeeid".into())]) },
        Field { target: "name".into(), rule: Rule::Complex { root: Root::Template("${givenname}".into()), accessor: vec![], transformers: vec![Transformer { operator: Operator::Concat, args: vec![("prefix".into(), Argument::Literal("{\"givenName\": \"".into())), ("suffix".into(), Argument::Literal("\", \"familyName\": \"".into()))] }, Transformer { operator: Operator::Concat, args: vec![("suffix".into(), Argument::Literal("${surname}".into()))] }, Transformer { operator: Operator::Concat, args: vec![("suffix".into(), Argument::Literal("\"}".into()))] }, Transformer { operator: Operator::ParseJson, args: vec![] }], escape_for_json: true } },
        Field { target: "phoneNumbers".into(), rule: Rule::Complex { root: Root::Path(vec![Segment::Key("mobilephone".into())]), accessor: vec![], transformers: vec![Transformer { operator: Operator::Concat, args: vec![("prefix".into(), Argument::Literal("[{\"type\": \"work\", \"value\": \"".into())), ("suffix".into(), Argument::Literal("\"}]".into()))] }, Transformer { operator: Operator::ParseJson, args: vec![] }], escape_for_json: true } },
        Field { target: "title".into(), rule: Rule::Simple(vec![Segment::Key("title".into())]) },
        Field { target: "urn:scim:schemas:extension:enterprise:1.0".into(), rule: Rule::Complex { root: Root::Template("${employeenumber}".into()), accessor: vec![], transformers: vec![Transformer { operator: Operator::Concat, args: vec![("prefix".into(), Argument::Literal("{\"employeeNumber\": \"".into())), ("suffix".into(), Argument::Literal("\", \"department\": \"".into()))] }, Transformer { operator: Operator::Concat, args: vec![("suffix".into(), Argument::Literal("${department}".into()))] }, Transformer { operator: Operator::Concat, args: vec![("suffix".into(), Argument::Literal("\", \"division\": \"".into()))] }, Transformer { operator: Operator::Concat, args: vec![("suffix".into(), Argument::Literal("${division}".into()))] }, Transformer { operator: Operator::Concat, args: vec![("suffix".into(), Argument::Literal("\", \"costCenter\": \"".into()))] }, Transformer { operator: Operator::Concat, args: vec![("suffix".into(), Argument::Literal("${costcentercode}".into()))] }, Transformer { operator: Operator::Concat, args: vec![("suffix".into(), Argument::Literal("\", \"countryCode\": \"".into()))] }, Transformer { operator: Operator::Concat, args: vec![("suffix".into(), Argument::Literal("${countrycodenumber}".into()))] }, Transformer { operator: Operator::Concat, args: vec![("suffix".into(), Argument::Literal("\", \"managerflag\": \"".into()))] }, Transformer { operator: Operator::Concat, args: vec![("suffix".into(), Argument::Literal("${peoplemanagerflag}".into()))] }, Transformer { operator: Operator::Concat, args: vec![("suffix".into(), Argument::Literal("\"}".into()))] }, Transformer { operator: Operator::ParseJson, args: vec![] }], escape_for_json: true } },
        Field { target: "userName".into(), rule: Rule::Simple(vec![Segment::Key("username".into())]) },
        Field { target: "displayName".into(), rule: Rule::Simple(vec![Segment::Key("displayname".into())]) },
        Field { target: "userType".into(), rule: Rule::Simple(vec![Segment::Key("employeetype".into())]) },
    ]
}

fn fields_1() -> Vec<Field> {
    vec![
        Field { target: "Cost Center Code".into(), rule: Rule::Simple(vec![Segment::Key("urn:scim:schemas:extension:enterprise:1.0".into()), Segment::Key("costCenter".into())]) },
        Field { target: "Country Code Number".into(), rule: Rule::Simple(vec![Segment::Key("urn:scim:schemas:extension:enterprise:1.0".into()), Segment::Key("countryCode".into())]) },
        Field { target: "Department".into(), rule: Rule::Simple(vec![Segment::Key("urn:scim:schemas:extension:enterprise:1.0".into()), Segment::Key("department".into())]) },
        Field { target: "Division".into(), rule: Rule::Complex { root: Root::Path(vec![Segment::Key("urn:scim:schemas:extension:enterprise:1.0".into())]), accessor: vec![Segment::Key("division".into())], transformers: vec![], escape_for_json: false } },
        Field { target: "Email".into(), rule: Rule::Simple(vec![Segment::Key("emails".into()), Segment::Index(0), Segment::Key("value".into())]) },
        Field { target: "Employee ID".into(), rule: Rule::Simple(vec![Segment::Key("externalId".into())]) },
        Field { target: "Employee Number".into(), rule: Rule::Simple(vec![Segment::Key("urn:scim:schemas:extension:enterprise:1.0".into()), Segment::Key("employeeNumber".into())]) },
        Field { target: "Given Name".into(), rule: Rule::Simple(vec![Segment::Key("name".into()), Segment::Key("givenName".into())]) },
        Field { target: "Mobile Phone".into(), rule: Rule::Simple(vec![Segment::Key("phoneNumbers".into()), Segment::Index(0), Segment::Key("value".into())]) },
        Field { target: "People Manager Flag".into(), rule: Rule::Simple(vec![Segment::Key("urn:scim:schemas:extension:enterprise:1.0".into()), Segment::Key("managerflag".into())]) },
        Field { target: "Surname".into(), rule: Rule::Simple(vec![Segment::Key("name".into()), Segment::Key("familyName".into())]) },
        Field { target: "Title".into(), rule: Rule::Simple(vec![Segment::Key("title".into())]) },
        Field { target: "User Type".into(), rule: Rule::Simple(vec![Segment::Key("userType".into())]) },
        Field { target: "Username".into(), rule: Rule::Simple(vec![Segment::Key("userName".into())]) },
    ]
}
