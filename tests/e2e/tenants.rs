//! Multi-tenancy in the host library: one `Host` (one Engine, one compiled component) runs
//! commands for many tenants from many threads at once, each command in its own sandbox with
//! its own configuration, credential and allowlist. Every request must carry its own
//! tenant's token to its own tenant's origin, and every entry must show its own tenant's data.

use iam_host::backend::{BackendError, IncomingResponse, OutgoingRequest};
use iam_host::{EntryType, Host};
use serde_json::{Map, Value, json};
use std::time::Duration;

use crate::support::{self, Scripted, entry_of, object, run, tenant_params, tenant_token};

/// Tenants of the concurrency test: enough that neighbours in time are rarely the same tenant.
const TENANTS: usize = 20;
/// Threads of the concurrency test: the machine's two cores.
const THREADS: usize = 2;
/// Commands per thread: a thousand commands in all, a few seconds on two cores.
const COMMANDS_PER_THREAD: usize = 500;

/// Tenant `n`'s directory, whose one user is `user-n`: the answer to each request.
fn tenant_server(n: usize, request: &OutgoingRequest) -> Result<IncomingResponse, BackendError> {
    let user = json!({"id": format!("id-{n}"), "userName": format!("user-{n}@tenant-{n}.example"), "active": true,
        "emails": [{"value": format!("user-{n}@tenant-{n}.example"), "primary": true}]});
    let body = match request.method.as_str() {
        "GET" if request.url.path().ends_with("/Users") => {
            json!({"totalResults": 1, "Resources": [user]})
        }
        "PATCH" => {
            let mut disabled = user;
            disabled["active"] = json!(false);
            disabled
        }
        _ => user,
    };
    Ok(IncomingResponse {
        status: 200,
        headers: Vec::new(),
        body: body.to_string().into_bytes(),
    })
}

/// Run command number `k` for tenant `n` and check everything it sent and printed.
fn run_and_check(host: &Host, n: usize, k: usize) {
    let command = [
        "iam-get-user",
        "iam-disable-user",
        "test-module",
        "iam-update-user",
    ][k % 4];
    let email = format!("user-{n}@tenant-{n}.example");
    let args =
        json!({"user-profile": {"email": email, "username": email, "title": format!("title-{n}")}});
    let mut params: Map<String, Value> = tenant_params(n);
    params.insert("instance_name".into(), json!(format!("instance-{n}")));
    let backend = Scripted::new(move |request| tenant_server(n, request));
    let seen = backend.seen();
    let report = run(host, command, params, object(args), backend);
    let (entry_type, entry) = entry_of(&report);
    assert_eq!(
        entry_type,
        EntryType::Note,
        "tenant {n}, {command}: {entry}"
    );
    if command == "test-module" {
        assert_eq!(entry["Contents"], json!("ok"), "tenant {n}");
    } else {
        let contents = &entry["Contents"];
        assert_eq!(
            contents["success"],
            json!(true),
            "tenant {n}, {command}: {entry}"
        );
        assert_eq!(
            contents["instanceName"],
            json!(format!("instance-{n}")),
            "tenant {n}"
        );
        assert_eq!(
            contents["id"],
            json!(format!("id-{n}")),
            "tenant {n}, {command}: {entry}"
        );
    }
    let text = entry.to_string();
    assert!(
        !text.contains(&tenant_token(n)),
        "tenant {n}'s token is in its entry"
    );
    let sent = seen.requests();
    assert!(!sent.is_empty(), "tenant {n}, {command} sent nothing");
    for request in sent.iter() {
        assert_eq!(
            request.url.host_str(),
            Some(format!("tenant-{n}.example").as_str()),
            "tenant {n}: {}",
            request.url
        );
        assert!(
            request
                .url
                .path()
                .starts_with(&format!("/scim/directory/d-{n}/")),
            "tenant {n}: {}",
            request.url
        );
        let authorization: Vec<&str> = request
            .headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(
            authorization,
            [format!("Bearer {}", tenant_token(n))],
            "tenant {n}: {}",
            request.url
        );
    }
}

#[test]
fn the_host_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Host>();
}

#[test]
fn two_threads_run_a_thousand_commands_for_twenty_tenants_each_with_its_own_token_and_origin() {
    let host = support::host();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|thread| {
                scope.spawn(move || {
                    for k in 0..COMMANDS_PER_THREAD {
                        // The two threads walk the tenants in opposite directions, so that
                        // each tenant runs on both threads and next to many others.
                        let n = if thread == 0 {
                            k % TENANTS
                        } else {
                            TENANTS - 1 - k % TENANTS
                        };
                        run_and_check(host, n, k + thread);
                    }
                })
            })
            .collect();
        for worker in workers {
            worker
                .join()
                .unwrap_or_else(|_| panic!("a worker thread failed; see its panic above"));
        }
    });
}

#[test]
fn more_threads_than_cores_share_one_host() {
    const MANY_THREADS: usize = 8;
    let host = support::host();
    std::thread::scope(|scope| {
        for thread in 0..MANY_THREADS {
            scope.spawn(move || {
                for k in 0..20 {
                    run_and_check(host, (thread * 7 + k) % TENANTS, k);
                }
            });
        }
    });
}

/// A host sized for one command at a time (what `iam-host run` asks for) runs its commands
/// one after another in the same sandbox slot, and a command that arrives while the slot is
/// taken ends at once with a Type 4 entry naming the limit; it does not wait or crash.
#[test]
fn a_host_sized_for_one_command_refuses_a_second_at_once_and_runs_the_next() {
    let host = support::host_over_pool(1);
    let params = tenant_params(1);
    let invocation = |command: &str| iam_host::Invocation {
        command: command.to_string(),
        params: params.clone(),
        args: Map::new(),
    };
    let empty_directory = || support::answer(200, &[], r#"{"totalResults": 0, "Resources": []}"#);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let test_module = invocation("test-module");
    let (first, second) = runtime.block_on(async {
        // The first command holds the only sandbox while its server takes 300 ms to answer;
        // the second is polled in that time.
        let slow = Scripted::answering(vec![empty_directory()]).delayed(Duration::from_millis(300));
        tokio::join!(
            host.run(&test_module, iam_host::Http::live(slow)),
            host.run(
                &test_module,
                iam_host::Http::live(Scripted::answering(vec![empty_directory()]))
            ),
        )
    });
    let (first_type, first_entry) = entry_of(&first);
    assert_eq!(first_type, EntryType::Note, "{first_entry}");
    assert_eq!(first_entry["Contents"], json!("ok"), "{first_entry}");
    let (second_type, second_entry) = entry_of(&second);
    assert_eq!(second_type, EntryType::Error, "{second_entry}");
    let said = second_entry["Contents"].as_str().unwrap_or_default();
    assert!(
        said.contains("maximum of 1 commands at once"),
        "the refusal names the limit: {said}"
    );
    assert!(
        second.guest_requests.is_empty(),
        "the refused command never ran"
    );
    // The slot is free again: the next command runs.
    let third = run(
        &host,
        "test-module",
        params.clone(),
        Map::new(),
        Scripted::answering(vec![empty_directory()]),
    );
    assert_eq!(entry_of(&third).0, EntryType::Note);
}
