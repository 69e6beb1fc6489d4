"""Dialling the extension Outreach gave once the customer's side of a placed call answers
(Outreach's guide: the extension is dialled automatically after the call is connected).

Finesse's MAKE_CALL answer names no dialog, so the task looks for the rep's dialog to the
number it dialled among their dialogs, every second, and sends the digits with SEND_DTMF as
the rep once the customer's participant is ACTIVE. It stops when the dialog fails or drops, or
when the customer has not answered by `give_up_at`. Its arguments hold no secret: the rep's
sign-in is read when it runs.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import httpx
from celery import shared_task

from integrations.finesse.client import Finesse, api_error, send_dtmf_xml
from integrations.models import ProviderConnection
from integrations.selectors import rep_sign_in_values
from portal import clock

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0
REQUEST_TIMEOUT_SECONDS = 5.0


@shared_task(bind=True, max_retries=None, ignore_result=True)
def finesse_dial_extension(
    self: Any,
    *,
    connection_id: int,
    user_id: int | None,
    agent_extension: str,
    to_address: str,
    digits: str,
    give_up_at: str,
) -> str:
    connection = ProviderConnection.objects.filter(pk=connection_id).first()
    sign_in = rep_sign_in_values(connection=connection, user_id=user_id) if connection else {}
    if connection is None or not sign_in.get("finesse_password"):
        return "no sign-in"
    finesse = Finesse(
        connection.setup_values().get("finesse_url", ""),
        user=sign_in.get("finesse_user", ""),
        password=sign_in["finesse_password"],
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    try:
        dialog = _placed_dialog(finesse.user_dialogs(), to_address)
        if dialog is not None and _customer_answered(dialog, agent_extension):
            answer = finesse.send_dtmf(
                dialog["id"], send_dtmf_xml(agent_extension=agent_extension, digits=digits)
            )
            if answer.status_code in (200, 202):
                logger.info(
                    "finesse.extension_dialled connection=%s dialog=%s", connection_id, dialog["id"]
                )
                return "sent"
            logger.warning(
                "finesse.extension_refused connection=%s dialog=%s error=%s",
                connection_id,
                dialog["id"],
                api_error(answer),
            )
            return "refused"
        if dialog is not None and dialog.get("state") in ("FAILED", "DROPPED"):
            return "ended"
    except (httpx.HTTPError, ValueError) as error:
        logger.info(
            "finesse.extension_waits connection=%s error=%s", connection_id, type(error).__name__
        )
    if clock.now() >= datetime.fromisoformat(give_up_at):
        return "gave up"
    raise self.retry(countdown=POLL_SECONDS)


def _placed_dialog(dialogs: list[dict[str, Any]], to_address: str) -> dict[str, Any] | None:
    """The newest of the rep's dialogs to the number dialled."""
    found = [dialog for dialog in dialogs if dialog.get("toAddress") == to_address]
    return found[-1] if found else None


def _customer_answered(dialog: dict[str, Any], agent_extension: str) -> bool:
    participants = dialog.get("participants", {}).get("participant", [])
    return dialog.get("state") == "ACTIVE" and any(
        participant.get("mediaAddress") != agent_extension and participant.get("state") == "ACTIVE"
        for participant in participants
    )
