//! The commands, one function each, following behaviour.md §4: parse and map the input,
//! find the user, act, and build the result. Everything a user can get wrong returns
//! `Error` (an error entry); everything the service gets wrong is a failed result.

use serde_json::{Map, Value, json};
use std::borrow::Cow;

use crate::config::{Config, DisableMethod};
use crate::entry::{self, Action, IamOutput, VendorResult};
use crate::error::Error;
use crate::json;
use crate::mapper::InstanceMapper;
use crate::profile::{self, NO_IDENTIFIER_MESSAGE, OLD_USER_DATA};
use crate::scim::user::{self as scim_user, FoundUser, Identifier};
use crate::scim::{Failure, ScimClient};
use crate::transport::Transport;

/// The incident type a profile is mapped for to create a user (and, sync.md §1, to plan).
pub const CREATE_TYPE: &str = "User Profile - Create";
const UPDATE_TYPE: &str = "User Profile - Update";
const INCOMING_TYPE: &str = "User Profile";
const CORE_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Read-only parts of an Atlassian user that a PUT must not send back (behaviour.md §4.3).
const ATLASSIAN_EXTENSION: &str = "urn:scim:schemas:extension:atlassian-external:1.0";
const READ_ONLY_KEYS: [&str; 3] = ["meta", "groups", ATLASSIAN_EXTENSION];

mod bodies;
pub use bodies::{creation_body, replacement_body};

const COMMAND_DISABLED: &str = "Command is disabled.";
const USER_DOES_NOT_EXIST: &str = "User does not exist";
const ALREADY_DISABLED: &str = "User is already disabled.";

/// The four IAM commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IamCommand {
    GetUser,
    CreateUser,
    UpdateUser,
    DisableUser,
}

/// The instance's two mappers, resolved once: every command checks them (an unknown mapper
/// or an unsupported transformer is a configuration error whatever the command), and the
/// IAM commands use them. With platform mapping (`config.platform.mapping`) they are the
/// platform's, which the platform checks when it maps.
pub struct Mappers {
    /// `mapper_out`; none when it is empty (no mapping).
    pub outgoing: Option<InstanceMapper>,
    /// `mapper_in`; none when it is empty.
    pub incoming: Option<InstanceMapper>,
}

impl Mappers {
    pub fn resolve(config: &Config) -> Result<Mappers, Error> {
        let resolve =
            |name: &str| InstanceMapper::resolve(name, &config.mappers, config.platform.mapping);
        Ok(Mappers {
            outgoing: resolve(&config.mapper_out)?,
            incoming: resolve(&config.mapper_in)?,
        })
    }
}

/// Run an IAM command with its arguments (`user-profile`, `allow-enable`, `disable-method`;
/// other keys are ignored, behaviour.md §2) on a validated configuration and its mappers.
pub fn run_iam<T: Transport>(
    command: IamCommand,
    config: &Config,
    mappers: &Mappers,
    args: &Map<String, Value>,
    transport: &mut T,
) -> Result<IamOutput, Error> {
    let raw = profile::parse_user_profile(args.get("user-profile"))?;
    let allow_enable = match command {
        IamCommand::CreateUser | IamCommand::UpdateUser => {
            profile::parse_allow_enable(args.get("allow-enable"))
        }
        IamCommand::GetUser | IamCommand::DisableUser => true,
    };
    let disable_method = match command {
        IamCommand::DisableUser => disable_method_argument(args.get("disable-method"))?,
        _ => None,
    }
    .unwrap_or(config.disable_method);
    let mut run = Run {
        scim: client(config, transport),
        config,
        disable_method,
        outgoing: mappers.outgoing.as_ref(),
        raw: &raw,
        allow_enable: allow_enable && config.enable_user_enabled,
    };
    // What goes to IAM.UserProfile: the looked-up user for get, else the profile as given.
    let (result, profile_json) = match command {
        IamCommand::GetUser => {
            let (result, profile) = run.get_user(mappers.incoming.as_ref())?;
            (result, json::text(&profile))
        }
        IamCommand::CreateUser => (run.create_user()?, json::map_text(&raw)),
        IamCommand::UpdateUser => (run.update_user()?, json::map_text(&raw)),
        IamCommand::DisableUser => (run.disable_user()?, json::map_text(&raw)),
    };
    Ok(IamOutput::with_profile_json(
        result,
        profile_json,
        &config.platform.brand,
        &config.instance_name,
    ))
}

