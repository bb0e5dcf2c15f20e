//! The command contract as a host sees it: one invocation (`{"command", "params", "args"}`)
//! in, one `Outcome` (entry type, entry JSON, typed result) out, and `describe`. This is the
//! only place that knows the list of commands; the WIT adapter and the native runs (tests,
//! benchmarks) both call [`run`], so they give the same bytes.

use serde_json::{Map, Value};

use crate::commands::{self, IamCommand, Mappers};
use crate::config::Config;
use crate::entry;
use crate::error::{Error, json_kind};
use crate::groups::{self, GroupCommand};
use crate::transport::Transport;

/// The reference name under which hosts keep the access token.
pub const CREDENTIAL_NAME: &str = "access_token";

/// A command of the connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Iam(IamCommand),
    Group(GroupCommand),
    TestModule,
    GetMappingFields,
    /// `sync-plan` (sync.md): its failures are entries of their own (contracts.md §2).
    SyncPlan,
}

/// Every command by its XSOAR name, in the order `describe` lists them.
pub const COMMANDS: &[(&str, Command)] = &[
    ("iam-get-user", Command::Iam(IamCommand::GetUser)),
    ("iam-create-user", Command::Iam(IamCommand::CreateUser)),
    ("iam-update-user", Command::Iam(IamCommand::UpdateUser)),
    ("iam-disable-user", Command::Iam(IamCommand::DisableUser)),
    ("iam-get-group", Command::Group(GroupCommand::Get)),
    ("iam-create-group", Command::Group(GroupCommand::Create)),
    ("iam-update-group", Command::Group(GroupCommand::Update)),
    ("iam-delete-group", Command::Group(GroupCommand::Delete)),
    ("test-module", Command::TestModule),
    ("get-mapping-fields", Command::GetMappingFields),
    ("sync-plan", Command::SyncPlan),
];

impl Command {
    pub fn from_name(name: &str) -> Option<Command> {
        COMMANDS.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
    }

    /// The command's name, as [`COMMANDS`] gives it (every command is listed there).
    pub fn name(self) -> &'static str {
        COMMANDS
            .iter()
            .find(|(_, command)| *command == self)
            .map(|(name, _)| *name)
            .expect("every command is in COMMANDS")
    }
}

/// The XSOAR entry type of an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    /// Type 1: a result, successful or failed.
    Note,
    /// Type 4: an error entry.
    Error,
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub entry_type: EntryType,
    /// The complete XSOAR entry, byte for byte what a host prints.
    pub entry_json: String,
}

impl Outcome {
    fn note(entry_json: String) -> Outcome {
        Outcome {
            entry_type: EntryType::Note,
            entry_json,
        }
    }

    fn error(error: &Error) -> Outcome {
        Outcome {
            entry_type: EntryType::Error,
            entry_json: entry::error_entry(&error.to_string()),
        }
    }
}

/// Run one invocation: the JSON text of `{"command": …, "params": {…}, "args": {…}}`, and
/// the reference of the host-held token (none when the instance has no token).
pub fn run<T: Transport>(
    invocation_json: &str,
    credential: Option<&str>,
    transport: &mut T,
) -> Outcome {
    let parsed = match parse(invocation_json) {
        Ok(parsed) => parsed,
        Err(error) => return Outcome::error(&error),
    };
    let command = parsed.command;
    match Config::from_params(&parsed.params, credential)
        .and_then(|config| dispatch(command, &config, &parsed.args, transport))
    {
        Ok(outcome) => outcome,
        // sync-plan's unusable instance is an "input" failure of its own shape (contracts.md §2).
        Err(error) if command == Command::SyncPlan => {
            crate::sync::input_failure(&error.to_string())
        }
        Err(error) => Outcome::error(&error),
    }
}

