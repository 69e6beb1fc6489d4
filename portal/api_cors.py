"""Cross-origin answers for the REST API, to browser extensions only.

The Chrome extension's service worker posts dials from its own origin
(`chrome-extension://<id>`). Answering CORS here, rather than having the extension ask each rep
for a host permission on the portal's address, lets an extension force-installed on every rep's
Chrome work with any portal address and no prompt. It gives nothing away: the API is
authenticated by a bearer token the caller must already hold and that browsers never attach on
their own, and `Access-Control-Allow-Credentials` is never sent, so cookies cannot ride along.
Web pages' origins get no CORS answer at all.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

API_PREFIX = "/api/"
EXTENSION_ORIGIN_PREFIXES = ("chrome-extension://",)
PREFLIGHT_MAX_AGE_SECONDS = 600


class ExtensionCorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        origin = request.headers.get("Origin", "")
        if not (
            request.path.startswith(API_PREFIX) and origin.startswith(EXTENSION_ORIGIN_PREFIXES)
        ):
            return self.get_response(request)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            # A preflight carries no token: answered here, before authentication would refuse it.
            response = HttpResponse(status=204)
            response["Access-Control-Allow-Methods"] = "GET, POST"
            response["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            response["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_SECONDS)
        else:
            response = self.get_response(request)
        response["Access-Control-Allow-Origin"] = origin
        patch_vary_headers(response, ["Origin"])
        return response
