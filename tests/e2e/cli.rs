//! The CLI contract (architecture.md): stdout is exactly one JSON document, and the exit
//! status is 0 for Type 1, 1 for Type 4, 2 for usage and file errors, 3 for replay failures.

use serde_json::Value;

use crate::support::{cases_dir, iam_host};

fn case_file(case: &str, file: &str) -> String {
    cases_dir()
        .join(case)
        .join(file)
        .to_string_lossy()
        .into_owned()
}

fn temp_file(name: &str, contents: &str) -> String {
    let dir = std::env::temp_dir().join(format!("iam-host-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("temp file");
    path.to_string_lossy().into_owned()
}

#[test]
fn stdout_is_one_json_document_and_diagnostics_go_to_stderr() {
    let out = iam_host(&[
        "run",
        "iam-get-user",
        "--config",
        &case_file("get_seed_example", "config.json"),
        "--args",
        &case_file("get_seed_example", "args.json"),
        "--cassette",
        &case_file("get_seed_example", "cassette.json"),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut documents = serde_json::Deserializer::from_str(&out.stdout).into_iter::<Value>();
    assert!(documents.next().is_some_and(|d| d.is_ok()));
    assert!(
        documents.next().is_none(),
        "more than one document on stdout: {}",
        out.stdout
    );
    assert!(out.stdout.ends_with("}\n"));
}

#[test]
fn usage_errors_exit_2_with_one_clear_line() {
    let config = case_file("get_seed_example", "config.json");
    let cassette = case_file("get_seed_example", "cassette.json");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        // clap's words (the CLI is on clap since 0.2).
        (vec![], "Usage: iam-host <COMMAND>"),
        (vec!["frobnicate"], "unrecognized subcommand 'frobnicate'"),
        (
            vec![
                "run",
                "iam-delete-user",
                "--config",
                &config,
                "--cassette",
                &cassette,
            ],
            "unknown command \"iam-delete-user\"",
        ),
        (
            vec!["run", "iam-get-user", "--cassette", &cassette],
            "--config <config.json> is required",
        ),
        (
            vec!["run", "iam-get-user", "--config", &config],
            "give --cassette <file> or --live",
        ),
        (
            vec![
                "run",
                "iam-get-user",
                "--config",
                &config,
                "--cassette",
                &cassette,
                "--live",
            ],
            "exclude each other",
        ),
        (
            vec![
                "run",
                "iam-get-user",
                "--config",
                &config,
                "--cassette",
                &cassette,
                "--bogus",
            ],
            "unexpected argument '--bogus'",
        ),
        (
            vec![
                "run",
                "iam-get-user",
                "--config",
                "/nonexistent/config.json",
                "--cassette",
                &cassette,
            ],
            "cannot read config file /nonexistent/config.json",
        ),
    ];
    for (args, message) in cases {
        let out = iam_host(&args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stdout.is_empty(),
            "{args:?} printed to stdout: {}",
            out.stdout
        );
        assert!(
            out.stderr.contains(message),
            "{args:?}: stderr lacks {message:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn invalid_files_exit_2_naming_the_file() {
    let config = case_file("get_seed_example", "config.json");
    let cassette = case_file("get_seed_example", "cassette.json");
    let not_json = temp_file("not-json.json", "{nope");
    let array = temp_file("array.json", "[1]");
    let bad_cassette = temp_file(
        "bad-cassette.json",
        r#"{"interactions": [{"request": {"method": "GET"}}]}"#,
    );
    let checks = [
        (
            vec![
                "run",
                "iam-get-user",
                "--config",
                &not_json,
                "--cassette",
                &cassette,
            ],
            "config file",
        ),
        (
            vec![
                "run",
                "iam-get-user",
                "--config",
                &array,
                "--cassette",
                &cassette,
            ],
            "must hold a JSON object",
        ),
        (
            vec![
                "run",
                "iam-get-user",
                "--config",
                &config,
                "--args",
                &not_json,
                "--cassette",
                &cassette,
            ],
            "args file",
        ),
        (
            vec![
                "run",
                "iam-get-user",
                "--config",
                &config,
                "--cassette",
                &bad_cassette,
            ],
            "is not valid",
        ),
        (
            vec![
                "run",
                "iam-get-user",
                "--config",
                &config,
                "--cassette",
                &not_json,
            ],
            "is not valid",
        ),
    ];
    for (args, message) in checks {
        let out = iam_host(&args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
        assert_eq!(
            out.stderr.trim().lines().count(),
            1,
            "not one line: {}",
            out.stderr
        );
    }
}

#[test]
fn unused_interactions_and_unmatched_requests_exit_3_with_expected_and_actual() {
    let config = case_file("get_seed_example", "config.json");
    let args = case_file("get_seed_example", "args.json");
    let recorded: Value = serde_json::from_str(
        &std::fs::read_to_string(case_file("get_seed_example", "cassette.json")).unwrap(),
    )
    .unwrap();
    let mut doubled = recorded.clone();
    let first = doubled["interactions"][0].clone();
    doubled["interactions"].as_array_mut().unwrap().push(first);
    let doubled = temp_file("doubled.json", &doubled.to_string());
    let out = iam_host(&[
        "run",
        "iam-get-user",
        "--config",
        &config,
        "--args",
        &args,
        "--cassette",
        &doubled,
    ]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr
            .contains("1 recorded interaction(s) were not used"),
        "{}",
        out.stderr
    );

    let mut other = recorded.clone();
    other["interactions"][0]["request"]["url"] = Value::String("https://api.atlassian.com/scim/directory/315e79ae-404a-4061-8a88-df91c8c7db34/Users?filter=userName%20eq%20%22someoneElse%22".into());
    let other = temp_file("other.json", &other.to_string());
    let out = iam_host(&[
        "run",
        "iam-get-user",
        "--config",
        &config,
        "--args",
        &args,
        "--cassette",
        &other,
    ]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stdout.is_empty());
    for fragment in [
        "does not match the recorded interaction: the query parameters differ",
        "expected: GET",
        "someoneElse",
        "actual:   GET",
        "testDemisto",
        "hint:",
    ] {
        assert!(
            out.stderr.contains(fragment),
            "stderr lacks {fragment:?}: {}",
            out.stderr
        );
    }

    let empty = temp_file("empty.json", r#"{"interactions": []}"#);
    let out = iam_host(&[
        "run",
        "iam-get-user",
        "--config",
        &config,
        "--args",
        &args,
        "--cassette",
        &empty,
    ]);
    assert_eq!(out.code, 3);
    assert!(
        out.stderr.contains("matched no recorded interaction"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_token_never_reaches_stdout_or_stderr() {
    let out = iam_host(&[
        "run",
        "iam-get-user",
        "--config",
        &case_file("get_seed_example", "config.json"),
        "--args",
        &case_file("get_seed_example", "args.json"),
        "--cassette",
        &case_file("get_seed_example", "cassette.json"),
    ]);
    assert!(
        !out.stdout.contains("fake-directory-api-key")
            && !out.stderr.contains("fake-directory-api-key")
    );
}

#[test]
fn describe_prints_the_static_metadata() {
    let out = iam_host(&["describe"]);
    assert_eq!(out.code, 0);
    let about: Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(about["name"], "Atlassian IAM");
    assert_eq!(about["credentials"], serde_json::json!(["access_token"]));
    // architecture.md's list, in describe's order, then the directory-sync planning
    // (sync.md §9), which `iam-host sync plan` runs.
    assert_eq!(
        about["commands"],
        serde_json::json!([
            "iam-get-user",
            "iam-create-user",
            "iam-update-user",
            "iam-disable-user",
            "iam-get-group",
            "iam-create-group",
            "iam-update-group",
            "iam-delete-group",
            "test-module",
            "get-mapping-fields",
            "sync-plan"
        ])
    );
}

#[test]
fn a_reader_that_goes_away_is_no_panic() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_iam-host"))
        .args([
            "run",
            "iam-get-user",
            "--config",
            &case_file("get_seed_example", "config.json"),
        ])
        .args(["--args", &case_file("get_seed_example", "args.json")])
        .args([
            "--cassette",
            &case_file("get_seed_example", "cassette.json"),
        ])
        .arg("--component")
        .arg(crate::support::component())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("iam-host starts");
    // Close the reading end before the entry is written, as `iam-host … | head -c 0` would.
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("iam-host ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}
