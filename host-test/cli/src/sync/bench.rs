//! `iam-host bench --sync`: sync.md §10 measured. A loopback SCIM server (HTTP/1.1 on tokio,
//! bound to 127.0.0.1, in this process) holds 100,000 users and 1,000 groups of 100 members
//! and answers every request after 100 ms; a generated desired state differs from it in 1 %
//! (100,300 lines: the 99,800 who stay, 500 of them with a new title, 500 new people, 200
//! leavers, 500 membership additions and 300 removals besides the leavers' 200). Then, each as
//! its own `iam-host sync` process (this binary), as a user runs them: `sync plan`, `sync
//! apply --concurrency 600` of that plan, and a second `sync plan`, which must find nothing
//! to do. Reported: each step's wall time and peak memory (the child's VmHWM, sampled), the
//! apply's jobs per second, and their ratios to the ideal.
//!
//! The server is a small SCIM service of its own, enough for what the connector sends (list
//! pages, `eq` filters on userName, emails.value, externalId and displayName, POST, PUT, PATCH
//! of `active` and of group members, DELETE). Timing lives here, never in the test suite.

use anyhow::{Context as _, Result, bail};
use clap::Args;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};

use crate::scale::bench::read_request;

/// The directory the loopback server serves.
const DIRECTORY: &str = "bench";
/// Its token (a loopback test server's).
const TOKEN: &str = "sync-bench-token";
/// sync.md §10's targets.
pub const TARGET_PLAN_SECONDS: f64 = 15.0;
pub const TARGET_PLAN_BYTES: u64 = 1 << 30;
pub const TARGET_JOBS_PER_S: f64 = 1_000.0;
/// The ideal plan: about 2 s of reading (1,010 pages, 64 at once, 100 ms each) plus the diff.
pub const IDEAL_PLAN_SECONDS: f64 = 2.0;
/// How often a child's peak memory is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// `iam-host bench --sync` and its settings (the latency and concurrency are `--in-flight`'s
/// `--latency-ms` and `--concurrency`).
#[derive(Args, Debug, Clone)]
pub struct SyncBenchArgs {
    /// Measure sync plan and apply against a 100,000-user loopback directory instead
    /// (sync.md §10).
    #[arg(long = "sync", id = "sync")]
    pub enabled: bool,
    /// With --sync: directory users (groups: one per 100 users).
    #[arg(long = "users", value_name = "N", default_value_t = 100_000)]
    pub users: usize,
}

/// One step's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub seconds: f64,
    pub peak_bytes: u64,
    pub exit: i32,
}

/// The figures.
#[derive(Debug, Clone, Serialize)]
pub struct SyncBenchReport {
    pub users: usize,
    pub groups: usize,
    pub desired_lines: usize,
    pub latency_ms: u64,
    pub concurrency: usize,
    pub plan: Step,
    pub plan_summary: Value,
    pub apply: Step,
    pub jobs: u64,
    pub jobs_per_s: f64,
    pub second_plan: Step,
    pub second_plan_actions: u64,
    pub requests: u64,
    pub ideal_plan_seconds: f64,
    pub plan_ratio_to_ideal: f64,
    pub ideal_jobs_per_s: f64,
    pub apply_ratio_to_ideal: f64,
}

