//! Hostile files and names.

use super::*;

#[test]
fn paths_that_are_not_utf8_work_and_a_command_that_is_not_utf8_is_a_usage_error() {
    let dir = Scratch::new("utf8");
    let config = dir.0.join(OsStr::from_bytes(b"config-\xff\xfe.json"));
    let args = dir.0.join(OsStr::from_bytes(b"args-\xc3(.json"));
    std::fs::copy(seed_case("config.json"), &config).expect("copy");
    std::fs::copy(seed_case("args.json"), &args).expect("copy");
    let cassette = seed_case("cassette.json");
    let run = run_command(
        "iam-get-user",
        &config,
        &args,
        &[OsStr::new("--cassette"), cassette.as_os_str()],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(seed_case("expected.json")).expect("expected"),
    )
    .expect("JSON");
    assert_eq!(entry(&run), expected);
    // A file that is missing under such a name is named (lossily), in one line.
    let missing = dir.0.join(OsStr::from_bytes(b"missing-\xff.json"));
    let run = iam_host(&[
        OsStr::new("run"),
        OsStr::new("iam-get-user"),
        OsStr::new("--config"),
        missing.as_os_str(),
        OsStr::new("--cassette"),
        cassette.as_os_str(),
    ]);
    assert_eq!(
        (run.code, run.stderr.lines().count()),
        (2, 1),
        "{}",
        run.stderr
    );
    let command = OsString::from(OsStr::from_bytes(b"iam-get-\xffuser"));
    let run = iam_host(&[
        OsStr::new("run"),
        &command,
        OsStr::new("--config"),
        config.as_os_str(),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn an_input_file_over_its_cap_is_refused_with_one_line() {
    // Sparse files one byte over each cap: read up to the cap and refused, never whole. (A
    // device or a FIFO is refused before it is read: tests/e2e/input_files.rs.)
    let dir = Scratch::new("over-cap");
    let over = |name: &str, cap: u64| -> PathBuf {
        let path = dir.0.join(name);
        let file = std::fs::File::create(&path).expect("a scratch file");
        file.set_len(cap + 1).expect("a sparse file");
        path
    };
    let config = seed_case("config.json");
    let cassette = seed_case("cassette.json");
    let mib = |n: u64| n << 20;
    for (flag, what, cap, shown) in [
        ("--args", "args file", mib(16), "16 MiB"),
        ("--limits", "limits file", mib(16), "16 MiB"),
        ("--component", "component", mib(64), "64 MiB"),
        ("--config", "config file", mib(16), "16 MiB"),
        ("--cassette", "cassette", mib(256), "256 MiB"),
    ] {
        let big = over(&format!("{what}.json").replace(' ', "-"), cap);
        let mut words: Vec<&OsStr> = os(&["run", "iam-get-user"]);
        let file_for = |name: &str, own: &Path| -> PathBuf {
            if flag == name {
                big.clone()
            } else {
                own.to_path_buf()
            }
        };
        let config = file_for("--config", &config);
        let cassette = file_for("--cassette", &cassette);
        words.extend([OsStr::new("--config"), config.as_os_str()]);
        words.extend([OsStr::new("--cassette"), cassette.as_os_str()]);
        if !matches!(flag, "--config" | "--cassette") {
            words.extend([OsStr::new(flag), big.as_os_str()]);
        }
        let run = iam_host(&words);
        assert_eq!(run.code, 2, "{flag}: {}", run.stderr);
        assert_eq!(
            run.stderr.trim_end(),
            format!(
                "iam-host: {what} {} is larger than the {shown} the host reads",
                big.display()
            ),
            "{flag}"
        );
    }
}
