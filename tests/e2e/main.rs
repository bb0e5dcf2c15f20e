//! End-to-end tests: the real component, loaded by the real host, driven through `iam-host
//! run` or the host library. The component is built once per run (`support::component`).

// Builds the component once, runs the CLI and the host, the scripted test backend, JSON diffs.
mod support;
// A real SCIM 2.0 server (tests/scim/server.py) per test, started and stopped by PID.
mod scim_server;
// Every folder of tests/cases/ as a test: config, args, cassette and the expected entry.
mod cases;
// Every case again natively, through the guest library: the same bytes as the component.
mod native;
// The CLI contract: one JSON document on stdout, exit codes, usage errors.
mod cli;
// The guest never holds the token; the host attaches it.
mod token;
// The seed's four documented examples keep their fields and shapes.
mod seed;
// Live HTTP against a real SCIM 2.0 server, record mode, the allowlist.
mod live;
// Hostile components and hostile servers meet their limits.
mod limits;
// The bounded fuzz run over the guest's entry point, and its corpus in tests/fuzz/corpus/.
mod fuzz;
// Batches, and workers and submissions on NATS JetStream (tests/nats/), against real SCIM servers.
mod scale;
// Workers shared by many customers: NATS permissions, fairness, quarantine, metrics, SIGTERM.
mod scale_customers;
// NATS credentials (token, TLS, creds) and a subject the user may not publish to.
mod scale_credentials;
// A worker's audit, a plan submitted phase by phase, batch's metrics and quarantine.
mod scale_runs;
// Many tenants on one host from many threads: each request with its own token and origin.
mod tenants;
// The gated component under Node.js (jco): every case prints the same bytes via host-test/node/iam-host.mjs.
// Running another host as a process and comparing it with iam-host on every case.
mod js;
mod other_hosts;
// The same component under Python (wasmtime-py): every case prints the same bytes via host-test/python.
mod python;
// Issue 13 on the host: echoed tokens, dot segments, recordings, timeouts, proxies, hostile files, the cache.
mod hardening;
// Issue 20: every input file of every subcommand is a regular file, read with its cap; a FIFO or
// /dev/zero ends the process at once, and a job line past its cap is never read whole.
mod input_files;
// Hostile servers, live, and a memory bomb: the same outcome under iam-host, Python and Node.
mod every_host;
// `iam-host sync plan | apply | run` (issue 21) against a seeded SCIM server and hostile ones.
mod sync;
// Issue 22: the XSOAR pack, checked offline by demisto-sdk (validate, xsoar-lint) and built.
mod xsoar_pack;
