//! Issue 22: the XSOAR content pack (host-test/xsoar/Packs/AtlassianIAMWasm), checked with
//! XSOAR's own tools, offline (demisto-sdk 1.39.13 from host-test/xsoar/sdk-venv.sh, which
//! `.ci/run` installs first): `demisto-sdk validate` reports nothing but DO101 (the image is not
//! a demisto/ one, as the pack's README explains) and `xsoar-lint` scores 10/10
//! (host-test/xsoar/check.sh); and host-test/xsoar/build.sh makes the released artifacts: the
//! unified yml carrying the Python host and the component, and the pack zip with the mappers.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use iam_host_cli::artifact;
use serde_json::{Value, json};

use crate::other_hosts::run_process;
use crate::support::hosts::{python, python_cache_dir};
use crate::support::scratch::Scratch;
use crate::support::{cases_dir, gated_component, iam_host};

fn script(name: &str) -> std::path::PathBuf {
    artifact::workspace_root()
        .join("host-test/xsoar")
        .join(name)
}

#[test]
fn xsoar_validate_reports_only_do101_and_xsoar_lint_scores_ten() {
    let out = Command::new("bash")
        .arg(script("check.sh"))
        .output()
        .expect("run host-test/xsoar/check.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "check.sh failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("errors were thrown as a part of this pr: DO101."),
        "{stdout}"
    );
    assert!(stdout.contains("rated at 10.00/10"), "{stdout}");
}

/// The integration's own unit tests (`AtlassianIAMWasm_test.py`), with the Python host's venv, from
/// the integration's folder as demisto-sdk runs them: the repository's XSOAR stand-in and the
/// Python host on PYTHONPATH, over this build's gated component.
#[test]
fn xsoar_integration_passes_its_unit_tests() {
    let root = artifact::workspace_root();
    let python_path = std::env::join_paths([
        root.join("tests/xsoar/stand-in"),
        root.join("host-test/python"),
    ])
    .unwrap();
    let mut command = Command::new(python());
    command
        .current_dir(script(
            "Packs/AtlassianIAMWasm/Integrations/AtlassianIAMWasm",
        ))
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "AtlassianIAMWasm_test.py",
        ])
        .env("PYTHONPATH", python_path)
        .env("IAM_HOST_COMPONENT", gated_component())
        .env("IAM_HOST_CACHE_DIR", python_cache_dir())
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let output = run_process(
        command,
        "pytest (host-test/python/venv.sh makes its environment)",
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.code, 0,
        "AtlassianIAMWasm_test.py failed:\n{stdout}\n{}",
        output.stderr
    );
    assert!(stdout.contains(" passed"), "{stdout}");
}

