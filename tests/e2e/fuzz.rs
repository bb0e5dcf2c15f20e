//! The fuzz target over the guest's entry point, run natively: a generated profile,
//! configuration and sequence of server answers go into `atlassian_iam::invocation::run`,
//! through a transport that answers from the sequence, and the command must neither panic
//! nor send what it must not (another origin, a guest-made `Authorization`, more requests
//! than the host's budget, more waiting than the retry policy allows), and must end in a
//! well-formed entry. Cases that also fit the host's API are replayed through the component, which must
//! print the same bytes.
//!
//! The generator is std-only (a xorshift generator seeded per case, so any case is
//! reproducible from its seed and index), biased towards the inputs that break parsers: wrong
//! JSON types, deep nesting, invalid UTF-8, odd numbers, `Retry-After` values, unusual
//! statuses, mapper definitions with every transformer. It runs for a bounded time
//! (`IAM_FUZZ_SECONDS`, default 20) from a fresh seed each run, printed at the start and in
//! any failure (`IAM_FUZZ_SEED=<seed>` runs that sequence again), and replays the
//! committed corpus in `tests/fuzz/corpus/` first. `IAM_FUZZ_CORPUS_OUT=<dir>` saves the
//! first case of each new outcome signature there, to grow the corpus. `limits.rs` uses
//! `run_native` for a regression it pins.

use std::collections::{BTreeSet, VecDeque};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use atlassian_iam::invocation::{self, CREDENTIAL_NAME};
use atlassian_iam::transport::{Denial, LogLevel, Request, Response, SendError, Transport};
use iam_host::backend::{BackendError, IncomingResponse};
use iam_host::limits::DEFAULT_MAX_REQUESTS;
use iam_host::{EntryType, Invocation, Outcome};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::support::{self, Scripted};

/// Default fuzzing time: long enough that each CI run explores new cases, not only the
/// shapes the corpus covers; it runs beside the other tests, on the same cores.
const DEFAULT_FUZZ_SECONDS: u64 = 20;
/// One case in this many (that fits the host's API) also runs through the component: the
/// component costs more than the native core, and its comparison needs no volume.
const COMPONENT_EVERY: u64 = 8;
/// Nesting depths of generated bodies: around serde_json's recursion limit (128) and far
/// beyond it (the 100,000 of a hostile server).
const NESTING_DEPTHS: [usize; 6] = [10, 127, 128, 129, 1_000, 100_000];
/// Waiting the retry policy allows one command, in ms (behaviour.md §3: 30 s in total).
const MAX_TOTAL_WAIT_MS: u64 = 30_000;
/// The token the component runs get; it must never appear in an entry.
const TOKEN: &str = "fuzz-s3cr3t-token";

/// One fuzz input: a command, its configuration and arguments, and the server's answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// A command name, e.g. `iam-update-user`.
    pub command: String,
    /// The instance parameters as the guest receives them (the token taken out), as text so
    /// that invalid configurations are inputs too.
    pub params_json: String,
    /// Whether the host holds a token for the tenant.
    pub credential: bool,
    /// The `user-profile` argument's JSON text as the guest receives it; none when missing.
    pub profile_json: Option<String>,
    pub allow_enable: bool,
    /// The server's answers, in order; a request past the end fails in transport.
    pub answers: Vec<Answer>,
    /// The clock at the start, in ms since the Unix epoch (for `Retry-After` dates).
    pub now_millis: u64,
    /// Why the case is in the corpus: the outcome it was the first to reach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One answer to one request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Answer {
    Response {
        status: u16,
        headers: Vec<(String, String)>,
        body: Body,
    },
    Timeout,
    Transport(String),
    Denied(String),
    TooLarge(u64),
    TooManyRequests(u32),
}

/// A response body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Body {
    Text(String),
    /// Bytes that need not be UTF-8, in hex.
    Hex(String),
    /// `open` repeated `depth` times, then `close` repeated `depth` times.
    Nested {
        depth: usize,
        open: String,
        close: String,
    },
}

impl Body {
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Body::Text(text) => text.as_bytes().to_vec(),
            Body::Hex(hex) => (0..hex.len() / 2)
                .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
                .collect(),
            Body::Nested { depth, open, close } => [open.repeat(*depth), close.repeat(*depth)]
                .concat()
                .into_bytes(),
        }
    }
}