/// `test-module`: the `ok` entry, or an error naming the status and cause (behaviour.md §4.5).
pub fn test_module<T: Transport>(config: &Config, transport: &mut T) -> Result<String, Error> {
    let mut scim = client(config, transport);
    scim.probe()
        .map_err(|failure| command_failed("test-module", failure))?;
    Ok(entry::text_entry("ok"))
}

/// `get-mapping-fields`: the entry listing the User schema's attributes (behaviour.md §4.6).
pub fn get_mapping_fields<T: Transport>(
    config: &Config,
    transport: &mut T,
) -> Result<String, Error> {
    let mut scim = client(config, transport);
    let schema = scim
        .user_schema()
        .map_err(|failure| command_failed("get-mapping-fields", failure))?;
    let mut fields = Map::new();
    if let Some(Value::Array(attributes)) = schema.get("attributes") {
        for attribute in attributes {
            if let Some(Value::String(name)) = attribute.get("name") {
                let description = attribute
                    .get("description")
                    .filter(|d| d.is_string())
                    .cloned();
                fields.insert(name.clone(), description.unwrap_or(Value::Null));
            }
        }
    }
    Ok(entry::json_entry(&json!({ "User Profile": fields })))
}

/// The SCIM client of one command.
fn client<'t, T: Transport>(config: &Config, transport: &'t mut T) -> ScimClient<'t, T> {
    ScimClient::new(
        transport,
        &config.url,
        &config.directory_id,
        &config.credential,
    )
}

fn command_failed(command: &'static str, failure: Failure) -> Error {
    let detail = match failure.code {
        Some(code) => format!("{code} {}", failure.message),
        None => failure.message,
    };
    Error::CommandFailed { command, detail }
}

/// Map one profile for an incident type as every IAM command maps it (behaviour.md §4):
/// without its `olduserdata`, by the instance's outgoing mapper (none: no mapping; the
/// platform's is asked through `transport`); a profile that maps to nothing is taken to be
/// in application form already and used as it is. The sync maps its desired profiles with
/// this too (sync.md §1).
pub fn map_instance_profile<T: Transport>(
    outgoing: Option<&InstanceMapper>,
    incident_type: &str,
    source: &Map<String, Value>,
    transport: &mut T,
) -> Result<Map<String, Value>, Error> {
    // The profile without its `olduserdata`, copied only when it has one.
    let without_old = if source.contains_key(OLD_USER_DATA) {
        let mut copy = source.clone();
        copy.shift_remove(OLD_USER_DATA);
        Cow::Owned(copy)
    } else {
        Cow::Borrowed(source)
    };
    let mapped = match outgoing {
        Some(mapper) => mapper.map(incident_type, &without_old, transport)?,
        None => Map::new(),
    };
    Ok(if mapped.is_empty() {
        without_old.into_owned()
    } else {
        mapped
    })
}

/// A profile as mapped for one incident type (behaviour.md §4, §5).
struct MappedProfile {
    /// The application data: the mapped profile without `olduserdata`.
    app: Map<String, Value>,
    /// The mapped `olduserdata`, when the profile has one.
    old: Option<Map<String, Value>>,
    /// "The mapped profile" of results: `app` plus the mapped `olduserdata`.
    details: Value,
}

/// One IAM command in progress.
struct Run<'r, 't, T: Transport> {
    scim: ScimClient<'t, T>,
    config: &'r Config,
    /// How iam-disable-user disables: its `disable-method` argument, else the instance's.
    disable_method: DisableMethod,
    outgoing: Option<&'r InstanceMapper>,
    raw: &'r Map<String, Value>,
    /// `allow-enable` and `enable_user_enabled` (behaviour.md §4.3).
    allow_enable: bool,
}

