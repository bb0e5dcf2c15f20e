//! The tenants file: `{"tenants": {"<name>": {<instance parameters, token included>}}}`. It is
//! read only where commands run (`batch`, `worker`); the parameters go to the host as a
//! command's `config.json` would, and nothing else here looks inside them. No `Debug`: the
//! parameters hold tokens.

use anyhow::{Context as _, Result, bail};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

use iam_host::files;

/// The longest tenant name: it is a token of NATS subjects and of consumer names.
pub const MAX_NAME_BYTES: usize = 64;

/// Check a tenant name: 1 to 64 of `A-Z a-z 0-9 _ -`. A name is a token of the subjects
/// `iam.jobs.<tenant>` and `iam.results.<tenant>` and of a NATS user's permissions, so it may
/// hold no `.`, `*`, `>` or space (each would widen a subject or a permission to other
/// tenants), nor anything a consumer name cannot carry.
pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty() {
        bail!("a tenant name must not be empty");
    }
    let safe = name.len() <= MAX_NAME_BYTES
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
    if !safe {
        bail!(
            "the tenant name {name:?} is not allowed: use 1 to {MAX_NAME_BYTES} letters, digits, '_' or '-' (it names NATS subjects)"
        );
    }
    Ok(())
}

/// Each tenant's instance parameters, by name.
pub struct Tenants {
    by_name: BTreeMap<String, Map<String, Value>>,
}

impl Tenants {
    /// Read and check a tenants file: read as a config file is, with the same cap (the file
    /// is many configs, each a few kilobytes).
    pub fn load(path: &Path) -> Result<Tenants> {
        let text = files::read_capped_text(path, files::CONFIG_BYTES, "tenants file")?;
        Tenants::parse(&text).with_context(|| format!("tenants file {}", path.display()))
    }

    /// The tenants of a file's text. Errors never quote the parameters (they hold tokens).
    pub fn parse(text: &str) -> Result<Tenants> {
        let value: Value = match serde_json::from_str(text) {
            Ok(value) => value,
            // serde's message names a position, never the text around it.
            Err(error) => bail!("is not valid JSON: {error}"),
        };
        let Some(tenants) = value.get("tenants") else {
            bail!("must hold a JSON object with a \"tenants\" object");
        };
        let Value::Object(tenants) = tenants else {
            bail!("\"tenants\" must be a JSON object of tenant names to instance parameters");
        };
        let mut by_name = BTreeMap::new();
        for (name, params) in tenants {
            let Value::Object(params) = params else {
                bail!("tenant {name:?} must be a JSON object of instance parameters");
            };
            check_name(name)?;
            by_name.insert(name.clone(), params.clone());
        }
        if by_name.is_empty() {
            bail!("names no tenant");
        }
        Ok(Tenants { by_name })
    }

    /// One instance under its own name, for jobs run on this machine only (`sync apply
    /// --config`: the jobs' tenant is the config's `instance_name`, sync.md §8). The name
    /// never reaches a NATS subject here, so it is not held to [`check_name`].
    pub fn local(name: &str, params: Map<String, Value>) -> Tenants {
        Tenants {
            by_name: BTreeMap::from([(name.to_string(), params)]),
        }
    }

    /// A tenant's instance parameters.
    pub fn get(&self, name: &str) -> Option<&Map<String, Value>> {
        self.by_name.get(name)
    }

    /// The tenants, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Map<String, Value>)> {
        self.by_name.iter()
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> String {
        match Tenants::parse(text) {
            Ok(_) => panic!("{text} was accepted"),
            Err(error) => format!("{error:#}"),
        }
    }

    #[test]
    fn tenants_are_read_by_name() {
        let tenants = Tenants::parse(
            r#"{"tenants": {"b": {"url": "https://b.example", "access_token": "s"}, "a": {}}}"#,
        )
        .expect("valid");
        assert_eq!(tenants.len(), 2);
        assert_eq!(
            tenants.get("b").and_then(|p| p.get("url")),
            Some(&Value::from("https://b.example"))
        );
        assert!(tenants.get("c").is_none());
        let names: Vec<&String> = tenants.iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn a_file_without_tenants_is_refused() {
        assert_eq!(
            error_of(r#"{"a": {}}"#),
            "must hold a JSON object with a \"tenants\" object"
        );
        assert_eq!(error_of(r#"{"tenants": {}}"#), "names no tenant");
        assert!(error_of("{").starts_with("is not valid JSON"));
    }

    #[test]
    fn a_tenant_name_must_be_safe_in_a_nats_subject() {
        for name in ["Acme_Corp-2", "a", &"x".repeat(MAX_NAME_BYTES)] {
            assert!(check_name(name).is_ok(), "{name}");
        }
        for name in [
            "a.b",
            "a*",
            ">",
            "a b",
            "é",
            "a\nb",
            "",
            &"x".repeat(MAX_NAME_BYTES + 1),
        ] {
            assert!(check_name(name).is_err(), "{name:?}");
        }
        assert_eq!(
            error_of(r#"{"tenants": {"acme.*": {}}}"#),
            "the tenant name \"acme.*\" is not allowed: use 1 to 64 letters, digits, '_' or '-' (it names NATS subjects)"
        );
    }

    #[test]
    fn a_tenant_that_is_not_an_object_is_refused_without_quoting_it() {
        let error = error_of(r#"{"tenants": {"a": "secret-token"}}"#);
        assert_eq!(
            error,
            "tenant \"a\" must be a JSON object of instance parameters"
        );
        assert!(!error.contains("secret-token"));
    }
}