impl Answer {
    fn to_send_result(&self) -> Result<Response, SendError> {
        match self {
            Answer::Response {
                status,
                headers,
                body,
            } => Ok(Response {
                status: *status,
                headers: headers.clone(),
                body: body.bytes(),
            }),
            Answer::Timeout => Err(SendError::Timeout),
            Answer::Transport(why) => Err(SendError::Transport(why.clone())),
            Answer::Denied(why) => Err(SendError::Denied(Denial::PathChanges(why.clone()))),
            Answer::TooLarge(cap) => Err(SendError::ResponseTooLarge(*cap)),
            Answer::TooManyRequests(budget) => Err(SendError::TooManyRequests(*budget)),
        }
    }

    /// The same answer from a host backend; none for the refusals only the host itself makes.
    fn to_backend_result(&self) -> Option<Result<IncomingResponse, BackendError>> {
        match self {
            Answer::Response {
                status,
                headers,
                body,
            } => Some(Ok(IncomingResponse {
                status: *status,
                headers: headers.clone(),
                body: body.bytes(),
            })),
            Answer::Timeout => Some(Err(BackendError::Timeout)),
            Answer::Transport(why) => Some(Err(BackendError::Transport(why.clone()))),
            Answer::Denied(_) | Answer::TooLarge(_) | Answer::TooManyRequests(_) => None,
        }
    }
}

/// The native transport: answers in order, virtual time, and a record of what was sent.
struct Answering {
    answers: VecDeque<Answer>,
    sent: Vec<Request>,
    slept_millis: u64,
    now_millis: u64,
}

impl Transport for Answering {
    fn send(&mut self, request: &Request) -> Result<Response, SendError> {
        self.sent.push(request.clone());
        match self.answers.pop_front() {
            Some(answer) => answer.to_send_result(),
            None => Err(SendError::Transport(
                "the fuzz case has no more answers".into(),
            )),
        }
    }
    fn sleep(&mut self, millis: u64) {
        self.slept_millis = self.slept_millis.saturating_add(millis);
        self.now_millis = self.now_millis.saturating_add(millis);
    }
    fn now_millis(&mut self) -> u64 {
        self.now_millis
    }
    fn log(&mut self, _level: LogLevel, _message: &str) {}
}

/// A case's answers as a host backend gives them.
type BackendAnswers = VecDeque<Result<IncomingResponse, BackendError>>;

/// What a clean run produced: the entry and a signature of the path it took.
#[derive(Debug)]
pub struct Ran {
    pub entry_json: String,
    pub signature: String,
}

