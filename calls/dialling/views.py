"""`POST /api/v1/dial` and `GET /api/v1/dial/<call id>`, for the rep's API token only.

The body is the Chrome extension's message as Outreach posts it (`{"callId", "phoneNumber",
"ext"}`, `source` optional but "outreach" when given) or a `tel:` URI (`{"uri": "tel:..."}`).
Answers (README "Click-to-dial"): 201 placed, 202 still being placed or unconfirmed, 422 the
call could not be placed (recorded, and `failed` for Outreach), 400 a message that names no call
or no number (nothing recorded), 401 a token that is unknown, expired or revoked. A call id
dialled before answers how that dial stands (200 rather than 201 once placed), `repeat: true`.
"""

from __future__ import annotations

from rest_framework.decorators import api_view, authentication_classes
from rest_framework.request import Request
from rest_framework.response import Response

from calls.dialling.messages import BadDial, dial_asked
from calls.dialling.selectors import dial_answer
from calls.dialling.services import NothingToDialWith, dial_place
from calls.models import Call, DialStatus
from portal.accounts.authentication import ApiTokenAuthentication
from portal.accounts.models import ApiToken


@api_view(["POST"])
@authentication_classes([ApiTokenAuthentication])
def dial(request: Request) -> Response:
    api_token = request.auth
    assert isinstance(api_token, ApiToken)  # the only authentication this view takes
    try:
        asked = dial_asked(request.data)
        dialled = dial_place(user=api_token.user, organization=api_token.organization, asked=asked)
    except BadDial as error:
        return Response({"status": "refused", "error": str(error)}, status=400)
    except NothingToDialWith as error:
        return Response({"status": "failed", "error": str(error), "detail": str(error)}, status=422)
    answer = dial_answer(call=dialled.call, repeat=dialled.repeat)
    if answer["status"] == DialStatus.FAILED:
        answer["error"] = dialled.call.dial_reason
    return Response(answer, status=_status_code(answer["status"], repeat=dialled.repeat))


@api_view(["GET"])
@authentication_classes([ApiTokenAuthentication])
def dial_status(request: Request, call_id: str) -> Response:
    """How a dial went since: the extension asks a few times after dialling, so the rep learns
    when Outreach has `initiated`, or why it refused the call."""
    api_token = request.auth
    assert isinstance(api_token, ApiToken)
    call = (
        Call.objects.for_organization(api_token.organization)
        .filter(outreach_call_id=call_id)
        .first()
    )
    if call is None:
        return Response({"error": f"No call {call_id} was dialled here."}, status=404)
    return Response(dial_answer(call=call, repeat=False))


def _status_code(status: str, *, repeat: bool) -> int:
    if status == DialStatus.FAILED:
        return 422
    if status == DialStatus.PLACED:
        return 200 if repeat else 201
    return 202