fn dispatch<T: Transport>(
    command: Command,
    config: &Config,
    args: &Map<String, Value>,
    transport: &mut T,
) -> Result<Outcome, Error> {
    // Every command validates the whole configuration, its mappers included.
    let mappers = Mappers::resolve(config)?;
    Ok(match command {
        Command::Iam(iam) => {
            Outcome::note(commands::run_iam(iam, config, &mappers, args, transport)?.entry_json)
        }
        Command::Group(group) => {
            Outcome::note(groups::run_group(group, config, args, transport)?.entry_json)
        }
        Command::TestModule => Outcome::note(commands::test_module(config, transport)?),
        Command::GetMappingFields => {
            Outcome::note(commands::get_mapping_fields(config, transport)?)
        }
        Command::SyncPlan => crate::sync::run(config, &mappers, args, transport),
    })
}

/// An invocation, parsed but not yet validated beyond its shape.
struct Parsed {
    command: Command,
    /// The instance parameters.
    params: Map<String, Value>,
    /// The command's arguments.
    args: Map<String, Value>,
}

/// The command, the parameters and the arguments of an invocation.
fn parse(invocation_json: &str) -> Result<Parsed, Error> {
    let value: Value = serde_json::from_str(invocation_json)
        .map_err(|e| Error::InvalidInvocation(format!("not valid JSON ({e})")))?;
    let Value::Object(mut invocation) = value else {
        return Err(Error::InvalidInvocation(format!(
            "expected a JSON object, got {}",
            json_kind(&value)
        )));
    };
    let command = match invocation.get("command") {
        Some(Value::String(name)) => {
            Command::from_name(name).ok_or_else(|| Error::UnknownCommand {
                name: name.clone(),
                known: command_names().join(", "),
            })?
        }
        Some(other) => {
            return Err(Error::InvalidInvocation(format!(
                "\"command\" must be a string, got {}",
                json_kind(other)
            )));
        }
        None => return Err(Error::InvalidInvocation("\"command\" is missing".into())),
    };
    let mut object = |key: &str| match invocation.shift_remove(key) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(other) => Err(Error::InvalidInvocation(format!(
            "\"{key}\" must be a JSON object, got {}",
            json_kind(&other)
        ))),
    };
    let params = object("params")?;
    let args = object("args")?;
    Ok(Parsed {
        command,
        params,
        args,
    })
}

/// The command names, in order.
pub fn command_names() -> Vec<&'static str> {
    COMMANDS.iter().map(|(name, _)| *name).collect()
}

/// Static facts about the connector (the WIT `describe`).
pub struct About {
    pub name: &'static str,
    pub version: &'static str,
    pub commands: Vec<&'static str>,
    pub origins: &'static [&'static str],
    pub credentials: &'static [&'static str],
}

