//! Job lines and result lines (architecture.md, "Batch and scale-out contract"). A job line is
//! `{"id", "tenant", "command", "args"}`; every line of an input is numbered from 1, blank
//! lines are skipped, and a line that gives no command to run becomes a [`Refusal`]: an
//! `exit: 2` result line keyed by its id, or by `line <n>` when it has none that can be used.
//!
//! This module checks the form of a line only; whether its tenant and command exist is the
//! runner's to say (`submit` has no tenants file). It knows nothing of files, NATS or the host.

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::io::{self, BufRead};

use iam_host::files::read_line_capped;

/// The longest job line read: the same cap as an args file (an args object is most of a job).
/// A longer line is read through but never kept whole (`files::read_line_capped`).
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// What is kept of a line: the cap and room for its `\r\n`, so that every line that fits
/// the cap is kept whole.
const KEPT_LINE_BYTES: usize = MAX_LINE_BYTES + 2;

/// One command to run for one tenant. `args` defaults to `{}`; other keys of the line are
/// ignored and never travel further.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub tenant: String,
    pub command: String,
    pub args: Map<String, Value>,
}

/// A line that gives no command to run, as its result line says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The line's id, or `line <n>` when it has no usable one (none, not a string, empty, or
    /// already used by an earlier line, whose result it must not be mistaken for).
    pub key: String,
    pub tenant: Option<String>,
    pub command: Option<String>,
    pub error: String,
}

/// What one non-blank line of an input is.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Job(Job),
    Refused(Refusal),
}

impl Line {
    /// The id its result line carries.
    pub fn key(&self) -> &str {
        match self {
            Line::Job(job) => &job.id,
            Line::Refused(refusal) => &refusal.key,
        }
    }
}

impl Job {
    /// The job as it travels to a worker: only the four keys of the contract, compact.
    pub fn to_json(&self) -> String {
        let mut object = Map::new();
        object.insert("id".into(), Value::String(self.id.clone()));
        object.insert("tenant".into(), Value::String(self.tenant.clone()));
        object.insert("command".into(), Value::String(self.command.clone()));
        object.insert("args".into(), Value::Object(self.args.clone()));
        Value::Object(object).to_string()
    }

    /// A refusal of this (well-formed) job, e.g. for an unknown tenant or command.
    pub fn refuse(&self, error: String) -> Refusal {
        Refusal {
            key: self.id.clone(),
            tenant: Some(self.tenant.clone()),
            command: Some(self.command.clone()),
            error,
        }
    }
}

/// The result line of a job that ran: `exit` 0 (a Type 1 entry) or 1 (Type 4), and the entry
/// exactly as the component wrote it (its key order kept).
pub fn result_line(job: &Job, exit: u8, entry_json: &str) -> String {
    let entry = serde_json::from_str::<Value>(entry_json)
        // Only a broken component writes an entry that is not JSON; the line stays JSON.
        .unwrap_or_else(|_| Value::String(entry_json.to_string()));
    let mut object = Map::new();
    object.insert("id".into(), Value::String(job.id.clone()));
    object.insert("tenant".into(), Value::String(job.tenant.clone()));
    object.insert("command".into(), Value::String(job.command.clone()));
    object.insert("exit".into(), Value::from(exit));
    object.insert("entry".into(), entry);
    Value::Object(object).to_string()
}

impl Refusal {
    /// `{"id", ["tenant",] ["command",] "exit": 2, "error"}`.
    pub fn line(&self) -> String {
        let mut object = Map::new();
        object.insert("id".into(), Value::String(self.key.clone()));
        if let Some(tenant) = &self.tenant {
            object.insert("tenant".into(), Value::String(tenant.clone()));
        }
        if let Some(command) = &self.command {
            object.insert("command".into(), Value::String(command.clone()));
        }
        object.insert("exit".into(), Value::from(2));
        object.insert("error".into(), Value::String(self.error.clone()));
        Value::Object(object).to_string()
    }