/// build.sh's output, made once for this module's tests (in a scratch folder kept for the
/// process: the tests share it).
fn built() -> PathBuf {
    static BUILT: OnceLock<Scratch> = OnceLock::new();
    let scratch = BUILT.get_or_init(|| {
        let scratch = Scratch::new("xsoar-build");
        let out = Command::new("bash")
            .arg(script("build.sh"))
            .arg(scratch.path("xsoar"))
            .env("IAM_GATED_COMPONENT", gated_component())
            .output()
            .expect("run host-test/xsoar/build.sh");
        assert!(
            out.status.success(),
            "build.sh failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        scratch
    });
    scratch.path("xsoar")
}

#[test]
fn xsoar_build_makes_the_unified_yml_and_the_pack_zip() {
    let out_dir = built();
    let unified = std::fs::read_to_string(out_dir.join("integration-AtlassianIAMWasm.yml"))
        .expect("the unified yml");
    // Its own id and name, never the Marketplace integration's.
    assert!(unified.contains("  id: Atlassian IAM WebAssembly\n"));
    assert!(!unified.contains("  id: Atlassian IAM\n"));
    // Script, image and description inlined.
    assert!(unified.contains("image: data:image/png;base64,"));
    assert!(unified.contains("detaileddescription:"));
    assert!(unified.contains("def main():"));
    // The script carries the Python host and the component: a bundle, not the empty one.
    assert!(!unified.contains("IAM_HOST_BUNDLE = ''"));
    let bundle_at = unified
        .find("IAM_HOST_BUNDLE = '")
        .expect("the bundle line");
    assert!(
        unified[bundle_at..].len() > 100_000,
        "the bundle is too small to hold the component"
    );
    assert!(out_dir.join("AtlassianIAMWasm.zip").is_file());
    for file in [
        "Dockerfile",
        "prepare_cache.py",
        "atlassian_iam_gated.wasm",
        "AtlassianIAMWasm.py",
    ] {
        assert!(out_dir.join("docker").join(file).is_file(), "docker/{file}");
    }
    assert_eq!(
        std::fs::read(out_dir.join("docker/atlassian_iam_gated.wasm")).unwrap(),
        std::fs::read(gated_component()).unwrap()
    );
}

/// tests/xsoar/unified.sh: the unified yml's script run by tests/xsoar/run_unified.py with only
/// the image's packages, as a non-root user, over the cache the Dockerfile's step prepared, under
/// the demistomock/CommonServerPython stand-in (tests/xsoar/stand-in), each command replaying
/// its cassette through the Python host's own replay. `commands`: a JSON file of commands, else
/// every case of tests/cases. The runner's report, checked for what every run must show.
fn run_unified(scratch: &Scratch, commands: Option<&Path>) -> Value {
    let mut command = Command::new("bash");
    command
        .arg(artifact::workspace_root().join("tests/xsoar/unified.sh"))
        .arg(built())
        .arg(scratch.path("work"));
    if let Some(commands) = commands {
        command.arg(commands);
    }
    let out = command.output().expect("run tests/xsoar/unified.sh");
    assert!(
        out.status.success(),
        "unified.sh failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("the runner's JSON");
    // Not root; only its own files read, nothing written; the prepared cache read, one host
    // for all the commands (XSOAR's loop keeps modules loaded).
    assert_ne!(report["uid"], json!(0));
    assert_eq!(
        report["violations"],
        json!([]),
        "files outside the script's own"
    );
    let cache_reads = report["cache_reads"].as_array().expect("cache_reads");
    assert!(
        cache_reads
            .iter()
            .any(|name| name.as_str().expect("a file name").ends_with(".cwasm")),
        "the compiled component was not read from the prepared cache: {cache_reads:?}"
    );
    assert_eq!(report["hosts_made"], json!(1));
    // Read, and loaded: not compiled again by uid 4000 (a cache it cannot read is opened, fails
    // and is compiled around, which the reads above would not show).
    assert_eq!(
        report["component_loads"],
        json!({"compiled": 0, "deserialized": 1}),
        "the component was not loaded from the prepared cache"
    );
    report
}

/// XSOAR's error entry, as return_error posts it.
fn return_error_entry(message: &Value) -> Value {
    json!({"Type": 4, "ContentsFormat": "text", "Contents": message, "EntryContext": null})
}

const INSTANCE: &str = "Atlassian IAM WebAssembly_instance_1";
const BRAND: &str = "Atlassian IAM WebAssembly";

/// The cases where XSOAR, not the component's mapper engine, maps, so that the entry is not
/// iam-host's: what XSOAR's mapping implies instead.
fn xsoar_maps_differently(name: &str, result: &Value) -> bool {
    let platform_failure = |mapper: &str, incident_type: &str, reason: &str| {
        json!([return_error_entry(&json!(format!(
            "The platform could not map with its mapper \"{mapper}\" for incident type \"{incident_type}\": \
             the platform mapper failed: {reason}"
        )))])
    };
    match name {
        // XSOAR has no mapper of that name; the component cannot know it in advance.
        "bad_config_unknown_mapper" => {
            assert_eq!(
                result["posted"],
                platform_failure(
                    "User Profile - Okta (Outgoing)",
                    "User Profile - Create",
                    "mapper not found"
                )
            );
            true
        }
        // The incoming mapper is asked for only once the user is read: the command goes to
        // the directory (iam-host refused the configuration before any request, so the case's
        // cassette is empty).
        "bad_config_unknown_incoming_mapper" => {
            let failure = result["replay_failure"]
                .as_str()
                .expect("the replay failure");
            assert!(
                failure.starts_with("request #1 matched no recorded interaction")
                    && failure.contains("GET https://api.atlassian.com/scim/directory/"),
                "{failure}"
            );
            true
        }
        // The stand-in's XSOAR knows no toTitleCase transformer.
        "bad_config_unsupported_transformer" => {
            assert_eq!(
                result["posted"],
                platform_failure(
                    "Titled",
                    "User Profile - Update",
                    "unsupported transformer 'toTitleCase'"
                )
            );
            true
        }
        // XSOAR's concat + ParseJSON does not escape what it inserts (the component's engine
        // does, behaviour.md §7 [fix]): the built-in mapper's JSON breaks on a quote.
        "create_quotes_in_names_survive" => {
            let posted = &result["posted"][0];
            assert_eq!(posted["Type"], json!(4));
            assert!(
                posted["Contents"].as_str().expect("the error text").starts_with(
                    "The platform could not map with its mapper \"User Profile - SCIM (Outgoing)\" \
                     for incident type \"User Profile - Create\": the platform mapper failed: Expecting"
                ),
                "{posted}"
            );
            true
        }
        _ => false,
    }
}

#[test]
fn xsoar_unified_script_gives_iam_hosts_entries_on_every_case() {
    let scratch = Scratch::new("xsoar-unified");
    let report = run_unified(&scratch, None);
    let results = report["results"].as_object().unwrap();
    let mut names: Vec<String> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| cases_dir().join(name).join("command.txt").is_file())
        .collect();
    names.sort();
    assert_eq!(results.keys().cloned().collect::<Vec<_>>(), names);
    let (mut same, mut differing) = (0, Vec::new());
    for name in &names {
        let result = &results[name];
        assert_eq!(
            result["escaped"],
            Value::Null,
            "{name}: the script did not end cleanly"
        );
        assert_eq!(
            result["replayed"],
            json!(true),
            "{name}: not one command run"
        );
        if xsoar_maps_differently(name, result) {
            differing.push(name.clone());
            continue;
        }
        assert_eq!(result["replay_failure"], Value::Null, "{name}");
        // iam-host over the same parameters as XSOAR gives them: the instance's name and the
        // calling brand (the script adds them from the calling context).
        let folder = cases_dir().join(name);
        let mut config: Value =
            serde_json::from_str(&std::fs::read_to_string(folder.join("config.json")).unwrap())
                .unwrap();
        let params = config.as_object_mut().unwrap();
        params
            .entry("instance_name")
            .or_insert_with(|| json!(INSTANCE));
        params.insert("platform".into(), json!({"brand": BRAND}));
        let config_file = scratch.json(&format!("{name}.json"), &config);
        let command = std::fs::read_to_string(folder.join("command.txt")).unwrap();
        let (config_arg, cassette) = (
            config_file.to_str().unwrap().to_owned(),
            folder.join("cassette.json").to_str().unwrap().to_owned(),
        );
        let mut args = vec![
            "run",
            command.trim(),
            "--config",
            &config_arg,
            "--cassette",
            &cassette,
        ];
        let args_file = folder.join("args.json").to_str().unwrap().to_owned();
        if folder.join("args.json").is_file() {
            args.extend(["--args", &args_file]);
        }
        let rust = iam_host(&args);
        let entry: Value = serde_json::from_str(&rust.stdout)
            .unwrap_or_else(|e| panic!("{name}: iam-host printed no entry ({e}): {}", rust.stderr));
        // Type 4 through return_error; test-module's success is XSOAR's "ok".
        let expected = if entry["Type"] == json!(4) {
            json!([return_error_entry(&entry["Contents"])])
        } else if command.trim() == "test-module" {
            json!(["ok"])
        } else {
            json!([entry])
        };
        assert_eq!(
            result["posted"], expected,
            "{name}: the unified script and iam-host differ"
        );
        same += 1;
    }
    assert_eq!(
        differing,
        [
            "bad_config_unknown_incoming_mapper",
            "bad_config_unknown_mapper",
            "bad_config_unsupported_transformer",
            "create_quotes_in_names_survive"
        ]
    );
    assert_eq!(same, names.len() - 4);
    // A test-module case and an error case are among the same ones.
    assert_eq!(results["test_module_ok"]["posted"], json!(["ok"]));
    assert_eq!(
        results["test_module_401_names_the_status"]["posted"][0]["Type"],
        json!(4)
    );
}

/// A user as the directory returns it, for the custom mapper test's cassettes.
fn contoso_user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "c9",
        "userName": "kim.park@contoso.example",
        "emails": [{"value": "kim.park@contoso.example", "type": "work", "primary": true}],
        "displayName": "Kim Park",
        "externalId": "C-9",
        "title": "Engineer",
        "active": true
    })
}

