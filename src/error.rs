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
    /// The `scim` argument of a group command is missing, not an object, or lacks the
    /// identifier the command needs (behaviour.md §8.1).
    InvalidScim(String),
    /// `memberIdsToAdd` or `memberIdsToDelete` (the argument's name) is not one of the three
    /// accepted forms.
    InvalidMemberIds { argument: &'static str, why: String },
    /// More member ids than one iam-update-group accepts (the limit).
    TooManyMemberIds(usize),
    /// One id is both to be added and to be removed.
    MemberInBothLists(String),
    /// iam-update-group without any member id.
    NoMemberIds,
    /// A command argument has a value the command does not accept (the argument's name).
    InvalidArgument { argument: &'static str, why: String },
    /// An instance parameter is missing, mistyped or out of range; names the key.
    InvalidConfig(String),
    /// A mapper (built-in or from `mappers`) cannot be used; names the mapper.
    InvalidMapper(String),
    /// The platform's mapper (XSOAR's `demisto.mapObject`) could not map a profile or a user.
    PlatformMapping {
        mapper: String,
        incident_type: String,
        why: String,
    },
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
            Error::InvalidScim(why) => write!(f, "Invalid scim argument: {why}"),
            Error::InvalidMemberIds { argument, why } => {
                write!(f, "Invalid {argument} argument: {why}")
            }
            Error::TooManyMemberIds(limit) => {
                write!(f, "At most {limit} member ids in one iam-update-group")
            }
            Error::MemberInBothLists(id) => write!(
                f,
                "User id \"{id}\" is in both memberIdsToAdd and memberIdsToDelete"
            ),
            Error::NoMemberIds => {
                f.write_str("You must supply either \"memberIdsToAdd\" or \"memberIdsToDelete\"")
            }
            Error::InvalidArgument { argument, why } => {
                write!(f, "Invalid {argument} argument: {why}")
            }
            Error::InvalidConfig(why) => write!(f, "Invalid configuration: {why}"),
            Error::InvalidMapper(why) => write!(f, "Invalid mapper configuration: {why}"),
            Error::PlatformMapping {
                mapper,
                incident_type,
                why,
            } => write!(
                f,
                "The platform could not map with its mapper {mapper:?} for incident type {incident_type:?}: {why}"
            ),
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