/// Run a case natively; `Err` describes a panic, a broken invariant or a malformed entry.
pub fn run_native(case: &Case) -> Result<Ran, String> {
    let mut transport = Answering {
        answers: case.answers.iter().cloned().collect(),
        sent: Vec::new(),
        slept_millis: 0,
        now_millis: case.now_millis,
    };
    let credential = case.credential.then_some(CREDENTIAL_NAME);
    let command = case.command.as_str();
    // The invocation as a host passes it: the arguments are whatever the case holds; the
    // component reads `allow-enable` only for create and update.
    let mut invocation = format!(
        r#"{{"command":{},"params":{},"args":{{"allow-enable":{}"#,
        Value::String(command.to_string()),
        case.params_json,
        case.allow_enable
    );
    if let Some(profile_json) = &case.profile_json {
        invocation.push_str(&format!(r#","user-profile":{profile_json}"#));
    }
    invocation.push_str("}}");
    let ran = panic::catch_unwind(AssertUnwindSafe(
        || -> Result<(EntryType, String), String> {
            if invocation::Command::from_name(command).is_none() {
                return Err(format!("the case names no command: {command:?}"));
            }
            let outcome = invocation::run(&invocation, credential, &mut transport);
            Ok(match outcome.entry_type {
                invocation::EntryType::Note => (EntryType::Note, outcome.entry_json),
                invocation::EntryType::Error => (EntryType::Error, outcome.entry_json),
            })
        },
    ));
    let (entry_type, entry_json) = match ran {
        Ok(result) => result?,
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            return Err(format!("the command panicked: {message}"));
        }
    };
    check_requests(case, &transport)?;
    let signature = check_entry(command, entry_type, &entry_json)?;
    // Coarse on purpose: one corpus case per kind of path, not per message.
    let sent = match transport.sent.len() {
        0 => "none",
        1 => "one",
        _ => "several",
    };
    Ok(Ran {
        signature: format!(
            "{command} {signature} sent={sent} retried={}",
            transport.slept_millis > 0
        ),
        entry_json,
    })
}

/// What every request must respect, whatever the inputs.
fn check_requests(case: &Case, transport: &Answering) -> Result<(), String> {
    if transport.sent.len() > DEFAULT_MAX_REQUESTS as usize {
        return Err(format!(
            "{} requests: more than the host's budget of {DEFAULT_MAX_REQUESTS}",
            transport.sent.len()
        ));
    }
    if transport.slept_millis > MAX_TOTAL_WAIT_MS {
        return Err(format!(
            "waited {} ms: more than the retry policy's {MAX_TOTAL_WAIT_MS}",
            transport.slept_millis
        ));
    }
    let base = serde_json::from_str::<Value>(&case.params_json)
        .ok()
        .and_then(|params| {
            params
                .get("url")
                .and_then(Value::as_str)
                .map(|url| url.trim_end_matches('/').to_string())
        });
    for request in &transport.sent {
        if request.credential.as_deref() != Some(CREDENTIAL_NAME) {
            return Err(format!(
                "a request names the credential {:?}",
                request.credential
            ));
        }
        if request.headers.iter().any(|(name, _)| {
            ["authorization", "cookie", "host"]
                .iter()
                .any(|f| name.eq_ignore_ascii_case(f))
        }) {
            return Err(format!(
                "a request sets a header only the host may set: {:?}",
                request.headers
            ));
        }
        match &base {
            Some(base) if request.url.starts_with(&format!("{base}/")) => {}
            _ => {
                return Err(format!(
                    "a request leaves the configured url {base:?}: {}",
                    request.url
                ));
            }
        }
    }
    Ok(())
}

/// Check that an entry is well formed; its signature (kind and code) when it is.
fn check_entry(command: &str, entry_type: EntryType, entry_json: &str) -> Result<String, String> {
    let entry: Value = serde_json::from_str(entry_json)
        .map_err(|e| format!("the entry is not JSON ({e}): {entry_json}"))?;
    let fail = |why: &str| Err(format!("{why}: {entry_json}"));
    match entry_type {
        EntryType::Error => {
            let contents = entry
                .get("Contents")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if entry != json!({"Type": 4, "ContentsFormat": "text", "Contents": contents})
                || contents.is_empty()
            {
                return fail("a malformed error entry");
            }
            let words: Vec<&str> = contents.split_whitespace().take(2).collect();
            Ok(format!("type4({})", words.join(" ")))
        }
        EntryType::Note if command == "test-module" => {
            if entry != json!({"Type": 1, "ContentsFormat": "text", "Contents": "ok"}) {
                return fail("test-module succeeded without its ok entry");
            }
            Ok("ok".into())
        }
        EntryType::Note if command == "get-mapping-fields" => {
            let fields = entry.pointer("/Contents/User Profile");
            if entry.get("Type") != Some(&json!(1)) || !fields.is_some_and(Value::is_object) {
                return fail("a malformed mapping-fields entry");
            }
            Ok("fields".into())
        }
        EntryType::Note => {
            const KEYS: [&str; 13] = [
                "brand",
                "instanceName",
                "action",
                "success",
                "active",
                "id",
                "username",
                "email",
                "errorCode",
                "errorMessage",
                "details",
                "skipped",
                "reason",
            ];
            let Some(contents) = entry.get("Contents").and_then(Value::as_object) else {
                return fail("an IAM entry without Contents");
            };
            let keys: Vec<&str> = contents.keys().map(String::as_str).collect();
            let markdown = entry
                .get("HumanReadable")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let context = entry
                .get("EntryContext")
                .and_then(Value::as_object)
                .map_or(0, Map::len);
            if entry.get("Type") != Some(&json!(1))
                || keys != KEYS
                || !markdown.starts_with("### ")
                || context != 2
            {
                return fail("a malformed IAM entry");
            }
            let success = contents.get("success").and_then(Value::as_bool);
            let skipped = contents.get("skipped").and_then(Value::as_bool);
            let message = contents
                .get("errorMessage")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match (success, skipped) {
                (Some(true), Some(true)) => Ok(format!(
                    "skipped({})",
                    contents
                        .get("reason")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                )),
                (Some(true), Some(false)) => Ok(format!(
                    "success({})",
                    contents
                        .get("action")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                )),
                (Some(false), Some(false)) if !message.is_empty() => {
                    let code = contents
                        .get("errorCode")
                        .and_then(Value::as_u64)
                        .map_or("none".to_string(), |code| format!("{}xx", code / 100));
                    Ok(format!("failed({code})"))
                }
                _ => {
                    fail("an IAM entry with an impossible success/skipped/errorMessage combination")
                }
            }
        }
    }
}

/// The host's view of a case, when the case fits its API: the invocation, and the case as
/// the guest then receives it (the host re-serialises parameters and profile).
fn through_host(case: &Case) -> Option<(Invocation, Case, BackendAnswers)> {
    if !support::host().has_command(&case.command) {
        return None;
    }
    let Ok(Value::Object(mut params)) = serde_json::from_str::<Value>(&case.params_json) else {
        return None;
    };
    // The host would take these out as the token itself.
    if params.contains_key("access_token") || params.contains_key("access_token_creds") {
        return None;
    }
    // The host's policy allows https, and plain http only to a loopback address; the guest
    // alone cannot know, so such cases differ on purpose.
    let url = params
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !(url.starts_with("https://") || url.starts_with("http://127.0.0.1")) || url.contains('@') {
        return None;
    }
    let guest_params_json = Value::Object(params.clone()).to_string();
    if case.credential {
        params.insert("access_token".into(), json!(TOKEN));
    }
    let mut args = Map::new();
    let mut guest = case.clone();
    guest.params_json = guest_params_json;
    if let Some(text) = &case.profile_json {
        let profile: Value = serde_json::from_str(text).ok()?;
        if profile.is_null() {
            return None;
        }
        guest.profile_json = Some(profile.to_string());
        args.insert("user-profile".into(), profile);
    }
    args.insert("allow-enable".into(), json!(case.allow_enable));
    let answers = case
        .answers
        .iter()
        .map(Answer::to_backend_result)
        .collect::<Option<BackendAnswers>>()?;
    Some((
        Invocation {
            command: case.command.clone(),
            params,
            args,
        },
        guest,
        answers,
    ))
}

/// Run a case through the component and natively on the same inputs; `Err` when the two
/// differ or the component leaks the token. `Ok(false)` when the case does not fit the host.
pub fn compare_with_component(case: &Case) -> Result<bool, String> {
    let Some((invocation, guest_case, mut answers)) = through_host(case) else {
        return Ok(false);
    };
    let native = run_native(&guest_case)?;
    let backend = Scripted::new(move |_| {
        answers.pop_front().unwrap_or_else(|| {
            Err(BackendError::Transport(
                "the fuzz case has no more answers".into(),
            ))
        })
    })
    .at(case.now_millis);
    let report = support::host().run_blocking(&invocation, iam_host::Http::live(backend));
    let Outcome::Entry { entry_json, .. } = report.outcome else {
        return Err(format!(
            "the component's run did not end in an entry: {:?}",
            report.outcome
        ));
    };
    if entry_json.contains(TOKEN) {
        return Err(format!(
            "the component's entry contains the token: {entry_json}"
        ));
    }
    if entry_json != native.entry_json {
        return Err(format!(
            "the component and the native core differ:\n  component: {entry_json}\n  native:    {}",
            native.entry_json
        ));
    }
    Ok(true)
}

/// xorshift64*: small, fast, and good enough to pick among inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // splitmix64 once, so that neighbouring seeds start far apart (and never at 0).
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// True with probability 1 in `n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const PROFILE_KEYS: [&str; 24] = [
    "email",
    "username",
    "givenname",
    "surname",
    "displayname",
    "title",
    "employeeid",
    "mobilephone",
    "employeenumber",
    "department",
    "division",
    "costcentercode",
    "countrycodenumber",
    "peoplemanagerflag",
    "employeetype",
    "id",
    "olduserdata",
    "userName",
    "emails",
    "active",
    "name",
    "externalId",
    "schemas",
    "meta",
];
const TEXTS: [&str; 22] = [
    "",
    " ",
    "a@b.com",
    "jd@example.com",
    "o\"brien",
    "back\\slash",
    "José",
    "Zoë Ünïcødé",
    "😀",
    "a|b",
    "x`y",
    "line\nbreak",
    "tab\there",
    "\u{0}",
    "..",
    "/",
    "a/b?c#d%e",
    "${email}",
    "{\"a\":1}",
    "[1,2]",
    "true",
    "18446744073709551616",
];
const NUMBERS: [&str; 12] = [
    "0",
    "-0.0",
    "1",
    "-1",
    "1.5",
    "0.1",
    "1e308",
    "-1e308",
    "5e-324",
    "18446744073709551615",
    "-9223372036854775808",
    "123456789012345678901234567890",
];
const STATUSES: [u16; 16] = [
    200, 200, 200, 201, 204, 400, 401, 404, 409, 429, 500, 502, 503, 504, 302, 418,
];
const MAPPER_NAMES: [&str; 5] = [
    "User Profile - SCIM (Outgoing)",
    "User Profile - SCIM (Incoming)",
    "",
    "fuzz mapper",
    "no such mapper",
];
const INCIDENT_TYPES: [&str; 4] = [
    "User Profile - Create",
    "User Profile - Update",
    "User Profile",
    "Other",
];
const TRANSFORMERS: [&str; 14] = [
    "concat",
    "ParseJSON",
    "toLowerCase",
    "toUpperCase",
    "Stringify",
    "substringFrom",
    "substringTo",
    "split",
    "join",
    "replace",
    "If-Then-Else",
    "SetIfEmpty",
    "Replace",
    "unknownTransformer",
];
const ARGUMENT_NAMES: [&str; 12] = [
    "prefix",
    "suffix",
    "from",
    "to",
    "delimiter",
    "separator",
    "toReplace",
    "replaceWith",
    "condition",
    "then",
    "else",
    "defaultValue",
];
const PATHS: [&str; 10] = [
    "email",
    "username",
    "emails.[0].value",
    "name\\.x",
    "olduserdata.email",
    "[0]",
    "a.b.c",
    "",
    ".",
    "id.[99999999999]",
];