    /// [`Refusal::line`] when it is at most `most` bytes; else the same refusal (its id,
    /// tenant and command, which its submitter matches) with an error too short to echo
    /// anything, when that fits. `None`: even that does not fit (a message no `submit` sends:
    /// it refuses a job larger than a message can carry).
    ///
    /// An error may quote what the line gave (an unknown command, with the list of known
    /// ones): quoted, a name that filled most of a message fills more than one.
    pub fn line_within(&self, most: usize) -> Option<String> {
        let line = self.line();
        if line.len() <= most {
            return Some(line);
        }
        let short = Refusal {
            error: format!(
                "the job is refused; the refusal, {} bytes, is more than the {most} bytes a result can carry",
                line.len()
            ),
            ..self.clone()
        }
        .line();
        (short.len() <= most).then_some(short)
    }
}

/// The `id` and `exit` of a result line, when it has a string id.
pub fn result_key(line: &str) -> Option<(String, Option<i64>)> {
    let value = serde_json::from_str::<Value>(line).ok()?;
    let id = value.get("id")?.as_str()?.to_string();
    Some((id, value.get("exit").and_then(Value::as_i64)))
}

/// A non-empty string member of a line.
fn usable<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    object
        .get(key)
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
}

/// Check the form of one job. `fallback_key` keys the refusal of a job without a usable id
/// (`line <n>` for an input line).
pub fn parse_job(text: &str, fallback_key: &str) -> Result<Job, Refusal> {
    parse_job_and_phase(text, fallback_key).map(|(job, _)| job)
}

