//! Issue 21, the hosts' side: `iam-host sync plan | apply | run` (sync.md) against the project's
//! real SCIM server (tests/scim/server.py) seeded with tests/sync/directory.json, and against
//! hostile loopback servers for the partial-read rules. The expected plans are sync.md's rules
//! applied by hand to the fixture (tests/sync/README.md walks through them), never the code's
//! own output.

// Seeding the SCIM server, reading its state, running `iam-host sync`.
mod directory;
// The fixture's plan, its apply in two rounds, `sync run`, CSV input, the Python host's bytes.
mod rounds;
// Blocked plans, a plan for another directory, deletes only when asked, the audit file, a
// kill -9 during apply and its resume.
mod safety;
// A partial read plans nothing: hostile servers for each rule.
mod partial;
// The sync's files as hostile files: special files, a file past its cap, links, an output
// that is an input.
mod files;
