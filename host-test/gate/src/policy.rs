//! A tenant's request policy, all of it: the one origin its requests may reach (that of the
//! configured `url`, parsed here once), plain http only to a loopback address, paths that
//! mean what they say, the methods and headers a guest may use, the credential attached to a
//! request only after every check has passed, and the tenant's secrets scrubbed from every
//! answer. Pure functions.
//!
//! A refusal is a typed [`Denial`]; the connector words it. It never carries what the guest
//! sent in a URL's user information: that may be a credential.

use std::fmt;
use url::{Host, Url};

use crate::redact::Redactor;
use crate::secret::Secret;
use crate::wire::{IncomingResponse, WireError};

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

/// Whether a URL's host is a loopback address (or `localhost`): the only place plain http
/// may go, and never through a proxy.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Why policy refused a request (WIT `http.denial`). Texts taken from the guest's URL have
/// its user information replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    NotAbsolute {
        url: String,
        reason: String,
    },
    NoHost(String),
    OriginNotAllowed {
        origin: String,
        /// None when the configured url is missing or unusable.
        allowed: Option<String>,
    },
    /// Plain http to this origin, which is not loopback.
    PlainHttp(String),
    UserInfo,
    /// The path as parsed.
    PathChanges(String),
    ForbiddenHeader(String),
    MethodNotAllowed(String),
    RequestTooLarge {
        size: u64,
        cap: u64,
    },
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
    Denied(Denial),
    UnknownCredential(String),
}

/// What one tenant's commands may do.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// None when the configured url is missing or unusable: then nothing is reachable.
    allowed_origin: Option<Origin>,
    credentials: Vec<(String, Secret)>,
    /// Every secret in `credentials`, in every form a server may echo it in.
    redactor: Redactor,
}

