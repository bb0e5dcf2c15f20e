//! A tenant's policy, all of it: the secret taken out of the instance parameters, the one
//! origin its requests may reach (that of the configured `url`, parsed here once), plain
//! http only to a loopback address, paths that mean what they say, the methods and headers a
//! guest may use, the credential attached to a request only after every check has passed,
//! and the tenant's secrets scrubbed from every answer. Pure functions.
//!
//! A refusal names the problem and never echoes what the guest sent in a URL's user
//! information: it may be a credential.

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt;
use url::Url;

use crate::backend::proxy::is_loopback;
use crate::backend::{BackendError, IncomingResponse};
use crate::redact::{MIN_SECRET_CHARS, Redactor};

/// The reference under which the host keeps a tenant's access token.
pub const CREDENTIAL_NAME: &str = "access_token";

/// The methods a guest may use: SCIM's.
const ALLOWED_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Headers only the host may set: credentials and routing.
const FORBIDDEN_GUEST_HEADERS: [&str; 5] = [
    "authorization",
    "cookie",
    "host",
    "proxy-authorization",
    "set-cookie",
];

/// Scheme, host and port of a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl Origin {
    pub fn of(url: &Url) -> Option<Origin> {
        Some(Origin {
            scheme: url.scheme().to_string(),
            host: url.host_str()?.to_ascii_lowercase(),
            port: url.port_or_known_default()?,
        })
    }

    /// Whether `url` has this origin: `Origin::of(url) == Some(self)`, without building one
    /// (this runs for every request).
    fn is_of(&self, url: &Url) -> bool {
        url.scheme() == self.scheme
            && url.port_or_known_default() == Some(self.port)
            && url
                .host_str()
                .is_some_and(|host| host.eq_ignore_ascii_case(&self.host))
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

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

/// A guest-supplied text in a denial, quoted as a JSON string: denials reach the guest and so
/// the entry, and every host (Node's `JSON.stringify`) quotes the same way.
fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// Take the token out of the instance parameters: `access_token_creds.password` when
/// non-empty, else `access_token` (behaviour.md §1). Both keys are removed either way.
pub fn split_secret(params: &Map<String, Value>) -> (Map<String, Value>, Option<Secret>) {
    let mut rest = params.clone();
    let creds = rest.shift_remove("access_token_creds");
    let plain = rest.shift_remove("access_token");
    let from_creds = creds
        .as_ref()
        .and_then(|c| c.get("password"))
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty());
    let from_plain = plain
        .as_ref()
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty());
    let token = from_creds.or(from_plain).map(Secret::new);
    (rest, token)
}

/// A guest's request as policy sees it.
pub struct GuestAsk<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: Vec<(String, String)>,
    /// The credential reference the guest names, if any.
    pub auth: Option<&'a str>,
}

/// A request policy allowed: its parsed URL and its headers, the credential attached.
#[derive(Debug)]
pub struct Allowed {
    pub url: Url,
    pub headers: Vec<(String, String)>,
}

/// Why policy refused a request: values the guest handles, never traps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Denied(String),
    UnknownCredential(String),
}

/// What one tenant's commands may do.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// None when the configured url is missing or unusable: then nothing is reachable.
    allowed_origin: Option<Origin>,
    credentials: HashMap<String, Secret>,
    /// Every secret in `credentials`, in every form a server may echo it in.
    redactor: Redactor,
}

/// Why a token cannot be used (behaviour.md §1), named without the token: the text of the
/// Type 4 entry the host answers with instead of running the command.
pub fn token_problem(token: &Secret) -> Option<String> {
    (token.expose().chars().count() < MIN_SECRET_CHARS).then(|| {
        format!(
            "Invalid configuration: the access token (\"access_token\" or \"access_token_creds.password\") is shorter than {MIN_SECRET_CHARS} characters, too short for the host to keep it out of the answers it passes on"
        )
    })
}

