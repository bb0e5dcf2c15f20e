//! The instance parameters (behaviour.md §1) turned into a validated `Config`: defaults,
//! booleans given as strings, and an error naming the key for anything else. The token is
//! not a parameter here: the host keeps it and hands over only its reference.

use serde_json::{Map, Value};

use crate::error::{Error, json_kind};

pub const DEFAULT_INSTANCE_NAME: &str = "Atlassian IAM_instance_1";
pub const DEFAULT_MAPPER_IN: &str = "User Profile - SCIM (Incoming)";
pub const DEFAULT_MAPPER_OUT: &str = "User Profile - SCIM (Outgoing)";

/// How iam-disable-user disables a user (behaviour.md §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisableMethod {
    /// `PATCH active:false`: reversible.
    Patch,
    /// `DELETE`: removes the SCIM record for good.
    Delete,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Base URL without a trailing `/`.
    pub url: String,
    pub directory_id: String,
    /// The reference of the host-held token.
    pub credential: String,
    pub insecure: bool,
    pub proxy: bool,
    pub create_user_enabled: bool,
    pub update_user_enabled: bool,
    pub enable_user_enabled: bool,
    pub disable_user_enabled: bool,
    pub create_if_not_exists: bool,
    /// Incoming mapper name; empty = no mapping.
    pub mapper_in: String,
    /// Outgoing mapper name; empty = no mapping.
    pub mapper_out: String,
    pub instance_name: String,
    pub disable_method: DisableMethod,
    /// Extra mapper definitions (XSOAR mapper JSON objects).
    pub mappers: Vec<Value>,
}

impl Config {
    pub fn from_params(
        params: &Map<String, Value>,
        credential: Option<&str>,
    ) -> Result<Config, Error> {
        let url = required_string(params, "url")?;
        check_http_url(&url)?;
        let directory_id = required_string(params, "directory_id")?;
        let credential = match credential {
            Some(name) if !name.is_empty() => name.to_string(),
            _ => {
                return Err(Error::InvalidConfig(
                    "missing required key \"access_token\" (or \"access_token_creds.password\")"
                        .into(),
                ));
            }
        };
        let disable_method = match optional_string(params, "disable_method")?.as_deref() {
            None | Some("patch") => DisableMethod::Patch,
            Some("delete") => DisableMethod::Delete,
            Some(other) => {
                return Err(Error::InvalidConfig(format!(
                    "\"disable_method\" must be \"patch\" or \"delete\", got {other:?}"
                )));
            }
        };
        let mappers = match params.get("mappers") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.clone(),
            Some(other) => {
                return Err(Error::InvalidConfig(format!(
                    "\"mappers\" must be a list of mapper objects, got {}",
                    json_kind(other)
                )));
            }
        };
        Ok(Config {
            url: url.trim_end_matches('/').to_string(),
            directory_id,
            credential,
            insecure: flag(params, "insecure", false)?,
            proxy: flag(params, "proxy", false)?,
            // behaviour.md §1 [fix]: a missing checkbox means enabled, as the .yml's default says.
            create_user_enabled: flag(params, "create_user_enabled", true)?,
            update_user_enabled: flag(params, "update_user_enabled", true)?,
            enable_user_enabled: flag(params, "enable_user_enabled", true)?,
            disable_user_enabled: flag(params, "disable_user_enabled", true)?,
            create_if_not_exists: flag(params, "create_if_not_exists", true)?,
            mapper_in: optional_string(params, "mapper_in")?
                .unwrap_or_else(|| DEFAULT_MAPPER_IN.to_string()),
            mapper_out: optional_string(params, "mapper_out")?
                .unwrap_or_else(|| DEFAULT_MAPPER_OUT.to_string()),
            instance_name: optional_string(params, "instance_name")?
                .unwrap_or_else(|| DEFAULT_INSTANCE_NAME.to_string()),
            disable_method,
            mappers,
        })
    }
}

fn required_string(params: &Map<String, Value>, key: &str) -> Result<String, Error> {
    match optional_string(params, key)? {
        Some(value) if !value.trim().is_empty() => Ok(value),
        Some(_) => Err(Error::InvalidConfig(format!("\"{key}\" must not be empty"))),
        None => Err(Error::InvalidConfig(format!(
            "missing required key \"{key}\""
        ))),
    }
}

fn optional_string(params: &Map<String, Value>, key: &str) -> Result<Option<String>, Error> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(Error::InvalidConfig(format!(
            "\"{key}\" must be a string, got {}",
            json_kind(other)
        ))),
    }
}

/// A boolean parameter: a JSON boolean or the string `"true"`/`"false"` (any case).
fn flag(params: &Map<String, Value>, key: &str, default: bool) -> Result<bool, Error> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(Value::String(s)) => Err(Error::InvalidConfig(format!(
            "\"{key}\" must be true or false, got {s:?}"
        ))),
        Some(other) => Err(Error::InvalidConfig(format!(
            "\"{key}\" must be true or false, got {}",
            json_kind(other)
        ))),
    }
}

