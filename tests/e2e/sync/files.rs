//! The sync's files as hostile files (architecture.md, "Input files"): every input only when
//! it is a regular file, opened without waiting and read with its cap; every output never
//! through a symbolic link and never one of the inputs. Each refusal ends the process at once
//! with exit 2 and one line, the same line under each host that has the command (`sync plan`:
//! iam-host and the Python host; `apply` and `run`: iam-host), and changes no file: not the
//! old plan, not the file behind a link, not the desired file. The server is never asked
//! anything.
//!
//! A symbolic link as an input is followed, as for every other input (`files::open`): the
//! file behind it is judged. A link as an output is refused, so that only the file named is
//! ever written.

use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::directory::{PLAN_HOSTS, PLAN_ID, SyncHost};
use crate::input_files::{Ended, fifo, run_command_bounded};
use crate::support::scratch::Scratch;
use crate::support::server::{Server, http};

/// How long a refusal may take (the Python interpreter's start included).
const PROMPT: Duration = Duration::from_secs(3);
/// The desired file's cap under both hosts (host-test/cli/src/sync/plan.rs DESIRED_BYTES,
/// host-test/python/iam_host/cli.py DESIRED_BYTES).
const DESIRED_BYTES: u64 = 256 << 20;
const TOKEN: &str = "sync-files-t0ken";
/// What every old plan holds before a refused run, and still holds after it.
const OLD_PLAN: &str = "the plan before\n";
/// One person, no group: against an empty directory, one create.
const ONE_PERSON: &str = "{\"username\": \"solo@example.com\", \"email\": \"solo@example.com\", \"givenname\": \"Solo\", \"surname\": \"Sole\"}\n";

/// A directory with no user and no group, which logs what it is asked.
fn empty_directory() -> Server {
    Server::start(|raw| {
        let text = String::from_utf8_lossy(raw);
        if text.starts_with("GET ") {
            let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []});
            http(
                200,
                &[("content-type", "application/scim+json")],
                &body.to_string(),
            )
        } else {
            // Nothing here may be sent a change: the tests count the requests.
            http(500, &[], "{}")
        }
    })
}

/// A scratch folder with a config for `server`, the one-person desired file and an old plan.
struct Files {
    scratch: Scratch,
    config: PathBuf,
    desired: PathBuf,
    out: PathBuf,
}

