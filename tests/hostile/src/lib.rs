//! A deliberately hostile implementation of the `connector` world (wit/iam.wit), for the
//! host's sandbox tests. Every command reads `{"hostile": "<mode>"}` from the parameters of its
//! invocation and misbehaves in that way: an endless loop, a memory bomb, a request flood, a panic, a
//! stack overflow, an endless sleep, an oversized request, or a request
//! that reaches for what another tenant owns (`reach`: the URL in `target`, the credential
//! named in `as`, the header named in `header`). The mode `none` behaves: one request to the tenant's own `url`, then test-module's `ok` entry, so
//! that a test can run a well-behaved tenant on the same host at the same time; `send-all`
//! behaves too: several requests in one `http.send-all`, each answer reported in order; and
//! `map-object` reports what `platform.map-object` answers.
//!
//! It knows nothing of the real connector; it only speaks the WIT contract. Natively it
//! compiles to nothing, so `cargo test --workspace` does not need the wasm target for it.

#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../wit",
    world: "connector",
});

use exports::iam::atlassian::commands::{Description, EntryType, Guest, Invocation, Outcome};
use iam::atlassian::{clock, http, log, panic, platform};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;

/// Bytes per allocation of the memory bomb: large enough to reach any cap quickly.
const MEMORY_BOMB_CHUNK_BYTES: usize = 1 << 20;
/// Body of the oversized request: larger than any sensible request cap, far below the
/// memory limit of the tests, so that only the host's request cap can refuse it.
const OVERSIZED_REQUEST_BYTES: usize = 4 << 20;

struct Hostile;

export!(Hostile);

/// The system allocator, telling the host when memory runs out, as the connector does
/// (`panic.out-of-memory`): the memory bomb then ends in the same entry under every host.
struct Reporting;

// SAFETY: every call is passed on to `System` unchanged.
unsafe impl GlobalAlloc for Reporting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let block = unsafe { System.alloc(layout) };
        if block.is_null() {
            out_of_memory(layout.size());
        }
        block
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let block = unsafe { System.realloc(ptr, layout, new_size) };
        if block.is_null() {
            out_of_memory(new_size);
        }
        block
    }
}

#[global_allocator]
static ALLOCATOR: Reporting = Reporting;

fn out_of_memory(more_bytes: usize) {
    let current = core::arch::wasm32::memory_size(0) as u64 * (64 << 10);
    panic::out_of_memory(current.saturating_add(more_bytes as u64));
}

/// The value of a string key in the compact JSON the host sends (`"key":"value"`); enough for
/// this test component, which must not depend on the connector's parsing.
fn param(params_json: &str, key: &str) -> Option<String> {
    let marker = format!("\"{key}\":\"");
    let start = params_json.find(&marker)? + marker.len();
    let rest = &params_json[start..];
    Some(rest[..rest.find('"')?].to_string())
}

