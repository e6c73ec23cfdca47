"""A local HTTP front for the functions: requests in, SCF events to ``main_handler`` out.

By default each request becomes the event of an SCF **Function URL** (函数 URL), the HTTP
exposure the deploy descriptors create: ``{body, headers, httpMethod, path, queryString}`` with
lower-cased header names, and the function's ``{statusCode, headers, body}`` becomes the answer
(https://cloud.tencent.com/document/product/583/96099). ``shape="apigw"`` speaks the API
gateway's integration request instead (``requestContext``, ``isBase64Encoded``…) and its
integrated response (https://cloud.tencent.com/document/product/583/12513), for deployments that
still sit behind the gateway. Either way the local stack runs a deployed function's code path.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import parse_qs, parse_qsl, urlsplit

Handler = Callable[[dict[str, Any], dict[str, Any]], Any]

FUNCTION_URL, APIGW = "function_url", "apigw"
SHAPES = (FUNCTION_URL, APIGW)

#: What SCF allows by default is 3 s; the local stack is more patient with a debugger attached.
TIME_LIMIT_MS = 30_000


def load_handler(index_py: Path) -> Handler:
    """Import ``functions/<name>/index.py`` by path and return its ``main_handler``."""
    name = f"wxapush_function_{index_py.parent.name}"
    spec = importlib.util.spec_from_file_location(name, index_py)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {index_py}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler: Handler = module.main_handler
    return handler


def gateway_event(
    method: str, target: str, headers: Mapping[str, str], body: bytes, source_ip: str
) -> dict[str, Any]:
    """The event SCF hands a function behind an API-gateway trigger."""
    parts = urlsplit(target)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    request_id = uuid.uuid4().hex
    return {
        "httpMethod": method,
        "path": parts.path,
        "headers": {key.lower(): value for key, value in headers.items()},
        "queryString": query,
        "queryStringParameters": query,
        "headerParameters": {},
        "pathParameters": {},
        "stageVariables": {"stage": "release"},
        "body": text,
        "isBase64Encoded": encoded,
        "requestContext": {
            "serviceId": "service-wxapush-local",
            "path": parts.path,
            "httpMethod": method,
            "requestId": request_id,
            "sourceIp": source_ip,
            "stage": "release",
            "identity": {},
        },
    }


def function_url_event(
    method: str, target: str, headers: Mapping[str, str], body: bytes
) -> dict[str, Any]:
    """The event SCF hands an event function through its Function URL: the gateway's event
    without ``requestContext``, ``isBase64Encoded``, ``queryStringParameters``,
    ``pathParameters`` and ``headerParameters``. A repeated query parameter becomes a list."""
    parts = urlsplit(target)
    query: dict[str, Any] = {
        key: values[0] if len(values) == 1 else values
        for key, values in parse_qs(parts.query, keep_blank_values=True).items()
    }
    return {
        "body": body.decode("utf-8", errors="surrogateescape"),
        "headers": {key.lower(): value for key, value in headers.items()},
        "httpMethod": method,
        "path": parts.path,
        "queryString": query,
    }


def scf_context(function_name: str) -> dict[str, Any]:
    """The context SCF passes next to an event (no WeChat identity: a gateway call)."""
    return {
        "request_id": uuid.uuid4().hex,
        "function_name": function_name,
        "function_version": "$LATEST",
        "namespace": "default",
        "memory_limit_in_mb": 128,
        "time_limit_in_ms": TIME_LIMIT_MS,
        "tencentcloud_region": "ap-guangzhou",
        "environment": "{}",
        "environ": "",
    }


class Gateway(ThreadingHTTPServer):
    """Routes ``/<function>`` to that function's ``main_handler``."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handlers: Mapping[str, Handler],
        shape: str = FUNCTION_URL,
    ) -> None:
        if shape not in SHAPES:
            raise ValueError(f"shape must be one of {', '.join(SHAPES)}, not {shape!r}")
        self.handlers = dict(handlers)
        self.shape = shape
        super().__init__(address, _GatewayRequest)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="wxapush-gateway", daemon=True)
        thread.start()
        return thread


class _GatewayRequest(BaseHTTPRequestHandler):
    server: Gateway
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._invoke()

    # Every method reaches the function, which answers 405 (with Allow) for those it refuses.
    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _invoke(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        name = urlsplit(self.path).path.strip("/").split("/")[0]
        handler = self.server.handlers.get(name)
        if handler is None:
            served = "".join(f"  /{n}\n" for n in sorted(self.server.handlers))
            text = f"no function at {urlsplit(self.path).path}; this gateway serves:\n{served}"
            self._answer(404, {"Content-Type": "text/plain; charset=utf-8"}, text)
            return
        headers = dict(self.headers.items())
        if self.server.shape == APIGW:
            event = gateway_event(self.command, self.path, headers, body, self.client_address[0])
        else:
            event = function_url_event(self.command, self.path, headers, body)
        result = handler(event, scf_context(name))
        if not isinstance(result, dict) or "statusCode" not in result:
            self._answer(502, {"Content-Type": "application/json"}, json.dumps(result))
            return
        payload = result.get("body", "")
        raw = base64.b64decode(payload) if result.get("isBase64Encoded") else str(payload).encode()
        self._answer(int(result["statusCode"]), result.get("headers") or {}, raw)

    def _answer(self, status: int, headers: Mapping[str, Any], body: str | bytes) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        for key, value in headers.items():
            for item in value if isinstance(value, list) else [value]:
                self.send_header(key, str(item))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
