//! A token the server echoes, and one quoted in an error answer.

use super::*;

/// A live `iam-get-user` of a tenant on `server` with `token`, recorded: the run, and the
/// instance, arguments and recording (written in `dir`) that replay it.
fn live_recorded_get_user(
    server: &Server,
    token: &str,
    dir: &Scratch,
) -> (Run, PathBuf, PathBuf, PathBuf) {
    let config = dir.json("config.json", &params(&server.url(), token, json!({})));
    let args = dir.json("args.json", &get_user_args());
    let recording = dir.path("recording.json");
    let live = run_command(
        "iam-get-user",
        &config,
        &args,
        &[
            OsStr::new("--live"),
            OsStr::new("--record"),
            recording.as_os_str(),
        ],
    );
    (live, config, args, recording)
}

#[test]
fn a_token_the_server_echoes_reaches_no_entry_log_or_recording_and_live_and_replay_agree() {
    let server = Server::start(|_| echoing_user(TOKEN));
    let dir = Scratch::new("echo");
    let (live, config, args, recording) = live_recorded_get_user(&server, TOKEN, &dir);
    assert_eq!(live.code, 0, "{}", live.stderr);
    let found = entry(&live);
    assert_eq!(found["Contents"]["success"], true, "{found:#}");
    assert_eq!(found["Contents"]["username"], "<redacted>", "{found:#}");
    let cassette = std::fs::read_to_string(&recording).expect("the recording");
    for (what, text) in [
        ("stdout", &live.stdout),
        ("stderr", &live.stderr),
        ("the recording", &cassette),
    ] {
        assert_no_token(TOKEN, what, text);
    }
    assert!(cassette.contains("Bearer <redacted>"), "{cassette}");
    // The server did get the token: the host attached it.
    let requests = server.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.contains(&format!("authorization: Bearer {TOKEN}"))),
        "{requests:?}"
    );
    // Replayed, the recording gives the same bytes: the guest saw the scrubbed answer live.
    let replay = run_command(
        "iam-get-user",
        &config,
        &args,
        &[OsStr::new("--cassette"), recording.as_os_str()],
    );
    assert_eq!(replay.code, 0, "{}", replay.stderr);
    assert_eq!(replay.stdout, live.stdout, "live and replay differ");
}