fn text(rng: &mut Rng) -> String {
    if rng.one_in(8) {
        // A random mix of bytes-turned-characters, including multi-byte ones.
        let length = rng.below(12);
        return (0..length)
            .filter_map(|_| {
                char::from_u32(
                    *rng.pick(&[0x22, 0x5C, 0x41, 0x7C, 0xE9, 0x2028, 0x1F600, 0x0A, 0x7F]),
                )
            })
            .collect();
    }
    rng.pick(&TEXTS).to_string()
}

fn value(rng: &mut Rng, depth: usize) -> Value {
    let choice = if depth == 0 {
        rng.below(4)
    } else {
        rng.below(7)
    };
    match choice {
        0 => Value::Null,
        1 => json!(rng.one_in(2)),
        2 => {
            let number: &&str = rng.pick(&NUMBERS);
            serde_json::from_str(number).unwrap_or(Value::Null)
        }
        3 => Value::String(text(rng)),
        4 => Value::Array((0..rng.below(4)).map(|_| value(rng, depth - 1)).collect()),
        _ => Value::Object(
            (0..rng.below(4))
                .map(|_| (key(rng), value(rng, depth - 1)))
                .collect(),
        ),
    }
}

fn key(rng: &mut Rng) -> String {
    if rng.one_in(4) {
        text(rng)
    } else {
        rng.pick(&PROFILE_KEYS).to_string()
    }
}

