//! A results file: appended one complete line at a time (one `write` of the line and its
//! newline, on a file opened for appending), so a reader or a killed process never leaves two
//! lines mixed. Opening it for a run resumes: a torn last line (a process killed in the middle
//! of a write) is cut off, and the ids of the complete lines are the jobs already done.
//!
//! It knows the result line only by its `id` (and `exit`, for the progress count).

use anyhow::{Context as _, Result};
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use super::jobs::result_key;

/// A results file open for appending.
pub struct Output {
    file: File,
    path: PathBuf,
}

/// What a results file held when it was opened.
pub struct Resumed {
    pub output: Output,
    /// The id of each complete line and whether its `exit` was 0.
    pub done: HashMap<String, bool>,
    /// Bytes of a torn last line that were cut off.
    pub cut_bytes: u64,
}

impl Output {
    /// Open (or create) a results file, cut off a torn last line and read the ids it holds.
    pub fn open(path: &Path) -> Result<Resumed> {
        let mut file = iam_host::files::open_output(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .with_context(|| format!("cannot read the output file {}", path.display()))?;
        let complete = match bytes.iter().rposition(|&byte| byte == b'\n') {
            Some(last_newline) => last_newline + 1,
            None => 0,
        };
        let cut_bytes = (bytes.len() - complete) as u64;
        if cut_bytes > 0 {
            file.set_len(complete as u64).with_context(|| {
                format!(
                    "cannot cut the torn last line off the output file {}",
                    path.display()
                )
            })?;
        }
        let mut done = HashMap::new();
        for line in String::from_utf8_lossy(&bytes[..complete]).lines() {
            // A line that is not ours (no string id) names no job; it stays in the file.
            if let Some((id, exit)) = result_key(line) {
                done.insert(id, exit == Some(0));
            }
        }
        Ok(Resumed {
            output: Output {
                file,
                path: path.to_path_buf(),
            },
            done,
            cut_bytes,
        })
    }

    /// Append one line: the line and its newline in a single write.
    pub fn append(&mut self, line: &str) -> Result<()> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.file
            .write_all(&bytes)
            .with_context(|| format!("cannot write to the output file {}", self.path.display()))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "iam-host-output-test-{}-{name}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir.join("results.jsonl")
    }

    #[test]
    fn a_new_file_is_created_empty() {
        let path = scratch("new");
        std::fs::remove_file(&path).ok();
        let resumed = Output::open(&path).expect("open");
        assert!(resumed.done.is_empty());
        assert_eq!(resumed.cut_bytes, 0);
        assert!(path.exists());
    }

    #[test]
    fn lines_are_appended_whole_and_read_back_as_done() {
        let path = scratch("append");
        std::fs::remove_file(&path).ok();
        let mut resumed = Output::open(&path).expect("open");
        resumed
            .output
            .append(r#"{"id":"a","exit":0}"#)
            .expect("write");
        resumed
            .output
            .append(r#"{"id":"b","exit":2,"error":"x"}"#)
            .expect("write");
        drop(resumed);
        let again = Output::open(&path).expect("reopen");
        assert_eq!(again.done.get("a"), Some(&true));
        assert_eq!(again.done.get("b"), Some(&false));
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "{\"id\":\"a\",\"exit\":0}\n{\"id\":\"b\",\"exit\":2,\"error\":\"x\"}\n"
        );
    }

    #[test]
    fn a_torn_last_line_is_cut_off_before_appending() {
        let path = scratch("torn");
        std::fs::write(&path, "{\"id\":\"a\",\"exit\":0}\n{\"id\":\"b\",\"ex").expect("write");
        let mut resumed = Output::open(&path).expect("open");
        assert_eq!(resumed.cut_bytes, 13);
        assert_eq!(resumed.done.len(), 1);
        assert!(!resumed.done.contains_key("b"));
        resumed
            .output
            .append(r#"{"id":"b","exit":0}"#)
            .expect("write");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "{\"id\":\"a\",\"exit\":0}\n{\"id\":\"b\",\"exit\":0}\n"
        );
    }

    #[test]
    fn a_file_that_is_only_a_torn_line_becomes_empty() {
        let path = scratch("only-torn");
        std::fs::write(&path, "{\"id\":").expect("write");
        let resumed = Output::open(&path).expect("open");
        assert!(resumed.done.is_empty());
        assert_eq!(std::fs::read(&path).expect("read").len(), 0);
    }

    #[test]
    fn a_directory_is_not_an_output_file() {
        let error = match Output::open(&std::env::temp_dir()) {
            Ok(_) => panic!("a directory was opened as the output"),
            Err(error) => format!("{error:#}"),
        };
        assert!(
            error.starts_with("cannot read the output file")
                && error.ends_with("it is a directory, not a regular file"),
            "{error}"
        );
    }
}