impl Policy {
    /// The policy of an instance: its url's origin, and its token under `credential_name`.
    /// A url with user information reaches nothing: it carries a credential the host does
    /// not manage.
    pub fn for_instance(url: Option<&str>, credential_name: &str, token: Option<Secret>) -> Policy {
        let allowed_origin = url
            .and_then(|u| Url::parse(u).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .filter(|u| u.username().is_empty() && u.password().is_none())
            .and_then(|u| Origin::of(&u));
        let credentials: HashMap<String, Secret> = token
            .map(|t| (credential_name.to_string(), t))
            .into_iter()
            .collect();
        let redactor = Redactor::new(credentials.values().map(Secret::expose));
        Policy {
            allowed_origin,
            credentials,
            redactor,
        }
    }

    /// Check a guest request's URL and headers; the parsed URL when allowed.
    pub fn check(&self, url: &str, header_names: &[&str]) -> Result<Url, String> {
        // Quoted without its user information, which may hold a password.
        let parsed = Url::parse(url).map_err(|e| {
            format!(
                "{} is not an absolute URL ({e})",
                quoted(&without_user_info(url))
            )
        })?;
        let origin = match &self.allowed_origin {
            Some(allowed) if allowed.is_of(&parsed) => allowed,
            allowed => {
                let origin = Origin::of(&parsed)
                    .ok_or_else(|| format!("{} has no host", quoted(&without_user_info(url))))?;
                return Err(match allowed {
                    Some(allowed) => format!(
                        "origin {origin} is not allowed; this tenant may reach only {allowed}"
                    ),
                    None => format!(
                        "origin {origin} is not allowed; this tenant has no usable url configured"
                    ),
                });
            }
        };
        // The bearer token travels in every request: over plain http anyone on the path reads
        // it. Only a loopback address keeps it on this machine (local test servers).
        if parsed.scheme() == "http" && !is_loopback(&parsed) {
            return Err(format!(
                "plain http is allowed only to a loopback address; {origin} must use https"
            ));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err("URLs with user information are not allowed".into());
        }
        // behaviour.md §3 [fix]: an id is one path segment. A parser that turns `..`, `.`,
        // `%2E%2E` or a backslash into a step up the tree would send the request somewhere
        // the guest did not name, so a path must read the same before and after parsing.
        let written = path_as_written(url);
        if written != parsed.path() && !(written.is_empty() && parsed.path() == "/") {
            return Err(format!(
                "the path of the request URL changes when parsed (to {}): dot segments (\".\", \"..\", \"%2E%2E\"), backslashes and unencoded characters are not allowed",
                quoted(parsed.path())
            ));
        }
        if let Some(name) = header_names.iter().find(|name| {
            FORBIDDEN_GUEST_HEADERS
                .iter()
                .any(|f| f.eq_ignore_ascii_case(name))
        }) {
            return Err(format!("the guest may not set the {} header", quoted(name)));
        }
        Ok(parsed)
    }

    /// Every check, in order (URL and origin, headers, method, credential), and only then
    /// the credential attached as `Authorization: Bearer …`.
    pub fn authorize(&self, ask: GuestAsk<'_>) -> Result<Allowed, Refusal> {
        let names: Vec<&str> = ask.headers.iter().map(|(name, _)| name.as_str()).collect();
        let url = self.check(ask.url, &names).map_err(Refusal::Denied)?;
        if !ALLOWED_METHODS.contains(&ask.method) {
            return Err(Refusal::Denied(format!(
                "method {} is not allowed",
                quoted(ask.method)
            )));
        }
        let secret = match ask.auth {
            None => None,
            Some(name) => Some(
                self.credential(name)
                    .ok_or_else(|| Refusal::UnknownCredential(name.to_string()))?,
            ),
        };
        let mut headers = ask.headers;
        if let Some(secret) = secret {
            headers.push((
                "Authorization".into(),
                format!("Bearer {}", secret.expose()),
            ));
        }
        Ok(Allowed { url, headers })
    }

    pub fn credential(&self, name: &str) -> Option<&Secret> {
        self.credentials.get(name)
    }

    /// A response with every secret of the tenant replaced, in headers (names and values)
    /// and body, before the guest or a recording sees it (behaviour.md §1).
    pub fn scrub_response(&self, response: IncomingResponse) -> IncomingResponse {
        if self.redactor.is_empty() {
            return response;
        }
        let redactor = &self.redactor;
        IncomingResponse {
            status: response.status,
            headers: response
                .headers
                .into_iter()
                .map(|(name, value)| (redactor.scrub_string(name), redactor.scrub_string(value)))
                .collect(),
            body: match redactor.scrub_bytes(&response.body) {
                Some(body) => body,
                None => response.body,
            },
        }
    }

    /// A backend's error with every secret of the tenant replaced in its message.
    pub fn scrub_error(&self, error: BackendError) -> BackendError {
        let scrub = |why: String| self.redactor.scrub_string(why);
        match error {
            BackendError::Transport(why) => BackendError::Transport(scrub(why)),
            BackendError::Tls(why) => BackendError::Tls(scrub(why)),
            BackendError::Protocol(why) => BackendError::Protocol(scrub(why)),
            BackendError::Fault(why) => BackendError::Fault(scrub(why)),
            other @ (BackendError::Timeout | BackendError::TooLarge) => other,
        }
    }
}

/// Where a URL's authority starts and ends, as written: after the scheme's `:` and any
/// slashes (a parser takes backslashes for slashes), up to the path, query or fragment.
fn authority_span(url: &str) -> (usize, usize) {
    // Every delimiter is ASCII, so a byte position is a character boundary.
    let bytes = url.as_bytes();
    let Some(colon) = bytes.iter().position(|&b| b == b':') else {
        return (0, 0);
    };
    let start = colon
        + 1
        + bytes[colon + 1..]
            .iter()
            .take_while(|&&b| matches!(b, b'/' | b'\\'))
            .count();
    let end = bytes[start..]
        .iter()
        .position(|&b| matches!(b, b'/' | b'\\' | b'?' | b'#'))
        .map_or(url.len(), |at| start + at);
    (start, end)
}

/// The path of a URL as written, before any parser normalised it: after the authority, up to
/// the query or fragment.
fn path_as_written(url: &str) -> &str {
    let path = &url[authority_span(url).1..];
    let end = path
        .bytes()
        .position(|b| matches!(b, b'?' | b'#'))
        .unwrap_or(path.len());
    &path[..end]
}

/// A URL as written, with what stands before the last `@` of its authority (a user name and
/// password, as a parser reads it) replaced, so that a refusal can quote it.
fn without_user_info(url: &str) -> std::borrow::Cow<'_, str> {
    let (start, end) = authority_span(url);
    match url[start..end].rfind('@') {
        Some(at) => format!("{}<redacted>{}", &url[..start], &url[start + at..]).into(),
        None => url.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::for_instance(
            Some("https://api.atlassian.com/"),
            "access_token",
            Some(Secret::new("t0k3n")),
        )
    }

