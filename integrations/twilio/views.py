"""Twilio's own pages beside the webhook door: the voice URL (TwiML for the routing we serve and
the calls we place, `routing.py`) and the recording and voicemail links we give Outreach
(`links.py`), played through the portal."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
from django.contrib.auth.views import redirect_to_login
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from integrations.models import ProviderConnection
from integrations.provider import WebhookRejected
from integrations.twilio.links import read_link
from integrations.twilio.provider import TwilioProvider
from integrations.twilio.rest import Media, TwilioApi
from integrations.twilio.routing import routing_answer
from integrations.twilio.setup import read_setup
from portal.audit.services import audit_record
from portal.tenancy.models import Membership

logger = logging.getLogger(__name__)

# What a player needs to scrub: passed on from Twilio's answer as it came.
MEDIA_HEADERS = ("Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "ETag")
PASSED_STATUSES = frozenset({200, 206, 416})
CHUNK = 64 * 1024


@csrf_exempt
@require_POST
def voice(request: HttpRequest, token: str) -> HttpResponse:
    connection = (
        ProviderConnection.objects.filter(kind="twilio", webhook_token=token, is_active=True)
        .select_related("organization")
        .first()
    )
    if connection is None:
        return HttpResponse("No active Twilio connection has this URL.", status=404)
    try:
        TwilioProvider().verify(request, connection)
    except WebhookRejected as error:
        logger.warning("twilio.voice_refused connection=%s reason=%s", connection.pk, error)
        return HttpResponse(error.reason, status=error.status, content_type="text/plain")
    answer = routing_answer(
        request.GET.get("step", ""),
        params=request.POST,
        query=request.GET,
        connection=connection,
        setup=read_setup(connection.setup_values()),
    )
    return HttpResponse(str(answer), content_type="text/xml")


@require_GET
def recording(request: HttpRequest, token: str) -> HttpResponseBase:
    names = read_link(token)
    if names is None:
        return _refused(404, "This recording link is not one of Callbridge's: it was altered.")
    connection = (
        ProviderConnection.objects.filter(pk=names.connection_id, kind="twilio")
        .select_related("organization")
        .first()
    )
    if connection is None:
        return _refused(404, "The Twilio connection this recording came through is gone.")
    organization = connection.organization
    if names.generation != organization.recording_links_generation:
        return _refused(410, f"{organization.name} revoked this recording link.")
    user = request.user if request.user.is_authenticated else None
    if organization.recording_links_need_sign_in:
        if user is None:
            return redirect_to_login(request.get_full_path())
        member = Membership.objects.filter(organization=organization, user=user).exists()
        if not (member or user.is_staff):
            return _refused(403, f"Only members of {organization.name} may play its recordings.")
    byte_range = request.headers.get("Range", "")[:100]
    media: Media | None = None
    unreachable = ""
    try:
        media = TwilioApi(read_setup(connection.setup_values())).open_recording(
            names.recording_sid, byte_range=byte_range
        )
    except httpx.HTTPError as error:
        unreachable = f"Twilio could not be reached for the recording ({type(error).__name__})."
    status = media.response.status_code if media is not None else 0
    audit_record(
        action="recording.played",
        organization=organization,
        actor=user,
        target=connection,
        data={"recording": names.recording_sid, "range": byte_range, "twilio_status": status},
    )
    if media is None:
        return _refused(502, unreachable)
    location = media.response.headers.get("Location", "")
    if 300 <= status < 400 and location:
        media.close()  # Twilio's short-lived URL for the media: the player fetches it itself
        return HttpResponseRedirect(location)
    if status not in PASSED_STATUSES:
        media.close()
        logger.warning(
            "twilio.recording_refused recording=%s status=%s", names.recording_sid, status
        )
        return _refused(
            502,
            f"Twilio refused the recording (HTTP {status}): it may have been deleted, or the "
            "connection's credentials changed.",
        )
    response = StreamingHttpResponse(_chunks(media), status=status)
    for name in MEDIA_HEADERS:
        if name in media.response.headers:
            response[name] = media.response.headers[name]
    response["Cache-Control"] = "private, no-cache"
    response["Content-Disposition"] = f'inline; filename="{names.recording_sid}.wav"'
    return response


def _chunks(media: Media) -> Iterator[bytes]:
    try:
        yield from media.response.iter_raw(CHUNK)
    finally:
        media.close()


def _refused(status: int, reason: str) -> HttpResponse:
    return HttpResponse(reason, status=status, content_type="text/plain; charset=utf-8")
