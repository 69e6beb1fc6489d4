"""The body of a logged call's POST /calls in each of the seeds' outcome words (seed 003 and the
Call reference), and reading which attribute Outreach refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.outreach.client import LogCall, describe, log_call_document
from integrations.outreach.models import OutcomeWords
from integrations.outreach.transport import error_pointer

pytestmark = pytest.mark.fast

ANSWERED = LogCall(
    outreach_user_id="7",
    direction="outbound",
    answered=True,
    answered_at=datetime(2030, 1, 1, 12, 0, 5, tzinfo=UTC),
    completed_at=datetime(2030, 1, 1, 12, 1, tzinfo=UTC),
    from_number="+12065550100",
    to_number="+12065550188",
    vendor_call_id="pbx-1",
)


@pytest.mark.parametrize(
    ("words", "answered", "expected"),
    [
        (OutcomeWords.REFERENCE, True, "Answered"),
        (OutcomeWords.REFERENCE, False, "Not Answered"),
        (OutcomeWords.GUIDE, True, "completed"),
        (OutcomeWords.GUIDE, False, "no_answer"),
    ],
)
def test_it_spells_the_outcome_in_the_words_asked_for(
    words: OutcomeWords, answered: bool, expected: str
) -> None:
    request = LogCall(**{**vars(ANSWERED), "answered": answered})
    document = log_call_document(request, outcome_words=words)
    assert document["data"]["attributes"]["outcome"] == expected


def test_it_sends_the_times_user_prospect_task_and_vendor_call_id() -> None:
    document = log_call_document(
        ANSWERED, outcome_words=OutcomeWords.REFERENCE, prospect_id="3", task_id="9"
    )
    assert document == {
        "data": {
            "type": "call",
            "attributes": {
                "direction": "outbound",
                "outcome": "Answered",
                "completedAt": "2030-01-01T12:01:00.000Z",
                "vendorCallId": "pbx-1",
                "answeredAt": "2030-01-01T12:00:05.000Z",
                "from": "+12065550100",
                "to": "+12065550188",
            },
            "relationships": {
                "user": {"data": {"type": "user", "id": 7}},
                "prospect": {"data": {"type": "prospect", "id": 3}},
                "task": {"data": {"type": "task", "id": 9}},
            },
        }
    }


def test_it_records_a_logged_call_as_a_post_before_sending_it() -> None:
    method, path, body = describe(ANSWERED)
    assert (method, path) == ("POST", "/calls")
    assert body is not None and "externalVendor" not in body["data"]["attributes"]


def test_it_reads_the_pointer_of_the_attribute_outreach_refused() -> None:
    refusal = {
        "errors": [{"id": "validationError", "source": {"pointer": "/data/attributes/outcome"}}]
    }
    assert error_pointer(refusal) == "/data/attributes/outcome"
    assert error_pointer({"errors": [{"id": "x"}]}) == ""
    assert error_pointer("<html>") == ""