    #[test]
    fn the_configured_origin_is_allowed() {
        let url = policy()
            .check(
                "https://api.atlassian.com/scim/directory/d/Users?count=1",
                &["accept"],
            )
            .unwrap();
        assert_eq!(url.path(), "/scim/directory/d/Users");
        assert!(
            policy()
                .check("https://API.atlassian.com:443/x", &[])
                .is_ok()
        );
    }

    #[test]
    fn disallowed_origins_are_denied() {
        for url in [
            "https://evil.example/x",
            "http://api.atlassian.com/x",
            "https://api.atlassian.com:8443/x",
            "https://api.atlassian.com.evil.example/x",
        ] {
            let err = policy().check(url, &[]).unwrap_err();
            assert!(err.contains("is not allowed"), "{url}: {err}");
        }
        assert!(
            policy()
                .check("not a url", &[])
                .unwrap_err()
                .contains("not an absolute URL")
        );
        assert!(
            policy()
                .check("https://u:p@api.atlassian.com/x", &[])
                .is_err()
        );
    }

    #[test]
    fn plain_http_is_allowed_only_to_loopback_addresses() {
        for url in [
            "http://127.0.0.1:8080/scim",
            "http://127.8.9.10/x",
            "http://[::1]:9/x",
            "http://LOCALHOST:5000/x",
        ] {
            let policy = Policy::for_instance(Some(url), "access_token", None);
            assert!(policy.check(url, &[]).is_ok(), "{url}");
        }
        for url in [
            "http://api.atlassian.com/x",
            "http://10.0.0.1:8080/x",
            "http://[::2]/x",
            "http://localhost.evil.example/x",
        ] {
            let policy = Policy::for_instance(Some(url), "access_token", None);
            let err = policy.check(url, &[]).unwrap_err();
            assert!(
                err.contains("plain http is allowed only to a loopback address"),
                "{url}: {err}"
            );
        }
        let https = Policy::for_instance(Some("https://10.0.0.1:8443"), "access_token", None);
        assert!(https.check("https://10.0.0.1:8443/x", &[]).is_ok());
    }

