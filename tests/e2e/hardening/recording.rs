//! Recordings.

use super::*;

fn created_user() -> Reply {
    http(
        201,
        &[("content-type", "application/json")],
        r#"{"id":"u9","userName":"jd@example.com","active":true,"emails":[{"value":"jd@example.com","primary":true}]}"#,
    )
}

fn is_post(raw: &[u8]) -> bool {
    raw.starts_with(b"POST ")
}

fn create_args() -> Value {
    json!({"user-profile": {"email": "jd@example.com", "username": "jd@example.com"}})
}

#[test]
fn recording_over_anything_that_exists_is_refused_before_any_request_and_before_the_config() {
    let server = Server::start(|_| http(200, &[], r#"{"totalResults":0,"Resources":[]}"#));
    let dir = Scratch::new("record-refused");
    let config = dir.json("config.json", &params(&server.url(), TOKEN, json!({})));
    let existing = dir.json("existing.json", &json!({"keep": "me"}));
    let folder = dir.path("folder");
    std::fs::create_dir(&folder).expect("folder");
    let dangling = dir.path("dangling.json");
    std::os::unix::fs::symlink(dir.path("nowhere"), &dangling).expect("symlink");
    let missing_config = dir.path("no-such-config.json");
    for (target, overwrite) in [
        (existing.as_path(), false),
        (Path::new("/dev/full"), false),
        (Path::new("/dev/full"), true),
        (Path::new("/dev/null"), true),
        (folder.as_path(), false),
        (folder.as_path(), true),
        (dangling.as_path(), false),
    ] {
        for config in [config.as_os_str(), missing_config.as_os_str()] {
            let mut words = vec![
                OsStr::new("run"),
                OsStr::new("iam-create-user"),
                OsStr::new("--config"),
                config,
                OsStr::new("--args"),
                OsStr::new(r#"{"user-profile": {"email": "jd@example.com"}}"#),
                OsStr::new("--live"),
                OsStr::new("--record"),
                target.as_os_str(),
            ];
            if overwrite {
                words.push(OsStr::new("--overwrite"));
            }
            let run = iam_host(&words);
            let name = target.display();
            assert_eq!(run.code, 2, "{name}: {}", run.stderr);
            assert_eq!(run.stdout, "", "{name}");
            assert_eq!(run.stderr.lines().count(), 1, "{name}: {}", run.stderr);
            assert!(
                run.stderr.contains("refusing to overwrite"),
                "{name}: {}",
                run.stderr
            );
        }
    }
    assert_eq!(server.connections(), 0, "a request was sent");
    assert_eq!(
        std::fs::read_to_string(&existing).expect("kept"),
        r#"{"keep":"me"}"#
    );
    // --overwrite replaces a file, and only with a whole cassette.
    let run = iam_host(&[
        OsStr::new("run"),
        OsStr::new("test-module"),
        OsStr::new("--config"),
        config.as_os_str(),
        OsStr::new("--live"),
        OsStr::new("--record"),
        existing.as_os_str(),
        OsStr::new("--overwrite"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    read_cassette(&existing);
    let left: Vec<_> = std::fs::read_dir(&dir.0)
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

#[test]
fn a_recording_that_cannot_be_written_still_prints_the_entry_and_exits_2() {
    // Regression: the user was created, and stdout stayed empty (exit 3). Here the server
    // deletes the recording's folder while it creates the user.
    let dir = Scratch::new("record-lost");
    let out = dir.path("out");
    std::fs::create_dir(&out).expect("out");
    let doomed = out.clone();
    let server = Server::start(move |raw| {
        if is_post(raw) {
            std::fs::remove_dir_all(&doomed).ok();
            created_user()
        } else {
            http(200, &[], r#"{"totalResults":0,"Resources":[]}"#)
        }
    });
    let config = dir.json("config.json", &params(&server.url(), TOKEN, json!({})));
    let args = dir.json("args.json", &create_args());
    let recording = out.join("create.json");
    let run = run_command(
        "iam-create-user",
        &config,
        &args,
        &[
            OsStr::new("--live"),
            OsStr::new("--record"),
            recording.as_os_str(),
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    let created = entry(&run);
    assert_eq!(
        (&created["Contents"]["success"], &created["Contents"]["id"]),
        (&json!(true), &json!("u9")),
        "{created:#}"
    );
    assert!(
        run.stderr.contains(&format!(
            "cannot write the recording {}",
            recording.display()
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("No such file or directory"),
        "{}",
        run.stderr
    );
    assert!(server.requests().iter().any(|r| r.starts_with("POST ")));
    assert_no_token(TOKEN, "stderr", &run.stderr);
}
