//! How `worker` and `submit` prove who they are to NATS, and over what: one of a `.creds` file,
//! an nkey seed, a user and password, or a token, each read from a file or the environment and
//! never from the command line (where every user of the machine can read it, `ps`); and TLS
//! with a CA and, when given, a client certificate. No `Debug` shows a secret.

use anyhow::{Context as _, Result, bail};
use async_nats::ConnectOptions;
use clap::Args;
use std::path::{Path, PathBuf};

use iam_host::files;

/// The environment variable that holds the password of `--nats-user`.
pub const PASSWORD_ENV: &str = "IAM_NATS_PASSWORD";
/// The environment variable that may hold a token (instead of `--nats-token-file`).
pub const TOKEN_ENV: &str = "IAM_NATS_TOKEN";
/// The largest credentials, key or certificate file read: they are a few kilobytes.
const SECRET_FILE_BYTES: u64 = 1 << 20;

/// The NATS options `worker` and `submit` share.
#[derive(Args, Debug, Clone, Default)]
pub struct NatsAuthArgs {
    /// A NATS `.creds` file (a user JWT and its nkey seed).
    #[arg(long, value_name = "FILE")]
    pub nats_creds: Option<PathBuf>,
    /// A file holding an nkey seed (`SU…`).
    #[arg(long, value_name = "FILE")]
    pub nats_nkey_file: Option<PathBuf>,
    /// A NATS user; its password from --nats-password-file or the IAM_NATS_PASSWORD variable.
    #[arg(long, value_name = "NAME")]
    pub nats_user: Option<String>,
    /// A file holding the password of --nats-user.
    #[arg(long, value_name = "FILE")]
    pub nats_password_file: Option<PathBuf>,
    /// A file holding a NATS token (or set IAM_NATS_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub nats_token_file: Option<PathBuf>,
    /// Use TLS, trusting the CA certificates of this PEM file.
    #[arg(long, value_name = "FILE")]
    pub nats_ca: Option<PathBuf>,
    /// A client certificate (PEM) for TLS; needs --nats-key.
    #[arg(long, value_name = "FILE", requires = "nats_key")]
    pub nats_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM); needs --nats-cert.
    #[arg(long, value_name = "FILE", requires = "nats_cert")]
    pub nats_key: Option<PathBuf>,
}

/// Who this process is to NATS.
#[derive(Clone)]
enum Credential {
    None,
    Creds(String),
    Nkey(String),
    UserPassword(String, String),
    Token(String),
}

/// Everything needed to connect: the servers, the credential and TLS.
#[derive(Clone)]
pub struct NatsAccess {
    /// One server or several, comma-separated (never with a password: see [`NatsAccess::new`]).
    pub servers: String,
    credential: Credential,
    ca: Option<PathBuf>,
    client_certificate: Option<(PathBuf, PathBuf)>,
}

impl std::fmt::Debug for NatsAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsAccess")
            .field("servers", &self.servers)
            .field("credential", &self.credential_kind())
            .field("ca", &self.ca)
            .finish_non_exhaustive()
    }
}

/// A one-line secret (a seed, a password, a token): the file's text without the whitespace
/// around it.
fn read_secret(path: &Path, what: &str) -> Result<String> {
    let text = read_secret_file(path, what)?;
    Ok(text.trim().to_string())
}

/// A secret file's text as written: a `.creds` file keeps its line ends, which its parser
/// needs after each `------END …------` line (a file that ends right after its seed block
/// would not parse once trimmed).
fn read_secret_file(path: &Path, what: &str) -> Result<String> {
    let text = files::read_capped_text(path, SECRET_FILE_BYTES, what)?;
    if text.trim().is_empty() {
        bail!("the {what} {} is empty", path.display());
    }
    Ok(text)
}

fn check_readable(path: &Path, what: &str) -> Result<()> {
    files::read_capped(path, SECRET_FILE_BYTES, what).map(|_| ())
}

impl NatsAccess {
    /// The access the options give, with `environment` standing for the process's own (the
    /// tests give theirs). A usage error names the option at fault and never a secret.
    pub fn new(
        servers: &str,
        args: &NatsAuthArgs,
        environment: impl Fn(&str) -> Option<String>,
    ) -> Result<NatsAccess> {
        if servers.split(',').any(|server| server.contains('@')) {
            bail!(
                "--nats must not carry a user, password or token (every user of this machine can read the command line): use --nats-user with {PASSWORD_ENV} or --nats-password-file, --nats-token-file or {TOKEN_ENV}, --nats-nkey-file or --nats-creds"
            );
        }
        let token_env = environment(TOKEN_ENV).filter(|token| !token.is_empty());
        let mut chosen = Vec::new();
        if let Some(path) = &args.nats_creds {
            let creds = read_secret_file(path, "NATS credentials file")?;
            chosen.push(("--nats-creds", Credential::Creds(creds)));
        }
        if let Some(path) = &args.nats_nkey_file {
            let seed = read_secret(path, "NATS nkey file")?;
            chosen.push(("--nats-nkey-file", Credential::Nkey(seed)));
        }
        if let Some(user) = &args.nats_user {
            let password = match &args.nats_password_file {
                Some(path) => read_secret(path, "NATS password file")?,
                None => environment(PASSWORD_ENV)
                    .filter(|password| !password.is_empty())
                    .with_context(|| {
                        format!("--nats-user needs a password: --nats-password-file FILE or the {PASSWORD_ENV} variable")
                    })?,
            };
            chosen.push((
                "--nats-user",
                Credential::UserPassword(user.clone(), password),
            ));
        } else if args.nats_password_file.is_some() {
            bail!("--nats-password-file needs --nats-user");
        }
        if let Some(path) = &args.nats_token_file {
            let token = read_secret(path, "NATS token file")?;
            chosen.push(("--nats-token-file", Credential::Token(token)));
        } else if let Some(token) = token_env {
            chosen.push((TOKEN_ENV, Credential::Token(token)));
        }
        if chosen.len() > 1 {
            let names: Vec<&str> = chosen.iter().map(|(name, _)| *name).collect();
            bail!("give one NATS credential, not {}", names.join(" and "));
        }
        if let Some(ca) = &args.nats_ca {
            check_readable(ca, "NATS CA file")?;
        }
        let client_certificate = match (&args.nats_cert, &args.nats_key) {
            (Some(cert), Some(key)) => {
                check_readable(cert, "NATS client certificate")?;
                check_readable(key, "NATS client key")?;
                Some((cert.clone(), key.clone()))
            }
            (None, None) => None,
            _ => bail!("--nats-cert and --nats-key go together"),
        };
        Ok(NatsAccess {
            servers: servers.to_string(),
            credential: chosen
                .pop()
                .map_or(Credential::None, |(_, credential)| credential),
            ca: args.nats_ca.clone(),
            client_certificate,
        })
    }