fn interaction(method: &str, url: &str, body: Value, status: u16, answer: Value) -> Value {
    let mut headers = json!({"authorization": "Bearer <redacted>", "accept": "application/json"});
    if !body.is_null() {
        headers["content-type"] = json!("application/json");
    }
    json!({"request": {"method": method, "url": url, "headers": headers, "body": body},
           "response": {"status": status, "body": answer}})
}

#[test]
fn xsoar_custom_mappers_unknown_to_the_component_map_through_demisto_map_object() {
    let scratch = Scratch::new("xsoar-mappers");
    let users =
        "https://api.atlassian.com/scim/directory/315e79ae-404a-4061-8a88-df91c8c7db34/Users";
    let lookup = format!("{users}?filter=userName%20eq%20%22kim.park%40contoso.example%22");
    // The admin's mappers, under names the component does not know, as XSOAR holds them.
    let outgoing = json!({"id": "contoso-out", "name": "Contoso Users (Outgoing)", "type": "mapping-outgoing",
        "mapping": {
            "User Profile - Create": {"internalMapping": {
                "userName": {"simple": "login"},
                "emails": {"simple": "mails"},
                "displayName": {"simple": "name\\.full"},
                "externalId": {"simple": "hr.ids.[1]"},
                "title": {"simple": "no.such.field"}}},
            "User Profile - Update": {"internalMapping": {"userName": {"simple": "login"}}}}});
    let incoming = json!({"id": "contoso-in", "name": "Contoso Users (Incoming)", "type": "mapping-incoming",
        "mapping": {"User Profile": {"internalMapping": {
            "email": {"simple": "emails.[0].value"},
            "username": {"simple": "userName"},
            "employeeid": {"simple": "externalId"},
            "jobtitle": {"complex": {"root": "title", "accessor": "", "filters": [],
                "transformers": [{"operator": "toUpperCase", "args": {}}]}},
            "manager": {"simple": "manager.value"}}}}});
    let params = json!({"url": "https://api.atlassian.com", "access_token": "fake-directory-api-key",
        "directory_id": "315e79ae-404a-4061-8a88-df91c8c7db34",
        "mapper_out": "Contoso Users (Outgoing)", "mapper_in": "Contoso Users (Incoming)"});
    let profile = json!({"login": "kim.park@contoso.example", "email": "kim.park@contoso.example",
        "mails": [{"primary": true, "value": "kim.park@contoso.example"}],
        "name.full": "Kim Park", "hr": {"ids": ["old", "C-9"]}, "title": "not mapped"});
    // What XSOAR's mapping implies, by hand. Outgoing, for User Profile - Create: userName from
    // `login`, emails as given, displayName from the key with a dot, externalId the second id;
    // title's path is missing, so it is left out. The component adds schemas and active.
    let created_body = json!({"userName": "kim.park@contoso.example",
        "emails": [{"primary": true, "value": "kim.park@contoso.example"}],
        "displayName": "Kim Park", "externalId": "C-9",
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "active": true});
    let empty_list = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []});
    let found = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 1, "startIndex": 1, "itemsPerPage": 1, "Resources": [contoso_user()]});
    let cassette = |interactions: Vec<Value>| json!({"interactions": interactions}).to_string();
    let commands = json!([
        {"name": "create", "command": "iam-create-user", "params": params,
         "args": {"user-profile": profile}, "mappers": [outgoing, incoming],
         "cassette": cassette(vec![
            interaction("GET", &lookup, Value::Null, 200, empty_list),
            interaction("POST", users, created_body, 201, contoso_user())])},
        {"name": "get", "command": "iam-get-user", "params": params,
         "args": {"user-profile": {"login": "kim.park@contoso.example"}}, "mappers": [outgoing, incoming],
         "cassette": cassette(vec![interaction("GET", &lookup, Value::Null, 200, found)])}
    ]);
    let commands_file = scratch.json("commands.json", &commands);
    let report = run_unified(&scratch, Some(&commands_file));
    let (create, get) = (&report["results"]["create"], &report["results"]["get"]);
    for result in [create, get] {
        // Every request as worked out above, and all of them (the replay checks both).
        assert_eq!(result["replay_failure"], Value::Null, "{result}");
        assert_eq!(result["escaped"], Value::Null);
    }
    // Both mappers by their names, for XSOAR's incident types.
    let calls = |result: &Value| -> Vec<(String, String)> {
        result["mapped"]
            .as_array()
            .unwrap()
            .iter()
            .map(|call| {
                (
                    call[1].as_str().unwrap().to_owned(),
                    call[2].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(
        calls(create)[0],
        (
            "Contoso Users (Outgoing)".into(),
            "User Profile - Create".into()
        )
    );
    assert!(calls(get).contains(&("Contoso Users (Incoming)".into(), "User Profile".into())));
    let entry = &create["posted"][0];
    assert_eq!(entry["Type"], json!(1));
    assert_eq!(entry["Contents"]["success"], json!(true));
    assert_eq!(entry["Contents"]["id"], json!("c9"));
    assert_eq!(entry["Contents"]["brand"], json!(BRAND));
    // Incoming, for User Profile: the user read, mapped by the admin's mapper; `manager` is
    // missing and left out, `jobtitle` upper-cased.
    let entry = &get["posted"][0];
    assert_eq!(entry["Type"], json!(1), "{entry}");
    assert_eq!(entry["Contents"]["success"], json!(true));
    let profile_key = "IAM.UserProfile(val.email && val.email == obj.email)";
    assert_eq!(
        entry["EntryContext"][profile_key],
        json!({"email": "kim.park@contoso.example", "username": "kim.park@contoso.example",
               "employeeid": "C-9", "jobtitle": "ENGINEER"})
    );
}
