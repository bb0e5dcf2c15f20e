//! The instance parameters (behaviour.md §1) turned into a validated `Config`: defaults,
//! booleans given as strings, and an error naming the key for anything else. The token is
//! not a parameter here: the host keeps it and hands over only its reference.

use serde_json::{Map, Value};

use crate::entry;
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

impl DisableMethod {
    /// `"patch"` or `"delete"`, as the instance's `disable_method` and iam-disable-user's
    /// `disable-method` argument give it; the error completes a sentence naming the input.
    pub fn parse(given: &str) -> Result<DisableMethod, String> {
        match given {
            "patch" => Ok(DisableMethod::Patch),
            "delete" => Ok(DisableMethod::Delete),
            other => Err(format!("must be \"patch\" or \"delete\", got {other:?}")),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Base URL as `parse_url` normalised it: scheme and host in lower case, no trailing `/`.
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
    /// What the platform the connector runs inside gives: the `platform` key, see [`Platform`].
    pub platform: Platform,
}

impl Config {
    pub fn from_params(
        params: &Map<String, Value>,
        credential: Option<&str>,
    ) -> Result<Config, Error> {
        let url = parse_url(&required_string(params, "url")?)?;
        let directory_id = required_string(params, "directory_id")?;
        // behaviour.md §3 [fix]: `.` and `..` cannot be a path segment, even encoded.
        if crate::scim::is_dot_segment(&directory_id) {
            return Err(Error::InvalidConfig(format!(
                "\"directory_id\" must not be {directory_id:?}: \".\" and \"..\" cannot be used as an id"
            )));
        }
        let credential = match credential {
            Some(name) if !name.is_empty() => name.to_string(),
            _ => {
                return Err(Error::InvalidConfig(
                    "missing required key \"access_token\" (or \"access_token_creds.password\")"
                        .into(),
                ));
            }
        };
        let disable_method = match optional_string(params, "disable_method")? {
            None => DisableMethod::Patch,
            Some(given) => DisableMethod::parse(&given)
                .map_err(|why| Error::InvalidConfig(format!("\"disable_method\" {why}")))?,
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
            url,
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
            platform: Platform::from_params(params)?,
        })
    }
}

/// What the platform the connector runs inside gives a command: the parameters' optional
/// `"platform"` object. It is not an instance parameter an admin sets (no `.yml` declares
/// it) but the calling context, which the XSOAR integration adds to the parameters as it
/// adds `instance_name`, so that every host and the gate pass it unchanged. Hosts outside a
/// platform (iam-host, the Node host, the Python host's command line) leave it out; the XSOAR
/// integration passes `"platform": {"mapping": true, "brand": <IntegrationBrand>}`.
///
/// * `"mapping"` (a boolean, or `"true"`/`"false"`; default false): map with the platform's
///   mappers. `mapper_out` and `mapper_in` then name the platform's mappers, and every
///   mapping (the `user-profile` for `User Profile - Create` or `- Update`, the user read
///   for `User Profile`) goes through the host's `platform.map-object` (inside XSOAR,
///   `demisto.mapObject`) instead of this component's mapper engine (`mapper::instance`);
///   `mappers` is not used. An empty mapper name still means no mapping. What the platform
///   cannot map is an error entry. Without it the engine maps (behaviour.md §7).
/// * `"brand"` (a non-empty string; default [`entry::BRAND`]): the integration's brand as
///   the platform knows it (XSOAR: the calling context's `IntegrationBrand`), shown as
///   `IAM.Vendor.brand`, a group result's `brand` and in the markdown titles
///   (`### Get User Results (<brand>)`).
///
/// Any other key, or a value of another type, is a configuration error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub mapping: bool,
    pub brand: String,
}

impl Default for Platform {
    fn default() -> Platform {
        Platform {
            mapping: false,
            brand: entry::BRAND.to_string(),
        }
    }
}