impl<T: Transport> Run<'_, '_, T> {
    /// Map the profile (and its `olduserdata`) for an incident type. A profile that maps to
    /// nothing is taken to be in application form already (behaviour.md §4).
    fn mapped(&mut self, incident_type: &str) -> Result<MappedProfile, Error> {
        let (outgoing, raw) = (self.outgoing, self.raw);
        let transport = self.scim.transport();
        let app = map_instance_profile(outgoing, incident_type, raw, transport)?;
        let old = profile::old_user_data(raw)
            .map(|old| map_instance_profile(outgoing, incident_type, old, transport))
            .transpose()?;
        let mut details = app.clone();
        if let Some(old) = &old {
            details.insert(OLD_USER_DATA.into(), Value::Object(old.clone()));
        }
        Ok(MappedProfile {
            app,
            old,
            details: Value::Object(details),
        })
    }

    /// The identifier of the profile itself.
    fn identifier(&self, mapped: &MappedProfile) -> Option<Identifier> {
        profile::identifier(self.raw, &mapped.app)
    }

    /// The identifier of `olduserdata`, by the same rules.
    fn old_identifier(&self, mapped: &MappedProfile) -> Option<Identifier> {
        let raw_old = profile::old_user_data(self.raw)?;
        profile::identifier(raw_old, mapped.old.as_ref()?)
    }

    /// The `email` key of the `user-profile` argument (behaviour.md §5.1).
    fn email_argument(&self) -> Option<String> {
        match self.raw.get("email") {
            Some(Value::String(email)) if !email.trim().is_empty() => Some(email.clone()),
            _ => None,
        }
    }

    fn failed(
        &self,
        action: Action,
        failure: Failure,
        details: &Value,
        found: Option<&Value>,
    ) -> VendorResult {
        VendorResult {
            action,
            success: false,
            active: None,
            id: None,
            username: None,
            email: self
                .email_argument()
                .or_else(|| found.and_then(scim_user::primary_email)),
            error_code: failure.code,
            error_message: failure.message,
            details: details.clone(),
            skipped: false,
            reason: String::new(),
        }
    }

    /// The failed result of a profile without any identifier (behaviour.md §3.1).
    fn without_identifier(&self, action: Action, mapped: &MappedProfile) -> VendorResult {
        self.failed(
            action,
            Failure::without_code(NO_IDENTIFIER_MESSAGE),
            &mapped.details,
            None,
        )
    }

    fn skipped(
        &self,
        action: Action,
        reason: &str,
        details: Value,
        found: Option<&Value>,
    ) -> VendorResult {
        VendorResult {
            action,
            success: true,
            active: None,
            id: None,
            username: None,
            email: self
                .email_argument()
                .or_else(|| found.and_then(scim_user::primary_email)),
            error_code: None,
            error_message: String::new(),
            details,
            skipped: true,
            reason: reason.into(),
        }
    }

    /// A success: id and username from the answer, else from the user as found.
    fn succeeded(
        &self,
        action: Action,
        active: Option<bool>,
        answer: Value,
        found: Option<&Value>,
    ) -> VendorResult {
        let id = scim_user::text_field(&answer, "id")
            .or_else(|| found.and_then(|u| scim_user::text_field(u, "id")));
        let username = scim_user::text_field(&answer, "userName")
            .or_else(|| found.and_then(|u| scim_user::text_field(u, "userName")));
        let email = self
            .email_argument()
            .or_else(|| scim_user::primary_email(&answer))
            .or_else(|| found.and_then(scim_user::primary_email));
        VendorResult {
            action,
            success: true,
            active,
            id,
            username,
            email,
            error_code: None,
            error_message: String::new(),
            details: answer,
            skipped: false,
            reason: String::new(),
        }
    }