fn flag(rng: &mut Rng) -> Value {
    rng.pick(&[
        json!(true),
        json!(false),
        json!("true"),
        json!("FALSE"),
        json!("yes"),
        json!(1),
        Value::Null,
    ])
    .clone()
}

fn rule(rng: &mut Rng, depth: usize) -> Value {
    if depth == 0 || rng.one_in(3) {
        return json!({"simple": rng.pick(&PATHS)});
    }
    let transformers: Vec<Value> = (0..rng.below(4))
        .map(|_| {
            let args: Map<String, Value> = (0..rng.below(3))
                .map(|_| {
                    let argument = if rng.one_in(4) {
                        json!({"value": {"complex": rule(rng, depth - 1).get("complex").cloned()}, "isContext": false})
                    } else {
                        json!({"value": {"simple": text(rng)}, "isContext": rng.one_in(3)})
                    };
                    (rng.pick(&ARGUMENT_NAMES).to_string(), argument)
                })
                .collect();
            json!({"operator": rng.pick(&TRANSFORMERS), "args": args})
        })
        .collect();
    let root = if rng.one_in(3) {
        format!("${{{}}}", rng.pick(&PATHS))
    } else {
        rng.pick(&PATHS).to_string()
    };
    json!({"complex": {"root": root, "accessor": rng.pick(&PATHS), "filters": [], "transformers": transformers}})
}

fn mapper(rng: &mut Rng) -> Value {
    let mapping: Map<String, Value> = (0..1 + rng.below(2))
        .map(|_| {
            let fields: Map<String, Value> = (0..rng.below(5))
                .map(|_| (key(rng), rule(rng, 2)))
                .collect();
            (
                rng.pick(&INCIDENT_TYPES).to_string(),
                json!({"internalMapping": fields}),
            )
        })
        .collect();
    json!({"id": "fuzz mapper", "name": "fuzz mapper", "type": "mapping-outgoing", "mapping": mapping})
}