impl SyncBenchReport {
    pub fn summary(&self) -> String {
        let met = |ok: bool| if ok { "met" } else { "NOT MET" };
        let mib = |bytes: u64| bytes as f64 / f64::from(1 << 20);
        format!(
            "sync: {} users, {} groups, {} desired lines, server latency {} ms\n\
             plan          {:.2} s (target <= {TARGET_PLAN_SECONDS} s {}; ideal {:.1} s, ratio {:.2}), peak {:.0} MiB (target <= 1024 MiB {})\n\
             apply         {} jobs in {:.2} s = {:.0} jobs/s with --concurrency {} (target >= {TARGET_JOBS_PER_S} {}; ideal {:.0}, ratio {:.2}), peak {:.0} MiB\n\
             second plan   {:.2} s, {} actions (target 0 {})\n\
             plan summary  {}\n\
             requests      {}\n",
            self.users,
            self.groups,
            self.desired_lines,
            self.latency_ms,
            self.plan.seconds,
            met(self.plan.seconds <= TARGET_PLAN_SECONDS && self.plan.exit == 0),
            self.ideal_plan_seconds,
            self.plan_ratio_to_ideal,
            mib(self.plan.peak_bytes),
            met(self.plan.peak_bytes <= TARGET_PLAN_BYTES),
            self.jobs,
            self.apply.seconds,
            self.jobs_per_s,
            self.concurrency,
            met(self.jobs_per_s >= TARGET_JOBS_PER_S && self.apply.exit == 0),
            self.ideal_jobs_per_s,
            self.apply_ratio_to_ideal,
            mib(self.apply.peak_bytes),
            self.second_plan.seconds,
            self.second_plan_actions,
            met(self.second_plan_actions == 0 && self.second_plan.exit == 0),
            self.plan_summary,
            self.requests,
        )
    }
}

/// The shape of the generated world, from the number of users (sync.md §10 at 100,000).
#[derive(Debug, Clone, Copy)]
pub struct World {
    pub users: usize,
    pub groups: usize,
    /// Users 1..=titles_from+titles get a new title.
    pub new_titles: usize,
    pub new_people: usize,
    pub leavers: usize,
    pub additions: usize,
    pub removals: usize,
}

impl World {
    pub fn of(users: usize) -> World {
        let users = users.max(1_000);
        World {
            users,
            groups: users / 100,
            new_titles: users / 200,
            new_people: users / 200,
            leavers: users / 500,
            additions: users / 200,
            removals: users * 3 / 1_000,
        }
    }

    /// The group (1-based) user `n` is in: 100 consecutive users each.
    fn group_of(&self, n: usize) -> usize {
        (n - 1) / 100 + 1
    }

    fn user_name(n: usize) -> String {
        format!("user-{n}@bench.example")
    }

    /// User `n` as the directory holds it (the outgoing mapper's shape).
    fn directory_user(n: usize) -> Value {
        let name = World::user_name(n);
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": format!("u{n}"),
            "userName": name, "emails": [{"primary": true, "type": "work", "value": name}],
            "externalId": format!("E{n}"), "name": {"givenName": "User", "familyName": format!("N{n}")},
            "title": "Engineer", "active": true})
    }

    /// Whether user `n` leaves its group: the first three members of each of the first
    /// `removals / 3` groups (the groups stay managed: their other members name them).
    fn leaves_group(&self, n: usize) -> bool {
        (n - 1) % 100 < 3 && self.group_of(n) <= self.removals / 3
    }

    /// Whether user `n` joins one of the last two groups (which the leavers leave): the
    /// `additions` users from the middle of the directory on.
    fn joins_group(&self, n: usize) -> bool {
        let first = self.users / 2 + 1;
        (first..first + self.additions).contains(&n)
    }

    /// The desired file: the users who stay (1..=users-leavers), some with a new title, some
    /// leaving their group, some joining one of the last two groups, then the new people.
    pub fn desired_text(&self) -> String {
        let staying = self.users - self.leavers;
        let mut text = String::with_capacity(staying * 220);
        let last_two = [self.groups - 1, self.groups];
        for n in 1..=staying {
            let name = World::user_name(n);
            let title = if (1_001..1_001 + self.new_titles).contains(&n) {
                "Senior Engineer"
            } else {
                "Engineer"
            };
            let mut groups: Vec<String> = Vec::new();
            if !self.leaves_group(n) {
                groups.push(format!("group-{}", self.group_of(n)));
            }
            if self.joins_group(n) {
                groups.push(format!("group-{}", last_two[n % 2]));
            }
            let line = json!({"username": name, "email": name, "employeeid": format!("E{n}"),
                "givenname": "User", "surname": format!("N{n}"), "title": title, "groups": groups});
            text.push_str(&line.to_string());
            text.push('\n');
        }
        for n in 1..=self.new_people {
            let name = format!("new-{n}@bench.example");
            let line = json!({"username": name, "email": name, "employeeid": format!("NEW{n}"),
                "givenname": "New", "surname": format!("N{n}"), "title": "Engineer"});
            text.push_str(&line.to_string());
            text.push('\n');
        }
        text
    }
}

