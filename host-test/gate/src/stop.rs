//! The Type 4 entries the host side writes itself: the one for a command the host stopped,
//! worded from a typed cause, and the plain error entry (a secret that cannot be used).

use serde_json::json;

/// Why the host stopped a command (WIT `gate.stop`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The component panicked: its message as std formats it.
    Panicked(String),
    /// A linear memory could not grow to `asked_bytes` under the host's `limit_bytes`.
    Memory { limit_bytes: u64, asked_bytes: u64 },
    /// It computed for longer than this many milliseconds.
    Cpu(u64),
    /// It kept sending after spending its budget of this many requests.
    Requests(u32),
    /// It trapped otherwise: the runtime's words.
    Trapped(String),
}

impl Stop {
    /// Why, as the entry says it.
    pub fn describe(&self) -> String {
        match self {
            Stop::Panicked(message) => {
                // "panicked at src/x.rs:1:2:" and the message on the next line, as one line.
                let detail: Vec<&str> = message
                    .lines()
                    .map(str::trim)
                    .filter(|line| !line.is_empty())
                    .take(2)
                    .collect();
                format!("the component panicked: {}", detail.join(" "))
            }
            Stop::Memory {
                limit_bytes,
                asked_bytes,
            } => format!(
                "it used more than its memory limit of {limit_bytes} bytes (it asked for {asked_bytes})"
            ),
            Stop::Cpu(millis) => format!("it used more than its CPU time limit of {millis} ms"),
            Stop::Requests(budget) => {
                format!("it kept sending HTTP requests after using up its budget of {budget}")
            }
            Stop::Trapped(why) => format!("the component trapped: {why}"),
        }
    }
}

/// The Type 4 entry of a command the host stopped.
pub fn stopped_entry(command: &str, stop: &Stop) -> String {
    error_entry(&format!(
        "The {command} command was stopped by the host: {}",
        stop.describe()
    ))
}

/// A Type 4 entry the host writes itself, with the component's key order.
pub fn error_entry(contents: &str) -> String {
    json!({
        "Type": 4,
        "ContentsFormat": "text",
        "Contents": contents,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_is_named_in_the_entry() {
        assert_eq!(
            stopped_entry("iam-get-user", &Stop::Cpu(2000)),
            r#"{"Type":4,"ContentsFormat":"text","Contents":"The iam-get-user command was stopped by the host: it used more than its CPU time limit of 2000 ms"}"#
        );
        assert_eq!(
            Stop::Panicked("panicked at src/x.rs:1:2:\nboom\n".into()).describe(),
            "the component panicked: panicked at src/x.rs:1:2: boom"
        );
        assert_eq!(
            Stop::Memory {
                limit_bytes: 1 << 20,
                asked_bytes: 2 << 20
            }
            .describe(),
            "it used more than its memory limit of 1048576 bytes (it asked for 2097152)"
        );
        assert_eq!(
            Stop::Requests(4).describe(),
            "it kept sending HTTP requests after using up its budget of 4"
        );
    }
}
