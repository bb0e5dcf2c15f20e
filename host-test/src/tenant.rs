//! What the commands of one tenant share, prepared once per distinct set of instance
//! parameters: the parameters with the token taken out, serialised as the component reads
//! them; the token and whether it is usable; and the tenant's policy (its origin parsed, the
//! scrub forms of its secrets computed). All of it is a pure function of the parameters, so
//! reusing it changes no byte of any command; every command still runs in a fresh sandbox.
//!
//! A `Host` keeps the most recent tenants; parameters are matched exactly, key order
//! included (the order is part of what the component reads).

use serde_json::{Map, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use crate::policy::{self, CREDENTIAL_NAME, Policy, Secret, split_secret};

/// Tenants a host keeps prepared. Looking one up compares parameters until the first value
/// that differs, so this bounds the cost of a miss as well as the memory.
const KEPT_TENANTS: usize = 32;

/// One tenant's prepared parameters, token and policy.
pub struct Tenant {
    /// The parameters as given, token included: what a later command is matched against.
    params: Map<String, Value>,
    /// The parameters without the token, as compact JSON.
    pub params_json: String,
    pub token: Option<Secret>,
    /// Why the token cannot be used (behaviour.md §1), if it cannot.
    pub token_problem: Option<String>,
    pub policy: Arc<Policy>,
}

impl Tenant {
    fn prepare(params: &Map<String, Value>) -> Tenant {
        let (rest, token) = split_secret(params);
        let token_problem = token.as_ref().and_then(policy::token_problem);
        let policy = Policy::for_instance(
            rest.get("url").and_then(Value::as_str),
            CREDENTIAL_NAME,
            token.clone(),
        );
        Tenant {
            params: params.clone(),
            // Serialising a map of JSON values cannot fail.
            params_json: serde_json::to_string(&rest).unwrap_or_default(),
            token,
            token_problem,
            policy: Arc::new(policy),
        }
    }
}

/// The recently seen tenants of a host.
#[derive(Default)]
pub struct Tenants {
    recent: Mutex<VecDeque<Arc<Tenant>>>,
}

impl Tenants {
    /// The tenant of these parameters, prepared now if it is not kept.
    pub fn get(&self, params: &Map<String, Value>) -> Arc<Tenant> {
        if let Some(tenant) = self
            .lock()
            .iter()
            .find(|tenant| same_map(&tenant.params, params))
        {
            return tenant.clone();
        }
        let tenant = Arc::new(Tenant::prepare(params));
        let mut recent = self.lock();
        if recent.len() >= KEPT_TENANTS {
            recent.pop_back();
        }
        recent.push_front(tenant.clone());
        tenant
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Arc<Tenant>>> {
        // The list is valid whatever a panicking holder was doing: entries are only added
        // or dropped whole.
        self.recent.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether two maps serialise to the same text: the same keys in the same order, and the
/// same values by `same_value`. (`Map`'s own `==` ignores key order.)
fn same_map(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((ka, va), (kb, vb))| ka == kb && same_value(va, vb))
}

/// Whether two values serialise to the same text. Numbers must be equal and, as floats,
/// bit for bit (`0.0 == -0.0`, but they are written differently).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => same_map(a, b),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_value(a, b))
        }
        (Value::Number(a), Value::Number(b)) => {
            a == b && a.as_f64().map(f64::to_bits) == b.as_f64().map(f64::to_bits)
        }
        (a, b) => a == b,
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
    fn parameters_match_only_when_they_serialise_alike() {
        let a = map(json!({"url": "https://a", "mappers": [{"x": 1, "y": [0.5]}]}));
        assert!(same_map(&a, &a.clone()));
        for other in [
            json!({"mappers": [{"x": 1, "y": [0.5]}], "url": "https://a"}),
            json!({"url": "https://a", "mappers": [{"y": [0.5], "x": 1}]}),
            json!({"url": "https://a", "mappers": [{"x": 1.0, "y": [0.5]}]}),
            json!({"url": "https://a", "mappers": [{"x": 1, "y": [0.5, 1]}]}),
            json!({"url": "https://b", "mappers": [{"x": 1, "y": [0.5]}]}),
        ] {
            let other = map(other);
            assert_eq!(
                same_map(&a, &other),
                serde_json::to_string(&a).ok() == serde_json::to_string(&other).ok()
            );
            assert!(!same_map(&a, &other), "{other:?}");
        }
        assert!(!same_value(&json!(0.0), &json!(-0.0)));
        assert!(same_value(&json!(-0.0), &json!(-0.0)));
    }

    #[test]
    fn a_tenant_is_prepared_once_and_kept_separate_from_the_others() {
        let tenants = Tenants::default();
        let first = map(json!({"url": "https://a.example", "access_token": "t0k3n-long-1"}));
        let second = map(json!({"url": "https://a.example", "access_token": "t0k3n-long-2"}));
        let a = tenants.get(&first);
        assert!(Arc::ptr_eq(&a, &tenants.get(&first.clone())));
        let b = tenants.get(&second);
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(a.params_json, r#"{"url":"https://a.example"}"#);
        assert_eq!(a.token.as_ref().map(Secret::expose), Some("t0k3n-long-1"));
        assert_eq!(b.token.as_ref().map(Secret::expose), Some("t0k3n-long-2"));
        assert!(a.token_problem.is_none());
        let short = tenants.get(&map(
            json!({"url": "https://a.example", "access_token": "short"}),
        ));
        assert!(short.token_problem.is_some());
        for n in 0..2 * KEPT_TENANTS {
            tenants.get(&map(json!({"url": format!("https://{n}.example")})));
        }
        assert_eq!(tenants.lock().len(), KEPT_TENANTS);
    }
}
