//! The instance a sync works on (sync.md §1): `--config C` (one instance, as `iam-host run`
//! takes it; its jobs' tenant is the config's `instance_name`, `Atlassian IAM_instance_1` when
//! absent), or `--tenants T --tenant NAME` (the batch format). No `Debug`: the parameters hold
//! the token.

use anyhow::{Result, bail};
use clap::Args;
use serde_json::{Map, Value};
use std::path::PathBuf;

use crate::scale::tenants::Tenants;
use iam_host::files;

/// The jobs' tenant of a `--config` without `instance_name` (sync.md §8).
pub const DEFAULT_INSTANCE_NAME: &str = "Atlassian IAM_instance_1";

/// Where the instance comes from.
#[derive(Args, Debug, Clone)]
pub struct InstanceArgs {
    /// The instance parameters (url, access_token, directory_id, …) as a JSON file.
    #[arg(long, value_name = "config.json", conflicts_with_all = ["tenants", "tenant"])]
    pub config: Option<PathBuf>,
    /// A tenants file: {"tenants": {"<name>": {instance parameters}}}.
    #[arg(long, value_name = "tenants.json")]
    pub tenants: Option<PathBuf>,
    /// With --tenants: the tenant to work on (apply: the plan's own tenant by default).
    #[arg(long, value_name = "NAME", requires = "tenants")]
    pub tenant: Option<String>,
}

/// One instance: its tenant name and parameters (token included).
pub struct Instance {
    pub tenant: String,
    pub params: Map<String, Value>,
}

impl Instance {
    /// The instance the arguments name; `tenant` is the tenant to take from a tenants file
    /// when `--tenant` is not given (apply: the plan's). Errors are usage errors (exit 2).
    pub fn load(args: &InstanceArgs, tenant: Option<&str>) -> Result<Instance> {
        match (&args.config, &args.tenants) {
            (Some(config), None) => {
                let text = files::read_capped_text(config, files::CONFIG_BYTES, "config file")?;
                let params = match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Object(params)) => params,
                    Ok(_) => bail!("config file {} must hold a JSON object", config.display()),
                    Err(error) => bail!(
                        "config file {} is not valid JSON: {error}",
                        config.display()
                    ),
                };
                let tenant = params
                    .get("instance_name")
                    .and_then(Value::as_str)
                    .filter(|name| !name.is_empty())
                    .unwrap_or(DEFAULT_INSTANCE_NAME)
                    .to_string();
                Ok(Instance { tenant, params })
            }
            (None, Some(path)) => {
                let tenants = Tenants::load(path)?;
                let Some(name) = args.tenant.as_deref().or(tenant) else {
                    bail!("--tenants needs --tenant NAME: the tenant to work on");
                };
                let Some(params) = tenants.get(name) else {
                    bail!(
                        "unknown tenant {name:?}: the tenants file {} has no such tenant",
                        path.display()
                    );
                };
                Ok(Instance {
                    tenant: name.to_string(),
                    params: params.clone(),
                })
            }
            _ => bail!("give --config <config.json>, or --tenants <tenants.json> --tenant NAME"),
        }
    }

    /// The instance as the tenants of a batch: itself, named `tenant`.
    pub fn as_tenants(&self, tenant: &str) -> Tenants {
        Tenants::local(tenant, self.params.clone())
    }

    /// A text parameter of the instance (`url`, `directory_id`).
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).and_then(Value::as_str)
    }
}
