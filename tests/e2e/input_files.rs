//! Every input file of every subcommand is read one way (host-test/src/files.rs, issue 20):
//! only a regular file, opened without waiting, read with its cap. A FIFO nobody writes to or
//! `/dev/zero` given as any of them ends the process within a second, exit 2, with one line
//! on stderr naming the file and what it is, and nothing else happens: no output file, no
//! NATS connection. A job line far past its cap is read through, never kept whole, and
//! answered with its exit-2 line (architecture.md, "Batch and scale-out contract").
//!
//! Each run has a watchdog: a process still running after `WATCHDOG` is killed and the test
//! fails, so a regression hangs nothing.

use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::support::scratch::Scratch;
use crate::support::{cases_dir, component};

/// A tenants file of one tenant, `a`, that no test reaches over the network.
const ONE_TENANT: &str = r#"{"tenants": {"a": {"url": "https://a.example", "access_token": "s3cr3t-token", "directory_id": "d"}}}"#;

/// A run still going after this is killed, and the test fails.
const WATCHDOG: Duration = Duration::from_secs(5);
/// How long a refused file may take to end the process.
const PROMPT: Duration = Duration::from_secs(1);

/// A FIFO that nobody opens for writing: a plain open for reading waits forever.
pub fn fifo(scratch: &Scratch) -> PathBuf {
    let path = scratch.path("fifo");
    if !path.exists() {
        let made = Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap_or_else(|e| panic!("cannot run mkfifo: {e}"));
        assert!(made.success(), "mkfifo {} failed", path.display());
    }
    path
}

/// How a bounded run ended.
pub struct Ended {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Run `iam-host` with these arguments, killing it (and failing) if it is still running after
/// `WATCHDOG`.
fn run_bounded(args: &[&Path]) -> Ended {
    let mut command = Command::new(env!("CARGO_BIN_EXE_iam-host"));
    command.args(args);
    run_command_bounded(command, &format!("iam-host {}", shown(args)))
}

/// Run `command` (any host), killing it (and failing) if it is still running after
/// `WATCHDOG`; `case` names it in the failure.
pub fn run_command_bounded(mut command: Command, case: &str) -> Ended {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {case}: {e}"));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the host") {
            break status;
        }
        if started.elapsed() > WATCHDOG {
            let _killed = child.kill();
            let _reaped = child.wait();
            panic!("{case} was still running after {WATCHDOG:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed();
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut stdout).expect("read stdout");
    }
    if let Some(mut err) = child.stderr.take() {
        err.read_to_string(&mut stderr).expect("read stderr");
    }
    Ended {
        code: status.code(),
        stdout,
        stderr,
        elapsed,
    }
}

fn shown(args: &[&Path]) -> String {
    args.iter()
        .map(|arg| arg.display().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The component, built and its compiled form cached, so that the timed runs load it from the
/// cache as any later run does.
fn warm_component() -> &'static Path {
    static WARM: OnceLock<()> = OnceLock::new();
    WARM.get_or_init(|| {
        let status = Command::new(env!("CARGO_BIN_EXE_iam-host"))
            .args([Path::new("describe"), Path::new("--component"), component()])
            .stdout(Stdio::null())
            .status()
            .expect("run iam-host describe");
        assert!(status.success(), "iam-host describe failed");
    });
    component()
}

/// A port that accepts connections and is never expected to get one.
struct Untouched(TcpListener);

impl Untouched {
    fn new() -> Untouched {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a listener");
        listener.set_nonblocking(true).expect("non-blocking");
        Untouched(listener)
    }

    fn url(&self) -> String {
        format!("nats://{}", self.0.local_addr().expect("its address"))
    }

    fn assert_never_contacted(&self, case: &str) {
        match self.0.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Ok((_, from)) => panic!("{case}: NATS was contacted (from {from}) before the file"),
            Err(e) => panic!("{case}: cannot check the listener: {e}"),
        }
    }
}

