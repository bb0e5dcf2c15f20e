//! The recent tenants of a host, each prepared once by the gate ([`iam_gate::tenant::Tenant`]:
//! its parameters without the secret, its secret check, flags and policy). Reusing one changes
//! no byte of any command; every command still runs in a fresh sandbox. Parameters are
//! matched exactly, key order included (the order is part of what the component reads).

use serde_json::{Map, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use iam_gate::tenant::Tenant;

/// Tenants a host keeps prepared. Looking one up compares parameters until the first value
/// that differs, so this bounds the cost of a miss as well as the memory.
const KEPT_TENANTS: usize = 32;

/// A tenant's parameters as given (token included), and the tenant prepared from them.
type Kept = (Map<String, Value>, Arc<Tenant>);

/// The recently seen tenants of a host, for a component with these credential names.
#[derive(Default)]
pub struct Tenants {
    credentials: Vec<String>,
    recent: Mutex<VecDeque<Kept>>,
}

impl Tenants {
    /// Tenants of a component whose `describe` names these credentials.
    pub fn new(credentials: Vec<String>) -> Tenants {
        Tenants {
            credentials,
            recent: Mutex::default(),
        }
    }

    /// The tenant of these parameters, prepared now if it is not kept.
    pub fn get(&self, params: &Map<String, Value>) -> Arc<Tenant> {
        if let Some((_, tenant)) = self.lock().iter().find(|(kept, _)| same_map(kept, params)) {
            return tenant.clone();
        }
        let tenant = Arc::new(Tenant::prepare(params, &self.credentials));
        let mut recent = self.lock();
        if recent.len() >= KEPT_TENANTS {
            recent.pop_back();
        }
        recent.push_front((params.clone(), tenant.clone()));
        tenant
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Kept>> {
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
        let tenants = Tenants::new(vec!["access_token".into()]);
        let first = map(json!({"url": "https://a.example", "access_token": "t0k3n-long-1"}));
        let second = map(json!({"url": "https://a.example", "access_token": "t0k3n-long-2"}));
        let a = tenants.get(&first);
        assert!(Arc::ptr_eq(&a, &tenants.get(&first.clone())));
        let b = tenants.get(&second);
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(a.params_json, r#"{"url":"https://a.example"}"#);
        assert_eq!(
            a.policy.credential("access_token").map(|s| s.expose()),
            Some("t0k3n-long-1")
        );
        assert_eq!(
            b.policy.credential("access_token").map(|s| s.expose()),
            Some("t0k3n-long-2")
        );
        assert!(a.secret_problem.is_none());
        let short = tenants.get(&map(
            json!({"url": "https://a.example", "access_token": "short"}),
        ));
        assert!(short.secret_problem.is_some());
        for n in 0..2 * KEPT_TENANTS {
            tenants.get(&map(json!({"url": format!("https://{n}.example")})));
        }
        assert_eq!(tenants.lock().len(), KEPT_TENANTS);
    }
}
