//! The proxy.

use super::*;

const PROXY_PASSWORD: &str = "proxy-pass-Wd9";

#[test]
fn a_loopback_target_never_goes_through_the_proxy_and_no_message_shows_its_password() {
    let proxy = Server::start(|_| http(407, &[("proxy-authenticate", "Basic realm=\"p\"")], ""));
    let proxy_url = format!("http://proxyuser:{PROXY_PASSWORD}@{}", proxy.address());
    let env = [
        ("HTTP_PROXY", Some(proxy_url.as_str())),
        ("HTTPS_PROXY", Some(proxy_url.as_str())),
        ("http_proxy", Some(proxy_url.as_str())),
        ("https_proxy", Some(proxy_url.as_str())),
        ("NO_PROXY", None),
        ("no_proxy", None),
    ];
    let server = Server::start(|_| http(200, &[], r#"{"totalResults":0,"Resources":[]}"#));
    let dir = Scratch::new("proxy");
    let config = dir.json(
        "local.json",
        &params(&server.url(), TOKEN, json!({"proxy": true})),
    );
    let run = iam_host_with(
        &[
            OsStr::new("run"),
            OsStr::new("test-module"),
            OsStr::new("--config"),
            config.as_os_str(),
            OsStr::new("--live"),
        ],
        &env,
        Stderr::Captured,
    );
    assert_eq!(
        (run.code, entry(&run)),
        (
            0,
            json!({"Type": 1, "ContentsFormat": "text", "Contents": "ok"})
        ),
        "{}",
        run.stderr
    );
    assert_eq!(
        proxy.connections(),
        0,
        "a loopback request went through the proxy"
    );
    assert!(server.requests()[0].contains(&format!("authorization: Bearer {TOKEN}")));

    // A remote target does go through the proxy, which refuses it: the message names neither
    // the proxy's password nor the token, and the proxy never saw the token.
    let config = dir.json(
        "remote.json",
        &params(
            "https://scim.proxied.example",
            TOKEN,
            json!({"proxy": true}),
        ),
    );
    let limits = dir.json("limits.json", &json!({"wall_millis": 1500}));
    let run = iam_host_with(
        &[
            OsStr::new("run"),
            OsStr::new("test-module"),
            OsStr::new("--config"),
            config.as_os_str(),
            OsStr::new("--live"),
            OsStr::new("--limits"),
            limits.as_os_str(),
        ],
        &env,
        Stderr::Captured,
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        proxy
            .requests()
            .iter()
            .any(|r| r.starts_with("CONNECT scim.proxied.example:443")),
        "{:?}",
        proxy.requests()
    );
    let basic = base64(format!("proxyuser:{PROXY_PASSWORD}").as_bytes(), false);
    for (what, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(
            !text.contains(PROXY_PASSWORD) && !text.contains(&basic),
            "{what}: {text}"
        );
        assert_no_token(TOKEN, what, text);
    }
    for request in proxy.requests() {
        assert_no_token(TOKEN, "what the proxy saw", &request);
    }
}
