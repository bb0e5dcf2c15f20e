//! Time, and failures a retry cannot cure.

use super::*;

#[test]
fn a_server_that_never_answers_ends_in_a_failed_result_within_the_wall_clock_budget() {
    // Regression: with the default limits the guest's 4 tries of 30 s plus its waits ran past
    // the host's 120 s, and the command ended in a Type 4 entry. The same, scaled down.
    let server = Server::start(|_| Reply::Never);
    let dir = Scratch::new("never");
    let config = dir.json("config.json", &params(&server.url(), TOKEN, json!({})));
    let args = dir.json("args.json", &get_user_args());
    let limits = dir.json(
        "limits.json",
        &json!({"wall_millis": 3000, "request_timeout_millis": 1000}),
    );
    let run = run_command(
        "iam-get-user",
        &config,
        &args,
        &[
            OsStr::new("--live"),
            OsStr::new("--limits"),
            limits.as_os_str(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let failed = entry(&run);
    assert_eq!(failed["Type"], 1, "{failed:#}");
    assert_eq!(
        (
            &failed["Contents"]["success"],
            &failed["Contents"]["errorCode"]
        ),
        (&json!(false), &Value::Null),
        "{failed:#}"
    );
    let message = failed["Contents"]["errorMessage"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("timed out"), "{message}");
    // Two tries fit the budget; the retries after it answered at once, without a request.
    assert!(
        server.connections() <= 2,
        "{} connections",
        server.connections()
    );
    assert!(run.took < Duration::from_secs(10), "took {:?}", run.took);
    assert_no_token(TOKEN, "stderr", &run.stderr);
}

#[test]
fn garbage_from_the_server_is_a_protocol_failure_and_never_retried() {
    let server = Server::start(|_| Reply::Bytes(b"SSH-2.0-OpenSSH_9.6\r\n\r\n\x00\xff".to_vec()));
    let dir = Scratch::new("garbage");
    let config = dir.json("config.json", &params(&server.url(), TOKEN, json!({})));
    let args = dir.json("args.json", &get_user_args());
    let run = run_command("iam-get-user", &config, &args, &[OsStr::new("--live")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let failed = entry(&run);
    let message = failed["Contents"]["errorMessage"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("answered with invalid HTTP"), "{message}");
    assert_eq!(
        server.connections(),
        1,
        "a GET that cannot be cured was retried"
    );
    assert!(run.took < Duration::from_secs(5), "took {:?}", run.took);
}

#[test]
fn a_self_signed_certificate_is_refused_and_never_retried() {
    let (url, connections) = self_signed_server();
    let dir = Scratch::new("tls");
    let config = dir.json("config.json", &params(&url, TOKEN, json!({})));
    let args = dir.json("args.json", &get_user_args());
    let run = run_command("iam-get-user", &config, &args, &[OsStr::new("--live")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let failed = entry(&run);
    let message = failed["Contents"]["errorMessage"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("certificate"), "{message}");
    assert_eq!(
        connections.load(Ordering::Relaxed),
        1,
        "a refused certificate was retried"
    );
    // With `insecure`, the same server is reached.
    let config = dir.json(
        "insecure.json",
        &params(&url, TOKEN, json!({"insecure": true})),
    );
    let run = iam_host(&[
        OsStr::new("run"),
        OsStr::new("test-module"),
        OsStr::new("--config"),
        config.as_os_str(),
        OsStr::new("--live"),
    ]);
    assert_eq!(
        (run.code, entry(&run)),
        (
            0,
            json!({"Type": 1, "ContentsFormat": "text", "Contents": "ok"})
        ),
        "{}",
        run.stderr
    );
}
