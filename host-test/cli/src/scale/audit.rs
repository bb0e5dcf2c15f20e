//! The audit file (`--audit FILE`, sync.md §8): one JSON line per HTTP request sent for a job,
//! `{"ts", "tenant", "job", "command", "method", "path", "status" or "error", "ms",
//! "attempt"}`. [`Audited`] is a `Backend` decorator, so it sees exactly the requests that
//! left the gate for the wire (a request the gate refused was never sent, and has no line).
//!
//! What a line may hold is fixed here, once: the path and query of the URL (never its
//! origin's userinfo, never a header, never a body) and, for a request that got no answer, the
//! kind of failure only (its message could quote what the server or a proxy said). The token
//! travels in a header, so no audit line can carry it.

use anyhow::{Context as _, Result};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use iam_host::backend::{Backend, BackendError, BoxFuture, IncomingResponse, OutgoingRequest};

/// An audit file open for appending, shared by every command of a run. Each line is one
/// `write` on a file opened for appending, so lines of commands running at once never mix.
pub struct AuditLog {
    file: Mutex<File>,
    path: PathBuf,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditLog({})", self.path.display())
    }
}

impl AuditLog {
    /// Open (or create) the audit file for appending: a regular file only, never through a
    /// symbolic link (`files::open_output`). A torn last line left by a killed process is
    /// cut off first, so the next line starts on a line of its own.
    pub fn open(path: &Path) -> Result<Arc<AuditLog>> {
        let file = iam_host::files::open_output(path)?;
        let length = file
            .metadata()
            .with_context(|| format!("cannot read the audit file {}", path.display()))?
            .len();
        if length > 0 {
            let complete = complete_length(&file, length)
                .with_context(|| format!("cannot read the audit file {}", path.display()))?;
            if complete < length {
                file.set_len(complete).with_context(|| {
                    format!(
                        "cannot cut a torn last line off the audit file {}",
                        path.display()
                    )
                })?;
            }
        }
        Ok(Arc::new(AuditLog {
            file: Mutex::new(file),
            path: path.to_path_buf(),
        }))
    }

    /// Append one line. A write that fails is reported once on stderr and costs the line,
    /// never the command (whose side effects have happened).
    fn append(&self, line: &str) {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Err(error) = file.write_all(&bytes) {
            crate::diagnostic(&format!(
                "iam-host: cannot write to the audit file {}: {error}",
                self.path.display()
            ));
        }
    }

    /// `backend` for one job: every request it sends is written here.
    pub fn wrap(
        self: &Arc<AuditLog>,
        backend: Box<dyn Backend>,
        tenant: &str,
        job: &str,
        command: &str,
    ) -> Box<dyn Backend> {
        Box::new(Audited {
            inner: backend,
            log: self.clone(),
            tenant: tenant.to_string(),
            job: job.to_string(),
            command: command.to_string(),
            attempts: HashMap::new(),
        })
    }
}