    #[test]
    fn another_loopback_port_is_another_origin() {
        let policy = Policy::for_instance(Some("http://127.0.0.1:4000/scim"), "access_token", None);
        let err = policy
            .check("http://127.0.0.1:4001/scim/directory/d/Users", &[])
            .unwrap_err();
        assert_eq!(
            err,
            "origin http://127.0.0.1:4001 is not allowed; this tenant may reach only http://127.0.0.1:4000"
        );
    }

    #[test]
    fn guest_credentials_and_routing_headers_are_refused() {
        for name in ["Authorization", "cookie", "HOST", "Proxy-Authorization"] {
            let err = policy()
                .check("https://api.atlassian.com/x", &[name])
                .unwrap_err();
            assert!(err.contains("may not set"), "{err}");
        }
    }

    #[test]
    fn no_usable_url_means_nothing_is_reachable() {
        let policy = Policy::for_instance(Some("ftp://x"), "access_token", None);
        assert!(policy.check("ftp://x/y", &[]).is_err());
        assert!(
            Policy::for_instance(None, "a", None)
                .check("https://a/", &[])
                .is_err()
        );
    }

    #[test]
    fn the_credential_is_attached_only_after_every_check() {
        let ask = |method, url, headers: Vec<(String, String)>, auth| GuestAsk {
            method,
            url,
            headers,
            auth,
        };
        let allowed = policy()
            .authorize(ask(
                "GET",
                "https://api.atlassian.com/x",
                vec![("Accept".into(), "application/json".into())],
                Some("access_token"),
            ))
            .unwrap();
        assert_eq!(
            allowed.headers,
            [
                ("Accept".to_string(), "application/json".to_string()),
                ("Authorization".to_string(), "Bearer t0k3n".to_string())
            ]
        );
        let refusals = [
            ask(
                "TRACE",
                "https://api.atlassian.com/x",
                vec![],
                Some("access_token"),
            ),
            ask(
                "GET",
                "https://evil.example/x",
                vec![],
                Some("access_token"),
            ),
            ask(
                "GET",
                "https://api.atlassian.com/x",
                vec![("Cookie".into(), "a".into())],
                Some("access_token"),
            ),
        ];
        for refused in refusals {
            assert!(matches!(
                policy().authorize(refused),
                Err(Refusal::Denied(_))
            ));
        }
        assert_eq!(
            policy()
                .authorize(ask(
                    "GET",
                    "https://api.atlassian.com/x",
                    vec![],
                    Some("other")
                ))
                .unwrap_err(),
            Refusal::UnknownCredential("other".into())
        );
    }

    #[test]
    fn the_token_is_taken_out_of_the_parameters_and_creds_win() {
        use serde_json::json;
        let params = json!({"url": "u", "access_token": "plain", "access_token_creds": {"password": "creds"}});
        let (rest, token) = split_secret(params.as_object().unwrap());
        assert_eq!(Value::Object(rest), json!({"url": "u"}));
        assert_eq!(token.map(|t| t.expose().to_string()), Some("creds".into()));
        let params = json!({"access_token": "plain", "access_token_creds": {"password": ""}});
        assert_eq!(
            split_secret(params.as_object().unwrap())
                .1
                .map(|t| t.expose().to_string()),
            Some("plain".into())
        );
        assert!(
            split_secret(json!({"access_token": 5}).as_object().unwrap())
                .1
                .is_none()
        );
    }