/// The loopback directory's state.
struct Directory {
    /// By position; `None` once deleted. A user's id is `u<position + 1>`.
    users: Vec<Option<Value>>,
    /// Lowercase userName → position.
    by_name: HashMap<String, usize>,
    /// externalId → position.
    by_external: HashMap<String, usize>,
    groups: Vec<Group>,
}

struct Group {
    id: String,
    name: String,
    members: BTreeSet<String>,
}

impl Group {
    fn resource(&self) -> Value {
        let members: Vec<Value> = self.members.iter().map(|id| json!({"value": id})).collect();
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": self.id,
            "displayName": self.name, "members": members})
    }
}

impl Directory {
    fn new(world: &World) -> Directory {
        let mut directory = Directory {
            users: Vec::with_capacity(world.users + world.new_people),
            by_name: HashMap::new(),
            by_external: HashMap::new(),
            groups: Vec::new(),
        };
        for n in 1..=world.users {
            directory.insert(World::directory_user(n));
        }
        for g in 1..=world.groups {
            directory.groups.push(Group {
                id: format!("g{g}"),
                name: format!("group-{g}"),
                members: BTreeSet::new(),
            });
        }
        for n in 1..=world.users {
            if let Some(group) = directory.groups.get_mut(world.group_of(n) - 1) {
                group.members.insert(format!("u{n}"));
            }
        }
        directory
    }

    fn index(&mut self, position: usize) {
        if let Some(user) = &self.users[position] {
            if let Some(name) = user["userName"].as_str() {
                self.by_name.insert(name.to_lowercase(), position);
            }
            if let Some(external) = user["externalId"].as_str() {
                self.by_external.insert(external.to_string(), position);
            }
        }
    }

    fn insert(&mut self, mut user: Value) -> Value {
        let position = self.users.len();
        user["id"] = json!(format!("u{}", position + 1));
        self.users.push(Some(user.clone()));
        self.index(position);
        user
    }

    fn position(id: &str) -> Option<usize> {
        id.strip_prefix('u')?.parse::<usize>().ok()?.checked_sub(1)
    }

    fn user(&self, id: &str) -> Option<&Value> {
        self.users.get(Directory::position(id)?)?.as_ref()
    }
}

/// A list response.
fn list(resources: Vec<Value>, total: usize, start_index: usize) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": total, "startIndex": start_index, "itemsPerPage": resources.len(),
        "Resources": resources})
}

/// A query parameter, percent-decoded.
fn query_value(query: &str, key: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.into_owned())
}

/// `<attribute> eq "<value>"`.
fn eq_filter(filter: &str) -> Option<(String, String)> {
    let (attribute, rest) = filter.split_once(" eq ")?;
    let value = serde_json::from_str::<String>(rest.trim()).ok()?;
    Some((attribute.trim().to_string(), value))
}