/// [`parse_job`], and the line's `phase` member as it is (a plan's job lines have one).
fn parse_job_and_phase(text: &str, fallback_key: &str) -> Result<(Job, Option<Value>), Refusal> {
    let refuse = |tenant: Option<&str>, command: Option<&str>, error: String| Refusal {
        key: fallback_key.to_string(),
        tenant: tenant.map(str::to_string),
        command: command.map(str::to_string),
        error,
    };
    let value = match serde_json::from_str::<Value>(text) {
        Ok(value) => value,
        Err(error) => {
            // serde names "line 1" of the text it was given; the line's own number is the key.
            let message = error.to_string();
            let message = match message.rfind(" at line ") {
                Some(at) => format!("{} at column {}", &message[..at], error.column()),
                None => message,
            };
            return Err(refuse(None, None, format!("not valid JSON: {message}")));
        }
    };
    let Value::Object(mut object) = value else {
        return Err(refuse(
            None,
            None,
            format!("a job must be a JSON object, not {}", kind_of(&value)),
        ));
    };
    let tenant = usable(&object, "tenant").map(str::to_string);
    let command = usable(&object, "command").map(str::to_string);
    let Some(id) = usable(&object, "id").map(str::to_string) else {
        return Err(refuse(
            tenant.as_deref(),
            command.as_deref(),
            "\"id\" must be a non-empty string".into(),
        ));
    };
    let refuse_job = |error: &str| Refusal {
        key: id.clone(),
        tenant: tenant.clone(),
        command: command.clone(),
        error: error.to_string(),
    };
    let (Some(tenant), Some(command)) = (tenant.clone(), command.clone()) else {
        let missing = if tenant.is_none() {
            "tenant"
        } else {
            "command"
        };
        return Err(refuse_job(&format!(
            "\"{missing}\" must be a non-empty string"
        )));
    };
    let args = match object.remove("args") {
        None => Map::new(),
        Some(Value::Object(args)) => args,
        Some(other) => {
            return Err(refuse_job(&format!(
                "\"args\" must be a JSON object, not {}",
                kind_of(&other)
            )));
        }
    };
    let phase = object.remove("phase");
    Ok((
        Job {
            id,
            tenant,
            command,
            args,
        },
        phase,
    ))
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A plan's last phase (sync.md §8: 1 user jobs, 2 group creates, 3 member changes, 4
/// deprovisions). Bounded, so that a hand-made plan cannot make a run read its input once for
/// each of billions of phases.
pub const LAST_PHASE: u64 = 4;

/// Why a plan's job line without a usable phase is refused.
const PHASE_REFUSAL: &str = "\"phase\" must be a whole number from 1 to 4 in a plan's job line";

/// The non-blank lines of an input, numbered from 1 (counting every line), each a job or a
/// refusal. An id is taken by the first line that names it, even when that line is refused,
/// so that no two result lines ever share an id.
///
/// A plan file of `iam-host sync plan` (sync.md §8) is read as well: its first non-blank line,
/// an object with the key `"plan"`, is its header, which is kept ([`JobLines::header`]) and
/// gives no result; each of its job lines must carry a `phase` (a whole number from 1 to
/// [`LAST_PHASE`]), which [`JobLines::phase`] gives after the line is read.
pub struct JobLines<R> {
    reader: R,
    number: usize,
    /// Each id seen so far and the line that took it.
    taken: HashMap<String, usize>,
    buffer: Vec<u8>,
    /// Whether a non-blank line has been read (only the first can be a header).
    started: bool,
    /// The plan header (the value under `"plan"`), when the input is a plan.
    header: Option<Value>,
    /// The phase of the job line last returned (plans only).
    phase: Option<u64>,
}

impl<R: BufRead> JobLines<R> {
    pub fn new(reader: R) -> JobLines<R> {
        JobLines {
            reader,
            number: 0,
            taken: HashMap::new(),
            buffer: Vec::new(),
            started: false,
            header: None,
            phase: None,
        }
    }

    /// The plan's header (the value under `"plan"`), once the first line has been read;
    /// `None` for a plain job file. [`PlanHeader::of`] reads it.
    pub fn header(&self) -> Option<&Value> {
        self.header.as_ref()
    }

    /// The phase of the job line last returned, when the input is a plan.
    pub fn phase(&self) -> Option<u64> {
        self.phase
    }

    /// What the line in the buffer is; `cut` when it was longer than the buffer kept (and so
    /// longer than the cap).
    fn classify(&mut self, number: usize, cut: bool) -> Line {
        let fallback = format!("line {number}");
        let bytes = self.buffer.strip_suffix(b"\n").unwrap_or(&self.buffer);
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if cut || bytes.len() > MAX_LINE_BYTES {
            return Line::Refused(Refusal {
                key: fallback,
                tenant: None,
                command: None,
                error: format!("the line is longer than {MAX_LINE_BYTES} bytes"),
            });
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Line::Refused(Refusal {
                key: fallback,
                tenant: None,
                command: None,
                error: "not valid JSON: the line is not UTF-8".into(),
            });
        };
        let parsed = parse_job_and_phase(text, &fallback);
        let id = match &parsed {
            Ok((job, _)) => job.id.clone(),
            Err(refusal) if refusal.key != fallback => refusal.key.clone(),
            Err(refusal) => return Line::Refused(refusal.clone()),
        };
        // What a refusal of this line names.
        let tenant_and_command = || match &parsed {
            Ok((job, _)) => (Some(job.tenant.clone()), Some(job.command.clone())),
            Err(refusal) => (refusal.tenant.clone(), refusal.command.clone()),
        };
        // `line <n>` names the result of a line without a usable id: a job may not take such
        // a name, or its result and that line's would share an id (and a rerun would skip
        // one of them).
        if is_line_name(&id) {
            let (tenant, command) = tenant_and_command();
            return Line::Refused(Refusal {
                key: fallback,
                tenant,
                command,
                error: format!(
                    "the id {id:?} is reserved: \"line <n>\" names the result of a line without a usable id"
                ),
            });
        }
        if let Some(first) = self.taken.get(&id) {
            let (tenant, command) = tenant_and_command();
            return Line::Refused(Refusal {
                key: fallback,
                tenant,
                command,
                error: format!("the id {id:?} is already used by line {first}"),
            });
        }
        self.taken.insert(id, number);
        match parsed {
            Ok((job, _)) if self.header.is_none() => Line::Job(job),
            Ok((job, _))
                if self
                    .plan_tenant()
                    .is_some_and(|tenant| tenant != job.tenant) =>
            {
                // A plan is made for one directory, its header's tenant (sync.md §8): a job
                // line naming another would reach a directory nobody reviewed it for.
                let error = format!(
                    "the plan is for the tenant {:?}; a job of it may not name another",
                    self.plan_tenant().unwrap_or_default()
                );
                Line::Refused(job.refuse(error))
            }
            Ok((job, phase)) => match phase.as_ref().and_then(Value::as_u64) {
                Some(phase) if (1..=LAST_PHASE).contains(&phase) => {
                    self.phase = Some(phase);
                    Line::Job(job)
                }
                _ => Line::Refused(job.refuse(PHASE_REFUSAL.into())),
            },
            Err(refusal) => Line::Refused(refusal),
        }
    }

    /// The tenant a plan's header names, when it names one.
    fn plan_tenant(&self) -> Option<&str> {
        self.header.as_ref()?.get("tenant")?.as_str()
    }

    /// Whether the buffer holds a plan header, and if so keep it: an object with the key
    /// `"plan"` (whatever its value, which [`PlanHeader::of`] checks).
    fn take_header(&mut self) -> bool {
        let Ok(Value::Object(mut line)) = serde_json::from_slice::<Value>(&self.buffer) else {
            return false;
        };
        self.header = line.remove("plan");
        self.header.is_some()
    }
}

/// Whether `id` has the form of a line's name, `line <n>`.
fn is_line_name(id: &str) -> bool {
    id.strip_prefix("line ")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// How an input file is named in messages.
pub const INPUT_FILE: &str = "the input file";

/// What the host needs of a plan's header (sync.md §8): where the plan was made, for which
/// tenant, and whether it is blocked and why.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanHeader {
    pub id: String,
    pub tenant: Option<String>,
    pub url: Option<String>,
    pub directory_id: Option<String>,
    /// The reasons the plan is blocked, as the plan words them; empty when it is not.
    pub blocked: Vec<String>,
    /// The header's summary, as written.
    pub summary: Option<Value>,
}

impl PlanHeader {
    /// The header of a plan from the value under its `"plan"` key; an error says what is
    /// wrong with it (an unusable input: exit 2).
    pub fn of(value: &Value) -> Result<PlanHeader, String> {
        let Value::Object(header) = value else {
            return Err("the plan header (\"plan\") must be a JSON object".into());
        };
        let text = |key: &str| header.get(key).and_then(Value::as_str).map(str::to_string);
        let Some(id) = text("id").filter(|id| !id.is_empty()) else {
            return Err("the plan header has no \"id\"".into());
        };
        let blocked = match header.get("blocked") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(reasons)) => reasons
                .iter()
                .map(|reason| match reason {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                })
                .collect(),
            Some(_) => return Err("the plan header's \"blocked\" must be a list".into()),
        };
        Ok(PlanHeader {
            id,
            tenant: text("tenant"),
            url: text("url"),
            directory_id: text("directory_id"),
            blocked,
            summary: header.get("summary").cloned(),
        })
    }

    pub fn is_blocked(&self) -> bool {
        !self.blocked.is_empty()
    }
}

