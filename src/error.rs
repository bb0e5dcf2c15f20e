//! `Error`: every failure a user can cause with bad input or configuration. Each one becomes
//! an XSOAR error entry (Type 4) whose text is this type's `Display`, so every message is one
//! sentence that names the problem and the input. Failures of the remote service are not
//! here: they are failed results (`commands.rs`), not error entries.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The invocation a host passed is not `{"command", "params", "args"}`.
    InvalidInvocation(String),
    /// The invocation names a command the connector does not have.
    UnknownCommand { name: String, known: String },
    /// The `user-profile` argument is missing or not a non-empty JSON object.
    InvalidProfile(String),
    /// An instance parameter is missing, mistyped or out of range; names the key.
    InvalidConfig(String),
    /// A mapper (built-in or from `mappers`) cannot be used; names the mapper.
    InvalidMapper(String),
    /// test-module or get-mapping-fields could not talk to Atlassian.
    CommandFailed {
        command: &'static str,
        detail: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidInvocation(why) => write!(f, "Invalid invocation: {why}"),
            Error::UnknownCommand { name, known } => {
                write!(f, "Unknown command {name:?}; expected one of {known}")
            }
            Error::InvalidProfile(why) => write!(f, "Invalid user-profile argument: {why}"),
            Error::InvalidConfig(why) => write!(f, "Invalid configuration: {why}"),
            Error::InvalidMapper(why) => write!(f, "Invalid mapper configuration: {why}"),
            Error::CommandFailed { command, detail } => {
                write!(f, "Failed to execute {command} command. {detail}")
            }
        }
    }
}

impl std::error::Error for Error {}

/// The JSON type of a value, as a message names it ("got an array").
pub fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