    /// Access to `servers` with no credential and no TLS (tests, benchmarks).
    pub fn anonymous(servers: &str) -> NatsAccess {
        NatsAccess {
            servers: servers.to_string(),
            credential: Credential::None,
            ca: None,
            client_certificate: None,
        }
    }

    /// How this process authenticates, for messages: never the secret.
    pub fn credential_kind(&self) -> &'static str {
        match self.credential {
            Credential::None => "no credential",
            Credential::Creds(_) => "a creds file",
            Credential::Nkey(_) => "an nkey",
            Credential::UserPassword(..) => "a user and password",
            Credential::Token(_) => "a token",
        }
    }

    /// `options` with the credential and TLS applied.
    pub fn apply(&self, options: ConnectOptions) -> Result<ConnectOptions> {
        let mut options = match &self.credential {
            Credential::None => options,
            Credential::Creds(creds) => options.credentials(creds).map_err(|_| {
                anyhow::anyhow!("the NATS credentials file is not a valid .creds file")
            })?,
            Credential::Nkey(seed) => options.nkey(seed.clone()),
            Credential::UserPassword(user, password) => {
                options.user_and_password(user.clone(), password.clone())
            }
            Credential::Token(token) => options.token(token.clone()),
        };
        if let Some(ca) = &self.ca {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let Some((cert, key)) = &self.client_certificate {
            options = options
                .add_client_certificate(cert.clone(), key.clone())
                .require_tls(true);
        }
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_environment(_: &str) -> Option<String> {
        None
    }

    fn error_of(
        servers: &str,
        args: &NatsAuthArgs,
        env: impl Fn(&str) -> Option<String>,
    ) -> String {
        match NatsAccess::new(servers, args, env) {
            Ok(access) => panic!("accepted: {access:?}"),
            Err(error) => format!("{error:#}"),
        }
    }

    #[test]
    fn a_secret_in_the_server_address_is_refused_without_being_repeated() {
        let error = error_of(
            "nats://worker:s3cret@127.0.0.1:4222",
            &NatsAuthArgs::default(),
            no_environment,
        );
        assert!(error.starts_with("--nats must not carry a user"), "{error}");
        assert!(!error.contains("s3cret"));
    }

    #[test]
    fn the_password_comes_from_the_environment_and_is_never_shown() {
        let args = NatsAuthArgs {
            nats_user: Some("acme".into()),
            ..NatsAuthArgs::default()
        };
        let error = error_of("nats://127.0.0.1:4222", &args, no_environment);
        assert!(error.contains(PASSWORD_ENV), "{error}");
        let access = NatsAccess::new("nats://127.0.0.1:4222", &args, |name| {
            (name == PASSWORD_ENV).then(|| "pa55word".to_string())
        })
        .expect("valid");
        assert_eq!(access.credential_kind(), "a user and password");
        assert!(!format!("{access:?}").contains("pa55word"));
    }

    #[test]
    fn one_credential_at_a_time() {
        let args = NatsAuthArgs {
            nats_user: Some("acme".into()),
            ..NatsAuthArgs::default()
        };
        let env = |name: &str| Some(format!("value-of-{name}"));
        let error = error_of("nats://127.0.0.1:4222", &args, env);
        assert_eq!(
            error,
            format!("give one NATS credential, not --nats-user and {TOKEN_ENV}")
        );
        let token_only =
            NatsAccess::new("nats://127.0.0.1:4222", &NatsAuthArgs::default(), |name| {
                (name == TOKEN_ENV).then(|| "t0k3n".to_string())
            })
            .expect("valid");
        assert_eq!(token_only.credential_kind(), "a token");
    }

    #[test]
    fn a_creds_file_that_ends_right_after_its_seed_block_is_read_whole() {
        // The parser needs the line end after `------END USER NKEY SEED------`: trimming the
        // file's text took it away, and such a file was refused as not a .creds file.
        let seed = nkeys::KeyPair::new_user().seed().expect("a seed");
        let path = std::env::temp_dir().join(format!("iam-host-{}-end.creds", std::process::id()));
        std::fs::write(
            &path,
            format!("-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QifQ.e30.c2ln\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"),
        )
        .expect("write the creds");
        let args = NatsAuthArgs {
            nats_creds: Some(path.clone()),
            ..NatsAuthArgs::default()
        };
        let access = NatsAccess::new("nats://127.0.0.1:4222", &args, no_environment);
        std::fs::remove_file(&path).ok();
        let access = access.expect("valid");
        assert_eq!(access.credential_kind(), "a creds file");
        assert!(access.apply(ConnectOptions::new()).is_ok());
        assert!(!format!("{access:?}").contains(&seed));
    }
}