impl Platform {
    /// The `platform` parameter (absent or null: the defaults).
    fn from_params(params: &Map<String, Value>) -> Result<Platform, Error> {
        let invalid = |why: String| Error::InvalidConfig(format!("\"platform\" {why}"));
        let given = match params.get("platform") {
            None | Some(Value::Null) => return Ok(Platform::default()),
            Some(Value::Object(given)) => given,
            Some(other) => {
                return Err(invalid(format!(
                    "must be an object, got {}",
                    json_kind(other)
                )));
            }
        };
        if let Some(unknown) = given
            .keys()
            .find(|key| !["mapping", "brand"].contains(&key.as_str()))
        {
            return Err(invalid(format!(
                "has an unknown key {unknown:?}; expected \"mapping\" or \"brand\""
            )));
        }
        // `flag`'s message names the key; here it is the key of `platform`.
        let mapping = flag(given, "mapping", false).map_err(|error| match error {
            Error::InvalidConfig(why) => invalid(why),
            other => other,
        })?;
        let brand = match given.get("brand") {
            None | Some(Value::Null) => entry::BRAND.to_string(),
            Some(Value::String(brand)) if !brand.trim().is_empty() => brand.clone(),
            Some(Value::String(_)) => return Err(invalid("\"brand\" must not be empty".into())),
            Some(other) => {
                return Err(invalid(format!(
                    "\"brand\" must be a string, got {}",
                    json_kind(other)
                )));
            }
        };
        Ok(Platform { mapping, brand })
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

/// The configured `url`, parsed and validated in this one place (behaviour.md §1): an
/// absolute `http://` or `https://` URL with a host, an optional port from 1 to 65535 and
/// an optional path, and nothing after the path. Returns it normalised: scheme and host in
/// lower case, no trailing `/`.
///
/// A user name or password in the URL is refused without echoing the URL: it would carry a
/// secret into the error entry. Characters that URL parsers read differently (`\`,
/// whitespace, controls) and `.`/`..` path segments are refused, so that the URL the guest
/// builds is the URL the host sends.
fn parse_url(url: &str) -> Result<String, Error> {
    let invalid = || {
        Error::InvalidConfig(format!(
            "\"url\" must be an absolute http(s) URL such as https://api.atlassian.com, got {url:?}"
        ))
    };
    // The authority as any parser would see it: after an optional `scheme://`, up to the
    // first character that ends it. Checked first, before any message quotes the URL.
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority_end = after_scheme
        .find(['/', '\\', '?', '#'])
        .unwrap_or(after_scheme.len());
    if after_scheme[..authority_end].contains('@') {
        return Err(Error::InvalidConfig(
            "\"url\" must not contain a user name or password".into(),
        ));
    }
    if url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '\\' | '?' | '#'))
    {
        return Err(invalid());
    }
    let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return Err(invalid());
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        // An IPv6 literal: `[` hex digits, `:` and `.` `]`, then an optional `:port`.
        let (address, after) = bracketed.split_once(']').ok_or_else(invalid)?;
        if address.is_empty()
            || !address.contains(':')
            || !address
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return Err(invalid());
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(invalid)?),
        };
        (&authority[..address.len() + 2], port)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let is_host_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~');
    if host.is_empty() || (!host.starts_with('[') && !host.chars().all(is_host_char)) {
        return Err(invalid());
    }
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65_535).contains(&p));
        if !valid {
            return Err(Error::InvalidConfig(format!(
                "\"url\" must have a port from 1 to 65535, got {port:?}"
            )));
        }
    }
    let path = path.trim_end_matches('/');
    let is_dot_segment = |segment: &str| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    };
    if path.split('/').any(is_dot_segment) {
        return Err(invalid());
    }
    let mut normalised = format!("{scheme}://{}", host.to_ascii_lowercase());
    if let Some(port) = port {
        normalised.push(':');
        normalised.push_str(port);
    }
    normalised.push_str(path);
    Ok(normalised)
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

    fn with_url(url: &str) -> Result<Config, Error> {
        parse(&format!(r#"{{"url":{url:?},"directory_id":"d"}}"#))
    }

    #[test]
    fn the_url_is_normalised_once() {
        let cases = [
            ("HTTPS://API.Atlassian.com/", "https://api.atlassian.com"),
            ("http://127.0.0.1:8080//", "http://127.0.0.1:8080"),
            ("https://[::1]:8443/Base/", "https://[::1]:8443/Base"),
            ("https://h:65535/a/b", "https://h:65535/a/b"),
        ];
        for (url, normalised) in cases {
            assert_eq!(with_url(url).unwrap().url, normalised, "{url}");
        }
    }

    #[test]
    fn a_port_outside_1_to_65535_is_a_configuration_error() {
        for (url, port) in [
            ("https://host:99999", "99999"),
            ("https://host:0/x", "0"),
            ("https://host:", ""),
            ("https://host:+443", "+443"),
            ("https://host:44a", "44a"),
            ("https://[::1]:123456", "123456"),
        ] {
            assert_eq!(
                with_url(url).unwrap_err().to_string(),
                format!(
                    "Invalid configuration: \"url\" must have a port from 1 to 65535, got {port:?}"
                ),
                "{url}"
            );
        }
    }

    #[test]
    fn a_user_name_or_password_in_the_url_is_refused_without_echoing_them() {
        for url in [
            "https://admin:s3cret-pass@api.atlassian.com",
            "https://admin@api.atlassian.com/x",
            "ftp://admin:s3cret-pass@host",
            "admin:s3cret-pass@host",
        ] {
            let message = with_url(url).unwrap_err().to_string();
            assert_eq!(
                message,
                "Invalid configuration: \"url\" must not contain a user name or password"
            );
            assert!(!message.contains("admin") && !message.contains("s3cret"));
        }
        // An @ in the path is not user info.
        assert!(with_url("https://host/scim@x").is_ok());
    }

    #[test]
    fn urls_parsers_would_read_differently_are_refused() {
        for url in [
            "https://host\\@evil/",
            "https://ho st",
            "https://host/a/../b",
            "https://host/./b",
            "https://host/%2e%2E/b",
            "https://[zz::1]",
            "https://[::1",
            "https://host!/",
            "https://[::1]x",
        ] {
            assert!(with_url(url).is_err(), "{url} was accepted");
        }
    }

    #[test]
    fn a_directory_id_of_dot_or_dot_dot_is_a_configuration_error() {
        for id in [".", ".."] {
            let json = format!(r#"{{"url":"https://x","directory_id":{id:?}}}"#);
            assert_eq!(
                parse(&json).unwrap_err().to_string(),
                format!(
                    "Invalid configuration: \"directory_id\" must not be {id:?}: \".\" and \"..\" cannot be used as an id"
                )
            );
        }
        assert!(parse(r#"{"url":"https://x","directory_id":"..."}"#).is_ok());
    }

    #[test]
    fn the_platform_parameter_asks_for_platform_mapping_and_names_the_brand() {
        let base = r#""url":"https://a.example","directory_id":"d""#;
        let config = parse(&format!("{{{base}}}")).unwrap();
        assert_eq!(
            config.platform,
            Platform {
                mapping: false,
                brand: "Atlassian IAM".into()
            }
        );
        let config = parse(&format!(
            r#"{{{base},"platform":{{"mapping":"true","brand":"Atlassian IAM (Wasm)"}}}}"#
        ))
        .unwrap();
        assert_eq!(
            config.platform,
            Platform {
                mapping: true,
                brand: "Atlassian IAM (Wasm)".into()
            }
        );
        let cases = [
            (
                r#""platform":[]"#,
                "\"platform\" must be an object, got an array",
            ),
            (
                r#""platform":{"maping":true}"#,
                "\"platform\" has an unknown key \"maping\"; expected \"mapping\" or \"brand\"",
            ),
            (
                r#""platform":{"mapping":1}"#,
                "\"platform\" \"mapping\" must be true or false, got a number",
            ),
            (
                r#""platform":{"brand":" "}"#,
                "\"platform\" \"brand\" must not be empty",
            ),
            (
                r#""platform":{"brand":false}"#,
                "\"platform\" \"brand\" must be a string, got a boolean",
            ),
        ];
        for (platform, why) in cases {
            let error = parse(&format!("{{{base},{platform}}}")).unwrap_err();
            assert_eq!(error.to_string(), format!("Invalid configuration: {why}"));
        }
    }
}
