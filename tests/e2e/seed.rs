//! The seed's four examples (the original integration's documented context output, copied
//! to tests/seed/) against our entries for the same inputs (the `*_seed_example` cases):
//! the same fields with the same shapes, except where behaviour.md deliberately differs.

use serde_json::Value;

use crate::support::{cases_dir, iam_host};

const VENDOR_KEY: &str = "IAM.Vendor(val.instanceName && val.instanceName == obj.instanceName && val.email && val.email == obj.email)";
const PROFILE_KEY: &str = "IAM.UserProfile(val.email && val.email == obj.email)";

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Run a seed case and return (our IAM.Vendor, our IAM.UserProfile, the seed's IAM object).
fn ours_and_seed(case: &str, seed: &str) -> (Value, Value, Value) {
    let dir = cases_dir().join(case);
    let file = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let command = std::fs::read_to_string(dir.join("command.txt")).expect("command.txt");
    let out = iam_host(&[
        "run",
        command.trim(),
        "--config",
        &file("config.json"),
        "--args",
        &file("args.json"),
        "--cassette",
        &file("cassette.json"),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let entry: Value = serde_json::from_str(&out.stdout).expect("entry");
    let seed_path = cases_dir().join("../seed").join(format!("{seed}.json"));
    let seed: Value = serde_json::from_str(&std::fs::read_to_string(seed_path).expect("seed file"))
        .expect("seed JSON");
    (
        entry["EntryContext"][VENDOR_KEY].clone(),
        entry["EntryContext"][PROFILE_KEY].clone(),
        seed["IAM"].clone(),
    )
}

/// Same keys; same JSON types except for the `allowed` (key, seed type, our type) changes.
fn assert_same_shape(ours: &Value, seed: &Value, allowed: &[(&str, &str, &str)], context: &str) {
    let (Some(ours), Some(seed)) = (ours.as_object(), seed.as_object()) else {
        panic!("{context}: not objects")
    };
    let mut our_keys: Vec<&String> = ours.keys().collect();
    let mut seed_keys: Vec<&String> = seed.keys().collect();
    our_keys.sort();
    seed_keys.sort();
    assert_eq!(our_keys, seed_keys, "{context}: keys differ");
    for (key, seed_value) in seed {
        let (ours_kind, seed_kind) = (kind(&ours[key]), kind(seed_value));
        if ours_kind != seed_kind {
            assert!(
                allowed.contains(&(key.as_str(), seed_kind, ours_kind)),
                "{context}: {key} is {ours_kind}, the seed has {seed_kind}"
            );
        }
    }
}

#[test]
fn create_keeps_the_seed_shape() {
    let (vendor, profile, seed) = ours_and_seed("create_seed_example", "create");
    // behaviour.md §5.1 [fix]: the e-mail is reported instead of null.
    assert_same_shape(
        &vendor,
        &seed["Vendor"],
        &[("email", "null", "string")],
        "create Vendor",
    );
    assert_same_shape(
        &vendor["details"],
        &seed["Vendor"]["details"],
        &[],
        "create details",
    );
    assert_eq!(profile, seed["UserProfile"]);
    for key in [
        "action",
        "active",
        "brand",
        "id",
        "instanceName",
        "success",
        "username",
        "skipped",
        "reason",
        "errorMessage",
        "errorCode",
    ] {
        assert_eq!(vendor[key], seed["Vendor"][key], "create {key}");
    }
    assert_eq!(vendor["details"], seed["Vendor"]["details"]);
}

#[test]
fn update_keeps_the_seed_shape() {
    let (vendor, profile, seed) = ours_and_seed("update_seed_example", "update");
    assert_same_shape(&vendor, &seed["Vendor"], &[], "update Vendor");
    assert_same_shape(
        &vendor["details"],
        &seed["Vendor"]["details"],
        &[],
        "update details",
    );
    assert_eq!(profile, seed["UserProfile"]);
    assert_eq!(vendor["details"], seed["Vendor"]["details"]);
    for key in ["action", "active", "email", "id", "username", "success"] {
        assert_eq!(vendor[key], seed["Vendor"][key], "update {key}");
    }
}

#[test]
fn get_keeps_the_seed_shape() {
    let (vendor, profile, seed) = ours_and_seed("get_seed_example", "get");
    assert_same_shape(
        &vendor,
        &seed["Vendor"],
        &[("email", "null", "string")],
        "get Vendor",
    );
    assert_same_shape(
        &vendor["details"],
        &seed["Vendor"]["details"],
        &[],
        "get details",
    );
    // The incoming-mapped user replaces the profile, exactly as in the seed.
    assert_eq!(profile, seed["UserProfile"]);
    assert_eq!(vendor["details"], seed["Vendor"]["details"]);
    assert_eq!(
        vendor["active"],
        Value::Null,
        "the seed's GET answer has no active"
    );
}

#[test]
fn disable_of_a_missing_user_keeps_the_seed_shape() {
    let (vendor, profile, seed) = ours_and_seed("disable_seed_example_missing_user", "disable");
    // behaviour.md §5 [fix]: a skipped result shows the mapped profile, not null.
    assert_same_shape(
        &vendor,
        &seed["Vendor"],
        &[("details", "null", "object")],
        "disable Vendor",
    );
    assert_eq!(profile, seed["UserProfile"]);
    for key in [
        "action",
        "active",
        "email",
        "id",
        "skipped",
        "success",
        "reason",
        "username",
        "errorCode",
    ] {
        assert_eq!(vendor[key], seed["Vendor"][key], "disable {key}");
    }
}
