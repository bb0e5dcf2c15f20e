//! Criterion micro-benchmarks of the guest's hot pieces, natively: the markdown table, the
//! built-in outgoing mapper, JSON parsing of a SCIM answer, the entry, and one whole
//! `iam-update-user` over an in-memory transport. `cargo bench -p atlassian-iam`.
//! The sandboxed figures are `iam-host bench`'s (BENCHMARKS.md).

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use std::hint::black_box;

use atlassian_iam::entry::{Action, IamOutput, VendorResult};
use atlassian_iam::invocation;
use atlassian_iam::mapper::Mapper;
use atlassian_iam::markdown;
use atlassian_iam::transport::{LogLevel, Request, Response, SendError, Transport};

const CASSETTE: &str = include_str!("../tests/cases/update_seed_example/cassette.json");
const PARAMS: &str =
    r#"{"url":"https://api.atlassian.com","directory_id":"315e79ae-404a-4061-8a88-df91c8c7db34"}"#;
const PROFILE: &str = r#"{"email": "testatlas@paloaltonetworks.com", "username": "testatlas@paloaltonetworks.com", "title": "Manager"}"#;

/// The recorded answers, in order.
struct Answers(Vec<Response>, usize);

impl Transport for Answers {
    fn send(&mut self, _request: &Request) -> Result<Response, SendError> {
        self.1 += 1;
        self.0
            .get(self.1 - 1)
            .cloned()
            .ok_or_else(|| SendError::Transport("no more answers".into()))
    }
    fn sleep(&mut self, _millis: u64) {}
    fn now_millis(&mut self) -> u64 {
        0
    }
    fn log(&mut self, _level: LogLevel, _message: &str) {}
}

fn recorded_bodies() -> Vec<Vec<u8>> {
    let cassette: Value = serde_json::from_str(CASSETTE).expect("the cassette is JSON");
    cassette["interactions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|interaction| interaction["response"]["body"].to_string().into_bytes())
        .collect()
}

fn hot_pieces(c: &mut Criterion) {
    let bodies = recorded_bodies();
    let user: Value = serde_json::from_slice(&bodies[1]).expect("a user");
    let profile: Map<String, Value> = serde_json::from_str(PROFILE).expect("a profile");
    let full_profile: Map<String, Value> = serde_json::from_value(json!({
        "email": "jd@example.com", "username": "jdoe", "givenname": "John", "surname": "Doe",
        "displayname": "John Doe", "title": "Engineer", "employeeid": "E42", "mobilephone": "+1 555 0100",
        "employeenumber": "1042", "department": "R&D", "division": "Cloud", "costcentercode": "CC7",
        "countrycodenumber": "840", "peoplemanagerflag": "true", "employeetype": "Employee"
    }))
    .expect("a profile");
    let result = VendorResult {
        action: Action::Update,
        success: true,
        active: Some(true),
        id: Some("247b915a-9d6c-4cd5-b5a5-071b1b3abc2e".into()),
        username: Some("testatlas@paloaltonetworks.com".into()),
        email: Some("testatlas@paloaltonetworks.com".into()),
        error_code: None,
        error_message: String::new(),
        details: user.clone(),
        skipped: false,
        reason: String::new(),
    };

    c.bench_function("markdown/details_table", |b| {
        b.iter(|| {
            markdown::table(
                "Update User Results (Atlassian IAM)",
                black_box(&[("details", &user)]),
            )
        })
    });
    c.bench_function("mapping/outgoing_full_profile", |b| {
        let mapper = Mapper::find("User Profile - SCIM (Outgoing)", &[]).expect("built in");
        b.iter(|| mapper.map("User Profile - Update", black_box(&full_profile)))
    });
    c.bench_function("json/parse_list_answer", |b| {
        b.iter(|| serde_json::from_slice::<Value>(black_box(&bodies[0])))
    });
    c.bench_function("json/entry", |b| {
        let profile = Value::Object(profile.clone());
        b.iter(|| {
            IamOutput::new(
                black_box(result.clone()),
                &profile,
                atlassian_iam::entry::BRAND,
                "Atlassian IAM_instance_1",
            )
        })
    });
    c.bench_function("command/update_user_native", |b| {
        let answers: Vec<Response> = bodies
            .iter()
            .map(|body| Response {
                status: 200,
                headers: Vec::new(),
                body: body.clone(),
            })
            .collect();
        // The invocation as a host passes it, the profile as a string holding its JSON.
        let profile_json = serde_json::to_string(PROFILE).expect("a JSON string");
        let invocation = format!(
            r#"{{"command":"iam-update-user","params":{PARAMS},"args":{{"user-profile":{profile_json}}}}}"#
        );
        b.iter(|| {
            let mut transport = Answers(answers.clone(), 0);
            invocation::run(&invocation, Some("access_token"), &mut transport)
        })
    });
}

criterion_group!(benches, hot_pieces);
criterion_main!(benches);
