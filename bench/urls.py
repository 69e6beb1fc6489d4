"""The product's URLs plus `/bench/ok`, a view that does nothing: the same gunicorn, middleware
and request parsing as the webhook, without its work. Its throughput is the ceiling the webhook's
is compared with."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from portal.urls import urlpatterns as product_urlpatterns


@csrf_exempt
def ok(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("bench/ok", ok), *product_urlpatterns]
