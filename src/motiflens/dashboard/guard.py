"""What the dashboard server lets in: which Host and Origin, which request bodies.

The server answers on the loopback address by default, but a web page anywhere can still
reach it through the browser: a page on ``evil.example`` whose DNS name is re-pointed at
127.0.0.1 (DNS rebinding) sends requests with ``Host: evil.example``, and a cross-origin
``fetch`` with a ``text/plain`` body needs no CORS preflight. Hence:

- **Host** must be a name of this server (:class:`HostPolicy`): the loopback names,
  the address it is bound to and names added with ``--allow-host``; else 421.
  Starlette's ``TrustedHostMiddleware`` checks the same, but answers a bare
  "Invalid host header" that does not say how to allow a name; the page's users need
  the ``--allow-host`` hint, so the check is here.
- **Origin**, when a POST carries one, must be one of those names too; else 403.
- **POST bodies** must be ``application/json`` (415 otherwise: a browser cannot send that
  type cross-origin without a preflight, which the server never grants), at most a
  given size (413) and nested at most :data:`MAX_JSON_DEPTH` deep (400; Python's parser
  would recurse into a deep body until ``RecursionError``).
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from motiflens.errors import InputError

__all__ = [
    "LOCAL_NAMES",
    "MAX_JSON_DEPTH",
    "WILDCARD_ADDRESSES",
    "HostPolicy",
    "json_depth",
    "parse_json_object",
    "split_host",
]

#: Names every server answers to: the loopback names (``localhost`` resolves to the
#: loopback address in every browser, so it cannot be rebound).
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
#: Bind addresses meaning "every interface of this machine".
WILDCARD_ADDRESSES = frozenset({"", "0.0.0.0", "::"})
#: Deepest nesting of arrays and objects accepted in a request body. The API's bodies are
#: flat (``{"sequence": ..., "target": ...}``); 32 leaves room without letting a body
#: drive the parser's recursion.
MAX_JSON_DEPTH = 32

# host[:port]: a DNS name or IPv4 address (letters, digits, dots, hyphens, underscores as
# browsers send them, IDNs in punycode), or a bracketed IPv6 literal.
_HOST_PORT = re.compile(
    r"^(?:\[(?P<v6>[^\]]*)\]|(?P<name>[A-Za-z0-9._-]*))(?::(?P<port>\d{1,5}))?$"
)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def split_host(value: str) -> str | None:
    """The host name of a ``Host`` header value (port dropped, brackets of an IPv6
    literal removed, lower case), or ``None`` when the value is not ``host[:port]``.

    Examples
    --------
    >>> split_host("LocalHost:8000"), split_host("[::1]:8000"), split_host("::1")
    ('localhost', '::1', '::1')
    """
    value = value.strip()
    if value.count(":") > 1 and not value.startswith("["):
        # A bare IPv6 literal (not valid in a Host header, but what some clients send).
        return value.lower() if _is_ip(value) else None
    match = _HOST_PORT.match(value)
    if match is None:
        return None
    if match.group("v6") is not None:
        return match.group("v6").lower() if _is_ip(match.group("v6")) else None
    name = match.group("name").lower()
    return name or None


class HostPolicy:
    """The host names a server answers to.

    Parameters
    ----------
    bound
        The address the server is bound to (``None``: not known, as in tests). A
        wildcard address (``0.0.0.0``, ``::``) adds this machine's host name and lets any
        IP literal through: such a server is meant to be reached by its addresses, and an
        IP literal cannot be re-pointed by DNS.
    extra
        Names added with ``--allow-host`` (``host`` or ``host:port``; ``*`` allows any
        name, for a reverse proxy that checks names itself).

    Raises
    ------
    InputError
        A name in ``extra`` is not a host name.
    """

    def __init__(self, bound: str | None = None, extra: Iterable[str] = ()) -> None:
        names = set(LOCAL_NAMES)
        self.any_name = False
        self.any_ip = False
        if bound is not None and bound.strip("[]") in WILDCARD_ADDRESSES:
            self.any_ip = True
            names.add(socket.gethostname().lower())
        elif bound is not None:
            names.add(bound.strip("[]").lower())
        for value in extra:
            if value.strip() == "*":
                self.any_name = True
                continue
            name = split_host(value)
            if name is None:
                raise InputError(
                    f"--allow-host {value!r} is not a host name",
                    hint="give a name or address, e.g. --allow-host myserver.lab.org",
                )
            names.add(name)
        self.names = frozenset(names)

    def allows(self, host: str | None) -> bool:
        """Whether a host name (as :func:`split_host` returns it) is one of this server's."""
        if host is None:
            return False
        return self.any_name or host in self.names or (self.any_ip and _is_ip(host))

    def allows_header(self, value: str | None) -> bool:
        """Whether a ``Host`` header value names this server (port ignored)."""
        return value is not None and self.allows(split_host(value))

    def allows_origin(self, origin: str) -> bool:
        """Whether an ``Origin`` header value is a page of this server's names.

        ``null`` (a sandboxed frame, a ``file://`` page) is never allowed.
        """
        try:
            parts = urlsplit(origin.strip())
            host = parts.hostname
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not host:
            return False
        return self.allows(host.lower())


def json_depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text, without parsing it.

    Brackets inside string literals do not count: a quote opens or closes a string
    unless an odd number of backslashes precedes it. Vectorised, linear in the body size,
    no recursion (a regular expression over the strings backtracks quadratically on
    bodies like ``"\\"\\"\\"...``). For a body that is not valid JSON the figure is
    an upper bound on how deep the parser gets before it stops at the error.
    """
    codes = np.frombuffer(raw, dtype=np.uint8)
    if codes.size == 0:
        return 0
    index = np.arange(codes.size)
    backslash = codes == ord("\\")
    # Backslashes in the run that ends just before each position.
    last_other = np.maximum.accumulate(np.where(backslash, -1, index))
    run_before = np.concatenate(([0], index[:-1] - last_other[:-1]))
    quote = (codes == ord('"')) & (run_before % 2 == 0)
    # Inside a string from its opening quote up to (not including) its closing one.
    outside = np.cumsum(quote) % 2 == 0
    opening = np.isin(codes, (ord("["), ord("{"))) & outside
    closing = np.isin(codes, (ord("]"), ord("}"))) & outside
    return int(np.cumsum(opening.astype(np.int64) - closing).max(initial=0))


def parse_json_object(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> dict[str, Any]:
    """A request body as a JSON object.

    Raises
    ------
    InputError
        Not UTF-8 JSON, nested deeper than ``max_depth``, or not an object.
    """
    depth = json_depth(raw)
    if depth > max_depth:
        raise InputError(
            f"the request body is nested {depth} levels deep; at most {max_depth} are accepted",
            hint='send a flat object: {"sequence": "ACGT...", "target": "name"}',
        )
    try:
        body = json.loads(raw or b"null")
    except (UnicodeDecodeError, ValueError) as err:
        raise InputError(f"the request body is not JSON: {err}") from None
    if not isinstance(body, dict):
        raise InputError(
            "the request body must be a JSON object",
            hint='{"sequence": "ACGT...", "target": "name"}',
        )
    return body
