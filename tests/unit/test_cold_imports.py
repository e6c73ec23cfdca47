"""Cold-start discipline: an entry point loads an optional driver only when configuration needs it.

Each check runs in a fresh interpreter (a warm test process has imported everything already)
that imports ``functions/<name>/index.py`` as SCF does and reports ``sys.modules``. Import time
of each entry point is measured by benchmarks/bench_send.py, not here.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import pytest

from tests import suite_clock
from wxemu import demo
from wxemu.testing import RunningServer

ROOT = Path(__file__).resolve().parents[2]
ENTRY_POINTS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/index.py"))
#: Top-level modules of the optional drivers (the redis, sql and tencent extras).
OPTIONAL = frozenset({"redis", "psycopg", "pymysql", "tencentcloud"})
#: HTTP libraries the layer does not use: its transport is the standard library's http.client.
HTTP_LIBRARIES = frozenset({"requests", "urllib3", "certifi", "charset_normalizer", "idna"})

PROBE = """
import json, re, sys
compiled_by = set()  # the modules that compiled a regular expression, at import or after
_compile = re.compile
def spy(pattern, flags=0):
    compiled_by.add(sys._getframe(1).f_globals.get("__name__"))
    return _compile(pattern, flags)
re.compile = spy
sys.path.insert(0, sys.argv[1])  # /var/user on SCF
import index
imported_compiled = sorted(m for m in compiled_by if m)
call = json.loads(sys.argv[2])
result = index.main_handler(call["event"], call["context"]) if call else None
print(json.dumps({"modules": sorted({m.split(".")[0] for m in sys.modules}), "result": result,
                  "compiled_at_import": imported_compiled}))
"""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def probe(
    name: str, tmp_path: Path, call: Optional[dict[str, Any]] = None, **settings: str
) -> dict[str, Any]:
    """Import (and, with ``call``, invoke once) an entry point in a fresh interpreter."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WXAPUSH_", "TENCENTCLOUD_"))}
    env.pop(suite_clock.SHIFT_VARIABLE, None)  # the suite clock's shim would add its own imports
    env.update(
        WXAPUSH_APPID="wx0123456789abcdef",
        WXAPUSH_APPSECRET="0123456789abcdef0123456789abcdef",
        WXAPUSH_STORE=f"sqlite:///{tmp_path / 'cold.db'}",
        WXAPUSH_API_BASE=f"http://127.0.0.1:{closed_port()}",
    )
    env.update(settings)
    if "WXAPUSH_APPSECRET_SSM" in settings:
        del env["WXAPUSH_APPSECRET"]
    folder = str(ROOT / "functions" / name)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, folder, json.dumps(call or {})],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return report


def test_every_entry_point_is_probed() -> None:
    assert {"get_token", "send", "send_log", "refresh_code"} <= set(ENTRY_POINTS)


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_importing_an_entry_point_loads_no_optional_driver(name: str, tmp_path: Path) -> None:
    # Even configured for Redis and SSM: drivers wait for the first invocation that needs them.
    report = probe(
        name,
        tmp_path,
        WXAPUSH_STORE="redis://127.0.0.1:6379/15",
        WXAPUSH_APPSECRET_SSM="wxapush-appsecret@v1",
    )
    unused = (OPTIONAL | HTTP_LIBRARIES) & set(report["modules"])
    assert not unused, sorted(unused)


def test_a_first_send_loads_no_http_library_nor_driver_and_compiles_keyword_rules_late(
    wxemu: RunningServer, tmp_path: Path
) -> None:
    wxemu.grant(demo.APPID, demo.OPENID, demo.TEMPLATE_ID)
    event = {
        "touser": demo.OPENID,
        "template_id": demo.TEMPLATE_ID,
        "data": {
            "thing1": {"value": "手机保护壳"},
            "character_string2": {"value": "SF1234567890"},
            "date3": {"value": "2026-11-27 10:30"},
            "amount6": {"value": "¥128.00"},
        },
    }
    report = probe(
        "send",
        tmp_path,
        {"event": event, "context": {}},
        WXAPUSH_APPID=demo.APPID,
        WXAPUSH_APPSECRET=demo.SECRET,
        WXAPUSH_API_BASE=wxemu.base_url,
    )
    assert report["result"]["errcode"] == 0 and report["result"]["status"] == "sent"
    loaded = set(report["modules"])
    assert not (HTTP_LIBRARIES | OPTIONAL) & loaded, sorted((HTTP_LIBRARIES | OPTIONAL) & loaded)
    # The default zone (Asia/Shanghai) is loaded by the first date that needs it: not a send's.
    assert "zoneinfo" not in loaded
    # The keyword rules' patterns are compiled by the first check that needs them, not by import.
    eager = {"wxapush.wechat.keywords", "wxapush.redaction", "wxapush.lazy_pattern"}
    assert not eager & set(report["compiled_at_import"]), report["compiled_at_import"]


def test_an_invocation_on_the_embedded_store_loads_no_optional_driver(tmp_path: Path) -> None:
    event = {"begin_date": "2026-01-01", "end_date": "2026-01-01"}
    report = probe("send_log", tmp_path, {"event": event, "context": {}})
    assert report["result"]["errcode"] == 0, report["result"]
    assert not OPTIONAL & set(report["modules"]), sorted(OPTIONAL & set(report["modules"]))
    # send_log never calls WeChat: the HTTP machinery is never loaded.
    assert not {"http", "ssl", "email"} & set(report["modules"])


def test_a_store_url_that_needs_redis_loads_redis_only(tmp_path: Path) -> None:
    event = {"begin_date": "2026-01-01", "end_date": "2026-01-01"}
    store = f"redis://127.0.0.1:{closed_port()}/15"
    report = probe("send_log", tmp_path, {"event": event, "context": {}}, WXAPUSH_STORE=store)
    assert "redis" in report["modules"]
    assert not {"psycopg", "pymysql", "tencentcloud"} & set(report["modules"])


def test_an_appsecret_in_ssm_loads_the_tencent_sdk_at_the_first_token_fetch(
    tmp_path: Path,
) -> None:
    report = probe(
        "get_token",
        tmp_path,
        {"event": {}, "context": {}},
        WXAPUSH_APPSECRET_SSM="wxapush-appsecret@v1",
        WXAPUSH_SSM_ENDPOINT=f"http://127.0.0.1:{closed_port()}",
        WXAPUSH_SSM_REGION="ap-guangzhou",
        TENCENTCLOUD_SECRETID="AKIDcoldimport0000000000000000000000",
        TENCENTCLOUD_SECRETKEY="cold-import-key",
    )
    result = report["result"]  # SSM is down: retryable
    assert result["error"] == "upstream_error" and result["errcode"] == 990502, result
    assert "tencentcloud" in report["modules"]
    assert not {"redis", "psycopg", "pymysql"} & set(report["modules"])