fn text_entry(contents: &str) -> String {
    format!(r#"{{"Type":1,"ContentsFormat":"text","Contents":"{contents}"}}"#)
}

fn error_entry(message: &str) -> String {
    let escaped = message.replace('\\', "\\\\").replace('"', "\\\"");
    format!(r#"{{"Type":4,"ContentsFormat":"text","Contents":"{escaped}"}}"#)
}

fn request(config: &Invocation, body: Option<String>) -> http::Request {
    let url = param(&config.json, "url").unwrap_or_default();
    http::Request {
        method: if body.is_some() {
            "POST".into()
        } else {
            "GET".into()
        },
        url: format!("{}/hostile", url.trim_end_matches('/')),
        headers: vec![http::Header {
            name: "Accept".into(),
            value: "application/json".into(),
        }],
        body,
        auth: config.credential.clone(),
        timeout_ms: None,
    }
}

/// Not hostile: `count` requests (default 3) to `<url>/hostile/<n>` in one `http.send-all`,
/// the one at index `deny` (if any) with a `Cookie` header the host must refuse. Each answer
/// in the order they came back, `<n>: <status> <body>` or `<n>: <error>`, joined by `; `.
fn send_all(config: &Invocation) -> String {
    let count: usize = param(&config.json, "count").map_or(3, |n| n.parse().unwrap_or(0));
    let deny: Option<usize> = param(&config.json, "deny").and_then(|n| n.parse().ok());
    let requests: Vec<http::Request> = (0..count)
        .map(|n| {
            let mut request = request(config, None);
            request.url = format!("{}/{n}", request.url);
            if deny == Some(n) {
                request.headers.push(http::Header {
                    name: "Cookie".into(),
                    value: "session=stolen".into(),
                });
            }
            request
        })
        .collect();
    http::send_all(&requests)
        .into_iter()
        .enumerate()
        .map(|(n, answer)| match answer {
            Ok(response) => format!(
                "{n}: {} {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            ),
            Err(error) => format!("{n}: {error:?}"),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Text as the inside of a JSON string.
fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn recurse(depth: u64) -> u64 {
    if depth == u64::MAX {
        0
    } else {
        black_box(recurse(black_box(depth + 1))) + 1
    }
}

/// Misbehave as configured; the entry JSON of the modes that return at all.
fn behave(config: &Invocation) -> Result<String, String> {
    let mode = param(&config.json, "hostile").unwrap_or_default();
    match mode.as_str() {
        "none" => match http::send(&request(config, None)) {
            Ok(response) if response.status == 200 => Ok(text_entry("ok")),
            Ok(response) => Err(error_entry(&format!(
                "the server answered {}",
                response.status
            ))),
            Err(error) => Err(error_entry(&format!("the request failed: {error:?}"))),
        },
        "loop" => {
            let mut counter = 0u64;
            loop {
                counter = black_box(counter.wrapping_add(1));
            }
        }
        "memory" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(black_box(vec![1u8; MEMORY_BOMB_CHUNK_BYTES]));
            }
        }
        "flood" => loop {
            // Ignore every refusal and keep sending.
            black_box(http::send(&request(config, None)).is_ok());
        },
        "panic" => {
            std::panic::set_hook(Box::new(|info| panic::panicked(&info.to_string())));
            panic!("hostile guest panics on purpose")
        }
        // A log line that reads like a panic, then a trap: a host must name the trap, never
        // a panic sniffed from text.
        "panic-logged" => {
            log::log(
                log::LogLevel::Error,
                "panicked at src/lib.rs:1:1:\nhostile guest only says it panicked",
            );
            core::arch::wasm32::unreachable()
        }
        "stack" => Ok(text_entry(&recurse(0).to_string())),
        "sleep" => {
            clock::sleep(u64::MAX);
            Ok(text_entry("slept"))
        }
        "reach" => {
            let mut reaching = request(config, None);
            reaching.url = param(&config.json, "target").unwrap_or(reaching.url);
            reaching.auth = param(&config.json, "as").or(reaching.auth);
            if let Some(name) = param(&config.json, "header") {
                reaching.headers.push(http::Header {
                    name,
                    value: "stolen".into(),
                });
            }
            match http::send(&reaching) {
                Ok(response) => Err(error_entry(&format!(
                    "the request was sent ({})",
                    response.status
                ))),
                Err(error) => Err(error_entry(&format!("the request failed: {error:?}"))),
            }
        }
        "big-request" => {
            match http::send(&request(config, Some("x".repeat(OVERSIZED_REQUEST_BYTES)))) {
                Ok(response) => Err(error_entry(&format!(
                    "the oversized request was sent ({})",
                    response.status
                ))),
                Err(error) => Err(error_entry(&format!("the request failed: {error:?}"))),
            }
        }
        "send-all" => Ok(text_entry(&escaped(&send_all(config)))),
        // Not hostile: the platform's mapping of a fixed object, with the mapper named in
        // `mapper`, for "User Profile".
        "map-object" => {
            let mapper = param(&config.json, "mapper").unwrap_or_default();
            let answer = match platform::map_object(
                r#"{"email":"jd@example.com"}"#,
                &mapper,
                "User Profile",
            ) {
                Ok(mapped) => format!("mapped: {mapped}"),
                Err(why) => format!("refused: {why}"),
            };
            Ok(text_entry(&escaped(&answer)))
        }
        other => Err(error_entry(&format!("unknown hostile mode {other:?}"))),
    }
}

impl Guest for Hostile {
    fn run(invocation: Invocation) -> Outcome {
        let (entry_type, entry_json) = match behave(&invocation) {
            Ok(entry) => (EntryType::Note, entry),
            Err(entry) => (EntryType::Error, entry),
        };
        Outcome {
            entry_type,
            entry_json,
        }
    }

    fn describe() -> Description {
        Description {
            name: "Hostile".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            commands: vec!["test-module".into(), "iam-get-user".into()],
            origins: vec!["the origin of the configured url".into()],
            credentials: vec!["access_token".into()],
        }
    }
}