fn params(rng: &mut Rng) -> String {
    if rng.one_in(40) {
        return rng
            .pick(&["", "[]", "null", "{", "\"x\"", "{\"url\": 5}"])
            .to_string();
    }
    let mut params = Map::new();
    let url = rng.pick(&[
        "https://api.atlassian.com",
        "https://api.atlassian.com/",
        "https://tenant.example:8443/base/",
        "http://127.0.0.1:9",
    ]);
    params.insert("url".into(), json!(url));
    params.insert(
        "directory_id".into(),
        json!(if rng.one_in(3) {
            text(rng)
        } else {
            "d1".to_string()
        }),
    );
    for key in [
        "create_user_enabled",
        "update_user_enabled",
        "enable_user_enabled",
        "disable_user_enabled",
        "create_if_not_exists",
        "insecure",
    ] {
        if rng.one_in(4) {
            params.insert(key.into(), flag(rng));
        }
    }
    if rng.one_in(4) {
        params.insert(
            "disable_method".into(),
            rng.pick(&[json!("patch"), json!("delete"), json!("PATCH"), json!(3)])
                .clone(),
        );
    }
    if rng.one_in(5) {
        params.insert("instance_name".into(), json!(text(rng)));
    }
    for key in ["mapper_in", "mapper_out"] {
        if rng.one_in(4) {
            params.insert(key.into(), json!(rng.pick(&MAPPER_NAMES)));
        }
    }
    if rng.one_in(4) {
        params.insert(
            "mappers".into(),
            if rng.one_in(6) {
                value(rng, 2)
            } else {
                json!([mapper(rng)])
            },
        );
    }
    if rng.one_in(20) {
        // A required key missing or of the wrong type.
        let key = *rng.pick(&["url", "directory_id"]);
        if rng.one_in(2) {
            params.shift_remove(key);
        } else {
            params.insert(key.into(), value(rng, 1));
        }
    }
    Value::Object(params).to_string()
}

fn profile(rng: &mut Rng) -> Option<String> {
    match rng.below(30) {
        0 => None,
        1 => Some(
            rng.pick(&[
                "",
                "{",
                "[]",
                "5",
                "\"not json\"",
                "{}",
                "null",
                "\"{\\\"email\\\":\\\"a@b.com\\\"}\"",
            ])
            .to_string(),
        ),
        2 => {
            let depth = *rng.pick(&NESTING_DEPTHS);
            Some(format!("{}{}", "{\"a\":".repeat(depth), "}".repeat(depth)))
        }
        _ => {
            let mut profile: Map<String, Value> = (0..1 + rng.below(6))
                .map(|_| (key(rng), value(rng, 2)))
                .collect();
            if rng.one_in(2) {
                profile.insert("email".into(), json!(text(rng)));
            }
            if rng.one_in(3) {
                profile.insert("username".into(), json!(text(rng)));
            }
            if rng.one_in(5) {
                let old: Map<String, Value> = (0..rng.below(3))
                    .map(|_| (key(rng), value(rng, 1)))
                    .collect();
                profile.insert("olduserdata".into(), Value::Object(old));
            }
            let profile = Value::Object(profile);
            // The argument may arrive as a string holding the JSON.
            Some(if rng.one_in(5) {
                Value::String(profile.to_string()).to_string()
            } else {
                profile.to_string()
            })
        }
    }
}

fn user(rng: &mut Rng) -> Value {
    let mut user = Map::new();
    if !rng.one_in(8) {
        user.insert(
            "id".into(),
            if rng.one_in(6) {
                value(rng, 1)
            } else {
                json!(text(rng))
            },
        );
    }
    if rng.one_in(2) {
        user.insert("userName".into(), json!(text(rng)));
    }
    if rng.one_in(2) {
        user.insert("active".into(), flag(rng));
    }
    if rng.one_in(2) {
        let emails = json!([{"value": text(rng), "primary": flag(rng)}, {"value": text(rng)}]);
        user.insert(
            "emails".into(),
            if rng.one_in(4) { value(rng, 2) } else { emails },
        );
    }
    for _ in 0..rng.below(3) {
        user.insert(key(rng), value(rng, 2));
    }
    if rng.one_in(4) {
        user.insert("meta".into(), json!({"resourceType": "User"}));
        user.insert(
            "urn:scim:schemas:extension:atlassian-external:1.0".into(),
            json!({"atlassianAccountId": "x"}),
        );
    }
    Value::Object(user)
}

