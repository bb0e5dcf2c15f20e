"""The host's pure parts: serde_json-compatible JSON, URLs and the tenant policy, the secret
scrubber (the Rust host's redact.rs cases), the cassette matcher, the limits file."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest

from iam_host import jsonio, urls
from iam_host.backend import OutgoingRequest
from iam_host.cassette import Cassette, Matcher, RecordedRequest, Replay, body_bytes
from iam_host.limits import Limits, LimitsError
from iam_host.policy import Denied, Policy, Secret, UnknownCredential, split_secret, token_problem
from iam_host.scrub import REDACTED, Scrubber

# --- JSON -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, text",
    [(1.0, "1.0"), (0.1, "0.1"), (1e16, "1e+16"), (1e15, "1000000000000000.0"), (1e-5, "0.00001"),
     (1e-6, "1e-6"), (1.5e-7, "1.5e-7"), (-0.0, "-0.0"), (2.5e300, "2.5e+300"), (123.456, "123.456")],
)
def test_floats_print_as_serde_json_prints_them(value, text):
    assert jsonio.dumps(value) == text
    assert jsonio.dumps({"a": [value]}) == f'{{"a":[{text}]}}'


def test_numbers_read_as_serde_json_reads_them():
    value = jsonio.loads('{"u":18446744073709551615,"big":18446744073709551616,"neg":-5,"z":-0,"f":1e2}')
    assert value == {"u": 2**64 - 1, "big": 1.8446744073709552e19, "neg": -5, "z": -0.0, "f": 100.0}
    assert isinstance(value["big"], float) and isinstance(value["f"], float)
    assert jsonio.dumps(value) == '{"u":18446744073709551615,"big":1.8446744073709552e+19,"neg":-5,"z":-0.0,"f":100.0}'


def test_key_order_is_kept_and_a_repeated_key_keeps_its_first_place():
    value = jsonio.loads('{"z":1,"a":2,"z":3}')
    assert list(value) == ["z", "a"] and value["z"] == 3 and value.repeated_keys == ["z"]
    assert jsonio.dumps(value) == '{"z":3,"a":2}'


@pytest.mark.parametrize("text", ["NaN", "[1,]", '"\\ud800"', '"\\udc00x"', "01", "1e400", "\ufeff{}", "[" * 128 + "]" * 128, "{} x"])
def test_what_serde_json_refuses_is_refused(text):
    with pytest.raises(jsonio.JsonError):
        jsonio.loads(text)


def test_nesting_up_to_serde_json_limit_is_read():
    assert jsonio.loads("[" * 127 + "]" * 127) is not None


def test_strings_escape_as_serde_json_escapes_them():
    assert jsonio.dumps("a\"\\\n\x01\x7fé/") == '"a\\"\\\\\\n\\u0001\x7fé/"'
    assert jsonio.dumps({"x": 1.5, "s": "é\x01"}) == '{"x":1.5,"s":"é\\u0001"}'


def test_equality_keeps_number_kinds_apart_and_ignores_key_order():
    assert jsonio.equal({"a": 1, "b": [True]}, {"b": [True], "a": 1})
    assert not jsonio.equal(1, 1.0)
    assert not jsonio.equal(True, 1)
    assert not jsonio.equal([1], [1, 2])


def test_pretty_printing_is_serde_json_pretty():
    assert jsonio.dumps_pretty({"a": [1, {}], "b": {"c": []}, "d": 0.5}) == (
        '{\n  "a": [\n    1,\n    {}\n  ],\n  "b": {\n    "c": []\n  },\n  "d": 0.5\n}'
    )


# --- URLs and policy --------------------------------------------------------------------------


def policy(token: str | None = "t0k3n-value") -> Policy:
    return Policy.for_instance("https://api.atlassian.com/", "access_token", Secret(token) if token else None)


def test_the_configured_origin_is_allowed_in_any_spelling():
    parsed = policy().check("https://api.atlassian.com/scim/directory/d/Users?count=1", ["accept"])
    assert parsed.path == "/scim/directory/d/Users" and parsed.query_pairs() == [("count", "1")]
    policy().check("https://API.atlassian.com:443/x", [])


@pytest.mark.parametrize(
    "url, fragment",
    [("https://evil.example/x", "is not allowed; this tenant may reach only https://api.atlassian.com:443"),
     ("http://api.atlassian.com/x", "origin http://api.atlassian.com:80 is not allowed"),
     ("https://api.atlassian.com:8443/x", "is not allowed"),
     ("https://api.atlassian.com.evil.example/x", "is not allowed"),
     ("not a url", '"not a url" is not an absolute URL (relative URL without a base)'),
     ("https://u:p@:80/x", '"https://<redacted>@:80/x" is not an absolute URL'),
     ("https://u:p@api.atlassian.com/x", "URLs with user information are not allowed"),
     ("mailto:x@y", '"mailto:<redacted>@y" has no host'),
     ("https://api.atlassian.com/scim/directory/d/Users/../../../admin", 'changes when parsed (to "/scim/admin")'),
     ("https://api.atlassian.com/scim/Users/%2E%2e", 'changes when parsed (to "/scim/")'),
     ("https://api.atlassian.com/scim\\Users", 'changes when parsed (to "/scim/Users")'),
     ("https://api.atlassian.com/a b", 'changes when parsed (to "/a%20b")')],
)
def test_requests_off_the_policy_are_denied(url, fragment):
    with pytest.raises(Denied) as denied:
        policy().check(url, [])
    assert fragment in str(denied.value)
    assert "t0k3n" not in str(denied.value) and "u:p" not in str(denied.value)


def test_plain_http_only_to_loopback():
    for url in ["http://127.0.0.1:8080/scim", "http://127.8.9.10/x", "http://[::1]:9/x", "http://LOCALHOST:5000/x"]:
        Policy.for_instance(url, "access_token", None).check(url, [])
    for url in ["http://10.0.0.1:8080/x", "http://[::2]/x", "http://localhost.evil.example/x"]:
        with pytest.raises(Denied, match="plain http is allowed only to a loopback address"):
            Policy.for_instance(url, "access_token", None).check(url, [])


def test_guest_credentials_and_routing_headers_are_refused_then_the_method_then_the_credential():
    for name in ["Authorization", "cookie", "HOST", "Proxy-Authorization", "Set-Cookie"]:
        with pytest.raises(Denied, match=f'the guest may not set the "{name}" header'):
            policy().authorize("GET", "https://api.atlassian.com/x", [(name, "v")], "access_token")
    with pytest.raises(Denied, match='method "TRACE" is not allowed'):
        policy().authorize("TRACE", "https://api.atlassian.com/x", [], "access_token")
    with pytest.raises(UnknownCredential):
        policy().authorize("GET", "https://api.atlassian.com/x", [], "someone_elses_token")
    _, headers = policy().authorize("GET", "https://api.atlassian.com/x", [("Accept", "application/json")], "access_token")
    assert headers == [("Accept", "application/json"), ("Authorization", "Bearer t0k3n-value")]
    _, headers = policy().authorize("GET", "https://api.atlassian.com/x", [], None)
    assert headers == []


def test_no_usable_url_reaches_nothing():
    for url in ["ftp://x", None, "https://user:pw@api.atlassian.com", 5]:
        with pytest.raises(Denied, match="no usable url configured"):
            Policy.for_instance(url, "access_token", None).check("https://api.atlassian.com/x", [])


def test_the_token_is_taken_out_and_creds_win():
    rest, token = split_secret({"url": "u", "access_token": "plain-token", "access_token_creds": {"password": "creds-token"}})
    assert rest == {"url": "u"} and token.expose() == "creds-token" and "creds" not in repr(token)
    assert split_secret({"access_token": "plain-token", "access_token_creds": {"password": ""}})[1].expose() == "plain-token"
    assert split_secret({"access_token": 5})[1] is None
    assert "shorter than 8 characters" in token_problem(Secret("short"))
    assert token_problem(Secret("long-enough")) is None


def test_whatwg_hosts_and_paths():
    assert urls.parse("http://127.1:8080/x").host == "127.0.0.1"
    assert urls.parse("http://0x7f.1/x").host == "127.0.0.1"
    assert urls.parse("https://bücher.example/x").host == "xn--bcher-kva.example"
    assert urls.parse("https://h/a/./b/../c").normalized_path() == "/a/c"
    assert urls.parse("https://h").normalized_path() == "/"
    assert urls.path_as_written("https://h") == "" and urls.path_as_written("https://h/a?b#c") == "/a"
    assert urls.without_user_info("https://user:pw@h/x") == "https://<redacted>@h/x"
    for bad, why in [("https://", "empty host"), ("https://h:99999/", "invalid port number"), ("https://[zz]/", "invalid IPv6 address")]:
        with pytest.raises(urls.UrlError, match=why):
            urls.parse(bad)


# --- the scrubber (host-test/src/redact.rs's cases) -------------------------------------------

TOKEN = "s3cr3t/T0k+n=42"


def scrub(text: str, secrets=(TOKEN,)) -> str:
    return Scrubber(secrets).scrub_text(text)


def test_the_secret_as_it_is_is_replaced_wherever_it_stands():
    assert scrub(f'{{"detail":"invalid credentials: Bearer {TOKEN}"}}') == '{"detail":"invalid credentials: Bearer <redacted>"}'
    assert scrub(f"<p>{TOKEN}</p><p>{TOKEN}{TOKEN}</p>") == "<p><redacted></p><p><redacted><redacted></p>"
    assert scrub("nothing to see") == "nothing to see"


def test_percent_encoded_forms_in_either_hex_case_and_mixed_are_replaced():
    upper = "".join(f"%{b:02X}" for b in TOKEN.encode())
    for encoded in [upper, upper.lower(), "s3cr3t%2fT0k%2Bn%3D42", "%73" + TOKEN[1:], quote(TOKEN, safe="")]:
        assert scrub(f"?q={encoded}&x=1") == "?q=<redacted>&x=1", encoded


def test_json_escaped_forms_are_replaced():
    unicode = "".join(f"\\u{ord(c):04x}" for c in TOKEN)
    for escaped in [TOKEN.replace("/", "\\/"), unicode, unicode.upper().replace("\\U", "\\u"), json.dumps(TOKEN, ensure_ascii=True)[1:-1]]:
        assert scrub(f'{{"a":"{escaped}"}}') == '{"a":"<redacted>"}', escaped
    astral = "t0k3n-\U0001F511-long"
    assert scrub("[" + astral.replace("\U0001F511", "\\uD83D\\uDD11") + "]", (astral,)) == "[<redacted>]"


def test_base64_forms_are_replaced_padded_unpadded_url_safe_and_inside_longer_text():
    standard = base64.b64encode(TOKEN.encode()).decode()
    url_safe = base64.urlsafe_b64encode(TOKEN.encode()).decode()
    for encoded in [standard, standard.rstrip("="), url_safe, url_safe.rstrip("=")]:
        assert scrub(f"x {encoded} y") == "x <redacted> y", encoded
    for prefix in ["Bearer ", "user:", "ab:"]:
        encoded = base64.b64encode(f"{prefix}{TOKEN}!".encode()).decode()
        scrubbed = scrub(encoded)
        kept = 8 * len(prefix) // 6
        assert scrubbed[:kept] == encoded[:kept] and REDACTED in scrubbed[kept:], prefix
        assert len(scrubbed[kept:]) <= len(REDACTED) + 5, scrubbed


def test_scrubbing_twice_changes_nothing():
    once = scrub("a redacted b", ("redacted",))
    assert once == "a <redacted> b" and scrub(once, ("redacted",)) == once
    once = scrub(f"{TOKEN} {base64.b64encode(TOKEN.encode()).decode()}")
    assert scrub(once) == once


def test_every_secret_is_replaced_and_bytes_need_not_be_utf8():
    assert Scrubber(["first-secret", "second-secret", ""]).scrub_text("first-secret second-secret") == "<redacted> <redacted>"
    assert not Scrubber([""])
    body = b"\xff\xfe" + TOKEN.encode() + b"\x80"
    assert Scrubber([TOKEN]).scrub_bytes(body) == b"\xff\xfe" + REDACTED.encode() + b"\x80"


# --- the cassette matcher ---------------------------------------------------------------------


def actual(method: str, url: str, headers=(), body=None) -> OutgoingRequest:
    return OutgoingRequest(method, urls.parse(url), url, list(headers), body, 5.0)


def recorded(**fields) -> Matcher:
    return Matcher(RecordedRequest(fields["method"], fields["url"], fields.get("headers"), fields.get("body", Matcher)))


def matcher(value: dict) -> Matcher:
    cassette = Cassette.from_json({"interactions": [{"request": value, "response": {"status": 200}}]})
    return cassette.matchers[0]


def test_spaces_match_as_plus_or_percent_20_and_parameter_order_is_free():
    m = matcher({"method": "GET", "url": "https://h/scim/Users?filter=userName+eq+%22a%40b%22&count=1"})
    assert m.mismatch(actual("GET", "https://h/scim/Users?count=1&filter=userName%20eq%20%22a@b%22")) is None
    assert m.mismatch(actual("GET", "https://h/scim/Users?filter=userName%20eq%20%22a@c%22&count=1")) == "the query parameters differ"


def test_an_encoded_slash_never_matches_a_real_one():
    m = matcher({"method": "GET", "url": "https://h/Users/a%2Fb"})
    assert m.mismatch(actual("GET", "https://h/Users/a%2Fb")) is None
    assert m.mismatch(actual("GET", "https://h/Users/a/b")) == "the paths differ"


def test_bodies_compare_as_json_only_when_recorded():
    m = matcher({"method": "PUT", "url": "https://h/x", "body": {"a": 1, "b": [True]}})
    assert m.mismatch(actual("PUT", "https://h/x", body='{"b":[true],"a":1}')) is None
    assert m.mismatch(actual("PUT", "https://h/x", body='{"a":1.0,"b":[true]}')) == "the bodies differ"
    none = matcher({"method": "GET", "url": "https://h/x", "body": None})
    assert none.mismatch(actual("GET", "https://h/x")) is None
    assert none.mismatch(actual("GET", "https://h/x", body="{}")) == "the bodies differ"
    assert matcher({"method": "POST", "url": "https://h/x"}).mismatch(actual("POST", "https://h/x", body="{}")) is None


def test_recorded_headers_must_be_present_and_a_redacted_bearer_matches_any_token():
    m = matcher({"method": "GET", "url": "https://h/x", "headers": {"Authorization": "Bearer <redacted>", "accept": "application/json"}})
    assert m.mismatch(actual("GET", "https://h/x", [("authorization", "Bearer abc"), ("Accept", "application/json")])) is None
    assert m.mismatch(actual("GET", "https://h/x", [("Accept", "application/json")])) == 'header "Authorization" is not "Bearer <redacted>"'
    assert m.mismatch(actual("GET", "https://h/x", [("authorization", "Basic abc"), ("Accept", "application/json")])) is not None


def test_methods_and_origins_must_be_equal():
    m = matcher({"method": "GET", "url": "https://h/x"})
    assert "method" in m.mismatch(actual("POST", "https://h/x"))
    assert m.mismatch(actual("GET", "https://h:444/x")) == "scheme, host or port differ"
    assert m.mismatch(actual("GET", "http://h/x")) == "scheme, host or port differ"


def test_response_bodies_keep_their_key_order_and_strings_are_raw():
    assert body_bytes(jsonio.loads('{"z": 1, "a": 2.50}')) == b'{"z":1,"a":2.5}'
    assert body_bytes("<html>") == b"<html>"
    assert body_bytes(None) == b""


def test_unknown_repeated_and_missing_fields_are_refused():
    for value, why in [({"interactions": [], "extra": 1}, "unknown field"),
                       ({"interactions": [{"request": {"method": "GET", "url": "u", "bodyy": 1}, "response": {"status": 200}}]}, "unknown field"),
                       ({"interactions": [{"request": {"method": "GET"}, "response": {"status": 200}}]}, "missing field"),
                       ({"interactions": [{"request": {"method": "GET", "url": "u"}, "response": {"status": 70000}}]}, "status")]:
        with pytest.raises(ValueError, match=why):
            Cassette.from_json(value)
    with pytest.raises(ValueError, match="duplicate field"):
        Cassette.from_json(jsonio.loads('{"interactions": [], "interactions": []}'))


def test_replay_answers_in_order_in_virtual_time_and_reports_what_was_left():
    replay = Replay(Cassette.from_json({"interactions": [
        {"request": {"method": "GET", "url": "https://h/1"}, "response": {"status": 200, "body": {"b": 1, "a": 2}}},
        {"request": {"method": "GET", "url": "https://h/2"}, "response": {"status": 204}},
    ]}))
    before = replay.now_millis()
    replay.sleep(2_000)
    assert replay.now_millis() == before + 2_000
    assert replay.send(actual("GET", "https://h/1"), 1 << 20).body == b'{"b":1,"a":2}'
    assert "1 recorded interaction(s) were not used; the first: GET https://h/2" in replay.finish()


# --- limits -----------------------------------------------------------------------------------


def test_limits_refuse_unknown_keys_and_take_defaults():
    assert Limits.from_json({"max_requests": 3}) == Limits(max_requests=3)
    assert Limits().max_requests == 256 and Limits().response_bytes == 10 << 20
    with pytest.raises(LimitsError, match="unknown field `max_request`"):
        Limits.from_json({"max_request": 3})
    with pytest.raises(LimitsError, match="non-negative integer"):
        Limits.from_json({"cpu_millis": -1})


# --- the live backend's proxy choice ----------------------------------------------------------


def test_the_proxy_follows_the_scheme_no_proxy_sends_direct_and_loopback_never_goes_through_one():
    from iam_host.live import LiveOptions, ProxyEnv, flag

    env = ProxyEnv("http://secure-proxy:3128", "http://plain-proxy:3128",
                   "localhost, .internal.example,*.corp.example, 10.1.2.3, api.example:8443")
    assert env.proxy_for(urls.parse("https://api.atlassian.com/x")) == "http://secure-proxy:3128"
    assert env.proxy_for(urls.parse("http://plain.example/x")) == "http://plain-proxy:3128"
    for direct in ["http://127.0.0.1:8080/x", "http://[::1]:9/x", "http://localhost:5000/", "https://a.internal.example/",
                   "https://internal.example/", "https://x.corp.example/", "http://10.1.2.3/", "https://api.example:8443/"]:
        assert env.proxy_for(urls.parse(direct)) is None, direct
    for proxied in ["https://api.example/", "https://notinternal.example/", "http://10.1.2.33/"]:
        assert env.proxy_for(urls.parse(proxied)) is not None, proxied
    assert ProxyEnv("http://p:1", None, "*").proxy_for(urls.parse("https://api.atlassian.com/")) is None
    assert "secure-proxy" not in repr(env)
    limits = Limits()
    assert LiveOptions.for_instance({"insecure": "TRUE", "proxy": False}, limits).proxy is None
    assert LiveOptions.for_instance({"insecure": "TRUE"}, limits).insecure is True
    assert LiveOptions.for_instance({"insecure": "yes", "proxy": True}, limits).insecure is False
    assert LiveOptions.for_instance({"proxy": "true"}, limits).proxy is not None
    assert flag({"x": "True"}, "x") and not flag({"x": 1}, "x")


def test_the_live_session_never_reads_the_environment(monkeypatch):
    from iam_host.live import Live, LiveOptions

    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    live = Live(LiveOptions())
    assert live.session.trust_env is False
    assert dict(live.session.headers) == {"User-Agent": live.session.headers["User-Agent"]}
