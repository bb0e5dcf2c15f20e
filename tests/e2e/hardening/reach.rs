//! What the hostile component reaches for: dot segments, URLs with a password.

use super::*;

fn hostile_component() -> &'static Path {
    static HOSTILE: OnceLock<PathBuf> = OnceLock::new();
    HOSTILE.get_or_init(|| {
        artifact::build_wasm_package("hostile-guest")
            .unwrap_or_else(|e| panic!("cannot build tests/hostile: {e:#}"))
    })
}

fn hostile_host() -> &'static iam_host::Host {
    static HOST: OnceLock<iam_host::Host> = OnceLock::new();
    HOST.get_or_init(|| support::host_over(hostile_component(), Limits::default()))
}

/// The hostile component's request to `target`: the entry's message, and how many requests
/// reached the server.
fn reach(target: &str) -> (String, usize) {
    let mut params = object(params(
        "https://tenant-1.example",
        TOKEN,
        json!({"hostile": "reach"}),
    ));
    params.insert("target".into(), json!(target));
    let backend = Scripted::answering(Vec::new());
    let seen = backend.seen();
    let report = support::run(
        hostile_host(),
        "test-module",
        params,
        Default::default(),
        backend,
    );
    let (_, entry) = support::entry_of(&report);
    let message = entry["Contents"].as_str().unwrap_or_default().to_string();
    (message, seen.requests().len())
}

#[test]
fn a_path_that_changes_when_parsed_is_denied_and_never_sent() {
    for path in [
        "/scim/directory/d1/Users/..",
        "/scim/directory/d1/Users/../../admin",
        "/scim/directory/d1/Users/%2E%2E",
        "/scim/directory/d1/Users/%2e%2E/admin",
        "/scim/directory/d1/Users/.%2E",
        "/scim/directory/d1/Users/%2E",
        "/scim/directory/d1/Users/./x",
        "/scim/directory/d1\\..\\admin",
    ] {
        let (message, sent) = reach(&format!("https://tenant-1.example{path}"));
        assert!(
            message.contains("HttpError::Denied(Denial::PathChanges("),
            "{path}: {message}"
        );
        assert_eq!(sent, 0, "{path}: the request was sent");
    }
    // An encoded dot inside a segment is no dot segment: it goes out as written.
    let (message, sent) = reach("https://tenant-1.example/scim/directory/d1/Users/a%2E%2Eb");
    assert_eq!((message.as_str(), sent), ("the request was sent (200)", 1));
}

#[test]
fn a_url_with_a_password_is_refused_without_printing_it() {
    for target in [
        "https://jdoe:hunter2-secret@tenant-1.example/scim/directory/d1/Users",
        "https://jdoe:hunter2-secret@/scim",
        "https://jdoe:hunter2-secret@[::1/scim",
        "https://jdoe:hunter2-secret@tenant-2.example/scim",
    ] {
        let (message, sent) = reach(target);
        assert!(
            message.starts_with("the request failed: HttpError::Denied("),
            "{target}: {message}"
        );
        assert!(
            !message.contains("hunter2") && !message.contains("jdoe"),
            "{target}: {message}"
        );
        assert_eq!(sent, 0, "{target}");
    }
}
