//! The system proxy settings an instance with `proxy: true` goes through, and which
//! requests go direct. A loopback target is never proxied: the token would cross to the proxy
//! in clear for a server that is on this machine anyway.

use iam_gate::policy::is_loopback;
use std::fmt;
use url::Url;

/// The system proxy settings: `HTTPS_PROXY` for https, `HTTP_PROXY` for http, and the hosts
/// in `NO_PROXY` that go direct (upper- or lower-case names, upper-case first, as curl reads
/// them). Its Debug hides the proxy URLs, which may carry a password.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    pub https_proxy: Option<String>,
    pub http_proxy: Option<String>,
    pub no_proxy: Option<String>,
}

impl fmt::Debug for ProxyEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyEnv")
            .field("https_proxy", &self.https_proxy.as_ref().map(|_| "<set>"))
            .field("http_proxy", &self.http_proxy.as_ref().map(|_| "<set>"))
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

impl ProxyEnv {
    /// The settings of this process's environment.
    pub fn from_system() -> ProxyEnv {
        let read = |upper: &str, lower: &str| {
            [upper, lower].into_iter().find_map(|name| {
                std::env::var(name)
                    .ok()
                    .filter(|value| !value.trim().is_empty())
            })
        };
        ProxyEnv {
            https_proxy: read("HTTPS_PROXY", "https_proxy"),
            http_proxy: read("HTTP_PROXY", "http_proxy"),
            no_proxy: read("NO_PROXY", "no_proxy"),
        }
    }

    /// The proxy a request to `url` goes through, if any.
    pub fn proxy_for(&self, url: &Url) -> Option<&str> {
        if is_loopback(url) {
            return None;
        }
        let proxy = match url.scheme() {
            "https" => self.https_proxy.as_deref(),
            "http" => self.http_proxy.as_deref(),
            _ => None,
        }?;
        (!self.bypasses(url)).then_some(proxy)
    }

    /// Whether `NO_PROXY` sends `url` direct. Entries are separated by commas: `*` (every
    /// host), a host name (itself and its subdomains; a leading `.` or `*.` is optional), an
    /// IP address, each optionally with `:port`. CIDR ranges are not supported.
    fn bypasses(&self, url: &Url) -> bool {
        let (Some(list), Some(host)) = (&self.no_proxy, url.host_str()) else {
            return false;
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let port = url.port_or_known_default();
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .any(|entry| {
                if entry == "*" {
                    return true;
                }
                let (name, entry_port) = split_port(entry);
                let name = name
                    .trim_start_matches("*.")
                    .trim_start_matches('.')
                    .to_ascii_lowercase();
                let port_matches = entry_port.is_none_or(|p| Some(p) == port);
                port_matches && (host == name || host.ends_with(&format!(".{name}")))
            })
    }
}

/// `host:port` into its parts; a bare IPv6 address (several colons) has no port unless it is
/// bracketed.
fn split_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        let (address, after) = rest.split_once(']').unwrap_or((rest, ""));
        return (
            address,
            after.strip_prefix(':').and_then(|p| p.parse().ok()),
        );
    }
    match entry.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => match port.parse() {
            Ok(port) => (name, Some(port)),
            Err(_) => (entry, None),
        },
        _ => (entry, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn the_proxy_follows_the_scheme_and_no_proxy_sends_direct() {
        let env = ProxyEnv {
            https_proxy: Some("http://secure-proxy:3128".into()),
            http_proxy: Some("http://plain-proxy:3128".into()),
            no_proxy: Some(
                "localhost, .internal.example,*.corp.example, 10.1.2.3, api.example:8443, [fd00::1]:9"
                    .into(),
            ),
        };
        assert_eq!(
            env.proxy_for(&url("https://api.atlassian.com/x")),
            Some("http://secure-proxy:3128")
        );
        assert_eq!(
            env.proxy_for(&url("http://10.9.9.9:8080/x")),
            Some("http://plain-proxy:3128")
        );
        for direct in [
            "http://localhost:5000/",
            "https://a.internal.example/",
            "https://internal.example/",
            "https://x.corp.example/",
            "http://10.1.2.3/",
            "https://api.example:8443/",
            "http://[fd00::1]:9/",
        ] {
            assert_eq!(env.proxy_for(&url(direct)), None, "{direct}");
        }
        for proxied in [
            "https://api.example/",
            "https://notinternal.example/",
            "http://10.1.2.33/",
            "http://[fd00::1]:10/",
        ] {
            assert!(env.proxy_for(&url(proxied)).is_some(), "{proxied}");
        }
        let everything = ProxyEnv {
            no_proxy: Some("*".into()),
            ..env.clone()
        };
        assert_eq!(
            everything.proxy_for(&url("https://api.atlassian.com/")),
            None
        );
        let https_only = ProxyEnv {
            http_proxy: None,
            ..env
        };
        assert_eq!(
            https_only.proxy_for(&url("http://api.atlassian.com/")),
            None
        );
    }

    #[test]
    fn proxy_urls_never_print() {
        let env = ProxyEnv {
            https_proxy: Some("http://user:pa55word@proxy:3128".into()),
            ..ProxyEnv::default()
        };
        assert!(!format!("{env:?}").contains("pa55word"));
    }

    #[test]
    fn a_loopback_target_is_never_proxied() {
        let env = ProxyEnv {
            https_proxy: Some("http://proxy:3128".into()),
            http_proxy: Some("http://proxy:3128".into()),
            no_proxy: None,
        };
        for local in [
            "http://127.0.0.1:8080/x",
            "https://localhost/x",
            "http://[::1]:9/x",
            "http://127.9.9.9/",
        ] {
            assert_eq!(env.proxy_for(&url(local)), None, "{local}");
        }
        assert!(env.proxy_for(&url("http://10.0.0.1/x")).is_some());
    }
}
