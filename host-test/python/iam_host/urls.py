"""URLs as the Rust host's ``url`` crate (WHATWG URL Standard) sees them, for what the policy
and the cassette matcher need: the origin (scheme, host, port), user information, the path
segments and the query pairs.

It parses absolute URLs only and keeps the path and query as written. The policy refuses a
path that a WHATWG parser would rewrite (dot segments, backslashes, characters it would
percent-encode), so for every URL the host sends, the path written is the path parsed.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple
from urllib.parse import parse_qsl, unquote

#: Ports the url crate knows for ``port_or_known_default`` (WHATWG's special schemes).
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}
SPECIAL_SCHEMES = frozenset(DEFAULT_PORTS) | {"file"}

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
#: Characters a WHATWG parser leaves as they are in a path (everything else printable ASCII
#: but space " # < > ? ` { } and, for special schemes, backslash is rewritten or ends it).
_PATH_KEPT = re.compile(r"^[A-Za-z0-9\-._~!$&'()*+,;=:@/%\[\]^|]*$")
_SINGLE_DOT = re.compile(r"^(?:\.|%2e)$", re.IGNORECASE)
_DOUBLE_DOT = re.compile(r"^(?:\.|%2e){2}$", re.IGNORECASE)
#: The URL Standard's path percent-encode set, beyond C0 controls and non-ASCII.
_PATH_ENCODED = frozenset(' "#<>?`{}')
#: Host code points the URL Standard forbids (its "forbidden host code points").
_FORBIDDEN_HOST = re.compile(r"[\x00\t\n\r #/:<>?@\[\\\]^|%]")


class UrlError(ValueError):
    """Why a text is not an absolute URL, worded as the url crate's ``ParseError``."""


class Url(NamedTuple):
    scheme: str
    username: str
    password: str | None
    #: Lower-cased, IDNA-encoded; IPv6 in brackets, IPv4 in dotted decimal. Empty: no host.
    host: str
    #: The port written, or None.
    port: int | None
    #: The path as written ("/" when empty for special schemes).
    path: str
    query: str | None
    fragment: str | None

    @property
    def known_port(self) -> int | None:
        """``port_or_known_default``."""
        return self.port if self.port is not None else DEFAULT_PORTS.get(self.scheme)

    def serialize(self) -> str:
        """The URL as the url crate prints it (default ports dropped, host normalised)."""
        userinfo = ""
        if self.username or self.password is not None:
            userinfo = self.username + (f":{self.password}" if self.password is not None else "") + "@"
        port = f":{self.port}" if self.port is not None and self.port != DEFAULT_PORTS.get(self.scheme) else ""
        query = f"?{self.query}" if self.query is not None else ""
        fragment = f"#{self.fragment}" if self.fragment is not None else ""
        authority = f"//{userinfo}{self.host}{port}" if self.host or self.scheme in SPECIAL_SCHEMES else ""
        return f"{self.scheme}:{authority}{self.path}{query}{fragment}"

    def path_segments(self) -> list[str]:
        """Segments split on ``/`` first, then each percent-decoded (invalid UTF-8 becomes
        U+FFFD), so an encoded ``%2F`` never matches a real ``/``."""
        return [unquote(segment, errors="replace") for segment in self.path.split("/")]

    def query_pairs(self) -> list[tuple[str, str]]:
        """The query as a sorted multiset of decoded pairs (``+`` and ``%20`` both mean space),
        as ``form_urlencoded::parse`` reads it."""
        if not self.query:
            return []
        return sorted(parse_qsl(self.query, keep_blank_values=True, errors="replace"))

    def normalized_path(self) -> str:
        """The path as a WHATWG parser serialises it: dot segments resolved, backslashes read
        as slashes (special schemes), and the path percent-encode set encoded."""
        if self.scheme not in SPECIAL_SCHEMES:
            return self.path
        if _PATH_KEPT.match(self.path) and "." not in self.path and "%2" not in self.path.lower():
            return self.path  # nothing a parser would change (the common case)
        return _normalize_special_path(self.path)