/// The two kinds of endless input, and how the host names them.
fn endless(scratch: &Scratch) -> [(PathBuf, &'static str); 2] {
    [
        (fifo(scratch), "a FIFO"),
        (PathBuf::from("/dev/zero"), "a character device"),
    ]
}

/// One bad file on one command line: ends at once, exit 2, one line that names the file, an
/// empty stdout.
fn assert_refused_promptly(args: &[&Path], what: &str, bad: &Path, kind: &str) {
    let case = shown(args);
    let ended = run_bounded(args);
    assert_eq!(ended.code, Some(2), "{case}: {}", ended.stderr);
    assert_eq!(
        ended.stderr,
        format!(
            "iam-host: cannot read {what} {}: it is {kind}, not a regular file\n",
            bad.display()
        ),
        "{case}"
    );
    assert_eq!(ended.stdout, "", "{case}");
    assert!(
        ended.elapsed < PROMPT,
        "{case}: took {:?}, more than {PROMPT:?}",
        ended.elapsed
    );
}

fn seed_case(file: &str) -> PathBuf {
    cases_dir().join("get_seed_example").join(file)
}

#[test]
fn run_refuses_an_endless_file_as_any_of_its_inputs_at_once() {
    let scratch = Scratch::new("run");
    let component = warm_component().to_path_buf();
    let (config, args, cassette) = (
        seed_case("config.json"),
        seed_case("args.json"),
        seed_case("cassette.json"),
    );
    for (bad, kind) in endless(&scratch) {
        for (flag, what) in [
            ("--config", "config file"),
            ("--args", "args file"),
            ("--cassette", "cassette"),
            ("--limits", "limits file"),
            ("--component", "component"),
        ] {
            let pick = |this: &str, good: &Path| -> PathBuf {
                if this == flag {
                    bad.clone()
                } else {
                    good.to_path_buf()
                }
            };
            let limits = scratch.write("limits.json", "{}");
            let words: Vec<PathBuf> = vec![
                "run".into(),
                "iam-get-user".into(),
                "--config".into(),
                pick("--config", &config),
                "--args".into(),
                pick("--args", &args),
                "--cassette".into(),
                pick("--cassette", &cassette),
                "--limits".into(),
                pick("--limits", &limits),
                "--component".into(),
                pick("--component", &component),
            ];
            let words: Vec<&Path> = words.iter().map(PathBuf::as_path).collect();
            assert_refused_promptly(&words, what, &bad, kind);
        }
    }
}

#[test]
fn batch_refuses_an_endless_file_as_any_of_its_inputs_at_once() {
    let scratch = Scratch::new("batch");
    let component = warm_component().to_path_buf();
    let tenants = scratch.write("tenants.json", ONE_TENANT);
    let input = scratch.write(
        "jobs.jsonl",
        "{\"id\": \"1\", \"tenant\": \"a\", \"command\": \"iam-get-user\"}\n",
    );
    let limits = scratch.write("limits.json", "{}");
    let output = scratch.path("results.jsonl");
    for (bad, kind) in endless(&scratch) {
        for (flag, what) in [
            ("--tenants", "tenants file"),
            ("--input", "the input file"),
            ("--limits", "limits file"),
        ] {
            let pick = |this: &str, good: &Path| -> PathBuf {
                if this == flag {
                    bad.clone()
                } else {
                    good.to_path_buf()
                }
            };
            let words: Vec<PathBuf> = vec![
                "batch".into(),
                "--tenants".into(),
                pick("--tenants", &tenants),
                "--input".into(),
                pick("--input", &input),
                "--output".into(),
                output.clone(),
                "--limits".into(),
                pick("--limits", &limits),
                "--component".into(),
                component.clone(),
            ];
            let words: Vec<&Path> = words.iter().map(PathBuf::as_path).collect();
            assert_refused_promptly(&words, what, &bad, kind);
            assert!(!output.exists(), "{flag}: the output was written");
        }
        // The output, read to resume, must be a regular file too.
        let words: Vec<PathBuf> = vec![
            "batch".into(),
            "--tenants".into(),
            tenants.clone(),
            "--input".into(),
            input.clone(),
            "--output".into(),
            bad.clone(),
            "--component".into(),
            component.clone(),
        ];
        let words: Vec<&Path> = words.iter().map(PathBuf::as_path).collect();
        assert_refused_promptly(&words, "the output file", &bad, kind);
    }
}

#[test]
fn worker_refuses_an_endless_file_as_any_of_its_inputs_before_connecting() {
    let scratch = Scratch::new("worker");
    let component = warm_component().to_path_buf();
    let tenants = scratch.write("tenants.json", ONE_TENANT);
    let limits = scratch.write("limits.json", "{}");
    let nats = Untouched::new();
    let url = PathBuf::from(nats.url());
    for (bad, kind) in endless(&scratch) {
        for (flag, what) in [("--tenants", "tenants file"), ("--limits", "limits file")] {
            let pick = |this: &str, good: &Path| -> PathBuf {
                if this == flag {
                    bad.clone()
                } else {
                    good.to_path_buf()
                }
            };
            let words: Vec<PathBuf> = vec![
                "worker".into(),
                "--nats".into(),
                url.clone(),
                "--tenants".into(),
                pick("--tenants", &tenants),
                "--limits".into(),
                pick("--limits", &limits),
                "--component".into(),
                component.clone(),
            ];
            let words: Vec<&Path> = words.iter().map(PathBuf::as_path).collect();
            assert_refused_promptly(&words, what, &bad, kind);
            nats.assert_never_contacted(flag);
        }
    }
}

#[test]
fn submit_refuses_an_endless_input_before_connecting_or_writing() {
    let scratch = Scratch::new("submit");
    let nats = Untouched::new();
    let url = PathBuf::from(nats.url());
    let output = scratch.path("results.jsonl");
    for (bad, kind) in endless(&scratch) {
        let words: Vec<PathBuf> = vec![
            "submit".into(),
            "--nats".into(),
            url.clone(),
            "--input".into(),
            bad.clone(),
            "--output".into(),
            output.clone(),
        ];
        let words: Vec<&Path> = words.iter().map(PathBuf::as_path).collect();
        assert_refused_promptly(&words, "the input file", &bad, kind);
        nats.assert_never_contacted("--input");
        assert!(!output.exists(), "the output was written");
    }
}

#[test]
fn a_job_line_far_past_its_cap_gets_its_exit_2_line_without_being_read_whole() {
    const LINE_CAP: usize = 16 << 20;
    let scratch = Scratch::new("long-line");
    let component = warm_component().to_path_buf();
    let tenants = scratch.write("tenants.json", ONE_TENANT);
    // A job for a tenant the file lacks (answered without running anything), then 20 MiB
    // with no newline at all.
    let input = scratch.path("jobs.jsonl");
    let mut text =
        b"{\"id\": \"j1\", \"tenant\": \"nobody\", \"command\": \"iam-get-user\"}\n".to_vec();
    text.resize(text.len() + (20 << 20), b'x');
    std::fs::write(&input, &text).expect("write the input");
    let output = scratch.path("results.jsonl");
    let words: Vec<PathBuf> = vec![
        "batch".into(),
        "--tenants".into(),
        tenants,
        "--input".into(),
        input,
        "--output".into(),
        output.clone(),
        "--component".into(),
        component,
    ];
    let words: Vec<&Path> = words.iter().map(PathBuf::as_path).collect();
    let ended = run_bounded(&words);
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    let results = std::fs::read_to_string(&output).expect("the results");
    let mut lines: Vec<serde_json::Value> = results
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON result line"))
        .collect();
    lines.sort_by_key(|line| line["id"].as_str().unwrap_or_default().to_string());
    assert_eq!(
        lines,
        vec![
            serde_json::json!({"id": "j1", "tenant": "nobody", "command": "iam-get-user", "exit": 2,
                "error": lines[0]["error"].clone()}),
            serde_json::json!({"id": "line 2", "exit": 2,
                "error": format!("the line is longer than {LINE_CAP} bytes")}),
        ],
        "{results}"
    );
    assert!(
        lines[0]["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("unknown tenant")),
        "{results}"
    );
    assert!(
        ended.elapsed < Duration::from_secs(3),
        "took {:?}",
        ended.elapsed
    );
}

#[test]
fn an_output_behind_a_link_is_refused_and_no_file_but_the_output_is_ever_changed() {
    // Issue 23: a symbolic link as --output to a file without a final newline had its "torn
    // line" cut, wiping the file behind it; a hard link from --output to --input passed the
    // same-file check.
    let scratch = Scratch::new("output-links");
    let component = warm_component().to_path_buf();
    let tenants = scratch.write("tenants.json", ONE_TENANT);
    let input = scratch.write(
        "jobs.jsonl",
        "{\"id\": \"1\", \"tenant\": \"a\", \"command\": \"no-such-command\"}\n",
    );
    let precious = scratch.write("precious.txt", "no final newline");
    let symlink = scratch.path("results-link.jsonl");
    std::os::unix::fs::symlink(&precious, &symlink).expect("a symbolic link");
    let hard = scratch.path("results-hard.jsonl");
    std::fs::hard_link(&input, &hard).expect("a hard link");
    let batch = |output: &Path| -> Vec<PathBuf> {
        vec![
            "batch".into(),
            "--tenants".into(),
            tenants.clone(),
            "--input".into(),
            input.clone(),
            "--output".into(),
            output.to_path_buf(),
            "--component".into(),
            component.clone(),
        ]
    };
    let words = batch(&symlink);
    let words: Vec<&Path> = words.iter().map(PathBuf::as_path).collect();
    assert_refused_promptly(&words, "the output file", &symlink, "a symbolic link");
    assert_eq!(
        std::fs::read_to_string(&precious).expect("the file behind the link"),
        "no final newline"
    );
    let words = batch(&hard);
    let words: Vec<&Path> = words.iter().map(PathBuf::as_path).collect();
    let ended = run_bounded(&words);
    assert_eq!(ended.code, Some(2), "{}", ended.stderr);
    assert_eq!(
        ended.stderr,
        "iam-host: --output must not be the --input file\n"
    );
    assert_eq!(
        std::fs::read_to_string(&input).expect("the input"),
        "{\"id\": \"1\", \"tenant\": \"a\", \"command\": \"no-such-command\"}\n"
    );
}