impl Policy {
    /// The policy of an instance: its url's origin, and its secrets by reference name. A url
    /// with user information reaches nothing: it carries a credential the host does not
    /// manage.
    pub fn for_instance(url: Option<&str>, credentials: Vec<(String, Secret)>) -> Policy {
        let allowed_origin = url
            .and_then(|u| Url::parse(u).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .filter(|u| u.username().is_empty() && u.password().is_none())
            .and_then(|u| Origin::of(&u));
        let redactor = Redactor::new(credentials.iter().map(|(_, secret)| secret.expose()));
        Policy {
            allowed_origin,
            credentials,
            redactor,
        }
    }

    /// Check a guest request's URL and headers; the parsed URL when allowed.
    pub fn check(&self, url: &str, header_names: &[&str]) -> Result<Url, Denial> {
        let parsed = Url::parse(url).map_err(|e| Denial::NotAbsolute {
            url: without_user_info(url).into_owned(),
            reason: e.to_string(),
        })?;
        let origin = match &self.allowed_origin {
            Some(allowed) if allowed.is_of(&parsed) => allowed,
            allowed => {
                let origin = Origin::of(&parsed)
                    .ok_or_else(|| Denial::NoHost(without_user_info(url).into_owned()))?;
                return Err(Denial::OriginNotAllowed {
                    origin: origin.to_string(),
                    allowed: allowed.as_ref().map(Origin::to_string),
                });
            }
        };
        // The bearer token travels in every request: over plain http anyone on the path reads
        // it. Only a loopback address keeps it on this machine (local test servers).
        if parsed.scheme() == "http" && !is_loopback(&parsed) {
            return Err(Denial::PlainHttp(origin.to_string()));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(Denial::UserInfo);
        }
        // behaviour.md §3 [fix]: an id is one path segment. A parser that turns `..`, `.`,
        // `%2E%2E` or a backslash into a step up the tree would send the request somewhere
        // the guest did not name, so a path must read the same before and after parsing.
        let written = path_as_written(url);
        if written != parsed.path() && !(written.is_empty() && parsed.path() == "/") {
            return Err(Denial::PathChanges(parsed.path().to_string()));
        }
        if let Some(name) = header_names.iter().find(|name| {
            FORBIDDEN_GUEST_HEADERS
                .iter()
                .any(|f| f.eq_ignore_ascii_case(name))
        }) {
            return Err(Denial::ForbiddenHeader(name.to_string()));
        }
        Ok(parsed)
    }

    /// Every check, in order (URL and origin, headers, method, credential), and only then
    /// the credential attached as `Authorization: Bearer …`.
    pub fn authorize(&self, ask: GuestAsk<'_>) -> Result<Allowed, Refusal> {
        let names: Vec<&str> = ask.headers.iter().map(|(name, _)| name.as_str()).collect();
        let url = self.check(ask.url, &names).map_err(Refusal::Denied)?;
        if !ALLOWED_METHODS.contains(&ask.method) {
            return Err(Refusal::Denied(Denial::MethodNotAllowed(
                ask.method.to_string(),
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
        self.credentials
            .iter()
            .find(|(held, _)| held == name)
            .map(|(_, secret)| secret)
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

    /// A wire error with every secret of the tenant replaced in its message.
    pub fn scrub_error(&self, error: WireError) -> WireError {
        let scrub = |why: String| self.redactor.scrub_string(why);
        match error {
            WireError::Transport(why) => WireError::Transport(scrub(why)),
            WireError::Tls(why) => WireError::Tls(scrub(why)),
            WireError::Protocol(why) => WireError::Protocol(scrub(why)),
            other @ (WireError::Timeout | WireError::TooLarge) => other,
        }
    }

    /// A text with every secret of the tenant replaced (a replay report, a log line).
    pub fn scrub_text(&self, text: String) -> String {
        self.redactor.scrub_string(text)
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

    fn secrets(token: &str) -> Vec<(String, Secret)> {
        vec![("access_token".to_string(), Secret::new(token))]
    }

    fn policy() -> Policy {
        Policy::for_instance(Some("https://api.atlassian.com/"), secrets("t0k3n"))
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
            assert!(
                matches!(&err, Denial::OriginNotAllowed { allowed: Some(a), .. } if a == "https://api.atlassian.com:443"),
                "{url}: {err:?}"
            );
        }
        assert!(matches!(
            policy().check("not a url", &[]),
            Err(Denial::NotAbsolute { .. })
        ));
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
            let policy = Policy::for_instance(Some(url), Vec::new());
            assert!(policy.check(url, &[]).is_ok(), "{url}");
        }
        for url in [
            "http://api.atlassian.com/x",
            "http://10.0.0.1:8080/x",
            "http://[::2]/x",
            "http://localhost.evil.example/x",
        ] {
            let policy = Policy::for_instance(Some(url), Vec::new());
            let err = policy.check(url, &[]).unwrap_err();
            assert!(matches!(err, Denial::PlainHttp(_)), "{url}: {err:?}");
        }
        let https = Policy::for_instance(Some("https://10.0.0.1:8443"), Vec::new());
        assert!(https.check("https://10.0.0.1:8443/x", &[]).is_ok());
    }

    #[test]
    fn another_loopback_port_is_another_origin() {
        let policy = Policy::for_instance(Some("http://127.0.0.1:4000/scim"), Vec::new());
        let err = policy
            .check("http://127.0.0.1:4001/scim/directory/d/Users", &[])
            .unwrap_err();
        assert_eq!(
            err,
            Denial::OriginNotAllowed {
                origin: "http://127.0.0.1:4001".into(),
                allowed: Some("http://127.0.0.1:4000".into())
            }
        );
    }

    #[test]
    fn guest_credentials_and_routing_headers_are_refused() {
        for name in ["Authorization", "cookie", "HOST", "Proxy-Authorization"] {
            let err = policy()
                .check("https://api.atlassian.com/x", &[name])
                .unwrap_err();
            assert_eq!(err, Denial::ForbiddenHeader(name.to_string()));
        }
    }

    #[test]
    fn no_usable_url_means_nothing_is_reachable() {
        let policy = Policy::for_instance(Some("ftp://x"), Vec::new());
        assert!(policy.check("ftp://x/y", &[]).is_err());
        assert!(matches!(
            Policy::for_instance(None, Vec::new()).check("https://a/", &[]),
            Err(Denial::OriginNotAllowed { allowed: None, .. })
        ));
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
            assert!(matches!(err, Denial::PathChanges(_)), "{path}: {err:?}");
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
            assert!(!format!("{err:?}").contains("password"), "{url}: {err:?}");
        }
        assert_eq!(
            policy().check("https://user:password@/x", &[]).unwrap_err(),
            Denial::NotAbsolute {
                url: "https://<redacted>@/x".into(),
                reason: "empty host".into()
            }
        );
        // A configured url with user information reaches nothing.
        let policy = Policy::for_instance(Some("https://u:pw@api.atlassian.com"), Vec::new());
        let err = policy
            .check("https://api.atlassian.com/x", &[])
            .unwrap_err();
        assert!(
            matches!(err, Denial::OriginNotAllowed { allowed: None, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn the_tenants_token_is_scrubbed_from_headers_bodies_and_error_messages() {
        let policy = Policy::for_instance(
            Some("https://api.atlassian.com/"),
            secrets("t0k3n-abcdefgh"),
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
            policy.scrub_error(WireError::Protocol("bad t0k3n-abcdefgh".into())),
            WireError::Protocol("bad <redacted>".into())
        );
    }
}
