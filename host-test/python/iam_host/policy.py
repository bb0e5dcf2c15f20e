"""A tenant's policy: the one origin its requests may reach (that of the configured ``url``),
plain http only to a loopback address, exact paths only, the methods and headers a guest may
use, and the credential the host holds for it. Pure functions; the order of the checks in
``send`` lives in ``sandbox.py``. Denial texts reach the guest (and so, possibly, an entry),
so they are worded as the Rust host words them (host-test/src/policy.rs)."""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

import functools
import json

from . import urls
from .scrub import MIN_SECRET_CHARS

#: The reference under which the host keeps a tenant's access token.
CREDENTIAL_NAME = "access_token"

#: Headers only the host may set: credentials and routing.
FORBIDDEN_GUEST_HEADERS = frozenset(
    {"authorization", "cookie", "host", "proxy-authorization", "set-cookie"}
)
#: Methods a guest may use (the SCIM client needs no others).
ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


class Denied(Exception):
    """The policy refuses a request; the message goes to the guest as ``denied``."""


class UnknownCredential(Exception):
    """The guest named a credential the host does not hold for this tenant."""


def quoted(text: str) -> str:
    """A guest-supplied text in a denial, quoted as a JSON string, as every host quotes it."""
    return json.dumps(text, ensure_ascii=False)


class Origin(NamedTuple):
    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: urls.Url) -> "Origin | None":
        port = url.known_port
        if not url.host or port is None:
            return None
        return cls(url.scheme, url.host.lower(), port)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


class Secret:
    """A secret the host attaches; its repr never shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def expose(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(<redacted>)"

    __str__ = __repr__


def token_problem(token: Secret) -> str | None:
    """Why a token cannot be used (behaviour.md §1), named without the token: the text of the
    Type 4 entry the host answers with instead of running the command."""
    if len(token.expose()) >= MIN_SECRET_CHARS:
        return None
    return (
        'Invalid configuration: the access token ("access_token" or "access_token_creds.password") '
        f"is shorter than {MIN_SECRET_CHARS} characters, too short for the host to keep it out of "
        "the answers it passes on"
    )


def split_secret(params: Mapping[str, Any]) -> tuple[dict[str, Any], Secret | None]:
    """Take the token out of the instance parameters: ``access_token_creds.password`` when it
    is a non-empty string, else ``access_token`` when it is one (behaviour.md §1). Both keys
    are removed either way; the other parameters keep their order."""
    rest = {k: v for k, v in params.items() if k not in ("access_token", "access_token_creds")}
    creds = params.get("access_token_creds")
    password = creds.get("password") if isinstance(creds, Mapping) else None
    plain = params.get("access_token")
    for candidate in (password, plain):
        if isinstance(candidate, str) and candidate:
            return rest, Secret(candidate)
    return rest, None


class Policy:
    """What one tenant's commands may reach, and the credentials the host holds for it."""

    __slots__ = ("allowed_origin", "credentials", "_checked")

    def __init__(self, allowed_origin: Origin | None = None, credentials: dict[str, Secret] | None = None) -> None:
        #: None when the configured url is missing or unusable: then nothing is reachable.
        self.allowed_origin = allowed_origin
        self.credentials = credentials or {}
        #: URLs (with the header names sent) already found allowed: a tenant's commands send
        #: the same few again and again. Bounded; refusals are never kept.
        self._checked: dict[tuple[str, tuple[str, ...]], urls.Url] = {}

    @classmethod
    def for_instance(cls, url: Any, credential_name: str, token: Secret | None) -> "Policy":
        """The policy of an instance: its url's origin, and its token under ``credential_name``
        (one policy per tenant and process: they are asked for it on every command)."""
        if isinstance(url, str) or url is None:
            return _policy_for(url, credential_name, token.expose() if token is not None else None)
        return cls._build(url, credential_name, token)

    @classmethod
    def _build(cls, url: Any, credential_name: str, token: Secret | None) -> "Policy":
        allowed = None
        if isinstance(url, str):
            try:
                parsed = urls.parse(url)
            except urls.UrlError:
                parsed = None
            # A url with user information reaches nothing: it carries a credential the host
            # does not manage.
            if parsed is not None and parsed.scheme in ("http", "https") \
                    and not parsed.username and parsed.password is None:
                allowed = Origin.of(parsed)
        credentials = {credential_name: token} if token is not None else {}
        return cls(allowed, credentials)

    def check(self, url: str, header_names: list[str]) -> urls.Url:
        """Check a guest request's URL and header names; the parsed URL when allowed."""
        # Quoted without its user information, which may hold a password.
        try:
            parsed = urls.parse(url)
        except urls.UrlError as error:
            raise Denied(f"{quoted(urls.without_user_info(url))} is not an absolute URL ({error})") from None
        origin = Origin.of(parsed)
        if origin is None:
            raise Denied(f"{quoted(urls.without_user_info(url))} has no host")
        if self.allowed_origin is None:
            raise Denied(f"origin {origin} is not allowed; this tenant has no usable url configured")
        if origin != self.allowed_origin:
            raise Denied(
                f"origin {origin} is not allowed; this tenant may reach only {self.allowed_origin}"
            )
        # The bearer token travels in every request: over plain http anyone on the path reads
        # it. Only a loopback address keeps it on this machine (local test servers).
        if parsed.scheme == "http" and not urls.is_loopback(parsed):
            raise Denied(f"plain http is allowed only to a loopback address; {origin} must use https")
        if parsed.username or parsed.password is not None:
            raise Denied("URLs with user information are not allowed")
        # behaviour.md §3 [fix]: an id is one path segment. A parser that turns "..", ".",
        # "%2E%2E" or a backslash into a step up the tree would send the request somewhere the
        # guest did not name, so a path must read the same before and after parsing.
        written = urls.path_as_written(url)
        normalized = parsed.normalized_path()
        if written != normalized and not (written == "" and normalized == "/"):
            raise Denied(
                f"the path of the request URL changes when parsed (to {quoted(normalized)}): "
                'dot segments (".", "..", "%2E%2E"), backslashes and unencoded characters are not allowed'
            )
        for name in header_names:
            if name.isascii() and name.lower() in FORBIDDEN_GUEST_HEADERS:
                raise Denied(f"the guest may not set the {quoted(name)} header")
        return parsed

    def authorize(self, method: str, url: str, headers: list[tuple[str, str]],
                  auth: str | None) -> tuple[urls.Url, list[tuple[str, str]]]:
        """Every check, in order (URL and origin, headers, method, credential), and only then
        the credential attached as ``Authorization: Bearer``: the parsed URL and the headers
        to send. Raises ``Denied`` or ``UnknownCredential``."""
        names = tuple(name for name, _ in headers)
        parsed = self._checked.get((url, names))
        if parsed is None:
            parsed = self.check(url, list(names))
            if len(self._checked) < 256:
                self._checked[(url, names)] = parsed
        if method not in ALLOWED_METHODS:
            raise Denied(f"method {quoted(method)} is not allowed")
        secret = None
        if auth is not None:
            secret = self.credential(auth)
            if secret is None:
                raise UnknownCredential(auth)
        outgoing = list(headers)
        if secret is not None:
            outgoing.append(("Authorization", f"Bearer {secret.expose()}"))
        return parsed, outgoing

    def credential(self, name: str) -> Secret | None:
        return self.credentials.get(name)


@functools.lru_cache(maxsize=256)
def _policy_for(url: str | None, credential_name: str, token: str | None) -> Policy:
    return Policy._build(url, credential_name, Secret(token) if token is not None else None)