/// The length of the file up to its last newline (the whole of it when it ends with one).
fn complete_length(file: &File, length: u64) -> std::io::Result<u64> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    // Lines are short: look back through the last 64 KiB at most, then through the rest.
    let mut reader = file;
    let mut end = length;
    let mut chunk = vec![0u8; 64 << 10];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let size = (end - start) as usize;
        reader.seek(SeekFrom::Start(start))?;
        reader.read_exact(&mut chunk[..size])?;
        if let Some(at) = chunk[..size].iter().rposition(|&byte| byte == b'\n') {
            return Ok(start + at as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// A backend whose every request is written to the audit file.
struct Audited {
    inner: Box<dyn Backend>,
    log: Arc<AuditLog>,
    tenant: String,
    job: String,
    command: String,
    /// How many times this job has sent each method and path: a retry is attempt 2, 3, ….
    attempts: HashMap<(String, String), u32>,
}

impl Audited {
    /// Count one more sending of `method` `path` by this job: its attempt number.
    fn attempt(&mut self, method: &str, path: &str) -> u32 {
        let count = self
            .attempts
            .entry((method.to_string(), path.to_string()))
            .or_insert(0);
        *count += 1;
        *count
    }

    /// Write the line of one request sent at `sent_at` that ended with `answer` after `millis`.
    fn record(
        &mut self,
        request: &OutgoingRequest,
        sent_at: SystemTime,
        answer: Result<u16, &BackendError>,
        millis: u64,
    ) {
        let path = path_and_query(&request.url);
        let attempt = self.attempt(&request.method, &path);
        let line = audit_line(&AuditEntry {
            ts: sent_at,
            tenant: &self.tenant,
            job: &self.job,
            command: &self.command,
            method: &request.method,
            path: &path,
            answer,
            millis,
            attempt,
        });
        self.log.append(&line);
    }
}

impl Backend for Audited {
    fn send<'a>(
        &'a mut self,
        request: &'a OutgoingRequest,
        max_body_bytes: u64,
    ) -> BoxFuture<'a, Result<IncomingResponse, BackendError>> {
        Box::pin(async move {
            let sent_at = SystemTime::now();
            let started = Instant::now();
            let answer = self.inner.send(request, max_body_bytes).await;
            let millis = started.elapsed().as_millis() as u64;
            let status = answer.as_ref().map(|response| response.status);
            self.record(request, sent_at, status, millis);
            answer
        })
    }

    /// The inner backend's own `send_all` (a list goes out together, as without `--audit`),
    /// one line per request; each request's time is the whole list's.
    fn send_all<'a>(
        &'a mut self,
        requests: &'a [OutgoingRequest],
    ) -> BoxFuture<'a, Vec<Result<IncomingResponse, BackendError>>> {
        Box::pin(async move {
            let sent_at = SystemTime::now();
            let started = Instant::now();
            let answers = self.inner.send_all(requests).await;
            let millis = started.elapsed().as_millis() as u64;
            for (request, answer) in requests.iter().zip(&answers) {
                let status = answer.as_ref().map(|response| response.status);
                self.record(request, sent_at, status, millis);
            }
            answers
        })
    }

    fn sleep(&mut self, millis: u64) -> BoxFuture<'_, ()> {
        self.inner.sleep(millis)
    }

    fn now_millis(&mut self) -> u64 {
        self.inner.now_millis()
    }
}

/// What one audit line says.
pub struct AuditEntry<'a> {
    pub ts: SystemTime,
    pub tenant: &'a str,
    pub job: &'a str,
    pub command: &'a str,
    pub method: &'a str,
    /// The path and query only.
    pub path: &'a str,
    /// The status, or why no answer came.
    pub answer: Result<u16, &'a BackendError>,
    pub millis: u64,
    pub attempt: u32,
}

/// The line of one request.
pub fn audit_line(entry: &AuditEntry<'_>) -> String {
    let mut line = Map::new();
    line.insert("ts".into(), Value::from(rfc3339(entry.ts, true)));
    line.insert("tenant".into(), Value::from(entry.tenant));
    line.insert("job".into(), Value::from(entry.job));
    line.insert("command".into(), Value::from(entry.command));
    line.insert("method".into(), Value::from(entry.method));
    line.insert("path".into(), Value::from(entry.path));
    match entry.answer {
        Ok(status) => line.insert("status".into(), Value::from(status)),
        Err(error) => line.insert("error".into(), Value::from(error_kind(error))),
    };
    line.insert("ms".into(), Value::from(entry.millis));
    line.insert("attempt".into(), Value::from(entry.attempt));
    Value::Object(line).to_string()
}

/// The URL's path and query, nothing of its origin.
pub fn path_and_query(url: &url::Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    }
}

/// The kind of a failure, never its message (which may quote a server or a proxy).
fn error_kind(error: &BackendError) -> &'static str {
    match error {
        BackendError::Timeout => "timeout",
        BackendError::Transport(_) => "transport",
        BackendError::Tls(_) => "tls",
        BackendError::Protocol(_) => "protocol",
        BackendError::TooLarge => "response-too-large",
    }
}