fn body(rng: &mut Rng) -> Body {
    match rng.below(14) {
        0 | 1 => {
            let users: Vec<Value> = (0..rng.below(3)).map(|_| user(rng)).collect();
            let total = if rng.one_in(4) {
                value(rng, 0)
            } else {
                json!(users.len())
            };
            Body::Text(json!({"totalResults": total, "Resources": users}).to_string())
        }
        2 | 3 => Body::Text(user(rng).to_string()),
        4 => {
            let attributes: Vec<Value> = (0..rng.below(4))
                .map(|_| json!({"name": value(rng, 0), "description": value(rng, 0)}))
                .collect();
            Body::Text(json!({"attributes": if rng.one_in(4) { value(rng, 1) } else { Value::Array(attributes) }}).to_string())
        }
        5 => {
            let mut error = Map::new();
            error.insert(
                rng.pick(&["detail", "error", "message"]).to_string(),
                value(rng, 1),
            );
            Body::Text(Value::Object(error).to_string())
        }
        6 => Body::Text(value(rng, 3).to_string()),
        7 => Body::Text(
            rng.pick(&[
                "",
                " \n",
                "<html>502</html>",
                "not json",
                "{\"totalResults\":",
                "\u{feff}{}",
                "nul",
            ])
            .to_string(),
        ),
        8 => {
            let bytes: Vec<u8> = (0..rng.below(40))
                .map(|_| *rng.pick(&[0xFF, 0xFE, 0xC3, 0x28, b'{', b'"', b'}', 0x80, 0xED, 0xA0]))
                .collect();
            Body::Hex(bytes.iter().map(|b| format!("{b:02x}")).collect())
        }
        9 => {
            let (open, close) =
                *rng.pick(&[("[", "]"), ("{\"a\":", "}"), ("{\"Resources\":[", "]}")]);
            Body::Nested {
                depth: *rng.pick(&NESTING_DEPTHS),
                open: open.into(),
                close: close.into(),
            }
        }
        10 => Body::Text("x".repeat(rng.below(2_000))),
        _ => Body::Text(String::new()),
    }
}

fn retry_after(rng: &mut Rng, now_millis: u64) -> String {
    match rng.below(6) {
        0 => rng.below(40).to_string(),
        1 => rng
            .pick(&[
                "0",
                "-1",
                "1.5",
                "99999999999999999999",
                "18446744073709551615",
                "",
                "soon",
            ])
            .to_string(),
        2 => {
            // An IMF-fixdate near the clock, as a server sends it (RFC 9110 §5.6.7: 4-digit year).
            let at = (now_millis / 1000).saturating_add(rng.below(90) as u64);
            http_date(at)
        }
        3 => format!(
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
            rng.pick(&["Mon", "Sun"]),
            rng.below(40),
            rng.pick(&["Jan", "Feb", "Dec", "Foo"]),
            1960 + rng.below(8_040),
            rng.below(30),
            rng.below(70),
            rng.below(70)
        ),
        _ => "1".into(),
    }
}

/// An IMF-fixdate for seconds since the epoch (civil-from-days, Howard Hinnant's algorithm).
fn http_date(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let (hour, minute, second) = (
        (seconds % 86_400) / 3600,
        (seconds % 3600) / 60,
        seconds % 60,
    );
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days.rem_euclid(7)) as usize];
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{weekday}, {day:02} {} {year:04} {hour:02}:{minute:02}:{second:02} GMT",
        months[(month - 1) as usize]
    )
}

fn answer(rng: &mut Rng, now_millis: u64) -> Answer {
    match rng.below(24) {
        0 => Answer::Timeout,
        1 => Answer::Transport(text(rng)),
        2 if rng.one_in(3) => Answer::Denied("origin not allowed".into()),
        3 if rng.one_in(3) => Answer::TooLarge(10 << 20),
        4 if rng.one_in(3) => Answer::TooManyRequests(32),
        _ => {
            let status = if rng.one_in(10) {
                100 + rng.below(500) as u16
            } else {
                *rng.pick(&STATUSES)
            };
            let mut headers = Vec::new();
            if rng.one_in(3) || matches!(status, 429 | 503) {
                headers.push((
                    rng.pick(&["Retry-After", "retry-after"]).to_string(),
                    retry_after(rng, now_millis),
                ));
            }
            if rng.one_in(4) {
                headers.push(("Content-Type".into(), "application/json".into()));
            }
            Answer::Response {
                status,
                headers,
                body: body(rng),
            }
        }
    }
}