/// An absolute `http://` or `https://` URL with a host, and nothing after the path.
fn check_http_url(url: &str) -> Result<(), Error> {
    let invalid = || {
        Error::InvalidConfig(format!(
            "\"url\" must be an absolute http(s) URL such as https://api.atlassian.com, got {url:?}"
        ))
    };
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(invalid)?;
    let authority = rest.split('/').next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host_without_port = if host.starts_with('[') {
        host.split(']').next().unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default()
    };
    if host_without_port.trim_start_matches('[').is_empty()
        || authority.contains('@')
        || url.contains(['?', '#', ' ', '\n', '\t'])
    {
        return Err(invalid());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parameters as JSON text, validated with the credential reference `credential`.
    fn parse_with(params_json: &str, credential: Option<&str>) -> Result<Config, Error> {
        let value: Value = serde_json::from_str(params_json).map_err(|e| {
            Error::InvalidConfig(format!("the parameters are not valid JSON ({e})"))
        })?;
        let Value::Object(params) = value else {
            return Err(Error::InvalidConfig(format!(
                "expected a JSON object of parameters, got {}",
                json_kind(&value)
            )));
        };
        Config::from_params(&params, credential)
    }

    fn parse(json: &str) -> Result<Config, Error> {
        parse_with(json, Some("access_token"))
    }

    #[test]
    fn defaults_apply_when_keys_are_absent() {
        let config = parse(r#"{"url":"https://api.atlassian.com/","directory_id":"d1"}"#).unwrap();
        assert_eq!(config.url, "https://api.atlassian.com");
        assert!(config.create_user_enabled && config.update_user_enabled);
        assert!(config.enable_user_enabled && config.disable_user_enabled);
        assert!(config.create_if_not_exists && !config.insecure && !config.proxy);
        assert_eq!(config.mapper_in, DEFAULT_MAPPER_IN);
        assert_eq!(config.mapper_out, DEFAULT_MAPPER_OUT);
        assert_eq!(config.instance_name, DEFAULT_INSTANCE_NAME);
        assert_eq!(config.disable_method, DisableMethod::Patch);
    }

    #[test]
    fn booleans_may_be_strings_in_any_case() {
        let config = parse(
            r#"{"url":"http://127.0.0.1:9","directory_id":"d","create_user_enabled":"False","insecure":"TRUE","proxy":true}"#,
        )
        .unwrap();
        assert!(!config.create_user_enabled && config.insecure && config.proxy);
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            (
                r#"{"directory_id":"d"}"#,
                "Invalid configuration: missing required key \"url\"",
            ),
            (
                r#"{"url":"https://x"}"#,
                "Invalid configuration: missing required key \"directory_id\"",
            ),
            (
                r#"{"url":"https://x","directory_id":7}"#,
                "Invalid configuration: \"directory_id\" must be a string, got a number",
            ),
            (
                r#"{"url":"https://x","directory_id":"d","proxy":"yes"}"#,
                "Invalid configuration: \"proxy\" must be true or false, got \"yes\"",
            ),
            (
                r#"{"url":"https://x","directory_id":"d","insecure":1}"#,
                "Invalid configuration: \"insecure\" must be true or false, got a number",
            ),
            (
                r#"{"url":"https://x","directory_id":"d","disable_method":"put"}"#,
                "Invalid configuration: \"disable_method\" must be \"patch\" or \"delete\", got \"put\"",
            ),
            (
                r#"{"url":"ftp://x","directory_id":"d"}"#,
                "Invalid configuration: \"url\" must be an absolute http(s) URL such as https://api.atlassian.com, got \"ftp://x\"",
            ),
            (
                r#"[1]"#,
                "Invalid configuration: expected a JSON object of parameters, got an array",
            ),
        ];
        for (json, message) in cases {
            assert_eq!(parse(json).unwrap_err().to_string(), message, "for {json}");
        }
    }

    #[test]
    fn urls_without_a_host_or_with_userinfo_are_refused() {
        for url in [
            "https://",
            "https:///x",
            "api.atlassian.com",
            "https://u:p@host",
            "https://h/x?q=1",
            "/scim",
        ] {
            let json = format!(r#"{{"url":{url:?},"directory_id":"d"}}"#);
            assert!(parse(&json).is_err(), "{url} was accepted");
        }
        for url in [
            "https://api.atlassian.com",
            "http://127.0.0.1:8080/",
            "https://[::1]:8443/base",
        ] {
            let json = format!(r#"{{"url":{url:?},"directory_id":"d"}}"#);
            assert!(parse(&json).is_ok(), "{url} was refused");
        }
    }

    #[test]
    fn a_missing_credential_is_a_configuration_error() {
        let err = parse_with(r#"{"url":"https://x","directory_id":"d"}"#, None).unwrap_err();
        assert!(err.to_string().contains("access_token"));
    }
}