/// Answer one request: status and body.
fn handle(
    directory: &Mutex<Directory>,
    method: &str,
    target: &str,
    body: &[u8],
) -> (u16, Option<Value>) {
    let prefix = format!("/scim/directory/{DIRECTORY}");
    let Some(rest) = target.strip_prefix(&prefix) else {
        return (404, None);
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let mut directory = directory
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let start_index = query_value(query, "startIndex")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    let count = query_value(query, "count")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100usize);
    match (method, path) {
        ("GET", "/Users") => {
            if let Some((attribute, value)) =
                query_value(query, "filter").as_deref().and_then(eq_filter)
            {
                let position = match attribute.as_str() {
                    "externalId" => directory.by_external.get(&value).copied(),
                    _ => directory.by_name.get(&value.to_lowercase()).copied(),
                };
                let found: Vec<Value> = position
                    .and_then(|p| directory.users[p].clone())
                    .into_iter()
                    .collect();
                let total = found.len();
                return (200, Some(list(found, total, 1)));
            }
            let live: Vec<&Value> = directory.users.iter().flatten().collect();
            let page = live
                .iter()
                .skip(start_index - 1)
                .take(count)
                .map(|u| (*u).clone())
                .collect();
            (200, Some(list(page, live.len(), start_index)))
        }
        ("POST", "/Users") => {
            let name = body["userName"].as_str().unwrap_or_default().to_lowercase();
            if directory.by_name.contains_key(&name) {
                return (409, Some(json!({"detail": "userName exists"})));
            }
            (201, Some(directory.insert(body)))
        }
        ("GET", "/Groups") => {
            if let Some((_, value)) = query_value(query, "filter").as_deref().and_then(eq_filter) {
                let found: Vec<Value> = directory
                    .groups
                    .iter()
                    .filter(|g| g.name == value)
                    .map(Group::resource)
                    .collect();
                let total = found.len();
                return (200, Some(list(found, total, 1)));
            }
            let total = directory.groups.len();
            let page = directory
                .groups
                .iter()
                .skip(start_index - 1)
                .take(count)
                .map(Group::resource)
                .collect();
            (200, Some(list(page, total, start_index)))
        }
        ("POST", "/Groups") => {
            let group = Group {
                id: format!("g{}", directory.groups.len() + 1),
                name: body["displayName"].as_str().unwrap_or_default().to_string(),
                members: BTreeSet::new(),
            };
            let resource = group.resource();
            directory.groups.push(group);
            (201, Some(resource))
        }
        (method, path) if path.starts_with("/Users/") => {
            let id = path.trim_start_matches("/Users/").to_string();
            let Some(position) = Directory::position(&id).filter(|_| directory.user(&id).is_some())
            else {
                return (404, Some(json!({"detail": "no such user"})));
            };
            match method {
                "GET" => (200, directory.users[position].clone()),
                "PUT" => {
                    let mut user = body;
                    user["id"] = json!(id);
                    directory.users[position] = Some(user.clone());
                    directory.index(position);
                    (200, Some(user))
                }
                "PATCH" => {
                    let operations = body["Operations"].as_array().cloned().unwrap_or_default();
                    let user = directory.users[position].as_mut().expect("a live user");
                    for operation in operations {
                        if let Some(path) = operation["path"].as_str() {
                            user[path] = operation["value"].clone();
                        }
                    }
                    (200, Some(user.clone()))
                }
                "DELETE" => {
                    directory.users[position] = None;
                    (204, None)
                }
                _ => (405, None),
            }
        }
        ("GET" | "PATCH", path) if path.starts_with("/Groups/") => {
            let id = path.trim_start_matches("/Groups/");
            let Some(group) = directory.groups.iter_mut().find(|g| g.id == id) else {
                return (404, Some(json!({"detail": "no such group"})));
            };
            if method == "PATCH" {
                for operation in body["Operations"].as_array().cloned().unwrap_or_default() {
                    let path = operation["path"].as_str().unwrap_or_default();
                    match operation["op"].as_str() {
                        Some("add") if path == "members" => {
                            for member in operation["value"].as_array().cloned().unwrap_or_default()
                            {
                                if let Some(id) = member["value"].as_str() {
                                    group.members.insert(id.to_string());
                                }
                            }
                        }
                        Some("remove") => {
                            if let Some((_, value)) = path
                                .strip_prefix("members[")
                                .and_then(|p| p.strip_suffix(']'))
                                .and_then(eq_filter)
                            {
                                group.members.remove(&value);
                            }
                        }
                        _ => {}
                    }
                }
            }
            (200, Some(group.resource()))
        }
        _ => (404, Some(json!({"detail": "not found"}))),
    }
}

