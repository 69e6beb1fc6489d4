"""HTTP plumbing: a ThreadingHTTPServer whose every request goes through SandboxServer.answer -
faults first, then /api/v2, /oauth or /_control, then the request log - under the store's lock
(but for a 'hang' or 'hold' fault's wait). Whatever goes wrong answers JSON, never an HTML error
page or a dropped connection."""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from . import api, control_api, dialer_page, oauth
from .errors import ApiError
from .messages import (
    JSON_API,
    Context,
    Request,
    Response,
    error_response,
    json_response,
    jsonapi_response,
    resolve,
)
from .options import SandboxOptions
from .request_log import log_entry
from .store import Fault, Store

logger = logging.getLogger(__name__)

_INTERNAL_ERROR = ApiError(
    500, "internalServerError", "Internal Server Error", "The sandbox failed to answer."
)
_INJECTED = "Injected by the sandbox's control API."


def _is_api(path: str) -> bool:
    return path == api.PREFIX or path.startswith(f"{api.PREFIX}/")


_RESET_WHILE_WAITING = "The sandbox was reset while this request waited; it was not applied."


def _is_control(path: str) -> bool:
    return path.startswith(f"{control_api.PREFIX}/")


def _is_dialer(path: str) -> bool:
    return path == dialer_page.PREFIX or path.startswith(f"{dialer_page.PREFIX}/")


def _status_error(status: int, detail: str) -> ApiError:
    """A JSON:API error named after its status: 431 is requestHeaderFieldsTooLarge."""
    phrase = HTTPStatus(status).phrase
    error_id = phrase[0].lower() + phrase.title().replace(" ", "").replace("-", "")[1:]
    return ApiError(status, error_id, phrase, detail)