/// A blocked plan given to run without `--force` (sync.md §7, §8): exit 4, nothing sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedPlan {
    pub reasons: Vec<String>,
}

impl std::fmt::Display for BlockedPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the plan is blocked ({}); nothing was sent: review it, and give --force to apply it anyway",
            self.reasons.join("; ")
        )
    }
}

impl std::error::Error for BlockedPlan {}

/// The plan header of an input file, `None` when the file is not a plan (its first non-blank
/// line has no `"plan"` key). Reads only up to that line.
pub fn read_plan_header(path: &std::path::Path) -> anyhow::Result<Option<PlanHeader>> {
    let mut lines = open_input(path)?;
    if let Some(Err(error)) = lines.next() {
        return Err(anyhow::Error::new(error)
            .context(format!("cannot read the input file {}", path.display())));
    }
    match lines.header() {
        None => Ok(None),
        Some(value) => PlanHeader::of(value)
            .map(Some)
            .map_err(|why| anyhow::anyhow!("{why} ({})", path.display())),
    }
}

/// The job lines of an input file (`batch` and `submit` each read it twice: to plan, then
/// to run, so it never has to fit in memory, nor does any one line past the cap). Only a
/// regular file is read (`files::open`).
pub fn open_input(
    path: &std::path::Path,
) -> anyhow::Result<JobLines<io::BufReader<std::fs::File>>> {
    let file = iam_host::files::open(path, INPUT_FILE)?;
    Ok(JobLines::new(io::BufReader::new(file)))
}