pub fn describe() -> About {
    About {
        name: entry::BRAND,
        version: env!("CARGO_PKG_VERSION"),
        commands: command_names(),
        origins: &["the origin of the configured url (https://api.atlassian.com by default)"],
        credentials: &[CREDENTIAL_NAME],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::fake::FakeTransport;

    fn run_offline(invocation: &str) -> Outcome {
        run(
            invocation,
            Some(CREDENTIAL_NAME),
            &mut FakeTransport::answering(Vec::new()),
        )
    }

    fn contents(outcome: &Outcome) -> String {
        let entry: Value = serde_json::from_str(&outcome.entry_json).unwrap_or_default();
        entry["Contents"].as_str().unwrap_or_default().to_string()
    }

    #[test]
    fn every_command_name_resolves_and_describe_lists_them_in_order() {
        for (name, command) in COMMANDS {
            assert_eq!(Command::from_name(name), Some(*command));
        }
        assert_eq!(describe().commands, command_names());
        assert_eq!(describe().credentials, [CREDENTIAL_NAME]);
        assert!(Command::from_name("iam-delete-user").is_none());
    }

    #[test]
    fn an_unknown_command_is_an_error_entry_naming_the_known_ones() {
        let outcome = run_offline(r#"{"command": "iam-delete-user", "params": {}}"#);
        assert_eq!(outcome.entry_type, EntryType::Error);
        assert_eq!(
            contents(&outcome),
            format!(
                "Unknown command \"iam-delete-user\"; expected one of {}",
                command_names().join(", ")
            )
        );
    }

    #[test]
    fn malformed_invocations_are_error_entries() {
        let cases = [
            (
                "[]",
                "Invalid invocation: expected a JSON object, got an array",
            ),
            ("{}", "Invalid invocation: \"command\" is missing"),
            (
                r#"{"command": 1}"#,
                "Invalid invocation: \"command\" must be a string, got a number",
            ),
            (
                r#"{"command": "test-module", "params": []}"#,
                "Invalid invocation: \"params\" must be a JSON object, got an array",
            ),
            (
                r#"{"command": "test-module", "params": {"url": "https://a.example", "directory_id": "d"}, "args": "x"}"#,
                "Invalid invocation: \"args\" must be a JSON object, got a string",
            ),
        ];
        for (invocation, message) in cases {
            let outcome = run_offline(invocation);
            assert_eq!(outcome.entry_type, EntryType::Error, "{invocation}");
            assert_eq!(contents(&outcome), message, "{invocation}");
        }
        assert!(contents(&run_offline("{")).starts_with("Invalid invocation: not valid JSON ("));
    }

    #[test]
    fn every_command_checks_both_mappers() {
        let params =
            r#""params": {"url": "https://a.example", "directory_id": "d", "mapper_in": "Nope"}"#;
        for command in ["test-module", "iam-create-user", "iam-get-group"] {
            let outcome = run_offline(&format!(r#"{{"command": "{command}", {params}}}"#));
            assert_eq!(outcome.entry_type, EntryType::Error, "{command}");
            assert!(
                contents(&outcome).contains("Nope"),
                "{command}: {}",
                contents(&outcome)
            );
        }
    }

    #[test]
    fn the_configuration_is_validated_before_the_arguments() {
        let outcome =
            run_offline(r#"{"command": "iam-get-user", "params": {"directory_id": "d"}}"#);
        assert_eq!(outcome.entry_type, EntryType::Error);
        assert!(
            contents(&outcome).starts_with("Invalid configuration: "),
            "{}",
            contents(&outcome)
        );
        let outcome = run_offline(
            r#"{"command": "iam-get-user", "params": {"url": "https://a.example", "directory_id": "d"}, "args": {"user-profile": [1]}}"#,
        );
        assert_eq!(
            contents(&outcome),
            "Invalid user-profile argument: expected a JSON object, got an array"
        );
    }

    #[test]
    fn describe_lists_the_group_commands_after_the_user_commands() {
        assert_eq!(
            command_names(),
            [
                "iam-get-user",
                "iam-create-user",
                "iam-update-user",
                "iam-disable-user",
                "iam-get-group",
                "iam-create-group",
                "iam-update-group",
                "iam-delete-group",
                "test-module",
                "get-mapping-fields",
                "sync-plan",
            ]
        );
    }

    #[test]
    fn a_group_command_has_a_group_result_and_bad_arguments_an_error_entry() {
        use crate::transport::fake::json;
        let invocation = r#"{"command": "iam-get-group", "params": {"url": "https://a.example", "directory_id": "d"}, "args": {"scim": "{\"id\": \"g1\"}"}}"#;
        let mut transport =
            FakeTransport::answering(vec![json(200, r#"{"id":"g1","displayName":"Eng"}"#)]);
        let outcome = run(invocation, Some(CREDENTIAL_NAME), &mut transport);
        assert_eq!(outcome.entry_type, EntryType::Note);
        let entry: Value = serde_json::from_str(&outcome.entry_json).unwrap();
        assert_eq!(entry["Contents"]["success"], Value::Bool(true));
        assert_eq!(entry["Contents"]["id"], "g1");
        assert_eq!(entry["Contents"]["displayName"], "Eng");
        let outcome = run_offline(
            r#"{"command": "iam-update-group", "params": {"url": "https://a.example", "directory_id": "d"}, "args": {"scim": {"id": "g1"}}}"#,
        );
        assert_eq!(outcome.entry_type, EntryType::Error);
        assert_eq!(
            contents(&outcome),
            r#"You must supply either "memberIdsToAdd" or "memberIdsToDelete""#
        );
    }

    #[test]
    fn every_listed_command_is_named_as_listed() {
        for (name, command) in COMMANDS {
            assert_eq!(command.name(), *name);
        }
    }
}
