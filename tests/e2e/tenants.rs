//! Multi-tenancy in the host library: one `Host` (one Engine, one compiled component) runs
//! commands for many tenants from many threads at once, each command in its own sandbox with
//! its own configuration, credential and allowlist. Every request must carry its own
//! tenant's token to its own tenant's origin, and every entry must show its own tenant's data.

use std::sync::{Arc, Mutex};

use iam_host::backend::{Backend, BackendError, IncomingResponse, OutgoingRequest};
use iam_host::{Command, EntryType, Host, Invocation};
use serde_json::{Map, Value, json};

use crate::limits::{entry_of, tenant_params};
use crate::support;

/// Tenants of the concurrency test: enough that neighbours in time are rarely the same tenant.
const TENANTS: usize = 20;
/// Threads of the concurrency test: the machine's two cores.
const THREADS: usize = 2;
/// Commands per thread: a thousand commands in all, a few seconds on two cores.
const COMMANDS_PER_THREAD: usize = 500;

/// A server for one tenant: it records each request and answers as tenant `n`'s directory,
/// whose one user is `user-n`.
struct TenantServer {
    tenant: usize,
    sent: Arc<Mutex<Vec<OutgoingRequest>>>,
}

impl Backend for TenantServer {
    fn send(
        &mut self,
        request: &OutgoingRequest,
        _max_body_bytes: u64,
    ) -> Result<IncomingResponse, BackendError> {
        self.sent.lock().expect("lock").push(request.clone());
        let n = self.tenant;
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
    fn sleep(&mut self, _millis: u64) {}
    fn now_millis(&mut self) -> u64 {
        0
    }
    fn finish(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// Run command number `k` for tenant `n` and check everything it sent and printed.
fn run_and_check(host: &Host, n: usize, k: usize) {
    let command = [
        Command::GetUser,
        Command::DisableUser,
        Command::TestModule,
        Command::UpdateUser,
    ][k % 4];
    let email = format!("user-{n}@tenant-{n}.example");
    let args =
        json!({"user-profile": {"email": email, "username": email, "title": format!("title-{n}")}});
    let mut params: Map<String, Value> = tenant_params(n);
    params.insert("instance_name".into(), json!(format!("instance-{n}")));
    let sent = Arc::new(Mutex::new(Vec::new()));
    let report = host.run(
        &Invocation {
            command,
            params,
            args: args.as_object().cloned().unwrap_or_default(),
        },
        Box::new(TenantServer {
            tenant: n,
            sent: sent.clone(),
        }),
    );
    let (entry_type, entry) = entry_of(&report);
    assert_eq!(
        entry_type,
        EntryType::Note,
        "tenant {n}, {command:?}: {entry}"
    );
    if command == Command::TestModule {
        assert_eq!(entry["Contents"], json!("ok"), "tenant {n}");
    } else {
        let contents = &entry["Contents"];
        assert_eq!(
            contents["success"],
            json!(true),
            "tenant {n}, {command:?}: {entry}"
        );
        assert_eq!(
            contents["instanceName"],
            json!(format!("instance-{n}")),
            "tenant {n}"
        );
        assert_eq!(
            contents["id"],
            json!(format!("id-{n}")),
            "tenant {n}, {command:?}: {entry}"
        );
    }
    let text = entry.to_string();
    assert!(
        !text.contains(&format!("token-{n}")),
        "tenant {n}'s token is in its entry"
    );
    let sent = sent.lock().expect("lock");
    assert!(!sent.is_empty(), "tenant {n}, {command:?} sent nothing");
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
            [format!("Bearer token-{n}")],
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