impl<R: BufRead> Iterator for JobLines<R> {
    /// The line's number and what it is; an error reading the input ends the iteration.
    type Item = io::Result<(usize, Line)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let read = match read_line_capped(&mut self.reader, &mut self.buffer, KEPT_LINE_BYTES) {
                Ok(read) if read.length == 0 => return None,
                Ok(read) => read,
                Err(error) => return Some(Err(error)),
            };
            self.number += 1;
            let cut = read.length > self.buffer.len() as u64;
            if self.buffer.iter().all(u8::is_ascii_whitespace) && read.dropped_blank {
                continue;
            }
            let first = !std::mem::replace(&mut self.started, true);
            if first && !cut && self.take_header() {
                continue;
            }
            self.phase = None;
            let number = self.number;
            return Some(Ok((number, self.classify(number, cut))));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &str) -> Vec<(usize, Line)> {
        JobLines::new(input.as_bytes())
            .map(|line| line.expect("reading a string cannot fail"))
            .collect()
    }

    fn refusal(line: &Line) -> &Refusal {
        match line {
            Line::Refused(refusal) => refusal,
            Line::Job(job) => panic!("expected a refusal, got the job {job:?}"),
        }
    }

    #[test]
    fn a_job_line_gives_a_job_with_empty_args_by_default() {
        let parsed = lines(r#"{"id": "a", "tenant": "t", "command": "iam-get-user", "other": 1}"#);
        assert_eq!(
            parsed,
            vec![(
                1,
                Line::Job(Job {
                    id: "a".into(),
                    tenant: "t".into(),
                    command: "iam-get-user".into(),
                    args: Map::new(),
                })
            )]
        );
    }

    #[test]
    fn blank_lines_are_skipped_but_counted() {
        let parsed = lines(
            "\n   \r\n{\"id\": \"a\", \"tenant\": \"t\", \"command\": \"c\"}\n\n{\"id\": 5}\n",
        );
        let numbers: Vec<usize> = parsed.iter().map(|(number, _)| *number).collect();
        assert_eq!(numbers, vec![3, 5]);
        assert_eq!(refusal(&parsed[1].1).key, "line 5");
    }

    #[test]
    fn a_line_that_is_not_json_is_refused_by_its_number() {
        let parsed = lines("{\"id\": \"a\", \"tenant\": \"t\", \"command\": \"c\"}\nnot json\n");
        let refused = refusal(&parsed[1].1);
        assert_eq!(refused.key, "line 2");
        assert_eq!(refused.error, "not valid JSON: expected ident at column 2");
        assert_eq!(
            refused.line(),
            format!(
                r#"{{"id":"line 2","exit":2,"error":{}}}"#,
                Value::String(refused.error.clone())
            )
        );
    }

    #[test]
    fn a_line_that_is_not_an_object_is_refused() {
        let parsed = lines("[1, 2]\n");
        assert_eq!(
            refusal(&parsed[0].1).line(),
            r#"{"id":"line 1","exit":2,"error":"a job must be a JSON object, not an array"}"#
        );
    }

    #[test]
    fn a_refusal_names_the_tenant_and_command_the_line_gives() {
        let parsed = lines(r#"{"id": "", "tenant": "t", "command": "c"}"#);
        assert_eq!(
            refusal(&parsed[0].1).line(),
            r#"{"id":"line 1","tenant":"t","command":"c","exit":2,"error":"\"id\" must be a non-empty string"}"#
        );
    }

    #[test]
    fn a_missing_tenant_or_command_is_refused_under_the_id() {
        let parsed = lines(
            "{\"id\": \"a\", \"command\": \"c\"}\n{\"id\": \"b\", \"tenant\": \"t\", \"command\": 7}\n",
        );
        assert_eq!(
            refusal(&parsed[0].1).line(),
            r#"{"id":"a","command":"c","exit":2,"error":"\"tenant\" must be a non-empty string"}"#
        );
        assert_eq!(
            refusal(&parsed[1].1).line(),
            r#"{"id":"b","tenant":"t","exit":2,"error":"\"command\" must be a non-empty string"}"#
        );
    }

    #[test]
    fn args_that_are_not_an_object_are_refused() {
        let parsed = lines(r#"{"id": "a", "tenant": "t", "command": "c", "args": "x"}"#);
        assert_eq!(
            refusal(&parsed[0].1).error,
            "\"args\" must be a JSON object, not a string"
        );
    }

    #[test]
    fn an_id_of_the_form_of_a_lines_name_is_refused_so_no_two_results_share_an_id() {
        // Regression (issue 23): a job with id "line 1" and a bad line 1 both wrote a result
        // with id "line 1"; after an interrupted run the job was taken as done and never ran.
        let parsed = lines(concat!(
            "not json\n",
            "{\"id\": \"line 1\", \"tenant\": \"t\", \"command\": \"c\"}\n",
            "{\"id\": \"line 9\", \"tenant\": \"t\", \"command\": \"c\"}\n",
            "{\"id\": \"line 1a\", \"tenant\": \"t\", \"command\": \"c\"}\n",
            "{\"id\": \"line \", \"tenant\": \"t\", \"command\": \"c\"}\n",
        ));
        let keys: Vec<&str> = parsed.iter().map(|(_, line)| line.key()).collect();
        assert_eq!(keys, vec!["line 1", "line 2", "line 3", "line 1a", "line "]);
        assert_eq!(
            refusal(&parsed[1].1).line(),
            r#"{"id":"line 2","tenant":"t","command":"c","exit":2,"error":"the id \"line 1\" is reserved: \"line <n>\" names the result of a line without a usable id"}"#
        );
        assert!(matches!(parsed[3].1, Line::Job(_)) && matches!(parsed[4].1, Line::Job(_)));
    }

    #[test]
    fn a_repeated_id_is_refused_by_line_number_so_ids_stay_unique() {
        let parsed = lines(concat!(
            "{\"id\": \"a\", \"tenant\": \"t\"}\n",
            "{\"id\": \"a\", \"tenant\": \"t\", \"command\": \"c\"}\n",
            "{\"id\": \"b\", \"tenant\": \"t\", \"command\": \"c\"}\n",
            "{\"id\": \"b\", \"tenant\": \"t\", \"command\": \"c\"}\n",
        ));
        let keys: Vec<&str> = parsed.iter().map(|(_, line)| line.key()).collect();
        assert_eq!(keys, vec!["a", "line 2", "b", "line 4"]);
        assert_eq!(
            refusal(&parsed[3].1).line(),
            r#"{"id":"line 4","tenant":"t","command":"c","exit":2,"error":"the id \"b\" is already used by line 3"}"#
        );
    }

    #[test]
    fn a_result_line_keeps_the_entry_and_its_key_order() {
        let job = Job {
            id: "a".into(),
            tenant: "t".into(),
            command: "iam-get-user".into(),
            args: Map::new(),
        };
        assert_eq!(
            result_line(
                &job,
                0,
                "{\n  \"Type\": 1, \"Contents\": {\"z\": 1, \"a\": 2}}"
            ),
            r#"{"id":"a","tenant":"t","command":"iam-get-user","exit":0,"entry":{"Type":1,"Contents":{"z":1,"a":2}}}"#
        );
        assert_eq!(
            result_key(&result_line(&job, 1, "{}")),
            Some(("a".to_string(), Some(1)))
        );
    }

    #[test]
    fn a_job_travels_with_the_four_keys_only() {
        let parsed = lines(
            r#"{"other": true, "args": {"user-profile": {"email": "a@b.c"}}, "command": "c", "tenant": "t", "id": "a"}"#,
        );
        let Line::Job(job) = &parsed[0].1 else {
            panic!("expected a job: {parsed:?}");
        };
        assert_eq!(
            job.to_json(),
            r#"{"id":"a","tenant":"t","command":"c","args":{"user-profile":{"email":"a@b.c"}}}"#
        );
        assert_eq!(parse_job(&job.to_json(), ""), Ok(job.clone()));
    }

    #[test]
    fn a_line_past_the_cap_is_refused_by_its_number_and_the_next_line_still_counts() {
        use std::io::Read as _;
        let job = b"{\"id\": \"a\", \"tenant\": \"t\", \"command\": \"c\"}\n";
        let long = io::repeat(b'x').take(MAX_LINE_BYTES as u64 + 1);
        // A line of only spaces is blank however long it is; one with a byte past the cap
        // that is not a space is not.
        let blank = io::repeat(b' ').take(MAX_LINE_BYTES as u64 + 10);
        let spaces_then_x = io::repeat(b' ').take(MAX_LINE_BYTES as u64 + 10);
        let input = long
            .chain(&b"\r\n"[..])
            .chain(blank)
            .chain(&b"\n"[..])
            .chain(spaces_then_x)
            .chain(&b"x\n"[..])
            .chain(&job[..]);
        let parsed: Vec<_> = JobLines::new(io::BufReader::new(input))
            .map(|line| line.expect("read"))
            .collect();
        let numbers: Vec<usize> = parsed.iter().map(|(number, _)| *number).collect();
        assert_eq!(numbers, vec![1, 3, 4]);
        for (_, line) in &parsed[..2] {
            assert_eq!(
                refusal(line).error,
                format!("the line is longer than {MAX_LINE_BYTES} bytes")
            );
        }
        assert_eq!(refusal(&parsed[0].1).key, "line 1");
        assert!(matches!(&parsed[2].1, Line::Job(job) if job.id == "a"));
        // A line exactly at the cap is read whole.
        let at_cap = format!("\"{}\"\r\n", "y".repeat(MAX_LINE_BYTES - 2));
        let parsed = lines(&at_cap);
        assert_eq!(
            refusal(&parsed[0].1).error,
            "a job must be a JSON object, not a string"
        );
    }

    #[test]
    fn a_plans_header_gives_no_result_and_its_jobs_carry_their_phase() {
        let input = concat!(
            "\n{\"plan\": {\"id\": \"p\", \"url\": \"https://x\", \"directory_id\": \"d\", \"blocked\": [\"why\"]}}\n",
            "{\"id\": \"p-1\", \"tenant\": \"t\", \"command\": \"c\", \"phase\": 1}\n",
            "{\"id\": \"p-2\", \"tenant\": \"t\", \"command\": \"c\", \"phase\": 0}\n",
            "{\"id\": \"p-5\", \"tenant\": \"t\", \"command\": \"c\", \"phase\": 5}\n",
            "{\"id\": \"p-3\", \"tenant\": \"t\", \"command\": \"c\", \"phase\": 4, \"plan\": {}}\n",
        );
        let mut lines = JobLines::new(input.as_bytes());
        let (number, first) = lines.next().expect("a line").expect("read");
        assert_eq!((number, first.key(), lines.phase()), (3, "p-1", Some(1)));
        let header = PlanHeader::of(lines.header().expect("a header")).expect("usable");
        assert_eq!(header.blocked, vec!["why".to_string()]);
        assert_eq!(
            (header.id.as_str(), header.directory_id.as_deref()),
            ("p", Some("d"))
        );
        for _ in ["phase 0", "phase 5"] {
            let (_, refused) = lines.next().expect("a line").expect("read");
            assert_eq!(
                refusal(&refused).error,
                "\"phase\" must be a whole number from 1 to 4 in a plan's job line"
            );
        }
        // Only the first line can be a header: a later "plan" key is one more key of a job.
        let (_, third) = lines.next().expect("a line").expect("read");
        assert_eq!((third.key(), lines.phase()), ("p-3", Some(4)));
        // A plain job file has no header, and its jobs no phase.
        let mut plain = JobLines::new(
            &b"{\"id\": \"a\", \"tenant\": \"t\", \"command\": \"c\", \"phase\": \"x\"}\n"[..],
        );
        let (_, job) = plain.next().expect("a line").expect("read");
        assert!(matches!(job, Line::Job(_)) && plain.header().is_none() && plain.phase().is_none());
    }

    #[test]
    fn a_plans_job_that_names_another_tenant_than_its_header_is_refused() {
        // Found in review: a plan's job line naming another tenant ran (batch with a tenants
        // file of several, submit) against a directory the plan was not made for.
        let input = concat!(
            "{\"plan\": {\"id\": \"p\", \"tenant\": \"acme\"}}\n",
            "{\"id\": \"p-1\", \"tenant\": \"acme\", \"command\": \"c\", \"phase\": 1}\n",
            "{\"id\": \"p-2\", \"tenant\": \"globex\", \"command\": \"c\", \"phase\": 1}\n",
        );
        let parsed = lines(input);
        assert!(matches!(&parsed[0].1, Line::Job(job) if job.tenant == "acme"));
        assert_eq!(
            refusal(&parsed[1].1).line(),
            r#"{"id":"p-2","tenant":"globex","command":"c","exit":2,"error":"the plan is for the tenant \"acme\"; a job of it may not name another"}"#
        );
    }

    #[test]
    fn a_header_that_is_not_an_object_is_unusable() {
        assert!(PlanHeader::of(&Value::from(3)).is_err());
        assert!(
            PlanHeader::of(&serde_json::json!({"blocked": []})).is_err(),
            "no id"
        );
    }

    #[test]
    fn a_refusal_too_large_for_a_message_keeps_its_id_tenant_and_command_and_loses_its_echo() {
        // Regression: an unknown command of 600 KB is quoted in the refusal's error, so the
        // refusal line was over 1 MiB; the worker retried publishing it for ever, holding a
        // slot and ignoring SIGTERM.
        let command = "x".repeat(600_000);
        let refusal = Refusal {
            key: "j-1".into(),
            tenant: Some("acme".into()),
            command: Some(command.clone()),
            error: format!("unknown command {command:?}; expected one of a, b"),
        };
        let most = 1_048_576 - 1024;
        assert!(refusal.line().len() > most);
        let line = refusal.line_within(most).expect("fits");
        assert!(line.len() <= most, "{}", line.len());
        let value: Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(value["id"], "j-1");
        assert_eq!(value["tenant"], "acme");
        assert_eq!(value["command"].as_str(), Some(command.as_str()));
        assert_eq!(value["exit"], 2);
        let error = value["error"].as_str().expect("an error");
        assert!(
            error.starts_with("the job is refused; the refusal, "),
            "{error}"
        );
        // A refusal that fits is its own line; one whose names alone do not fit is none.
        let small = Refusal {
            command: Some("c".into()),
            error: "unknown command \"c\"".into(),
            ..refusal.clone()
        };
        assert_eq!(small.line_within(most), Some(small.line()));
        assert_eq!(refusal.line_within(100), None);
    }

    #[test]
    fn a_line_that_is_not_utf8_is_refused() {
        let input: &[u8] = b"\xff\xfe\n";
        let parsed: Vec<_> = JobLines::new(input)
            .map(|line| line.expect("read"))
            .collect();
        assert_eq!(refusal(&parsed[0].1).key, "line 1");
    }
}