/// A time as RFC 3339 in UTC: `2024-01-01T00:00:00Z`, or with `millis`
/// `2024-01-01T00:00:00.000Z`.
pub fn rfc3339(time: SystemTime, millis: bool) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    let (days, of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    let clock = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        of_day / 3_600,
        of_day % 3_600 / 60,
        of_day % 60
    );
    if millis {
        format!("{clock}.{:03}Z", since.subsec_millis())
    } else {
        format!("{clock}Z")
    }
}

/// The calendar date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scale::testing::{Fake, request_to};
    use std::time::Duration;

    #[test]
    fn times_are_written_as_rfc3339_utc() {
        // 2024-02-29T13:45:07.250Z is 1709214307.25 s after the epoch (a leap day).
        let time = UNIX_EPOCH + Duration::from_millis(1_709_214_307_250);
        assert_eq!(rfc3339(time, true), "2024-02-29T13:45:07.250Z");
        assert_eq!(rfc3339(time, false), "2024-02-29T13:45:07Z");
        assert_eq!(rfc3339(UNIX_EPOCH, false), "1970-01-01T00:00:00Z");
        // 2000-03-01 (after a century leap day) is day 11017.
        let march = UNIX_EPOCH + Duration::from_secs(11_017 * 86_400);
        assert_eq!(rfc3339(march, false), "2000-03-01T00:00:00Z");
    }

    #[test]
    fn a_line_holds_the_path_and_query_and_the_kind_of_a_failure_only() {
        let url = url::Url::parse(
            "https://user:pw@api.example/scim/directory/d/Users?startIndex=1&count=100",
        )
        .expect("url");
        let path = path_and_query(&url);
        assert_eq!(path, "/scim/directory/d/Users?startIndex=1&count=100");
        let error = BackendError::Transport("connection reset by a proxy saying s3cret".into());
        let line = audit_line(&AuditEntry {
            ts: UNIX_EPOCH,
            tenant: "t",
            job: "p-1",
            command: "iam-get-user",
            method: "GET",
            path: &path,
            answer: Err(&error),
            millis: 12,
            attempt: 2,
        });
        assert_eq!(
            line,
            r#"{"ts":"1970-01-01T00:00:00.000Z","tenant":"t","job":"p-1","command":"iam-get-user","method":"GET","path":"/scim/directory/d/Users?startIndex=1&count=100","error":"transport","ms":12,"attempt":2}"#
        );
    }

    #[test]
    fn opening_cuts_a_torn_last_line() {
        let dir = std::env::temp_dir().join(format!("iam-audit-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("audit.jsonl");
        std::fs::write(&path, "{\"a\":1}\n{\"b\"").expect("write");
        let log = AuditLog::open(&path).expect("open");
        log.append("{\"c\":3}");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "{\"a\":1}\n{\"c\":3}\n"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn a_list_goes_out_together_and_each_request_has_its_line() {
        let dir = std::env::temp_dir().join(format!("iam-audit-list-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("audit.jsonl");
        let log = AuditLog::open(&path).expect("open");
        // Answers lists only, each request 204.
        let mut backend = log.wrap(Box::new(Fake::lists(&[204])), "t", "p-1", "iam-get-user");
        let requests: Vec<OutgoingRequest> = [
            "/Users?startIndex=1",
            "/Users?startIndex=2",
            "/Users?startIndex=1",
        ]
        .iter()
        .map(|path| request_to(path))
        .collect();
        let answers = backend.send_all(&requests).await;
        assert_eq!(answers.len(), 3);
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect();
        let seen: Vec<(&str, u64, u64)> = lines
            .iter()
            .map(|line| {
                (
                    line["path"].as_str().expect("path"),
                    line["status"].as_u64().expect("status"),
                    line["attempt"].as_u64().expect("attempt"),
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                ("/Users?startIndex=1", 204, 1),
                ("/Users?startIndex=2", 204, 1),
                ("/Users?startIndex=1", 204, 2),
            ]
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
