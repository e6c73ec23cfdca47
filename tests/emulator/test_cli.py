"""``wxemu serve`` as a real child process: banner, answers, clean stop on SIGTERM and SIGINT."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
import requests

from wxemu import demo

from .conftest import ServeProcess


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_prints_base_url_and_demo_app_answers_and_stops(sig):
    served = ServeProcess()
    try:
        banner = "\n".join(served.banner)
        for value in (demo.APPID, demo.SECRET, demo.OPENID, demo.TEMPLATE_ID):
            assert value in banner
        params = {"grant_type": "client_credential", "appid": demo.APPID, "secret": demo.SECRET}
        with requests.Session() as http:
            answer = http.get(f"{served.base_url}/cgi-bin/token", params=params).json()
            assert answer["expires_in"] == 7200
            # An idle keep-alive connection must not hold the shutdown up.
            assert served.stop(sig) == 0
    finally:
        if served.process.poll() is None:
            served.process.kill()
    out = served.process.stdout.read() if served.process.stdout else ""
    assert "wxemu stopped." in out


def test_serve_reseeds_demo_app_after_reset(serve_process):
    with requests.Session() as http:
        http.post(f"{serve_process.base_url}/__wxemu__/apps", json={"appid": "wxextra"})
        reset = http.post(f"{serve_process.base_url}/__wxemu__/reset").json()
        assert reset["demo"]["appid"] == demo.APPID
        apps = http.get(f"{serve_process.base_url}/__wxemu__/apps").json()["apps"]
        assert [a["appid"] for a in apps] == [demo.APPID]


def test_help_explains_the_command():
    out = subprocess.run(
        [sys.executable, "-m", "wxemu", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--host" in out and "--port" in out and "8710" in out
    top = subprocess.run(
        [sys.executable, "-m", "wxemu", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "serve" in top and "/__wxemu__/" in top


def test_port_in_use_is_a_clear_error(serve_process):
    port = serve_process.base_url.rsplit(":", 1)[1]
    result = subprocess.run(
        [sys.executable, "-m", "wxemu", "serve", "--port", port],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is in use; choose another with --port PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_runs_on_a_plain_install_without_the_dev_extra(tmp_path):
    """`wxemu serve` needs none of the dev extra: `requests` is made unimportable for it."""
    import os
    import urllib.request

    blocker = tmp_path / "requests"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('requests is in the dev extra only')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    served = ServeProcess(env=env)
    try:
        url = f"{served.base_url}/cgi-bin/token?grant_type=client_credential"
        url += f"&appid={demo.APPID}&secret={demo.SECRET}"
        with urllib.request.urlopen(url, timeout=10) as answer:
            assert b'"expires_in":7200' in answer.read()
        assert served.stop() == 0
    finally:
        if served.process.poll() is None:
            served.process.kill()
