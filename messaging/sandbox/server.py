"""The sandbox HTTP server: WeChat/WeCom APIs under /cgi-bin/ and /sns/, the control API under /_sandbox/.

A stdlib ThreadingHTTPServer speaking HTTP/1.1 with keep-alive (and TCP_NODELAY, so small answers are
not held back by Nagle's algorithm on a kept-alive connection): a thread per connection, one lock for the
state. API errors are answered with HTTP 200 and a JSON errcode, as WeChat does.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from messaging.channels.hosts import sandbox_started
from messaging.sandbox import control_api
from messaging.sandbox.eventpost import CallbackPoster
from messaging.sandbox.handlers import Ctx, build_routes
from messaging.sandbox.handlers.media import UPLOAD_PATHS
from messaging.sandbox.multipart import is_multipart, multipart_parse
from messaging.sandbox.state import ApiError, SandboxState

logger = logging.getLogger(__name__)

MASKED_PARAMS = {"access_token", "secret", "corpsecret", "js_code"}
MAX_BODY = 32 * 1024 * 1024
PUBLIC, WECHAT, WECOM = build_routes()
ALL_API_PATHS = set(PUBLIC) | set(WECHAT) | set(WECOM)


def api_path(path: str) -> str:
    """Strip anything before /cgi-bin/, /sns/ or /wxaapi/, so a base URL with a prefix still works."""
    for marker in ("/cgi-bin/", "/sns/", "/wxaapi/", "/datacube/"):
        at = path.find(marker)
        if at > 0:
            return path[at:]
    return path


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "WeChatSandbox/1.0"
    sandbox: SandboxServer  # set on the subclass made per server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args) -> None:
        logger.debug("sandbox: " + format, *args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(413, {"errcode": 44002, "errmsg": "body too large"})
            self.close_connection = True
            return
        raw = self.rfile.read(length) if length else b""
        try:
            if url.path.startswith("/_sandbox/"):
                status, answer = self.sandbox.control(url.path[len("/_sandbox/"):].strip("/"), query, raw)
            else:
                status, answer = self.sandbox.api(self.command, api_path(url.path), query, raw,
                                                  content_type=self.headers.get("Content-Type") or "",
                                                  client=self.client_address[0])
        except Exception as exc:  # a sandbox bug: answer 500 so it shows, keep serving
            logger.exception("sandbox: error handling %s", url.path)
            status, answer = 500, {"errcode": -1, "errmsg": f"sandbox internal error: {exc!r}"}
        self._send(status, answer)

    def _send(self, status: int, answer: dict) -> None:
        payload = json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; encoding=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class SandboxServer:
    """A running sandbox: `SandboxServer(host, port=0, open_mode=False).start()`, `.base_url`, `.stop()`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, open_mode: bool = False) -> None:
        self.host, self.port = host, port
        self.state = SandboxState(open_mode=open_mode)
        self.poster: CallbackPoster | None = None
        self.httpd: _HTTPServer | None = None
        self.thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> SandboxServer:
        """Bind and serve on a background thread."""
        handler = type("SandboxHandler", (_Handler,), {"sandbox": self})
        self.httpd = _HTTPServer((self.host, self.port), handler)
        self.port = self.httpd.server_address[1]
        self.poster = CallbackPoster(self.state)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                       name="wechat-sandbox", daemon=True)
        self.thread.start()
        # Accounts of this process may point at the sandbox it started (tests, benchmarks).
        sandbox_started(self.base_url)
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
        if self.poster is not None:
            self.poster.stop()
            self.poster = None

    # --- the WeChat APIs -------------------------------------------------------------------
    def api(self, method: str, path: str, query: dict[str, str], raw: bytes, content_type: str = "", *,
            client: str = "") -> tuple[int, dict]:
        state = self.state
        body: dict = {}
        extra: dict = {}
        answer: dict
        app_id = ""
        if path not in ALL_API_PATHS:
            answer = {"errcode": 404, "errmsg": f"sandbox does not implement {path}"}
            self._record(method, path, query, None, answer, app_id, client)
            return 404, answer
        if state.faults.latency_ms:
            time.sleep(state.faults.latency_ms / 1000)
        parse_error = None
        # Uploads are multipart: the handlers get the parsed fields and files (ctx.extra), the request
        # log each file's summary, not its bytes. WeCom's media uploads (handlers/media.py) judge a
        # missing file themselves (44001); everything else is JSON.
        upload = path in UPLOAD_PATHS
        if raw and is_multipart(content_type):
            try:
                extra["fields"], extra["files"] = multipart_parse(content_type or "", raw)
                body = {**extra["fields"], **{name: f.summary() for name, f in extra["files"].items()}}
            except ValueError:
                if not upload:
                    parse_error = ApiError(41005, "media data missing")
        elif raw and not upload:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            if not isinstance(body, dict):
                body, parse_error = {}, ApiError(47001, "data format error")
        with state.lock:
            ctx = Ctx(state=state, path=path, query=query, body=body, poster=self.poster, extra=extra)
            try:
                if parse_error is not None:
                    raise parse_error
                handler = PUBLIC.get(path)
                if handler is None:
                    ctx.app = state.app_for_token(query.get("access_token"))
                    handler = (WECOM if ctx.app.kind == "wecom" else WECHAT).get(path)
                    if handler is None:
                        raise ApiError(48001, "api unauthorized")
                    fault = state.injected_fault(path)
                    if fault is not None:
                        raise fault
                answer = handler(ctx)
                if not answer.pop("_no_errcode", False):
                    answer = {"errcode": 0, "errmsg": "ok", **answer}
            except ApiError as exc:
                answer = {"errcode": exc.errcode, "errmsg": exc.errmsg, **exc.extra}
            except (TypeError, AttributeError, ValueError, KeyError) as exc:
                # Fields of the wrong shape: WeChat answers "data format error" rather than failing.
                logger.info("sandbox: malformed %s request: %r", path, exc)
                answer = {"errcode": 47001, "errmsg": f"data format error: {type(exc).__name__}"}
            app_id = ctx.app.app_id if ctx.app is not None else query.get("appid") or query.get("corpid") or ""
            self._record(method, path, query, body, answer, app_id, client)
        return 200, answer

    def _record(self, method: str, path: str, query: dict, body: dict | None, answer: dict, app_id: str, client: str = "") -> None:
        self.state.rates.record(app_id=app_id, path=path, client=client)
        self.state.requests.append({
            "method": method, "path": path, "app_id": app_id,
            "query": {k: ("***" if k in MASKED_PARAMS else v) for k, v in query.items()},
            "body": body or None, "at": self.state.now(), "errcode": answer.get("errcode", 0),
        })

    # --- the control API -------------------------------------------------------------------
    def control(self, name: str, query: dict[str, str], raw: bytes) -> tuple[int, dict]:
        func = control_api.ROUTES.get(name)
        if func is None:
            return 404, {"error": f"unknown control call {name!r}", "calls": sorted(control_api.ROUTES)}
        try:
            params = {**query, **(json.loads(raw) if raw else {})}
        except ValueError:
            return 400, {"error": "body is not JSON"}
        try:
            if name in control_api.UNLOCKED:
                return 200, func(self, params)
            with self.state.lock:
                return 200, func(self, params)
        except control_api.UnknownApp as exc:
            return 404, {"error": str(exc)}
        except ApiError as exc:
            return 400, {"error": exc.errmsg, "errcode": exc.errcode}
        except (ValueError, KeyError, TypeError) as exc:
            return 400, {"error": str(exc) or type(exc).__name__}
