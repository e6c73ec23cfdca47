"""The HTTP layer: keep-alive, chunked bodies, concurrency, and in-process dispatch parity."""

from __future__ import annotations

import http.client
import json
import threading
from urllib.parse import urlsplit

from wxemu import demo
from wxemu.dispatch import dispatch
from wxemu.state import Emulator
from wxemu.testing import running_server

from .conftest import RID_RE, send_body

SEND = "/cgi-bin/message/subscribe/send"


def test_keep_alive_serves_many_requests_on_one_connection(wxemu, token):
    parts = urlsplit(wxemu.base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    payload = json.dumps(send_body()).encode()
    sockets = set()
    for _ in range(20):
        conn.request("POST", f"{SEND}?access_token={token}", body=payload)
        response = conn.getresponse()
        assert json.loads(response.read())["errcode"] == 0
        assert response.getheader("Connection") is None
        sockets.add(id(conn.sock))
    assert len(sockets) == 1
    conn.close()


def test_chunked_request_body(wxemu, token):
    parts = urlsplit(wxemu.base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    payload = json.dumps(send_body()).encode()
    conn.request(
        "POST",
        f"{SEND}?access_token={token}",
        body=iter([payload[:10], payload[10:]]),
        encode_chunked=True,
    )
    assert json.loads(conn.getresponse().read())["errcode"] == 0
    conn.close()


def test_connection_close_is_honoured(wxemu):
    parts = urlsplit(wxemu.base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    conn.request("GET", "/__wxemu__/demo", headers={"Connection": "close"})
    response = conn.getresponse()
    assert response.getheader("Connection") == "close"
    assert json.loads(response.read())["demo"]["appid"] == demo.APPID
    conn.close()


def test_concurrent_clients_never_overspend_grants(wxemu, token):
    user = "oConcurrentUser0000000000000"
    wxemu.grant(demo.APPID, user, demo.TEMPLATE_ID, 50)
    results: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        import requests

        with requests.Session() as s:
            for _ in range(20):
                r = s.post(
                    wxemu.url(SEND), params={"access_token": token}, json=send_body(touser=user)
                )
                with lock:
                    results.append(r.json()["errcode"])

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(0) == 50 and results.count(43101) == 30
    assert len(wxemu.messages(openid=user)) == 50


def test_in_process_dispatch_gives_the_same_shapes():
    emulator = Emulator()
    query = f"grant_type=client_credential&appid={demo.APPID}&secret={demo.SECRET}"
    status, headers, body = dispatch(emulator, "GET", "/cgi-bin/token", query, {}, b"")
    assert status == 200 and headers["Content-Type"] == "application/json; encoding=utf-8"
    token = json.loads(body)["access_token"]
    payload = json.dumps(send_body()).encode()
    status, _, body = dispatch(emulator, "POST", SEND, {"access_token": token}, {}, payload)
    assert json.loads(body)["errcode"] == 0
    status, _, body = dispatch(emulator, "POST", SEND, {}, {}, payload)
    answer = json.loads(body)
    assert status == 200 and answer["errcode"] == 41001
    match = RID_RE.match(answer["errmsg"])
    assert match and match["text"] == "access_token missing"
    assert [m.touser for m in emulator.messages()] == [demo.OPENID]


def test_running_server_shuts_down_with_idle_keep_alive_clients():
    import requests

    with running_server() as server:
        session = requests.Session()
        assert session.get(server.url("/__wxemu__/demo")).status_code == 200
    # The idle connection was dropped; the port no longer answers.
    try:
        session.get(server.url("/__wxemu__/demo"), timeout=1)
        raise AssertionError("the server still answers")
    except requests.ConnectionError:
        pass
    finally:
        session.close()