    #[test]
    fn secrets_never_print() {
        assert!(!format!("{:?}", policy()).contains("t0k3n"));
        assert_eq!(
            policy().credential("access_token").map(Secret::expose),
            Some("t0k3n")
        );
        assert!(policy().credential("other").is_none());
    }
    #[test]
    fn a_path_that_changes_when_parsed_is_denied() {
        // behaviour.md §3: `.`, `..` and their encodings would leave the directory the guest
        // named; so would a backslash, and a tab the parser drops.
        for path in [
            "/scim/directory/d/Users/..",
            "/scim/directory/d/Users/../../admin",
            "/scim/directory/d/Users/./x",
            "/scim/directory/d/Users/%2E%2E",
            "/scim/directory/d/Users/%2e%2E/x",
            "/scim/directory/d/Users/.%2e",
            "/scim/directory/d/Users/%2e",
            "/scim/directory/d\\..\\x",
            "/scim/directory/d/Us\ters",
        ] {
            let url = format!("https://api.atlassian.com{path}?count=1");
            let err = policy().check(&url, &[]).unwrap_err();
            assert!(
                err.starts_with("the path of the request URL changes when parsed"),
                "{path}: {err}"
            );
        }
        for path in [
            "/scim/directory/d/Users/%2F..%2F",
            "/scim/directory/d/Users/a.b",
            "/scim/directory/d/Users/...",
            "/scim/directory/d/Users/%2E%2E%2E",
            "/scim/directory/d/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            "",
            "/",
        ] {
            let url = format!("https://api.atlassian.com{path}?filter=userName%20eq%20%22..%22");
            assert!(policy().check(&url, &[]).is_ok(), "{path}");
        }
    }

    #[test]
    fn refusals_never_echo_the_user_information_of_a_url() {
        for url in [
            "https://user:password@api.atlassian.com/x",
            "https://user:password@/x",
            "https://user:password@[::1/x",
            "https://user:password@api.atlassian.com:99999/x",
            "https://user:password@evil.example/x",
            "http://user:password@api.atlassian.com/x",
            "user:password@api.atlassian.com/x",
        ] {
            // What a parser reads as user information is never quoted.
            let err = policy().check(url, &[]).unwrap_err();
            assert!(!err.contains("password"), "{url}: {err}");
        }
        assert_eq!(
            policy().check("https://user:password@/x", &[]).unwrap_err(),
            "\"https://<redacted>@/x\" is not an absolute URL (empty host)"
        );
        // A configured url with user information reaches nothing.
        let policy = Policy::for_instance(Some("https://u:pw@api.atlassian.com"), "a", None);
        let err = policy
            .check("https://api.atlassian.com/x", &[])
            .unwrap_err();
        assert!(err.contains("no usable url configured"), "{err}");
    }

    #[test]
    fn a_token_shorter_than_eight_characters_is_a_configuration_error_that_does_not_show_it() {
        let problem = token_problem(&Secret::new("short12")).unwrap();
        assert!(
            problem.starts_with("Invalid configuration: the access token"),
            "{problem}"
        );
        assert!(!problem.contains("short12"));
        assert_eq!(token_problem(&Secret::new("long-enough")), None);
        // Characters, not bytes: eight of them, sixteen bytes.
        assert_eq!(token_problem(&Secret::new("éééééééé")), None);
    }

    #[test]
    fn the_tenants_token_is_scrubbed_from_headers_bodies_and_error_messages() {
        let policy = Policy::for_instance(
            Some("https://api.atlassian.com/"),
            "access_token",
            Some(Secret::new("t0k3n-abcdefgh")),
        );
        let scrubbed = policy.scrub_response(IncomingResponse {
            status: 401,
            headers: vec![
                ("WWW-Authenticate".into(), "Bearer t0k3n-abcdefgh".into()),
                ("x-t0k3n-abcdefgh".into(), "1".into()),
            ],
            body: br#"{"detail":"invalid credentials: Bearer t0k3n-abcdefgh"}"#.to_vec(),
        });
        assert_eq!(
            scrubbed,
            IncomingResponse {
                status: 401,
                headers: vec![
                    ("WWW-Authenticate".into(), "Bearer <redacted>".into()),
                    ("x-<redacted>".into(), "1".into()),
                ],
                body: br#"{"detail":"invalid credentials: Bearer <redacted>"}"#.to_vec(),
            }
        );
        assert_eq!(
            policy.scrub_error(BackendError::Protocol("bad t0k3n-abcdefgh".into())),
            BackendError::Protocol("bad <redacted>".into())
        );
    }
}