def _injected_error(path: str, fault: Fault) -> Response:
    """An 'error' fault's answer (or a hang's or hold's with thenError): its JSON body if it has
    one (JSON:API under /api/v2, plain JSON such as an OAuth error elsewhere), else a JSON:API
    error for its status."""
    if fault.body is not None:
        content_type = JSON_API if _is_api(path) else "application/json"
        return json_response(fault.status, fault.body, content_type=content_type)
    if fault.status == _INTERNAL_ERROR.status:
        return error_response(_INTERNAL_ERROR)
    return error_response(_status_error(fault.status, _INJECTED))


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, options: SandboxOptions) -> None:
        self.store = Store(options)
        super().__init__((options.host, options.port), _Handler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        assert isinstance(host, str)  # bound to options.host, a str; typeshed allows bytes too
        return f"http://{host}:{port}"

    def answer(self, request: Request, received_at: datetime, started: float) -> Response:
        store = self.store
        with store.lock:
            generation = store.generation
            received_at_sandbox = store.now()
            # The control API (and the dialer page driving it) is never faulted: tests must
            # always be able to recover.
            untouchable = _is_control(request.path) or _is_dialer(request.path)
            fault = None if untouchable else store.take_fault(request.path)
            held = None
            if fault and fault.kind == "hold":
                held = store.hold(
                    method=request.method, path=request.path, client_port=request.client_port
                )
        # Without the lock: other requests, and the control API's release, go on meanwhile.
        if fault and fault.kind == "hang":
            time.sleep(fault.seconds)
        if fault and held:
            held.released.wait(fault.seconds)
        with store.lock:
            if fault and held:
                store.forget_held(held)  # released, or it waited out its maximum
                fault.then_error = held.then_error  # the release said how to answer
            if store.generation != generation:
                return error_response(
                    ApiError(503, "sandboxReset", "Service Unavailable", _RESET_WHILE_WAITING)
                )
            ctx = Context(store, store.now(), self.base_url, request_index=len(store.requests))
            response = self._respond(request, ctx, fault)
            # Reading the log does not add to it, so that polling it leaves it readable.
            if not (request.method == "GET" and request.path == "/_control/requests"):
                store.requests.append(
                    log_entry(
                        index=len(store.requests),
                        request=request,
                        response=response,
                        ctx=ctx,
                        received_at=received_at,
                        received_at_sandbox=received_at_sandbox,
                        duration_ms=(time.perf_counter() - started) * 1000,
                        fault=fault.kind if fault else None,
                    )
                )
        return response

    def _respond(self, request: Request, ctx: Context, fault: Fault | None) -> Response:
        if fault and (fault.kind == "error" or fault.then_error):
            return _injected_error(request.path, fault)
        if fault and fault.kind == "rate_limit":
            return error_response(
                ApiError(
                    429,
                    "rateLimitExceeded",
                    "Rate Limit Exceeded",
                    _INJECTED,
                    headers={"Retry-After": str(fault.retry_after)},
                )
            )
        try:
            return self._dispatch(request, ctx)
        except ApiError as error:
            ctx.trace.refused(error.rule)
            return error_response(error)
        except Exception:
            logger.exception("Outreach sandbox failed on %s %s", request.method, request.path)
            return error_response(_INTERNAL_ERROR)

    def _dispatch(self, request: Request, ctx: Context) -> Response:
        if _is_api(request.path):
            return api.handle_api(request, ctx)
        if _is_control(request.path) or _is_dialer(request.path):
            # The dialer page drives the control API, so it is loopback only like it.
            if not ipaddress.ip_address(request.client_host).is_loopback:
                raise ApiError(403, "forbidden", "Forbidden", "The control API is loopback only.")
        if _is_control(request.path):
            path = request.path.removeprefix(control_api.PREFIX)
            endpoint, parameters = resolve(control_api.ROUTES, request.method, path, ctx.trace)
        elif _is_dialer(request.path):
            endpoint, parameters = resolve(
                dialer_page.ROUTES, request.method, request.path, ctx.trace
            )
        else:
            endpoint, parameters = resolve(oauth.ROUTES, request.method, request.path, ctx.trace)
        return endpoint.handler(request, ctx, parameters)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every answer carries a Content-Length
    # Headers and body go out in two writes; without this, Nagle and delayed ACKs add ~40 ms.
    disable_nagle_algorithm = True
    timeout = 60  # seconds a kept-alive connection or a short body may hold a thread
    server: SandboxServer

    def __getattr__(self, name: str) -> Any:
        # Every method, known or not (do_GET, do_PATCH, do_BREW...), goes through one place.
        if name.startswith("do_"):
            return self._answer
        raise AttributeError(name)

    def _answer(self) -> None:
        received_at = datetime.now(UTC)
        started = time.perf_counter()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.send_error(400, "Content-Length is not a number.")
            return
        if self.headers.get("Transfer-Encoding"):
            self.send_error(411, "Send a Content-Length; chunked bodies are not supported.")
            return
        try:
            body = self.rfile.read(length) if length > 0 else b""
        except TimeoutError:
            self.close_connection = True  # the body never came: nothing to answer
            return
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            query_string=parts.query,
            headers=self.headers,
            body=body,
            client_host=self.client_address[0],
            client_port=self.client_address[1],
        )
        self._write(self.server.answer(request, received_at, started))

    def _write(self, response: Response) -> None:
        try:
            self.send_response(response.status)
            if response.content_type:
                self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up, or died, during a hang or hold

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line, header too long...) as JSON:API."""
        self.close_connection = True
        error = _status_error(code, message or explain or HTTPStatus(code).phrase)
        self._write(jsonapi_response(code, error.document()))

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


def serve(options: SandboxOptions | None = None) -> None:
    """Runs the sandbox in the foreground until interrupted."""
    server = SandboxServer(options or SandboxOptions())
    # The launcher reads this line to learn the port when started with --port 0.
    print(f"Outreach sandbox listening on {server.base_url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@contextmanager
def running_sandbox(**options: Any) -> Iterator[str]:
    """A sandbox on a free loopback port in a background thread; yields its base URL.
    Takes SandboxOptions' fields (e.g. mint_window=0)."""
    if "redirect_uris" in options:
        options["redirect_uris"] = tuple(options["redirect_uris"])
    server = SandboxServer(SandboxOptions(**{"port": 0, **options}))
    # A short poll interval: shutdown() waits for it, and tests start and stop sandboxes.
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="outreach-sandbox", daemon=True
    )
    thread.start()
    try:
        yield server.base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