    /// behaviour.md §4.1.
    fn get_user(
        &mut self,
        incoming: Option<&InstanceMapper>,
    ) -> Result<(VendorResult, Value), Error> {
        let mapped = self.mapped(UPDATE_TYPE)?;
        let raw_profile = Value::Object(self.raw.clone());
        let Some(identifier) = self.identifier(&mapped) else {
            return Ok((self.without_identifier(Action::Get, &mapped), raw_profile));
        };
        match self.scim.find_user(&identifier) {
            Err(failure) => Ok((
                self.failed(Action::Get, failure, &mapped.details, None),
                raw_profile,
            )),
            Ok(None) => {
                let failure = Failure {
                    code: Some(404),
                    message: USER_DOES_NOT_EXIST.into(),
                };
                Ok((
                    self.failed(Action::Get, failure, &mapped.details, None),
                    raw_profile,
                ))
            }
            Ok(Some(FoundUser { resource: user, .. })) => {
                // The incoming-mapped user replaces the profile in IAM.UserProfile.
                let profile = match (incoming, &user) {
                    (Some(mapper), Value::Object(resource)) => {
                        Value::Object(mapper.map(INCOMING_TYPE, resource, self.scim.transport())?)
                    }
                    _ => user.clone(),
                };
                let email = scim_user::text_field(&profile, "email")
                    .or_else(|| scim_user::primary_email(&user));
                let mut result =
                    self.succeeded(Action::Get, scim_user::active_of(&user), user, None);
                result.email = email;
                Ok((result, profile))
            }
        }
    }

    /// behaviour.md §4.2.
    fn create_user(&mut self) -> Result<VendorResult, Error> {
        let mapped = self.mapped(CREATE_TYPE)?;
        if !self.config.create_user_enabled {
            return Ok(self.skipped(Action::Create, COMMAND_DISABLED, mapped.details, None));
        }
        let Some(identifier) = self.identifier(&mapped) else {
            return Ok(self.without_identifier(Action::Create, &mapped));
        };
        match self.scim.find_user(&identifier) {
            Err(failure) => Ok(self.failed(Action::Create, failure, &mapped.details, None)),
            // behaviour.md §4.2 [fix]: update the user found, with no second lookup.
            Ok(Some(user)) => {
                let update = self.mapped(UPDATE_TYPE)?;
                if !self.config.update_user_enabled {
                    return Ok(self.skipped(
                        Action::Update,
                        COMMAND_DISABLED,
                        update.details,
                        Some(&user.resource),
                    ));
                }
                Ok(self.replace(&user, update))
            }
            Ok(None) => Ok(self.create(&mapped)),
        }
    }

    /// `POST /Users` (behaviour.md §4.2).
    fn create(&mut self, mapped: &MappedProfile) -> VendorResult {
        let body = creation_body(&mapped.app, self.allow_enable);
        match self.scim.create_user(&body) {
            Ok(created) => self.succeeded(
                Action::Create,
                scim_user::active_of(&created),
                created,
                None,
            ),
            Err(failure) => self.failed(Action::Create, failure, &mapped.details, None),
        }
    }

    /// `PUT /Users/{id}` (behaviour.md §4.3).
    fn replace(&mut self, found: &FoundUser, mapped: MappedProfile) -> VendorResult {
        let user = &found.resource;
        let MappedProfile { app, details, .. } = mapped;
        let body = replacement_body(user, app, self.allow_enable);
        match self.scim.replace_user(&found.id, &body) {
            Ok(replaced) => {
                let active =
                    scim_user::active_of(&replaced).or_else(|| scim_user::active_of(&body));
                self.succeeded(Action::Update, active, replaced, Some(user))
            }
            Err(failure) => self.failed(Action::Update, failure, &details, Some(user)),
        }
    }

    /// behaviour.md §4.3.
    fn update_user(&mut self) -> Result<VendorResult, Error> {
        let mapped = self.mapped(UPDATE_TYPE)?;
        if !self.config.update_user_enabled {
            return Ok(self.skipped(Action::Update, COMMAND_DISABLED, mapped.details, None));
        }
        let own = self.identifier(&mapped);
        let old = self.old_identifier(&mapped);
        let found = match (&old, &own) {
            (None, None) => return Ok(self.without_identifier(Action::Update, &mapped)),
            (Some(old), own) => match self.scim.find_user(old) {
                // The rename may already have happened: try the profile's own identifier.
                Ok(None) if own.as_ref().is_some_and(|own| own != old) => own
                    .as_ref()
                    .map_or(Ok(None), |own| self.scim.find_user(own)),
                other => other,
            },
            (None, Some(own)) => self.scim.find_user(own),
        };
        match found {
            Err(failure) => Ok(self.failed(Action::Update, failure, &mapped.details, None)),
            Ok(Some(user)) => Ok(self.replace(&user, mapped)),
            Ok(None) if self.config.create_if_not_exists => {
                let create = self.mapped(CREATE_TYPE)?;
                if !self.config.create_user_enabled {
                    return Ok(self.skipped(
                        Action::Create,
                        COMMAND_DISABLED,
                        create.details,
                        None,
                    ));
                }
                Ok(self.create(&create))
            }
            Ok(None) => Ok(self.skipped(Action::Update, USER_DOES_NOT_EXIST, mapped.details, None)),
        }
    }

