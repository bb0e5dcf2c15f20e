//! The guest never receives the token: the request it builds names the credential
//! reference, and only the host, behind the policy check, adds `Authorization`.

use std::sync::{Arc, Mutex};

use iam_host::backend::{Backend, BackendError, IncomingResponse, OutgoingRequest};
use iam_host::{Command, Invocation, Outcome};
use serde_json::json;

use crate::support::host;

/// A backend that records what the host sends and answers one user.
struct Recording(Arc<Mutex<Vec<OutgoingRequest>>>);

impl Backend for Recording {
    fn send(
        &mut self,
        request: &OutgoingRequest,
        _max: u64,
    ) -> Result<IncomingResponse, BackendError> {
        self.0.lock().expect("lock").push(request.clone());
        Ok(IncomingResponse {
            status: 200,
            headers: vec![],
            body: br#"{"totalResults":1,"Resources":[{"id":"1","userName":"u"}]}"#.to_vec(),
        })
    }
    fn sleep(&mut self, _millis: u64) {}
    fn now_millis(&mut self) -> u64 {
        0
    }
    fn finish(&mut self) -> Result<(), String> {
        Ok(())
    }
}

#[test]
fn the_guest_sends_a_credential_reference_and_the_host_adds_authorization() {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let invocation = Invocation {
        command: Command::GetUser,
        params: json!({"url": "https://api.atlassian.com", "access_token": "s3cr3t-t0ken", "directory_id": "d1"}).as_object().cloned().unwrap_or_default(),
        args: json!({"user-profile": {"username": "u"}}).as_object().cloned().unwrap_or_default(),
    };
    let report = host().run(&invocation, Box::new(Recording(sent.clone())));
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

    let sent = sent.lock().expect("lock");
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
    let sent = Arc::new(Mutex::new(Vec::new()));
    let params = json!({"url": "https://api.atlassian.com", "access_token": "plain", "access_token_creds": {"password": "from-creds"}, "directory_id": "d1"});
    let invocation = Invocation {
        command: Command::TestModule,
        params: params.as_object().cloned().unwrap_or_default(),
        args: Default::default(),
    };
    host().run(&invocation, Box::new(Recording(sent.clone())));
    let sent = sent.lock().expect("lock");
    assert!(
        sent[0]
            .headers
            .contains(&("Authorization".into(), "Bearer from-creds".into()))
    );

    let params = json!({"url": "https://api.atlassian.com", "directory_id": "d1"});
    let invocation = Invocation {
        command: Command::TestModule,
        params: params.as_object().cloned().unwrap_or_default(),
        args: Default::default(),
    };
    let report = host().run(
        &invocation,
        Box::new(Recording(Arc::new(Mutex::new(Vec::new())))),
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