#: The common shape, parsed without the general rules: http(s), a lower-case ASCII domain
#: name (no IPv4-like last label), an optional port, an exact path.
_PLAIN = re.compile(
    r"^(https?)://((?:[a-z0-9-]+\.)*[a-z-][a-z0-9-]*)(?::([0-9]{1,5}))?"
    r"(/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*)?(?:\?([^#\s]*))?$"
)


@functools.lru_cache(maxsize=1024)
def parse(text: str) -> Url:
    """Parse an absolute URL; raises ``UrlError`` with the url crate's wording. (A tenant's
    commands send the same few URLs again and again: parsed URLs are kept.)"""
    plain = _PLAIN.match(text)
    if plain is not None:
        scheme, host, port_text, path, query = plain.groups()
        port = int(port_text) if port_text is not None else None
        if port is None or port <= 65535:
            return Url(scheme, "", None, host, port, path or "/", query, None)
    return _parse_general(text)


def _parse_general(text: str) -> Url:
    trimmed = text.strip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f\x10\x11\x12"
                         "\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ")
    # The URL Standard removes tabs and newlines anywhere.
    trimmed = trimmed.replace("\t", "").replace("\n", "").replace("\r", "")
    match = _SCHEME.match(trimmed)
    if match is None:
        raise UrlError("relative URL without a base")
    scheme = match.group(1).lower()
    rest = trimmed[match.end():]
    rest, fragment = _split_off(rest, "#")
    rest, query = _split_off(rest, "?")
    special = scheme in SPECIAL_SCHEMES
    if special:
        # Special schemes skip any slashes or backslashes before the authority, which runs
        # to the next slash or backslash ("https:h/x" and "https:///h/x" name host h).
        rest = rest.lstrip("/\\")
        authority = re.match(r"[^/\\]*", rest).group()
        path = rest[len(authority):] or "/"
    elif rest.startswith("//"):
        authority = re.match(r"[^/]*", rest[2:]).group()
        path = rest[2 + len(authority):]
    else:
        return Url(scheme, "", None, "", None, rest, query, fragment)
    username, password, hostport = _split_userinfo(authority)
    host_text, port = _split_port(hostport)
    host = _parse_host(host_text, special)
    if special and not host:
        raise UrlError("empty host")
    return Url(scheme, username, password, host, port, path, query, fragment)


def _split_off(text: str, marker: str) -> tuple[str, str | None]:
    head, found, tail = text.partition(marker)
    return head, (tail if found else None)


def _split_userinfo(authority: str) -> tuple[str, str | None, str]:
    userinfo, found, hostport = authority.rpartition("@")
    if not found:
        return "", None, authority
    username, has_password, password = userinfo.partition(":")
    return username, (password if has_password else None), hostport


def _split_port(hostport: str) -> tuple[str, int | None]:
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise UrlError("invalid IPv6 address")
        host, after = hostport[: end + 1], hostport[end + 1 :]
        if after and not after.startswith(":"):
            raise UrlError("invalid IPv6 address")
        port_text = after[1:] if after else None
    else:
        host, has_port, port_text = hostport.partition(":")
        port_text = port_text if has_port else None
    if port_text is None or port_text == "":
        return host, None
    if not port_text.isascii() or not port_text.isdigit() or int(port_text) > 65535:
        raise UrlError("invalid port number")
    return host, int(port_text)


def _parse_host(text: str, special: bool) -> str:
    import ipaddress

    if text.startswith("["):
        try:
            address = ipaddress.IPv6Address(text[1:-1])
        except ValueError:
            raise UrlError("invalid IPv6 address") from None
        return f"[{address.compressed}]"
    if not special:
        return text
    decoded = unquote(text, errors="strict") if "%" in text else text
    try:
        ascii_host = decoded.encode("idna").decode("ascii") if not decoded.isascii() else decoded
    except UnicodeError:
        raise UrlError("invalid international domain name") from None
    ascii_host = ascii_host.lower()
    if _FORBIDDEN_HOST.search(ascii_host):
        raise UrlError("invalid international domain name")
    ipv4 = _parse_ipv4(ascii_host)
    return ipv4 if ipv4 is not None else ascii_host