impl Files {
    fn new(name: &str, server: &Server) -> Files {
        let scratch = Scratch::new(name);
        let config = scratch.json(
            "config.json",
            &json!({"url": server.url(), "access_token": TOKEN, "directory_id": "d"}),
        );
        let desired = scratch.write("desired.jsonl", ONE_PERSON);
        let out = scratch.write("plan.jsonl", OLD_PLAN);
        Files {
            scratch,
            config,
            desired,
            out,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.scratch.path(name)
    }

    /// A symbolic link `name` to `target`.
    fn link(&self, name: &str, target: &Path) -> PathBuf {
        let link = self.path(name);
        std::os::unix::fs::symlink(target, &link).expect("a symbolic link");
        link
    }
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// `sync <args>` under `host`, bounded by the watchdog.
fn run(host: SyncHost, args: &[String]) -> Ended {
    let case = format!("{host:?} sync {}", args.join(" "));
    run_command_bounded(host.command(args), &case)
}

/// `sync plan` of `desired` into `out` for the instance of `config`, id pinned.
fn plan_args(config: &Path, desired: &Path, out: &Path) -> Vec<String> {
    [
        "plan",
        "--config",
        &shown(config),
        "--desired",
        &shown(desired),
        "--out",
        &shown(out),
        "--plan-id",
        PLAN_ID,
        "--created",
        "2024-05-01T12:00:00Z",
        "--json",
    ]
    .map(str::to_string)
    .to_vec()
}

/// A refusal: exit 2 at once, exactly `line` on stderr, nothing on stdout, no request.
fn assert_refused(host: SyncHost, args: &[String], line: &str, server: &Server) {
    let asked = server.requests().len();
    let ended = run(host, args);
    let case = format!("{host:?} sync {}", args.join(" "));
    assert_eq!(ended.code, Some(2), "{case}: {}", ended.stderr);
    assert_eq!(ended.stderr, format!("iam-host: {line}\n"), "{case}");
    assert_eq!(ended.stdout, "", "{case}");
    assert!(
        ended.elapsed < PROMPT,
        "{case}: took {:?}, more than {PROMPT:?}",
        ended.elapsed
    );
    assert_eq!(
        server.requests().len(),
        asked,
        "{case}: the server was asked"
    );
}

fn not_regular(what: &str, path: &Path, kind: &str) -> String {
    format!(
        "cannot read {what} {}: it is {kind}, not a regular file",
        path.display()
    )
}

#[test]
fn a_desired_file_that_is_no_regular_file_is_refused_at_once_by_each_host() {
    let server = empty_directory();
    for host in PLAN_HOSTS {
        let files = Files::new("sync-desired-special", &server);
        let folder = files.path("folder");
        std::fs::create_dir(&folder).expect("a folder");
        let fifo = fifo(&files.scratch);
        let fifo_link = files.link("fifo-link.jsonl", &fifo);
        for (bad, kind) in [
            (fifo.clone(), "a FIFO"),
            (PathBuf::from("/dev/zero"), "a character device"),
            (folder.clone(), "a directory"),
            // A link is followed, as for any input: what is behind it is judged.
            (fifo_link.clone(), "a FIFO"),
        ] {
            let args = plan_args(&files.config, &bad, &files.out);
            assert_refused(
                host,
                &args,
                &not_regular("desired file", &bad, kind),
                &server,
            );
            assert_eq!(
                std::fs::read_to_string(&files.out).expect("the old plan"),
                OLD_PLAN
            );
        }
    }
}

#[test]
fn a_desired_file_past_its_cap_is_refused_without_being_kept_by_each_host() {
    let server = empty_directory();
    for host in PLAN_HOSTS {
        let files = Files::new("sync-desired-huge", &server);
        // One line one byte past the cap, no newline in it (a sparse file: no disk used).
        let huge = files.path("huge.jsonl");
        std::fs::File::create(&huge)
            .and_then(|file| file.set_len(DESIRED_BYTES + 1))
            .expect("a sparse file");
        let args = plan_args(&files.config, &huge, &files.out);
        assert_refused(
            host,
            &args,
            &format!(
                "desired file {} is larger than the 256 MiB the host reads",
                huge.display()
            ),
            &server,
        );
        assert_eq!(
            std::fs::read_to_string(&files.out).expect("the old plan"),
            OLD_PLAN
        );
    }
}

#[test]
fn a_desired_file_behind_a_link_is_read_as_the_file_itself_by_each_host() {
    let server = empty_directory();
    for host in PLAN_HOSTS {
        let files = Files::new("sync-desired-link", &server);
        let link = files.link("desired-link.jsonl", &files.desired);
        let direct = run(host, &plan_args(&files.config, &files.desired, &files.out));
        assert_eq!(direct.code, Some(0), "{host:?}: {}", direct.stderr);
        let through = files.path("through-link.jsonl");
        let linked = run(host, &plan_args(&files.config, &link, &through));
        assert_eq!(linked.code, Some(0), "{host:?}: {}", linked.stderr);
        assert_eq!(linked.stdout, direct.stdout, "{host:?}: the same summary");
        let plan = std::fs::read_to_string(&files.out).expect("the plan");
        assert_eq!(plan.lines().count(), 2, "{host:?}: a header and one create");
        assert_eq!(
            std::fs::read_to_string(&through).expect("the plan through the link"),
            plan,
            "{host:?}"
        );
        assert_eq!(
            std::fs::read_to_string(&files.desired).expect("the desired file"),
            ONE_PERSON
        );
    }
}

#[test]
fn an_out_that_is_a_link_a_special_file_or_the_desired_file_is_refused_by_each_host() {
    let server = empty_directory();
    for host in PLAN_HOSTS {
        let files = Files::new("sync-out", &server);
        let precious = files.scratch.write("precious.txt", "no final newline");
        let to_precious = files.link("to-precious.jsonl", &precious);
        let to_desired = files.link("to-desired.jsonl", &files.desired);
        let dangling = files.link("dangling.jsonl", &files.path("nothing-here"));
        let hard = files.path("hard.jsonl");
        std::fs::hard_link(&files.desired, &hard).expect("a hard link");
        let fifo = fifo(&files.scratch);
        let link_line = |link: &Path| {
            format!(
                "--out {} is a symbolic link; give the plan file's own path",
                link.display()
            )
        };
        let cases = [
            (to_precious.clone(), link_line(&to_precious)),
            (to_desired.clone(), link_line(&to_desired)),
            (dangling.clone(), link_line(&dangling)),
            (
                files.desired.clone(),
                "--out must not be the --desired file".to_string(),
            ),
            (hard, "--out must not be the --desired file".to_string()),
            (
                fifo.clone(),
                format!("--out {} is not a regular file", fifo.display()),
            ),
            (
                PathBuf::from("/dev/zero"),
                "--out /dev/zero is not a regular file".to_string(),
            ),
        ];
        for (out, line) in cases {
            assert_refused(
                host,
                &plan_args(&files.config, &files.desired, &out),
                &line,
                &server,
            );
        }
        assert_eq!(
            std::fs::read_to_string(&precious).expect("the file behind the link"),
            "no final newline"
        );
        assert_eq!(
            std::fs::read_to_string(&files.desired).expect("the desired file"),
            ONE_PERSON
        );
        assert!(
            !files.path("nothing-here").exists(),
            "{host:?}: written through the dangling link"
        );
    }
}

/// A plan of one create for `files`' instance, made by `iam-host sync plan`.
fn one_create_plan(files: &Files) -> PathBuf {
    let plan = files.path("one-create.jsonl");
    let made = run(
        SyncHost::IamHost,
        &plan_args(&files.config, &files.desired, &plan),
    );
    assert_eq!(made.code, Some(0), "{}", made.stderr);
    plan
}

fn apply_args(config: &Path, plan: &Path, output: &Path, audit: Option<&Path>) -> Vec<String> {
    let mut args = ["apply", "--config", &shown(config), "--plan", &shown(plan)]
        .map(str::to_string)
        .to_vec();
    args.extend(["--output".to_string(), shown(output)]);
    if let Some(audit) = audit {
        args.extend(["--audit".to_string(), shown(audit)]);
    }
    args
}

#[test]
fn apply_refuses_a_plan_that_is_no_regular_file_at_once() {
    let server = empty_directory();
    let files = Files::new("sync-apply-plan", &server);
    let fifo = fifo(&files.scratch);
    let output = files.path("results.jsonl");
    for (bad, kind) in [
        (fifo.clone(), "a FIFO"),
        (PathBuf::from("/dev/zero"), "a character device"),
        (files.scratch.0.clone(), "a directory"),
    ] {
        assert_refused(
            SyncHost::IamHost,
            &apply_args(&files.config, &bad, &output, None),
            &not_regular("plan file", &bad, kind),
            &server,
        );
        assert!(
            !output.exists(),
            "{}: the results were written",
            bad.display()
        );
    }
}

#[test]
fn apply_and_run_refuse_an_output_or_audit_behind_a_link_and_change_no_file() {
    let server = empty_directory();
    let files = Files::new("sync-apply-links", &server);
    let plan = one_create_plan(&files);
    let plan_text = std::fs::read_to_string(&plan).expect("the plan");
    let precious = files.scratch.write("precious.txt", "no final newline");
    let output = files.path("results.jsonl");
    let audit = files.path("audit.jsonl");
    let output_link = files.link("results-link.jsonl", &precious);
    let audit_link = files.link("audit-link.jsonl", &precious);
    let link_line = |flag: &str, link: &Path, what: &str| {
        format!(
            "{flag} {} is a symbolic link; give the {what}'s own path",
            link.display()
        )
    };
    assert_refused(
        SyncHost::IamHost,
        &apply_args(&files.config, &plan, &output_link, Some(&audit)),
        &link_line("--output", &output_link, "results file"),
        &server,
    );
    assert_refused(
        SyncHost::IamHost,
        &apply_args(&files.config, &plan, &output, Some(&audit_link)),
        &link_line("--audit", &audit_link, "audit file"),
        &server,
    );
    // `sync run` plans into --out, then applies it: the same files, checked before either.
    let run_args = |output: &Path, audit: &Path| {
        let mut args = plan_args(&files.config, &files.desired, &files.out);
        args[0] = "run".into();
        args.extend([
            "--output".to_string(),
            shown(output),
            "--audit".to_string(),
            shown(audit),
        ]);
        args
    };
    assert_refused(
        SyncHost::IamHost,
        &run_args(&output_link, &audit),
        &link_line("--output", &output_link, "results file"),
        &server,
    );
    assert_refused(
        SyncHost::IamHost,
        &run_args(&output, &audit_link),
        &link_line("--audit", &audit_link, "audit file"),
        &server,
    );
    let mut desired_as_output = run_args(&files.desired, &audit);
    desired_as_output.retain(|word| word != "--json");
    assert_refused(
        SyncHost::IamHost,
        &desired_as_output,
        "--output must not be the --desired file",
        &server,
    );
    assert_eq!(
        std::fs::read_to_string(&precious).expect("the file behind the links"),
        "no final newline"
    );
    assert_eq!(std::fs::read_to_string(&plan).expect("the plan"), plan_text);
    assert_eq!(
        std::fs::read_to_string(&files.out).expect("the old plan"),
        OLD_PLAN
    );
    assert_eq!(
        std::fs::read_to_string(&files.desired).expect("the desired file"),
        ONE_PERSON
    );
    assert!(!output.exists() && !audit.exists(), "an output was written");
}

#[test]
fn run_refuses_a_desired_file_that_is_no_regular_file_at_once() {
    let server = empty_directory();
    let files = Files::new("sync-run-desired", &server);
    let output = files.path("results.jsonl");
    let fifo = fifo(&files.scratch);
    for (bad, kind) in [
        (fifo.clone(), "a FIFO"),
        (PathBuf::from("/dev/zero"), "a character device"),
    ] {
        let mut args = plan_args(&files.config, &bad, &files.out);
        args[0] = "run".into();
        args.extend(["--output".to_string(), shown(&output)]);
        assert_refused(
            SyncHost::IamHost,
            &args,
            &not_regular("desired file", &bad, kind),
            &server,
        );
        assert!(!output.exists(), "the results were written");
    }
}

#[test]
fn an_instance_the_gate_refuses_is_exit_2_with_one_line_under_each_host() {
    // sync.md §8: an invalid config is exit 2. A token shorter than 8 characters is refused by
    // the gate before the component runs (the host could not keep it out of the answers), a
    // text entry rather than the component's "input" failure: still the input's fault.
    let mut lines_by_host = Vec::new();
    for host in PLAN_HOSTS {
        let server = empty_directory();
        let scratch = Scratch::new("sync-short-token");
        let config = scratch.json(
            "config.json",
            &json!({"url": server.url(), "access_token": "short", "directory_id": "d"}),
        );
        let desired = scratch.write("desired.jsonl", ONE_PERSON);
        let plan = scratch.write("plan.jsonl", OLD_PLAN);
        let output = host.sync(&[
            "plan",
            "--config",
            &config.display().to_string(),
            "--desired",
            &desired.display().to_string(),
            "--out",
            &plan.display().to_string(),
        ]);
        assert_eq!(output.code, 2, "{host:?}: {output:?}");
        let lines: Vec<&str> = output.stderr.trim_end().lines().collect();
        assert_eq!(lines.len(), 1, "{host:?}: one line: {output:?}");
        assert!(
            lines[0].contains("shorter than 8 characters"),
            "{host:?}: {output:?}"
        );
        assert!(server.requests().is_empty(), "{host:?}: nothing sent");
        assert_eq!(std::fs::read_to_string(&plan).expect("the plan"), OLD_PLAN);
        lines_by_host.push(lines[0].to_string());
    }
    assert_eq!(
        lines_by_host[0], lines_by_host[1],
        "both hosts say it alike"
    );
}
