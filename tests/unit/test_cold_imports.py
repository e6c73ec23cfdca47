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

ROOT = Path(__file__).resolve().parents[2]
ENTRY_POINTS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/index.py"))
#: Top-level modules of the optional drivers (the redis, sql and tencent extras).
OPTIONAL = frozenset({"redis", "psycopg", "pymysql", "tencentcloud"})

PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])  # /var/user on SCF
import index
call = json.loads(sys.argv[2])
result = index.main_handler(call["event"], call["context"]) if call else None
print(json.dumps({"modules": sorted({m.split(".")[0] for m in sys.modules}), "result": result}))
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
    assert not OPTIONAL & set(report["modules"]), sorted(OPTIONAL & set(report["modules"]))


def test_an_invocation_on_the_embedded_store_loads_no_optional_driver(tmp_path: Path) -> None:
    event = {"begin_date": "2026-01-01", "end_date": "2026-01-01"}
    report = probe("send_log", tmp_path, {"event": event, "context": {}})
    assert report["result"]["errcode"] == 0, report["result"]
    assert not OPTIONAL & set(report["modules"]), sorted(OPTIONAL & set(report["modules"]))


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
