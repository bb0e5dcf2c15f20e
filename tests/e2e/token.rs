//! The guest never receives the token: the request it builds names the credential
//! reference, and only the host, behind the policy check, adds `Authorization`.

use iam_host::Outcome;
use serde_json::json;

use crate::support::{Scripted, answer, host, object, run};

/// A server that answers every request with one user.
fn one_user() -> Scripted {
    Scripted::new(|_| {
        answer(
            200,
            &[],
            r#"{"totalResults":1,"Resources":[{"id":"1","userName":"u"}]}"#,
        )
    })
}

#[test]
fn the_guest_sends_a_credential_reference_and_the_host_adds_authorization() {
    let backend = one_user();
    let sent = backend.seen();
    let report = run(
        host(),
        "iam-get-user",
        object(
            json!({"url": "https://api.atlassian.com", "access_token": "s3cr3t-t0ken", "directory_id": "d1"}),
        ),
        object(json!({"user-profile": {"username": "u"}})),
        backend,
    );
    let Outcome::Entry { entry_json, .. } = &report.outcome else {
        panic!("{:?}", report.outcome)
    };
    assert!(!entry_json.contains("s3cr3t-t0ken"));

    let [guest] = report.guest_requests.as_slice() else {
        panic!("{:?}", report.guest_requests)
    };
    assert_eq!(guest.auth.as_deref(), Some("access_token"));
    assert!(
        guest
            .headers
            .iter()
            .all(|(name, value)| !name.eq_ignore_ascii_case("authorization")
                && !value.contains("s3cr3t"))
    );
    assert!(guest.body.is_none());

    let sent = sent.requests();
    let [wire] = sent.as_slice() else {
        panic!("{sent:?}")
    };
    let authorization: Vec<&str> = wire
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(authorization, ["Bearer s3cr3t-t0ken"]);
    assert_eq!(
        wire.url.as_str(),
        "https://api.atlassian.com/scim/directory/d1/Users?filter=userName%20eq%20%22u%22"
    );
}

#[test]
fn the_token_from_access_token_creds_wins_and_a_missing_token_is_a_configuration_error() {
    let params = json!({"url": "https://api.atlassian.com", "access_token": "plain", "access_token_creds": {"password": "from-creds"}, "directory_id": "d1"});
    let backend = one_user();
    let sent = backend.seen();
    run(
        host(),
        "test-module",
        object(params),
        Default::default(),
        backend,
    );
    let sent = sent.requests();
    assert!(
        sent[0]
            .headers
            .contains(&("Authorization".into(), "Bearer from-creds".into()))
    );

    let params = json!({"url": "https://api.atlassian.com", "directory_id": "d1"});
    let report = run(
        host(),
        "test-module",
        object(params),
        Default::default(),
        one_user(),
    );
    let Outcome::Entry { entry_json, .. } = report.outcome else {
        panic!()
    };
    assert_eq!(
        entry_json,
        r#"{"Type":4,"ContentsFormat":"text","Contents":"Invalid configuration: missing required key \"access_token\" (or \"access_token_creds.password\")"}"#
    );
    assert!(report.guest_requests.is_empty());
}
