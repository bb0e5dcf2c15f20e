//! A tenant's secret and flags, taken from its XSOAR instance parameters once: the token
//! split off under the credential names the component describes, the check that it is long
//! enough to scrub, and the `insecure` and `proxy` flags (behaviour.md §1).

use serde_json::{Map, Value};
use std::fmt;

use crate::redact::MIN_SECRET_CHARS;

/// A secret the host attaches; its Debug never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The instance's flags that shape how requests leave the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    /// Skip TLS certificate verification.
    pub insecure: bool,
    /// Use the system proxy (never for a loopback address).
    pub proxy: bool,
}

impl Flags {
    /// The flags of an instance's parameters.
    pub fn of(params: &Map<String, Value>) -> Flags {
        Flags {
            insecure: flag(params, "insecure"),
            proxy: flag(params, "proxy"),
        }
    }
}

/// An instance's parameters split: the rest as the component reads them, and the secrets.
#[derive(Debug, Clone)]
pub struct Instance {
    /// The parameters without any credential's keys.
    pub params: Map<String, Value>,
    /// Each credential the instance holds, under its reference name.
    pub secrets: Vec<(String, Secret)>,
    pub flags: Flags,
}

impl Instance {
    /// Take each credential named in `credentials` out of `params`: for a name `N`,
    /// `N_creds.password` when non-empty, else `N` (for this connector, `access_token_creds`
    /// and `access_token`). Both keys are removed either way.
    pub fn split(params: &Map<String, Value>, credentials: &[String]) -> Instance {
        let mut rest = params.clone();
        let mut secrets = Vec::new();
        for name in credentials {
            let creds = rest.shift_remove(&format!("{name}_creds"));
            let plain = rest.shift_remove(name.as_str());
            let from_creds = creds
                .as_ref()
                .and_then(|c| c.get("password"))
                .and_then(Value::as_str)
                .filter(|p| !p.is_empty());
            let from_plain = plain
                .as_ref()
                .and_then(Value::as_str)
                .filter(|p| !p.is_empty());
            if let Some(secret) = from_creds.or(from_plain) {
                secrets.push((name.clone(), Secret::new(secret)));
            }
        }
        Instance {
            params: rest,
            secrets,
            flags: Flags::of(params),
        }
    }

    /// Why a secret cannot be used, named without it: the text of the Type 4 entry answered
    /// instead of running the command.
    pub fn secret_problem(&self) -> Option<String> {
        self.secrets
            .iter()
            .find(|(_, secret)| secret.expose().chars().count() < MIN_SECRET_CHARS)
            .map(|(name, _)| {
                format!(
                    "Invalid configuration: the access token (\"{name}\" or \"{name}_creds.password\") is shorter than {MIN_SECRET_CHARS} characters, too short for the host to keep it out of the answers it passes on"
                )
            })
    }

    /// The url the instance's requests must stay within.
    pub fn url(&self) -> Option<&str> {
        self.params.get("url").and_then(Value::as_str)
    }
}

/// An instance flag: `true` or `"true"` (any case) is on (behaviour.md §1). Anything else is
/// off, the safe side: the component reports an invalid value as a configuration error
/// before it sends any request.
fn flag(params: &Map<String, Value>, key: &str) -> bool {
    match params.get(key) {
        Some(Value::Bool(on)) => *on,
        Some(Value::String(text)) => text.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn split(params: Value) -> Instance {
        let Value::Object(params) = params else {
            unreachable!()
        };
        Instance::split(&params, &["access_token".to_string()])
    }

    fn token(instance: &Instance) -> Option<&str> {
        instance.secrets.first().map(|(_, s)| s.expose())
    }

    #[test]
    fn the_token_is_taken_out_of_the_parameters_and_creds_win() {
        let instance = split(
            json!({"url": "u", "access_token": "plain", "access_token_creds": {"password": "creds"}}),
        );
        assert_eq!(Value::Object(instance.params.clone()), json!({"url": "u"}));
        assert_eq!(token(&instance), Some("creds"));
        let instance =
            split(json!({"access_token": "plain", "access_token_creds": {"password": ""}}));
        assert_eq!(token(&instance), Some("plain"));
        assert_eq!(token(&split(json!({"access_token": 5}))), None);
    }

    #[test]
    fn a_token_shorter_than_eight_characters_is_a_configuration_error_that_does_not_show_it() {
        let problem = split(json!({"access_token": "short12"}))
            .secret_problem()
            .unwrap();
        assert!(
            problem.starts_with("Invalid configuration: the access token"),
            "{problem}"
        );
        assert!(!problem.contains("short12"));
        assert_eq!(
            split(json!({"access_token": "long-enough"})).secret_problem(),
            None
        );
        // Characters, not bytes: eight of them, sixteen bytes.
        assert_eq!(
            split(json!({"access_token": "éééééééé"})).secret_problem(),
            None
        );
        assert!(!format!("{:?}", split(json!({"access_token": "t0k3n-long"}))).contains("t0k3n"));
    }

    #[test]
    fn flags_are_booleans_or_true_false_strings_and_anything_else_is_off() {
        let flags = split(json!({"insecure": "TRUE", "proxy": false})).flags;
        assert!(flags.insecure && !flags.proxy);
        let flags = split(json!({"insecure": "yes", "proxy": true})).flags;
        assert!(!flags.insecure && flags.proxy);
        assert_eq!(split(json!({})).flags, Flags::default());
    }
}