    /// behaviour.md §4.4.
    fn disable_user(&mut self) -> Result<VendorResult, Error> {
        let mapped = self.mapped(UPDATE_TYPE)?;
        if !self.config.disable_user_enabled {
            return Ok(self.skipped(Action::Disable, COMMAND_DISABLED, mapped.details, None));
        }
        let Some(identifier) = self.identifier(&mapped) else {
            return Ok(self.without_identifier(Action::Disable, &mapped));
        };
        let found = match self.scim.find_user(&identifier) {
            Err(failure) => {
                return Ok(self.failed(Action::Disable, failure, &mapped.details, None));
            }
            Ok(None) => {
                return Ok(self.skipped(
                    Action::Disable,
                    USER_DOES_NOT_EXIST,
                    mapped.details,
                    None,
                ));
            }
            Ok(Some(found)) => found,
        };
        let FoundUser { id, resource: user } = found;
        if scim_user::active_of(&user) == Some(false) {
            // behaviour.md §5 [fix]: details is the user as found, not null.
            return Ok(self.skipped(Action::Disable, ALREADY_DISABLED, user.clone(), Some(&user)));
        }
        let answer = match self.disable_method {
            DisableMethod::Patch => self.scim.deactivate_user(&id),
            DisableMethod::Delete => self.scim.delete_user(&id),
        };
        match answer {
            Err(failure) => Ok(self.failed(Action::Disable, failure, &mapped.details, Some(&user))),
            Ok(answer) => {
                // behaviour.md §4.4 [fix]: a 204 shows the user as it now is.
                let details = answer.unwrap_or_else(|| {
                    let mut disabled = user.clone();
                    if let Value::Object(map) = &mut disabled {
                        map.insert("active".into(), Value::Bool(false));
                    }
                    disabled
                });
                Ok(self.succeeded(Action::Disable, Some(false), details, Some(&user)))
            }
        }
    }
}

