//! The component adapter: the only file that names wit-bindgen's generated types. It turns
//! WIT records into core types and back, and implements `Transport` with the host's imports.
//! No logic lives here (as in Zed's `impl wit::Guest for Component`).

wit_bindgen::generate!({
    path: "wit",
    world: "connector",
});

use exports::iam::atlassian::commands::{
    Config, Description, ErrorEntry, Guest, IamResult, MappingFields,
};
use iam::atlassian::{host, http};

use crate::commands::{self, IamArguments, IamCommand};
use crate::entry::{self, IamOutput};
use crate::error::Error;
use crate::transport::{LogLevel, Request, Response, SendError, Transport};

struct Component;

export!(Component);

/// `Transport` over the host's `http.send`, `host.sleep`, `host.now-millis` and `host.log`.
struct WasmTransport;

impl Transport for WasmTransport {
    fn send(&mut self, request: &Request) -> Result<Response, SendError> {
        let wit_request = http::Request {
            method: request.method.as_str().to_string(),
            url: request.url.clone(),
            headers: request
                .headers
                .iter()
                .map(|(name, value)| http::Header {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
            body: request.body.clone(),
            auth: request.credential.clone(),
            timeout_ms: Some(crate::scim::REQUEST_TIMEOUT_MS),
        };
        match http::send(&wit_request) {
            Ok(response) => Ok(Response {
                status: response.status,
                headers: response
                    .headers
                    .into_iter()
                    .map(|h| (h.name, h.value))
                    .collect(),
                body: response.body,
            }),
            Err(error) => Err(match error {
                http::HttpError::Denied(why) => SendError::Denied(why),
                http::HttpError::Timeout => SendError::Timeout,
                http::HttpError::Transport(why) => SendError::Transport(why),
                http::HttpError::UnknownCredential(name) => SendError::UnknownCredential(name),
                http::HttpError::ResponseTooLarge(cap) => SendError::ResponseTooLarge(cap),
                http::HttpError::TooManyRequests(budget) => SendError::TooManyRequests(budget),
            }),
        }
    }

    fn sleep(&mut self, millis: u64) {
        host::sleep(millis);
    }

    fn now_millis(&mut self) -> u64 {
        host::now_millis()
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        let level = match level {
            LogLevel::Debug => host::LogLevel::Debug,
            LogLevel::Info => host::LogLevel::Info,
            LogLevel::Warn => host::LogLevel::Warn,
            LogLevel::Error => host::LogLevel::Error,
        };
        host::log(level, message);
    }
}

fn error_entry(error: Error) -> ErrorEntry {
    let message = error.to_string();
    ErrorEntry {
        entry_json: entry::error_entry(&message),
        message,
    }
}

fn iam_result(output: IamOutput) -> IamResult {
    let result = output.result;
    IamResult {
        action: result.action.as_str().to_string(),
        success: result.success,
        active: result.active,
        id: result.id,
        username: result.username,
        email: result.email,
        error_code: result.error_code,
        error_message: result.error_message,
        details_json: output.details_json,
        skipped: result.skipped,
        reason: result.reason,
        profile_json: output.profile_json,
        markdown: output.markdown,
        entry_json: output.entry_json,
    }
}

fn run_iam(
    command: IamCommand,
    config: Config,
    user_profile_json: Option<String>,
    allow_enable: bool,
) -> Result<IamResult, ErrorEntry> {
    let arguments = IamArguments {
        user_profile_json: user_profile_json.as_deref(),
        allow_enable,
    };
    commands::run_iam(
        command,
        &config.params_json,
        config.credential.as_deref(),
        arguments,
        &mut WasmTransport,
    )
    .map(iam_result)
    .map_err(error_entry)
}

impl Guest for Component {
    fn get_user(
        config: Config,
        user_profile_json: Option<String>,
    ) -> Result<IamResult, ErrorEntry> {
        run_iam(IamCommand::GetUser, config, user_profile_json, true)
    }

    fn create_user(
        config: Config,
        user_profile_json: Option<String>,
        allow_enable: bool,
    ) -> Result<IamResult, ErrorEntry> {
        run_iam(
            IamCommand::CreateUser,
            config,
            user_profile_json,
            allow_enable,
        )
    }

    fn update_user(
        config: Config,
        user_profile_json: Option<String>,
        allow_enable: bool,
    ) -> Result<IamResult, ErrorEntry> {
        run_iam(
            IamCommand::UpdateUser,
            config,
            user_profile_json,
            allow_enable,
        )
    }

    fn disable_user(
        config: Config,
        user_profile_json: Option<String>,
    ) -> Result<IamResult, ErrorEntry> {
        run_iam(IamCommand::DisableUser, config, user_profile_json, true)
    }

    fn test_module(config: Config) -> Result<String, ErrorEntry> {
        commands::test_module(
            &config.params_json,
            config.credential.as_deref(),
            &mut WasmTransport,
        )
        .map_err(error_entry)
    }

    fn get_mapping_fields(config: Config) -> Result<MappingFields, ErrorEntry> {
        commands::get_mapping_fields(
            &config.params_json,
            config.credential.as_deref(),
            &mut WasmTransport,
        )
        .map(|(fields, entry_json)| MappingFields {
            fields_json: crate::json::text(&fields),
            entry_json,
        })
        .map_err(error_entry)
    }

    fn describe() -> Description {
        let about = commands::describe();
        Description {
            name: about.name.to_string(),
            version: about.version.to_string(),
            commands: about.commands.iter().map(|c| c.to_string()).collect(),
            origins: about.origins.iter().map(|o| o.to_string()).collect(),
            credentials: about.credentials.iter().map(|c| c.to_string()).collect(),
        }
    }
}