/// The case of one seed and index: reproducible on its own.
pub fn generate(seed: u64, index: u64) -> Case {
    let mut rng = Rng::new(seed ^ index.wrapping_mul(0xD6E8_FEB8_6659_FD93));
    let command = rng.pick(&[
        "iam-get-user",
        "iam-create-user",
        "iam-update-user",
        "iam-disable-user",
        "iam-get-user",
        "iam-update-user",
        "test-module",
        "get-mapping-fields",
    ]);
    let now_millis = 1_700_000_000_000 + rng.below(100_000_000_000) as u64;
    let answers = (0..rng.below(10))
        .map(|_| answer(&mut rng, now_millis))
        .collect();
    Case {
        command: command.to_string(),
        params_json: params(&mut rng),
        credential: !rng.one_in(30),
        profile_json: profile(&mut rng),
        allow_enable: rng.one_in(2),
        answers,
        now_millis,
        note: None,
    }
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fuzz/corpus")
}

/// The committed corpus, by file name.
pub fn corpus() -> Vec<(String, Case)> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(corpus_dir()) {
        Ok(entries) => entries
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|e| e == "json"))
            .collect(),
        Err(e) => panic!(
            "cannot read the fuzz corpus {}: {e}",
            corpus_dir().display()
        ),
    };
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let case = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not a fuzz case: {e}", path.display()));
            (name, case)
        })
        .collect()
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn report(case: &Case, why: &str, origin: &str) -> String {
    let case_json = serde_json::to_string_pretty(case).unwrap_or_default();
    format!(
        "{why}\n  {origin}\n  the case (save it under tests/fuzz/corpus/ to keep it as a regression):\n{case_json}"
    )
}

#[test]
fn fuzz_corpus_replays_clean_natively_and_through_the_component() {
    let corpus = corpus();
    assert!(!corpus.is_empty(), "the fuzz corpus is empty");
    let mut through_component = 0;
    for (name, case) in &corpus {
        if let Err(why) = run_native(case) {
            panic!("{}", report(case, &why, &format!("corpus file {name}")));
        }
        match compare_with_component(case) {
            Ok(compared) => through_component += usize::from(compared),
            Err(why) => panic!(
                "{}",
                report(
                    case,
                    &why,
                    &format!("corpus file {name}, through the component")
                )
            ),
        }
    }
    // Most of the corpus fits the host's API; if none did, the comparison would be vacuous.
    assert!(
        through_component * 2 >= corpus.len(),
        "only {through_component} of {} corpus cases ran through the component",
        corpus.len()
    );
}

#[test]
fn fuzz_random_commands_for_a_bounded_time() {
    let budget = Duration::from_secs(env_u64("IAM_FUZZ_SECONDS", DEFAULT_FUZZ_SECONDS));
    // A fresh sequence each run, so that CI keeps exploring; printed, so that it can be rerun.
    let fresh = std::hash::BuildHasher::hash_one(
        &std::collections::hash_map::RandomState::new(),
        (std::process::id(), Instant::now()),
    );
    let seed = env_u64("IAM_FUZZ_SEED", fresh);
    // Straight to stderr, past the test harness's capture: a passing run's log shows it too.
    std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("fuzz: seed {seed} (IAM_FUZZ_SEED={seed} runs this sequence again)\n").as_bytes(),
    )
    .ok();
    let save_to = std::env::var_os("IAM_FUZZ_CORPUS_OUT").map(PathBuf::from);
    let mut signatures = BTreeSet::new();
    // Load the component before the clock starts: building it is not fuzzing.
    support::host();
    let started = Instant::now();
    let mut index = 0;
    while started.elapsed() < budget {
        let case = generate(seed, index);
        let origin = format!("IAM_FUZZ_SEED={seed}, case {index}");
        let ran =
            run_native(&case).unwrap_or_else(|why| panic!("{}", report(&case, &why, &origin)));
        if index % COMPONENT_EVERY == 0
            && let Err(why) = compare_with_component(&case)
        {
            panic!(
                "{}",
                report(&case, &why, &format!("{origin}, through the component"))
            );
        }
        if signatures.insert(ran.signature.clone())
            && let Some(dir) = &save_to
        {
            let path = dir.join(format!("seed{seed}-{index:06}.json"));
            let noted = Case {
                note: Some(ran.signature.clone()),
                ..case
            };
            let text = serde_json::to_string_pretty(&noted).unwrap_or_default();
            std::fs::write(&path, text + "\n")
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        }
        index += 1;
    }
    eprintln!(
        "fuzz: {index} cases in {:?}, {} distinct outcomes (seed {seed})",
        started.elapsed(),
        signatures.len()
    );
    // Not a timing assertion: with no case run, the budget or the generator is broken.
    assert!(index > 0, "the fuzz budget ran no case");
}