def _parse_ipv4(host: str) -> str | None:
    """The URL Standard's IPv4 parser: a host whose last label is a number is an IPv4 address
    (``127.1`` is 127.0.0.1, ``0x7f.1`` too); None when it is a domain."""
    parts = host.split(".")
    if parts and parts[-1] == "":
        parts.pop()
    if not parts or not _ipv4_number(parts[-1], check_only=True):
        return None
    numbers = []
    for part in parts:
        number = _ipv4_number(part)
        if number is None:
            raise UrlError("invalid IPv4 address")
        numbers.append(number)
    import ipaddress

    if len(numbers) > 4 or any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise UrlError("invalid IPv4 address")
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number * 256 ** (3 - index)
    return str(ipaddress.IPv4Address(value))


def _ipv4_number(part: str, check_only: bool = False) -> int | bool | None:
    if part == "":
        return None if not check_only else False
    radix, digits = 10, part
    if part[:2].lower() == "0x":
        radix, digits = 16, part[2:]
    elif len(part) > 1 and part[0] == "0":
        radix, digits = 8, part[1:]
    allowed = {10: "0123456789", 16: "0123456789abcdef", 8: "01234567"}[radix]
    if digits and not all(c in allowed for c in digits):
        return None if not check_only else False
    if check_only:
        return True
    return int(digits, radix) if digits else 0


def is_loopback(url: Url) -> bool:
    """Whether a URL names this machine: a loopback IP literal, or ``localhost``."""
    import ipaddress

    host = url.host
    if host.startswith("["):
        return ipaddress.IPv6Address(host[1:-1]).is_loopback
    try:
        return ipaddress.IPv4Address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _normalize_special_path(path: str) -> str:
    """The URL Standard's path state for a special scheme, then its serialisation."""
    if path[:1] in ("/", "\\"):
        path = path[1:]
    segments: list[str] = []
    for raw in re.split(r"[/\\]", path):
        buffer = "".join(_encode_path_char(c) for c in raw)
        segments.append(buffer)
    output: list[str] = []
    last = len(segments) - 1
    for index, segment in enumerate(segments):
        if _DOUBLE_DOT.match(segment):
            if output:
                output.pop()
            if index == last:
                output.append("")
        elif _SINGLE_DOT.match(segment):
            if index == last:
                output.append("")
        else:
            output.append(segment)
    return "".join("/" + segment for segment in output)


def _encode_path_char(char: str) -> str:
    code = ord(char)
    if code < 0x20 or code > 0x7E or char in _PATH_ENCODED:
        return "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
    return char


def _authority_span(text: str) -> tuple[int, int]:
    """Where a URL's authority starts and ends, as written: after the scheme's ``:`` and any
    slashes (a parser takes backslashes for slashes), up to the path, query or fragment."""
    colon = text.find(":")
    if colon < 0:
        return 0, 0
    after = text[colon + 1:]
    start = colon + 1 + (len(after) - len(after.lstrip("/\\")))
    end = next((start + i for i, c in enumerate(text[start:]) if c in "/\\?#"), len(text))
    return start, end


def path_as_written(text: str) -> str:
    """The path of a URL as written, before any parser normalised it: after the authority, up
    to the query or fragment (the Rust host's reading)."""
    path = text[_authority_span(text)[1]:]
    end = next((i for i, c in enumerate(path) if c in "?#"), len(path))
    return path[:end]


def without_user_info(text: str) -> str:
    """A URL as written, with what stands before the last ``@`` of its authority (a user name
    and password, as a parser reads it) replaced, so that a refusal can quote it."""
    start, end = _authority_span(text)
    at = text.rfind("@", start, end)
    return text if at < 0 else f"{text[:start]}<redacted>{text[at:]}"