/// Serve one keep-alive connection: each request answered after `latency`.
async fn serve(
    mut socket: TcpStream,
    latency: Duration,
    directory: Arc<Mutex<Directory>>,
    requests: Arc<AtomicU64>,
) {
    let mut buffer = Vec::with_capacity(4096);
    while let Some((head, body)) = read_request(&mut socket, &mut buffer).await {
        requests.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(latency).await;
        let mut words = head.split_whitespace();
        let (method, target) = (
            words.next().unwrap_or_default(),
            words.next().unwrap_or_default(),
        );
        let (status, answer) = handle(&directory, method, target, &body);
        let body = answer.map(|value| value.to_string()).unwrap_or_default();
        let response = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/scim+json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if socket.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// A child's peak resident set so far (VmHWM), from /proc.
fn peak_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Run this binary with `args`, timing it and sampling its peak memory; its stdout.
fn step(args: &[&str]) -> Result<(Step, String)> {
    let exe = std::env::current_exe().context("cannot find this binary")?;
    let started = Instant::now();
    let mut child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start iam-host")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let mut peak = 0;
    let status = loop {
        if let Some(bytes) = peak_of(child.id()) {
            peak = peak.max(bytes);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(SAMPLE_EVERY);
    };
    let seconds = started.elapsed().as_secs_f64();
    let stdout = reader.join().unwrap_or_default();
    Ok((
        Step {
            seconds,
            peak_bytes: peak,
            exit: status.code().unwrap_or(-1),
        },
        stdout,
    ))
}

fn last_line_json(stdout: &str) -> Value {
    stdout
        .trim_end()
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or(Value::Null)
}

/// Run the sync benchmark.
pub fn run(
    args: &SyncBenchArgs,
    concurrency: usize,
    latency_ms: u64,
    component: Option<PathBuf>,
) -> Result<SyncBenchReport> {
    let world = World::of(args.users);
    let component = match component {
        Some(path) => path,
        None => crate::artifact::ensure_default_component()?,
    };
    let dir = std::env::temp_dir().join(format!("iam-host-sync-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let measured = measure(&world, concurrency, latency_ms, &component, &dir);
    if let Err(error) = std::fs::remove_dir_all(&dir) {
        crate::diagnostic(&format!(
            "iam-host bench: cannot remove {}: {error}",
            dir.display()
        ));
    }
    measured
}

fn measure(
    world: &World,
    concurrency: usize,
    latency_ms: u64,
    component: &Path,
    dir: &Path,
) -> Result<SyncBenchReport> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let directory = Arc::new(Mutex::new(Directory::new(world)));
    let requests = Arc::new(AtomicU64::new(0));
    let latency = Duration::from_millis(latency_ms);
    let listener = runtime
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .context("cannot bind the loopback server")?;
    let address = listener.local_addr()?;
    let server = {
        let (directory, requests) = (directory.clone(), requests.clone());
        runtime.spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                socket.set_nodelay(true).ok();
                tokio::spawn(serve(socket, latency, directory.clone(), requests.clone()));
            }
        })
    };

    let mut config = Map::new();
    config.insert("url".into(), json!(format!("http://{address}")));
    config.insert("access_token".into(), json!(TOKEN));
    config.insert("directory_id".into(), json!(DIRECTORY));
    config.insert("instance_name".into(), json!("bench"));
    let config_path = dir.join("config.json");
    std::fs::write(&config_path, Value::Object(config).to_string())?;
    let desired = world.desired_text();
    let desired_lines = desired.lines().count();
    let desired_path = dir.join("desired.jsonl");
    std::fs::write(&desired_path, desired)?;
    let (plan, results) = (dir.join("plan.jsonl"), dir.join("results.jsonl"));
    let text = |path: &Path| path.display().to_string();
    let component = text(component);
    let plan_args = [
        "sync",
        "plan",
        "--config",
        &text(&config_path),
        "--desired",
        &text(&desired_path),
        "--out",
        &text(&plan),
        "--json",
        "--component",
        &component,
    ];

    let (plan_step, stdout) = step(&plan_args)?;
    let plan_summary = last_line_json(&stdout);
    if plan_step.exit != 0 {
        server.abort();
        bail!("the first sync plan exited {}: {stdout}", plan_step.exit);
    }
    let jobs = std::fs::read_to_string(&plan)?
        .lines()
        .count()
        .saturating_sub(1) as u64;
    let concurrency_text = concurrency.to_string();
    let (apply_step, _) = step(&[
        "sync",
        "apply",
        "--config",
        &text(&config_path),
        "--plan",
        &text(&plan),
        "--output",
        &text(&results),
        "--concurrency",
        &concurrency_text,
        "--component",
        &component,
    ])?;
    let (second_step, stdout) = step(&plan_args)?;
    let second_plan_actions = super::plan::actions(&last_line_json(&stdout));
    server.abort();

    let jobs_per_s = jobs as f64 / apply_step.seconds;
    let ideal_jobs_per_s = concurrency as f64 / latency.as_secs_f64().max(1e-9);
    Ok(SyncBenchReport {
        users: world.users,
        groups: world.groups,
        desired_lines,
        latency_ms,
        concurrency,
        plan_ratio_to_ideal: plan_step.seconds / IDEAL_PLAN_SECONDS,
        plan: plan_step,
        plan_summary,
        apply: apply_step,
        jobs,
        jobs_per_s,
        second_plan: second_step,
        second_plan_actions,
        requests: requests.load(Ordering::Relaxed),
        ideal_plan_seconds: IDEAL_PLAN_SECONDS,
        ideal_jobs_per_s,
        apply_ratio_to_ideal: jobs_per_s / ideal_jobs_per_s,
    })
}

/// The printed text of `iam-host bench --sync [--json]`.
pub fn report_text(
    args: &SyncBenchArgs,
    concurrency: usize,
    latency_ms: u64,
    json: bool,
    component: Option<PathBuf>,
) -> Result<String> {
    let report = run(args, concurrency, latency_ms, component)?;
    let mut text = report.summary();
    if json {
        text.push_str(&serde_json::to_string(&report).context("cannot serialise the report")?);
    }
    Ok(text.trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_world_is_sync_md_10s_at_100000_users() {
        let world = World::of(100_000);
        assert_eq!(
            (
                world.groups,
                world.new_titles,
                world.new_people,
                world.leavers
            ),
            (1_000, 500, 500, 200)
        );
        assert_eq!((world.additions, world.removals), (500, 300));
        let desired = world.desired_text();
        assert_eq!(desired.lines().count(), 100_300);
        let titles = desired.matches("Senior Engineer").count();
        assert_eq!(titles, 500);
        // Additions: users 50,001..50,500 name one of the last two groups as well (whose
        // other members all leave).
        assert_eq!(
            desired.matches("\"group-999\"").count() + desired.matches("\"group-1000\"").count(),
            500
        );
        // Removals: 300 users name no group, three in each of groups 1..100.
        assert_eq!(desired.matches("\"groups\":[]").count(), 300);
        assert!(desired.contains("\"employeeid\":\"E103\",\"givenname\":\"User\",\"surname\":\"N103\",\"title\":\"Engineer\",\"groups\":[]"));
    }

    #[test]
    fn the_server_answers_pages_filters_and_member_patches() {
        let world = World::of(1_000);
        let directory = Mutex::new(Directory::new(&world));
        let base = "/scim/directory/bench";
        let (status, page) = handle(
            &directory,
            "GET",
            &format!("{base}/Users?startIndex=901&count=100"),
            b"",
        );
        assert_eq!(
            (
                status,
                page.as_ref()
                    .map(|p| p["Resources"].as_array().map(Vec::len))
            ),
            (200, Some(Some(100)))
        );
        let (_, found) = handle(
            &directory,
            "GET",
            &format!("{base}/Users?filter=userName%20eq%20%22USER-7%40bench.example%22"),
            b"",
        );
        assert_eq!(found.expect("a list")["Resources"][0]["id"], "u7");
        let patch = br#"{"Operations":[{"op":"add","path":"members","value":[{"value":"u999"}]},{"op":"remove","path":"members[value eq \"u1\"]"}]}"#;
        let (_, group) = handle(&directory, "PATCH", &format!("{base}/Groups/g1"), patch);
        let members = group.expect("a group")["members"].to_string();
        assert!(members.contains("u999") && !members.contains("\"u1\""));
    }
}
