"""The proxy a request to one origin goes through, read from the environment as requests did.

``https_proxy`` / ``http_proxy`` (by the origin's scheme), else ``all_proxy``; the lower-case
name wins over the upper-case one, and ``HTTP_PROXY`` is ignored when ``REQUEST_METHOD`` is set
(a CGI request can set it: "httpoxy"). ``no_proxy`` lists hosts that go direct: ``*`` for all,
``example.com`` or ``.example.com`` for a domain and its subdomains, ``host:port``, an IP
address or a network (``10.0.0.0/8``). A proxy is an ``http://[user:password@]host[:port]``
URL (a bare ``host:port`` means ``http://``); an https origin is reached through a ``CONNECT``
tunnel, an http origin by sending the absolute URL to the proxy.
"""

from __future__ import annotations

from typing import Mapping, NamedTuple, Optional
from urllib.parse import unquote, urlsplit

from wxapush.config import env_value


class ProxyError(ValueError):
    """A proxy variable that cannot be used; names the variable, never its credentials."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


class Proxy(NamedTuple):
    """Where to connect instead of the origin, and the ``Proxy-Authorization`` to present."""

    host: str
    port: int
    authorization: Optional[str]


def proxy_for(scheme: str, host: str, port: int, env: Mapping[str, str]) -> Optional[Proxy]:
    """The proxy for ``scheme://host:port`` under ``env`` (e.g. ``os.environ``), or None."""
    names = [f"{scheme}_proxy", "all_proxy"]
    for name in names:
        variable, url = _variable(env, name)
        if url is not None:
            break
    else:
        return None
    if _bypassed(host, port, _variable(env, "no_proxy")[1]):
        return None
    return _parse(variable, url)


def _variable(env: Mapping[str, str], lower: str) -> tuple[str, Optional[str]]:
    value = env_value(env, lower)
    if value is not None:
        return lower, value
    upper = lower.upper()
    if upper == "HTTP_PROXY" and "REQUEST_METHOD" in env:
        return upper, None
    return upper, env_value(env, upper)


def _parse(variable: str, url: str) -> Proxy:
    try:
        parts = urlsplit(url if "://" in url else "http://" + url)
    except ValueError:  # an unclosed "[" of an IPv6 address, among others
        raise ProxyError(variable, "not a URL (is an IPv6 address's bracket unclosed?)") from None
    if parts.scheme.lower() != "http":
        raise ProxyError(variable, f"only http:// proxies are supported, not {parts.scheme}://")
    try:
        port = parts.port or 80
    except ValueError:
        raise ProxyError(variable, "the port is not a number from 1 to 65535") from None
    if not parts.hostname:
        raise ProxyError(variable, "no host")
    authorization = None
    if parts.username is not None:
        import base64  # only a proxy with credentials needs it

        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        authorization = "Basic " + base64.b64encode(pair).decode("ascii")
    return Proxy(parts.hostname, port, authorization)


def _bypassed(host: str, port: int, no_proxy: Optional[str]) -> bool:
    if not no_proxy:
        return False
    host = host.lower().strip("[]")
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry:
            if _in_network(host, entry):
                return True
            continue
        name, _, entry_port = entry.rpartition(":") if _has_port(entry) else (entry, "", "")
        if entry_port and entry_port != str(port):
            continue
        name = name.lstrip(".").strip("[]")
        if host == name or host.endswith("." + name):
            return True
    return False


def _has_port(entry: str) -> bool:
    # "host:port" or "[v6]:port"; a bare IPv6 address holds colons but no port.
    head, sep, tail = entry.rpartition(":")
    return bool(sep) and tail.isdigit() and (entry.count(":") == 1 or head.endswith("]"))


def _in_network(host: str, entry: str) -> bool:
    import ipaddress  # only a network entry needs it

    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False)
    except ValueError:  # the host is a name, or the entry is not a network
        return False
