"""Which proxy the environment names for an origin (wxapush.wechat.proxy), as requests chose."""

from __future__ import annotations

from typing import Optional
from urllib.parse import urlsplit

import pytest

from wxapush.wechat.proxy import Proxy, ProxyError, proxy_for


def chosen(env: dict[str, str], url: str = "https://api.weixin.qq.com") -> Optional[Proxy]:
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    return proxy_for(parts.scheme, host, port, env)


def test_the_scheme_s_variable_then_all_proxy_and_lower_case_first() -> None:
    assert chosen({"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:2"}) == Proxy(
        "lower", 2, None
    )
    assert chosen({"HTTP_PROXY": "http://plain:3"}) is None  # not for an https origin
    assert chosen({"ALL_PROXY": "proxy.internal:3128"}) == Proxy("proxy.internal", 3128, None)
    assert chosen({"https_proxy": "http://p"}) == Proxy("p", 80, None)


@pytest.mark.parametrize("unset", ["", "  ", "undefined", "null"])
def test_an_empty_or_undefined_variable_is_unset(unset: str) -> None:
    assert chosen({"https_proxy": unset, "HTTPS_PROXY": "http://next:8"}) == Proxy("next", 8, None)


def test_http_proxy_from_a_cgi_request_is_ignored() -> None:
    env = {"HTTP_PROXY": "http://injected:1", "REQUEST_METHOD": "POST"}  # "httpoxy"
    assert chosen(env, "http://api.example") is None
    env["http_proxy"] = "http://chosen:2"
    assert chosen(env, "http://api.example") == Proxy("chosen", 2, None)


@pytest.mark.parametrize(
    ("url", "no_proxy", "direct"),
    [
        ("https://api.weixin.qq.com", "weixin.qq.com", True),
        ("https://api.weixin.qq.com", ".qq.com", True),
        ("https://api.weixin.qq.com", "xin.qq.com", False),  # a domain, not a string suffix
        ("https://api.weixin.qq.com", "api.weixin.qq.com:443", True),
        ("https://api.weixin.qq.com", "api.weixin.qq.com:8443", False),
        ("https://10.1.2.3:8443", "10.0.0.0/8", True),
        ("https://10.1.2.3:8443", "10.1.2.4, 192.168.0.0/16", False),
        ("https://[::1]:8443", "::1", True),
        ("https://[::1]:8443", "[::1]:8443", True),
        ("https://[::1]:8443", "[::1]:9", False),
    ],
)
def test_no_proxy(url: str, no_proxy: str, direct: bool) -> None:
    env = {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": no_proxy}
    assert (chosen(env, url) is None) == direct


def test_credentials_become_a_basic_authorization() -> None:
    proxy = chosen({"https_proxy": "http://u%3Ar:p%40ss@proxy:3128"})
    assert proxy == Proxy("proxy", 3128, "Basic dTpyOnBAc3M=")  # u:r:p@ss


@pytest.mark.parametrize(
    "url",
    [
        "socks5://proxy:1080",
        "https://proxy:3128",
        "http://proxy:99999",
        "http://:3128",
        "http://[::1",
        "http://[::1:3128",
    ],
)
def test_an_unusable_proxy_names_its_variable_without_credentials(url: str) -> None:
    with pytest.raises(ProxyError) as caught:
        chosen({"HTTPS_PROXY": url.replace("://", "://user:hunter2@")})
    assert caught.value.variable == "HTTPS_PROXY"
    assert "hunter2" not in str(caught.value)
