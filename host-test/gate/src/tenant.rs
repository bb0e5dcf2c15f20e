//! What the commands of one tenant share, prepared once per distinct set of instance
//! parameters: the parameters with the secrets taken out, serialised as the component reads
//! them; whether the secret is usable; the tenant's flags and its policy (its origin parsed,
//! the scrub forms of its secrets computed). All of it is a pure function of the parameters
//! and the component's credential names, so reusing it changes no byte of any command.

use serde_json::{Map, Value};
use std::sync::Arc;

use crate::policy::Policy;
use crate::secret::{Flags, Instance};
use crate::session::{Budget, Finished, Mode, Session};
use crate::stop::error_entry;

/// How a command of a tenant begins.
pub enum Begun {
    /// Run the connector with this invocation; its requests go through this session.
    Run {
        session: Session,
        invocation_json: String,
    },
    /// The connector must not run (behaviour.md §1: a token too short to scrub): this Type 4
    /// entry instead, and what the session leaves (a replay's unused interactions).
    Refused {
        entry_json: String,
        finished: Finished,
    },
}

/// One tenant's prepared parameters, secret check, flags and policy.
#[derive(Debug)]
pub struct Tenant {
    /// The parameters without the secrets, as compact JSON.
    pub params_json: String,
    /// The reference under which the tenant's token is held, when it has one.
    pub credential: Option<String>,
    /// Why the secret cannot be used (behaviour.md §1), if it cannot.
    pub secret_problem: Option<String>,
    pub flags: Flags,
    pub policy: Arc<Policy>,
}

impl Tenant {
    /// A tenant of these parameters, for a component whose credentials are `credentials`.
    pub fn prepare(params: &Map<String, Value>, credentials: &[String]) -> Tenant {
        let instance = Instance::split(params, credentials);
        let secret_problem = instance.secret_problem();
        let credential = instance.secrets.first().map(|(name, _)| name.clone());
        let policy = Policy::for_instance(instance.url(), instance.secrets.clone());
        Tenant {
            // Serialising a map of JSON values cannot fail.
            params_json: serde_json::to_string(&instance.params).unwrap_or_default(),
            credential,
            secret_problem,
            flags: instance.flags,
            policy: Arc::new(policy),
        }
    }

    /// Begin a command: its session (under `budget`, HTTP as `mode` says, started at
    /// `started_millis` by the caller's clock) and its invocation, or its refusal.
    pub fn begin(
        &self,
        command: &str,
        args: &Map<String, Value>,
        budget: Budget,
        mode: Mode,
        started_millis: u64,
    ) -> Begun {
        let session = Session::new(
            self.policy.clone(),
            self.flags,
            budget,
            mode,
            started_millis,
        );
        match &self.secret_problem {
            Some(problem) => Begun::Refused {
                entry_json: error_entry(problem),
                finished: session.finish(),
            },
            None => Begun::Run {
                session,
                invocation_json: self.invocation_json(command, args),
            },
        }
    }

    /// The invocation as the component reads it (`invocation.json` in the WIT), compact:
    /// `{"command":…,"params":…,"args":…}`, the parameters already serialised.
    fn invocation_json(&self, command: &str, args: &Map<String, Value>) -> String {
        // Serialising a string or a map of JSON values cannot fail.
        let command = serde_json::to_string(command).unwrap_or_default();
        let args = serde_json::to_string(args).unwrap_or_default();
        let params = &self.params_json;
        let mut json = String::with_capacity(34 + command.len() + params.len() + args.len());
        json.push_str(r#"{"command":"#);
        json.push_str(&command);
        json.push_str(r#","params":"#);
        json.push_str(params);
        json.push_str(r#","args":"#);
        json.push_str(&args);
        json.push('}');
        json
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn the_invocation_is_the_serialised_object_of_command_params_and_args() {
        let params = map(
            json!({"url": "https://a.example", "n": [1, 2.5, "x"], "access_token": "t0k3n-long"}),
        );
        let args = map(json!({"user-profile": "{\"email\": \"a@b\"}", "z": null}));
        let tenant = Tenant::prepare(&params, &["access_token".into()]);
        let expected = json!({
            "command": "iam-get-user\u{1}\"",
            "params": {"url": "https://a.example", "n": [1, 2.5, "x"]},
            "args": args,
        })
        .to_string();
        assert_eq!(
            tenant.invocation_json("iam-get-user\u{1}\"", &args),
            expected
        );
        assert_eq!(tenant.credential.as_deref(), Some("access_token"));
        assert!(tenant.secret_problem.is_none());
        let short = Tenant::prepare(
            &map(json!({"access_token": "short"})),
            &["access_token".into()],
        );
        assert!(short.secret_problem.is_some());
        let none = Tenant::prepare(&map(json!({"url": "u"})), &["access_token".into()]);
        assert_eq!(none.credential, None);
    }
}
