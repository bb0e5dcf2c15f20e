//! A cassette of many interactions.

use super::*;

/// Run `iam-host` and follow its peak resident memory (VmHWM) until it exits, in bytes.
fn peak_memory(args: &[&OsStr]) -> (i32, u64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iam-host"))
        .args(args)
        .arg("--component")
        .arg(support::component())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run iam-host");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_file)
            && let Some(kilobytes) = status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kilobytes * 1024);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            return (status.code().unwrap_or(-1), peak);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_cassette_of_many_interactions_takes_a_small_multiple_of_its_size() {
    // Regression: every interaction was parsed and prepared up front, nine times the file.
    const INTERACTIONS: usize = 20_000;
    let dir = Scratch::new("many");
    let seed: Value = serde_json::from_str(
        &std::fs::read_to_string(seed_case("cassette.json")).expect("the seed cassette"),
    )
    .expect("JSON");
    let one = seed["interactions"][0].to_string();
    let many = dir.path("many.json");
    let text = format!(
        r#"{{"interactions": [{}]}}"#,
        vec![one; INTERACTIONS].join(",\n")
    );
    std::fs::write(&many, &text).expect("write");
    let words = |cassette: &Path| -> Vec<OsString> {
        vec![
            "run".into(),
            "iam-get-user".into(),
            "--config".into(),
            seed_case("config.json").into(),
            "--args".into(),
            seed_case("args.json").into(),
            "--cassette".into(),
            cassette.into(),
        ]
    };
    let small = words(&seed_case("cassette.json"));
    let (code, baseline) = peak_memory(&small.iter().map(OsString::as_os_str).collect::<Vec<_>>());
    assert_eq!(code, 0);
    let big = words(&many);
    let (code, peak) = peak_memory(&big.iter().map(OsString::as_os_str).collect::<Vec<_>>());
    // The first interaction answers; the others are unused, which fails the replay.
    assert_eq!(code, 3);
    let file = text.len() as u64;
    assert!(
        peak.saturating_sub(baseline) < 4 * file,
        "{} MB over the baseline for a {} MB cassette",
        peak.saturating_sub(baseline) >> 20,
        file >> 20
    );
}