/// iam-disable-user's `disable-method` argument (behaviour.md §4.4): absent or null leaves
/// the instance's `disable_method`; `"patch"` or `"delete"` overrides it for this command.
fn disable_method_argument(argument: Option<&Value>) -> Result<Option<DisableMethod>, Error> {
    let invalid = |why: String| Error::InvalidArgument {
        argument: "disable-method",
        why,
    };
    match argument {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(given)) => DisableMethod::parse(given).map(Some).map_err(invalid),
        Some(other) => Err(invalid(format!(
            "must be \"patch\" or \"delete\", got {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    /// Run a user command on a default configuration with `disable_method`, over `answers`.
    fn run_user_command(
        command: IamCommand,
        disable_method: &str,
        profile: Value,
        transport: &mut crate::transport::fake::FakeTransport,
    ) -> VendorResult {
        let params = object(json!({
            "url": "https://api.atlassian.com",
            "directory_id": "d1",
            "disable_method": disable_method
        }));
        let config = Config::from_params(&params, Some("access_token")).unwrap();
        let args = object(json!({ "user-profile": profile }));
        run_iam(
            command,
            &config,
            &Mappers::resolve(&config).unwrap(),
            &args,
            transport,
        )
        .unwrap()
        .result
    }

    #[test]
    fn a_user_id_of_dot_or_dot_dot_in_the_profile_is_a_failed_result_and_nothing_is_sent() {
        use crate::transport::fake::FakeTransport;
        for command in [
            IamCommand::GetUser,
            IamCommand::CreateUser,
            IamCommand::UpdateUser,
            IamCommand::DisableUser,
        ] {
            for id in [".", ".."] {
                let mut transport = FakeTransport::default();
                let result = run_user_command(
                    command,
                    "delete",
                    json!({"id": id, "email": "e@x.com"}),
                    &mut transport,
                );
                assert!(!result.success && !result.skipped, "{command:?}");
                assert_eq!(result.error_code, None);
                assert_eq!(
                    result.error_message,
                    format!(r#"Invalid id "{id}": "." and ".." cannot be used as an id"#)
                );
                assert!(transport.sent.is_empty(), "{command:?} sent a request");
            }
        }
    }

    #[test]
    fn disable_never_deletes_a_listed_user_whose_id_is_dot_dot() {
        use crate::transport::fake::{FakeTransport, json as answer};
        for method in ["delete", "patch"] {
            let mut transport = FakeTransport::answering(vec![
                answer(
                    200,
                    r#"{"totalResults":1,"Resources":[{"id":"..","userName":"u@x.com","active":true}]}"#,
                ),
                answer(204, ""),
            ]);
            let result = run_user_command(
                IamCommand::DisableUser,
                method,
                json!({"username": "u@x.com"}),
                &mut transport,
            );
            assert!(!result.success);
            assert_eq!(result.error_code, None);
            assert_eq!(
                result.error_message,
                r#"The server returned a user whose "id" is not usable"#
            );
            assert_eq!(transport.sent.len(), 1, "{method}");
        }
    }

    #[test]
    fn the_disable_method_argument_overrides_the_instance_for_this_command() {
        use crate::transport::fake::{FakeTransport, json as answer};
        // behaviour.md §4.4: the argument, when given, decides; else the instance does.
        let cases = [
            ("patch", Some("delete"), "DELETE"),
            ("delete", Some("patch"), "PATCH"),
            ("delete", None, "DELETE"),
            ("patch", None, "PATCH"),
        ];
        for (instance, argument, method) in cases {
            let params = object(json!({
                "url": "https://api.atlassian.com",
                "directory_id": "d1",
                "disable_method": instance
            }));
            let config = Config::from_params(&params, Some("access_token")).unwrap();
            let mut args = object(json!({ "user-profile": {"id": "u1"} }));
            if let Some(argument) = argument {
                args.insert("disable-method".into(), json!(argument));
            }
            let mut transport = FakeTransport::answering(vec![
                answer(200, r#"{"id":"u1","userName":"u@x.com","active":true}"#),
                answer(204, ""),
            ]);
            let mappers = Mappers::resolve(&config).unwrap();
            let result = run_iam(
                IamCommand::DisableUser,
                &config,
                &mappers,
                &args,
                &mut transport,
            )
            .unwrap()
            .result;
            assert!(result.success, "{instance} {argument:?}");
            let sent: Vec<String> = transport
                .sent
                .iter()
                .map(|r| format!("{} {}", r.method, r.url))
                .collect();
            assert_eq!(
                sent,
                [
                    "GET https://api.atlassian.com/scim/directory/d1/Users/u1".to_string(),
                    format!("{method} https://api.atlassian.com/scim/directory/d1/Users/u1"),
                ],
                "{instance} {argument:?}"
            );
        }
    }

    #[test]
    fn a_disable_method_argument_other_than_patch_or_delete_is_an_error_and_nothing_is_sent() {
        use crate::transport::fake::FakeTransport;
        let params = object(json!({"url": "https://api.atlassian.com", "directory_id": "d1"}));
        let config = Config::from_params(&params, Some("access_token")).unwrap();
        let mappers = Mappers::resolve(&config).unwrap();
        for (given, shown) in [(json!("remove"), r#""remove""#), (json!(true), "true")] {
            let args = object(json!({"user-profile": {"id": "u1"}, "disable-method": given}));
            let mut transport = FakeTransport::default();
            let error = run_iam(
                IamCommand::DisableUser,
                &config,
                &mappers,
                &args,
                &mut transport,
            )
            .map(|_| ())
            .unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    r#"Invalid disable-method argument: must be "patch" or "delete", got {shown}"#
                )
            );
            assert!(transport.sent.is_empty());
        }
    }
}