#[test]
fn a_token_quoted_in_an_error_answer_is_redacted_in_the_failed_result() {
    for (answer, expected) in [
        (
            format!(r#"{{"detail":"invalid credentials: Bearer {TOKEN}"}}"#),
            "invalid credentials: Bearer <redacted>".to_string(),
        ),
        (
            format!("<html><body><p>Token {TOKEN} was refused ({})</p></body></html>", base64(TOKEN.as_bytes(), false)),
            "HTTP 403 Forbidden: <html><body><p>Token <redacted> was refused (<redacted>)</p></body></html>".to_string(),
        ),
    ] {
        let status = if answer.starts_with('{') { 401 } else { 403 };
        let server = Server::start(move |_| http(status, &[], &answer));
        let dir = Scratch::new(&format!("error-{status}"));
        let config = dir.json("config.json", &params(&server.url(), TOKEN, json!({})));
        let args = dir.json("args.json", &get_user_args());
        let run = run_command("iam-get-user", &config, &args, &[OsStr::new("--live")]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let failed = entry(&run);
        assert_eq!(failed["Contents"]["errorCode"], status, "{failed:#}");
        assert_eq!(failed["Contents"]["errorMessage"], expected.as_str(), "{failed:#}");
        assert_no_token(TOKEN, "stdout", &run.stdout);
        assert_no_token(TOKEN, "stderr", &run.stderr);
    }
}

/// A cassette whose answers carry the token in every form, as raw text, so that the escapes
/// reach the host as written.
fn echoing_cassette(dir: &Scratch) -> PathBuf {
    let Reply::Bytes(raw) = echoing_user(TOKEN) else {
        unreachable!()
    };
    let raw = String::from_utf8(raw).expect("text");
    let body = raw.split("\r\n\r\n").nth(1).expect("a body").to_string();
    dir.json(
        "cassette.json",
        &json!({"interactions": [{
            "request": {"method": "GET", "url": "https://api.atlassian.com/scim/directory/d1/Users?filter=userName%20eq%20%22jd%40example.com%22"},
            "response": {"status": 200, "headers": {"x-echo": format!("Bearer {TOKEN}")}, "body": body}
        }]}),
    )
}

#[test]
fn a_replayed_token_is_scrubbed_too_and_both_hosts_print_the_same_bytes() {
    let dir = Scratch::new("replay-echo");
    let config = dir.json(
        "config.json",
        &params("https://api.atlassian.com", TOKEN, json!({})),
    );
    let args = dir.json("args.json", &get_user_args());
    let cassette = echoing_cassette(&dir);
    let words: Vec<&OsStr> = vec![
        OsStr::new("run"),
        OsStr::new("iam-get-user"),
        OsStr::new("--config"),
        config.as_os_str(),
        OsStr::new("--args"),
        args.as_os_str(),
        OsStr::new("--cassette"),
        cassette.as_os_str(),
    ];
    let rust = iam_host(&words);
    assert_eq!(rust.code, 0, "{}", rust.stderr);
    assert_no_token(TOKEN, "stdout", &rust.stdout);
    assert_no_token(TOKEN, "stderr", &rust.stderr);
    assert!(rust.stdout.contains("<redacted>"), "{}", rust.stdout);
    let node = hosts::node_host(&words)
        .output()
        .expect("node (is Node.js installed?)");
    assert_eq!(
        (
            node.status.code(),
            String::from_utf8_lossy(&node.stdout).into_owned()
        ),
        (Some(0), rust.stdout.clone()),
        "the Node.js host differs; its stderr: {}",
        String::from_utf8_lossy(&node.stderr)
    );
}

#[test]
fn a_token_shorter_than_eight_characters_is_refused_before_anything_is_sent() {
    let short = "Ab3$xy7";
    let server = Server::start(|_| http(200, &[], "{}"));
    let dir = Scratch::new("short");
    let expected = json!({"Type": 4, "ContentsFormat": "text", "Contents": "Invalid configuration: the access token (\"access_token\" or \"access_token_creds.password\") is shorter than 8 characters, too short for the host to keep it out of the answers it passes on"});
    for (name, config) in [
        ("plain", params(&server.url(), short, json!({}))),
        (
            "creds",
            params(
                &server.url(),
                "",
                json!({"access_token_creds": {"password": short}}),
            ),
        ),
    ] {
        let config = dir.json(&format!("{name}.json"), &config);
        let live = iam_host(&[
            OsStr::new("run"),
            OsStr::new("test-module"),
            OsStr::new("--config"),
            config.as_os_str(),
            OsStr::new("--live"),
        ]);
        assert_eq!(live.code, 1, "{}", live.stderr);
        assert_eq!(entry(&live), expected);
        assert_no_token(short, "stdout", &live.stdout);
        assert_no_token(short, "stderr", &live.stderr);
        // Replayed (under both hosts), the same entry, and the empty cassette is all used.
        let cassette = dir.json("empty.json", &json!({"interactions": []}));
        let words: Vec<&OsStr> = vec![
            OsStr::new("run"),
            OsStr::new("test-module"),
            OsStr::new("--config"),
            config.as_os_str(),
            OsStr::new("--cassette"),
            cassette.as_os_str(),
        ];
        let replay = iam_host(&words);
        assert_eq!((replay.code, entry(&replay)), (1, expected.clone()));
        let node = hosts::node_host(&words)
            .output()
            .expect("node (is Node.js installed?)");
        assert_eq!(
            String::from_utf8_lossy(&node.stdout),
            replay.stdout,
            "{}",
            String::from_utf8_lossy(&node.stderr)
        );
    }
    assert_eq!(server.connections(), 0, "a request was sent");
}

#[test]
fn a_token_that_is_a_word_of_the_cassette_format_leaves_the_recording_intact() {
    // Regression: the recording scrubbed its own keys, so this token wrote
    // `"<redacted>"` for `"interactions"`, broke the file, and the error showed the token.
    let token = "interactions";
    let server = Server::start(move |_| echoing_user(token));
    let dir = Scratch::new("word");
    let (live, config, args, recording) = live_recorded_get_user(&server, token, &dir);
    assert_eq!(live.code, 0, "{}", live.stderr);
    assert_no_token(token, "stdout", &live.stdout);
    assert_no_token(token, "stderr", &live.stderr);
    let cassette = read_cassette(&recording);
    // Only the format's own key holds the word; no recorded value does.
    let values = serde_json::to_string(&cassette.interactions).expect("JSON");
    assert_no_token(token, "the recorded interactions", &values);
    let replay = run_command(
        "iam-get-user",
        &config,
        &args,
        &[OsStr::new("--cassette"), recording.as_os_str()],
    );
    assert_eq!(
        (replay.code, &replay.stdout),
        (0, &live.stdout),
        "{}",
        replay.stderr
    );
}
