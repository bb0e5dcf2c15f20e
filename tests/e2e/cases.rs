//! Table-driven end-to-end cases: each folder of `tests/cases/` holds `command.txt`,
//! `config.json`, `args.json` (optional), `cassette.json`, and either `expected.json` (the
//! whole entry, compared with key order; exit 0 or 1 by its Type) or `expected.txt` (an
//! `exit: N` line, then fragments stderr must contain). Replay is strict, so the recorded
//! requests (method, URL and, always, the JSON body) are asserted too.

use serde_json::Value;
use std::path::Path;

use crate::assert_json_eq;
use crate::support::{cases_dir, iam_host};

fn run_case(name: &str) {
    let dir = cases_dir().join(name);
    let path = |file: &str| dir.join(file);
    let command = std::fs::read_to_string(path("command.txt")).unwrap_or_else(|e| panic!("{name}: command.txt: {e}"));
    check_cassette_records_bodies(name, &path("cassette.json"));
    let mut args = vec!["run", command.trim(), "--config"];
    let config = path("config.json");
    let args_file = path("args.json");
    let cassette = path("cassette.json");
    let config = config.to_string_lossy().into_owned();
    let args_file = args_file.to_string_lossy().into_owned();
    let cassette = cassette.to_string_lossy().into_owned();
    args.push(&config);
    if Path::new(&args_file).exists() {
        args.extend(["--args", &args_file]);
    }
    args.extend(["--cassette", &cassette]);
    let output = iam_host(&args);

    if path("expected.txt").exists() {
        let expected = std::fs::read_to_string(path("expected.txt")).unwrap_or_default();
        let mut lines = expected.lines();
        let code: i32 = lines.next().and_then(|l| l.strip_prefix("exit: ")).and_then(|c| c.trim().parse().ok()).unwrap_or_else(|| panic!("{name}: expected.txt must start with 'exit: N'"));
        assert_eq!(output.code, code, "{name}: exit status\nstdout: {}\nstderr: {}", output.stdout, output.stderr);
        for fragment in lines.filter(|l| !l.trim().is_empty()) {
            assert!(output.stderr.contains(fragment), "{name}: stderr lacks {fragment:?}\nstderr: {}", output.stderr);
        }
        return;
    }
    let expected_text = std::fs::read_to_string(path("expected.json"));
    let actual: Value = serde_json::from_str(&output.stdout)
        .unwrap_or_else(|e| panic!("{name}: stdout is not one JSON document ({e})\nexit {}\nstdout: {}\nstderr: {}", output.code, output.stdout, output.stderr));
    let expected_text = match expected_text {
        Ok(text) => text,
        Err(_) if std::env::var_os("IAM_BLESS").is_some() => {
            let pretty = serde_json::to_string_pretty(&actual).unwrap_or_default() + "\n";
            std::fs::write(path("expected.json"), &pretty).unwrap_or_else(|e| panic!("{name}: cannot bless: {e}"));
            pretty
        }
        Err(e) => panic!("{name}: expected.json: {e} (IAM_BLESS=1 writes it from this run, for review)"),
    };
    let expected: Value = serde_json::from_str(&expected_text).unwrap_or_else(|e| panic!("{name}: expected.json is not JSON: {e}"));
    assert_json_eq!(actual, expected, "{name}: the entry differs\nstderr: {}", output.stderr);
    let expected_code = if expected["Type"] == 4 { 1 } else { 0 };
    assert_eq!(output.code, expected_code, "{name}: exit status\nstderr: {}", output.stderr);
}

/// Every recorded request states its body (`null` for none), so bodies are always compared.
fn check_cassette_records_bodies(name: &str, cassette: &Path) {
    let text = std::fs::read_to_string(cassette).unwrap_or_else(|e| panic!("{name}: cassette.json: {e}"));
    let cassette: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: cassette.json: {e}"));
    for (index, interaction) in cassette["interactions"].as_array().into_iter().flatten().enumerate() {
        assert!(interaction["request"].get("body").is_some(), "{name}: interaction {} records no request body", index + 1);
    }
}

macro_rules! cases {
    ($($name:ident,)*) => {
        $(
            #[test]
            fn $name() {
                run_case(stringify!($name));
            }
        )*
        const CASES: &[&str] = &[$(stringify!($name)),*];
    };
}

cases! {
    get_seed_example,
}

/// A case folder without a `cases!` entry would silently never run.
#[test]
fn every_case_folder_has_a_test() {
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(cases_dir()).expect("tests/cases exists").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() && !CASES.contains(&name.as_str()) {
            missing.push(name);
        }
    }
    assert!(missing.is_empty(), "case folders without a test in cases!: {missing:?}");
}
