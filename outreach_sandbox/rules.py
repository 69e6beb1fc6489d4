"""Every rule the sandbox enforces, by id (README.md, "The Outreach sandbox", documents each
one), and the pure rules of the Voice Extensibility contract (seeds/000_...) for creating and
updating calls.

A RuleTrace records, per request, which rules were checked and which one refused; the request log
reports both."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from .errors import validation_error
from .store import Call


class Rule(StrEnum):
    # OAuth
    OAUTH_CLIENT = "OAUTH-CLIENT"
    OAUTH_REDIRECT_URI = "OAUTH-REDIRECT-URI"
    OAUTH_RESPONSE_TYPE = "OAUTH-RESPONSE-TYPE"
    OAUTH_SCOPE_FORMAT = "OAUTH-SCOPE-FORMAT"
    OAUTH_REQUEST = "OAUTH-REQUEST"
    OAUTH_GRANT_TYPE = "OAUTH-GRANT-TYPE"
    OAUTH_CODE = "OAUTH-CODE"
    OAUTH_CODE_REDIRECT_URI = "OAUTH-CODE-REDIRECT-URI"
    OAUTH_REFRESH_TOKEN = "OAUTH-REFRESH-TOKEN"
    OAUTH_MINT_RATE = "OAUTH-MINT-RATE"
    # Every /api/v2 request
    API_TOKEN = "API-TOKEN"
    API_RATE_LIMIT = "API-RATE-LIMIT"
    API_ROUTE = "API-ROUTE"
    API_SCOPE = "API-SCOPE"
    API_QUERY = "API-QUERY"
    API_CONTENT_TYPE = "API-CONTENT-TYPE"
    API_JSON = "API-JSON"
    API_DOCUMENT = "API-DOCUMENT"
    API_ATTRIBUTE_TYPE = "API-ATTRIBUTE-TYPE"
    API_ORG = "API-ORG"
    # POST /calls
    CALL_CREATE_ATTRIBUTES = "CALL-CREATE-ATTRIBUTES"
    CALL_DIRECTION_INBOUND = "CALL-DIRECTION-INBOUND"
    CALL_EXTERNAL_VENDOR = "CALL-EXTERNAL-VENDOR"
    CALL_OUTCOME_BLANK = "CALL-OUTCOME-BLANK"
    CALL_NUMBERS = "CALL-NUMBERS"
    CALL_NOTE_LENGTH = "CALL-NOTE-LENGTH"
    CALL_USER = "CALL-USER"
    CALL_PROSPECT = "CALL-PROSPECT"
    # PATCH /calls/{id}
    CALL_UPDATE_ATTRIBUTES = "CALL-UPDATE-ATTRIBUTES"
    CALL_UPDATE_VOICE_EXTENSION = "CALL-UPDATE-VOICE-EXTENSION"
    CALL_UPDATE_WINDOW = "CALL-UPDATE-WINDOW"
    CALL_STATE_REQUIRED = "CALL-STATE-REQUIRED"
    CALL_STATE_AFTER_FINAL = "CALL-STATE-AFTER-FINAL"
    CALL_STATE_ORDER = "CALL-STATE-ORDER"
    CALL_RECORDING_URL = "CALL-RECORDING-URL"
    CALL_RECORDING_COMPLETED = "CALL-RECORDING-COMPLETED"
    CALL_VOICEMAIL_URL = "CALL-VOICEMAIL-URL"
    CALL_VOICEMAIL_UNANSWERED_INBOUND = "CALL-VOICEMAIL-UNANSWERED-INBOUND"
    # POST /calls logging a call that did not start in Outreach (003 "Log External Calls")
    LOG_ATTRIBUTES = "LOG-ATTRIBUTES"
    LOG_DIRECTION = "LOG-DIRECTION"
    LOG_OUTCOME = "LOG-OUTCOME"
    LOG_TIMES = "LOG-TIMES"
    LOG_USER = "LOG-USER"
    LOG_PROSPECT = "LOG-PROSPECT"
    LOG_TASK = "LOG-TASK"
    # Both
    CALL_STATE_VALUE = "CALL-STATE-VALUE"
    CALL_STATE_CHANGED_AT = "CALL-STATE-CHANGED-AT"
    CALL_VENDOR_CALL_ID = "CALL-VENDOR-CALL-ID"
    # Reported in the control view, never enforced (000: "treated as failed")
    CALL_INITIATED_WITHIN_5S = "CALL-INITIATED-WITHIN-5S"


class RuleTrace:
    def __init__(self) -> None:
        self.checked: list[str] = []
        self.refused_by: str | None = None

    def check(self, rule: Rule) -> None:
        if rule not in self.checked:
            self.checked.append(rule)

    def refused(self, rule: str | None) -> None:
        if rule is not None:
            self.check(Rule(rule))
        self.refused_by = rule


STATES = (
    "initiated",
    "ringing",
    "in progress",
    "completed",
    "failed",
    "no answer",
    "busy",
    "canceled",
)
FINAL_STATES = frozenset({"completed", "failed", "no answer", "busy", "canceled"})
# 000 "The call state updates must be in order": initiated < ringing < in progress < any final.
_ORDER = {"initiated": 0, "ringing": 1, "in progress": 2} | dict.fromkeys(FINAL_STATES, 3)
UPDATE_WINDOW = timedelta(hours=1)
INITIATED_DEADLINE = timedelta(seconds=5)
VOICE_EXTENSION = "VoiceExtension"

# The Call resource's attributes (001), in its order.
CALL_ATTRIBUTES = (
    "answeredAt", "completedAt", "createdAt", "dialedAt", "direction", "externalVendor", "from",
    "note", "outcome", "recordingUrl", "returnedAt", "sequenceAction", "shouldRecordCall", "state",
    "stateChangedAt", "tags", "to", "uid", "updatedAt", "userCallType", "vendorCallId",
    "voicemailRecordingUrl",
)  # fmt: skip
# What a Voice Extension App sends when it creates an inbound call (000 "Create a new call").
CREATE_ATTRIBUTES = (
    "direction", "externalVendor", "vendorCallId", "from", "to", "outcome", "note", "state",
    "stateChangedAt",
)  # fmt: skip
# 000 "Only the attributes specified below can be updated via the new API."
UPDATE_ATTRIBUTES = ("state", "stateChangedAt", "recordingUrl", "voicemailUrl", "vendorCallId")

MAX_VENDOR_CALL_ID = 63
MAX_NUMBER = 255
MAX_NOTE = 65535
MAX_RECORDING_URL = 255
MAX_VOICEMAIL_URL = 1024


def _pointer(name: str) -> str:
    return f"/data/attributes/{name}"


def _blank(value: object) -> bool:
    return value is None or value == ""


def _check_strings(attributes: Mapping[str, object], trace: RuleTrace) -> None:
    trace.check(Rule.API_ATTRIBUTE_TYPE)
    for name, value in attributes.items():
        if value is not None and not isinstance(value, str):
            raise validation_error(
                Rule.API_ATTRIBUTE_TYPE, f"{name} must be a string.", pointer=_pointer(name)
            )


def _check_vendor_call_id(attributes: Mapping[str, object], trace: RuleTrace) -> None:
    trace.check(Rule.CALL_VENDOR_CALL_ID)
    value = attributes.get("vendorCallId")
    if isinstance(value, str) and len(value) > MAX_VENDOR_CALL_ID:
        raise validation_error(
            Rule.CALL_VENDOR_CALL_ID,
            f"vendorCallId is too long (maximum is {MAX_VENDOR_CALL_ID} characters).",
            pointer=_pointer("vendorCallId"),
        )


def _check_state_value(state: str | None, trace: RuleTrace) -> None:
    trace.check(Rule.CALL_STATE_VALUE)
    if state is not None and state not in STATES:
        allowed = ", ".join(f'"{s}"' for s in STATES)
        raise validation_error(
            Rule.CALL_STATE_VALUE,
            f'"{state}" is not a call state; the allowed values are {allowed}.',
            pointer=_pointer("state"),
        )


def _state_changed_at(
    attributes: Mapping[str, object], state: str | None, now: datetime, trace: RuleTrace
) -> datetime:
    """000: "If it's not provided, the time on which the API is invoked will be used"."""
    trace.check(Rule.CALL_STATE_CHANGED_AT)
    raw = attributes.get("stateChangedAt")
    if _blank(raw):
        return now
    if state is None:
        raise validation_error(
            Rule.CALL_STATE_CHANGED_AT,
            "stateChangedAt is the time of a state change; it needs a state.",
            pointer=_pointer("stateChangedAt"),
        )
    try:
        parsed = datetime.fromisoformat(str(raw))
    except ValueError:
        raise validation_error(
            Rule.CALL_STATE_CHANGED_AT,
            f'stateChangedAt "{raw}" is not an ISO 8601 date-time.',
            pointer=_pointer("stateChangedAt"),
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class NewInboundCall:
    from_number: str
    to_number: str
    vendor_call_id: str | None
    note: str | None
    state: str | None
    state_changed_at: datetime | None


def check_new_inbound_call(
    attributes: Mapping[str, object], now: datetime, trace: RuleTrace
) -> NewInboundCall:
    """The attribute rules of `POST /calls` for a Voice Extension App (000 "Create a new call")."""
    trace.check(Rule.CALL_CREATE_ATTRIBUTES)
    for name in attributes:
        if name not in CREATE_ATTRIBUTES:
            why = "is read-only or not" if name in CALL_ATTRIBUTES else "is not a Call attribute,"
            raise validation_error(
                Rule.CALL_CREATE_ATTRIBUTES,
                f"{name} {why} accepted when a Voice Extension App creates an inbound call.",
                pointer=_pointer(name),
            )
    _check_strings(attributes, trace)

    trace.check(Rule.CALL_DIRECTION_INBOUND)
    if attributes.get("direction") != "inbound":
        raise validation_error(
            Rule.CALL_DIRECTION_INBOUND,
            'direction must be "inbound": outbound calls are created by the Outreach client.',
            pointer=_pointer("direction"),
        )
    trace.check(Rule.CALL_EXTERNAL_VENDOR)
    if attributes.get("externalVendor") != VOICE_EXTENSION:
        raise validation_error(
            Rule.CALL_EXTERNAL_VENDOR,
            f'externalVendor must be "{VOICE_EXTENSION}".',
            pointer=_pointer("externalVendor"),
        )
    trace.check(Rule.CALL_OUTCOME_BLANK)
    if not _blank(attributes.get("outcome")):
        raise validation_error(
            Rule.CALL_OUTCOME_BLANK,
            "outcome must be blank because the call is ongoing.",
            pointer=_pointer("outcome"),
        )
    trace.check(Rule.CALL_NUMBERS)
    for name in ("from", "to"):
        value = attributes.get(name)
        if _blank(value):
            raise validation_error(
                Rule.CALL_NUMBERS, f"{name} must be specified.", pointer=_pointer(name)
            )
        if len(str(value)) > MAX_NUMBER:
            raise validation_error(
                Rule.CALL_NUMBERS,
                f"{name} is too long (maximum is {MAX_NUMBER} characters).",
                pointer=_pointer(name),
            )
    _check_vendor_call_id(attributes, trace)
    trace.check(Rule.CALL_NOTE_LENGTH)
    note = attributes.get("note")
    if isinstance(note, str) and len(note) > MAX_NOTE:
        raise validation_error(
            Rule.CALL_NOTE_LENGTH,
            f"note is too long (maximum is {MAX_NOTE} characters).",
            pointer=_pointer("note"),
        )
    state = None if _blank(attributes.get("state")) else str(attributes["state"])
    _check_state_value(state, trace)
    changed_at = _state_changed_at(attributes, state, now, trace)
    return NewInboundCall(
        from_number=str(attributes["from"]),
        to_number=str(attributes["to"]),
        vendor_call_id=_optional(attributes.get("vendorCallId")),
        note=_optional(note),
        state=state,
        state_changed_at=changed_at if state else None,
    )


def _optional(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class CallUpdate:
    """What an accepted PATCH changes. new_state None: the state stays as it is."""

    new_state: str | None
    state_changed_at: datetime
    recording_url: str | None
    voicemail_url: str | None
    sets_vendor_call_id: bool
    vendor_call_id: str | None


def check_call_update(
    call: Call, attributes: Mapping[str, object], now: datetime, trace: RuleTrace
) -> CallUpdate:
    """Every rule of 000 "Update an existing call", in the order a reader would check them."""
    trace.check(Rule.CALL_UPDATE_ATTRIBUTES)
    for name in attributes:
        if name not in UPDATE_ATTRIBUTES:
            allowed = ", ".join(UPDATE_ATTRIBUTES)
            raise validation_error(
                Rule.CALL_UPDATE_ATTRIBUTES,
                f"{name} cannot be updated; only {allowed} can.",
                pointer=_pointer(name),
            )
    _check_strings(attributes, trace)

    trace.check(Rule.CALL_UPDATE_VOICE_EXTENSION)
    if call.external_vendor != VOICE_EXTENSION:
        raise validation_error(
            Rule.CALL_UPDATE_VOICE_EXTENSION,
            "Only calls created for an integrated external voice solution can be updated.",
        )
    trace.check(Rule.CALL_UPDATE_WINDOW)
    if (
        call.state in FINAL_STATES
        and call.state_changed_at is not None
        and now > call.state_changed_at + UPDATE_WINDOW
    ):
        raise validation_error(
            Rule.CALL_UPDATE_WINDOW,
            f"The call ended at {call.state_changed_at.isoformat()}, more than 1 hour ago; "
            "it can no longer be updated.",
        )

    state = None if _blank(attributes.get("state")) else str(attributes["state"])
    recording_url = _optional(attributes.get("recordingUrl")) or None
    voicemail_url = _optional(attributes.get("voicemailUrl")) or None
    _check_state_value(state, trace)
    trace.check(Rule.CALL_STATE_REQUIRED)
    if state is None and recording_url is None and voicemail_url is None:
        raise validation_error(
            Rule.CALL_STATE_REQUIRED,
            "state cannot be empty unless recordingUrl or voicemailUrl is provided.",
            pointer=_pointer("state"),
        )
    changed_at = _state_changed_at(attributes, state, now, trace)
    new_state = _check_transition(call.state, state, trace)
    _check_vendor_call_id(attributes, trace)

    final_state = new_state or call.state
    if recording_url is not None:
        _check_recording_url(recording_url, final_state, trace)
    if voicemail_url is not None:
        _check_voicemail_url(voicemail_url, call.direction, final_state, trace)
    return CallUpdate(
        new_state=new_state,
        state_changed_at=changed_at,
        recording_url=recording_url,
        voicemail_url=voicemail_url,
        sets_vendor_call_id="vendorCallId" in attributes,
        vendor_call_id=_optional(attributes.get("vendorCallId")),
    )


def _check_transition(current: str | None, requested: str | None, trace: RuleTrace) -> str | None:
    if requested is None:
        return None
    trace.check(Rule.CALL_STATE_AFTER_FINAL)
    if current in FINAL_STATES:
        raise validation_error(
            Rule.CALL_STATE_AFTER_FINAL,
            f'The call is in the final state "{current}"; its state cannot be updated again.',
            pointer=_pointer("state"),
        )
    trace.check(Rule.CALL_STATE_ORDER)
    if current is not None and _ORDER[requested] < _ORDER[current]:
        raise validation_error(
            Rule.CALL_STATE_ORDER,
            f'"{requested}" is prior to the current state "{current}".',
            pointer=_pointer("state"),
        )
    return None if requested == current else requested


def _check_recording_url(url: str, final_state: str | None, trace: RuleTrace) -> None:
    trace.check(Rule.CALL_RECORDING_URL)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise validation_error(
            Rule.CALL_RECORDING_URL,
            "recordingUrl only accepts HTTP and HTTPS values.",
            pointer=_pointer("recordingUrl"),
        )
    if len(url) > MAX_RECORDING_URL:
        raise validation_error(
            Rule.CALL_RECORDING_URL,
            f"recordingUrl is too long (maximum is {MAX_RECORDING_URL} characters).",
            pointer=_pointer("recordingUrl"),
        )
    trace.check(Rule.CALL_RECORDING_COMPLETED)
    if final_state != "completed":
        raise validation_error(
            Rule.CALL_RECORDING_COMPLETED,
            'A recording URL shall only be provided for calls whose final state is "completed".',
            pointer=_pointer("recordingUrl"),
        )


def _check_voicemail_url(
    url: str, direction: str, final_state: str | None, trace: RuleTrace
) -> None:
    trace.check(Rule.CALL_VOICEMAIL_URL)
    if len(url) > MAX_VOICEMAIL_URL:
        raise validation_error(
            Rule.CALL_VOICEMAIL_URL,
            f"voicemailUrl is too long (maximum is {MAX_VOICEMAIL_URL} characters).",
            pointer=_pointer("voicemailUrl"),
        )
    trace.check(Rule.CALL_VOICEMAIL_UNANSWERED_INBOUND)
    if direction != "inbound" or final_state not in ("busy", "no answer"):
        raise validation_error(
            Rule.CALL_VOICEMAIL_UNANSWERED_INBOUND,
            "A voicemail URL shall only be provided for an inbound call whose final state is "
            '"busy" or "no answer".',
            pointer=_pointer("voicemailUrl"),
        )


# Logging a call that did not start in Outreach (003 "Log External Calls") ---------------------

# The seeds disagree on the outcome's words: 003's guide says "completed" / "no_answer", the Call
# resource (001, and the OpenAPI document) "Answered" / "Not Answered". The sandbox accepts one
# vocabulary at a time, the reference's unless started with --outcome-vocabulary guide (or told
# so through the control API), so a client must cope with either.
OUTCOME_VOCABULARIES = {
    "reference": ("Answered", "Not Answered"),
    "guide": ("completed", "no_answer"),
}
ANSWERED_OUTCOMES = frozenset({"Answered", "completed"})
# What a logged call may carry: 003's example attributes, and the writable Call attributes of
# 001 that describe a call which already happened.
LOG_ATTRIBUTES = (
    "direction", "outcome", "answeredAt", "completedAt", "dialedAt", "externalVendor", "from",
    "to", "note", "vendorCallId",
)  # fmt: skip
LOG_RELATIONSHIPS = ("user", "prospect", "task")


def is_logged_call(attributes: Mapping[str, object]) -> bool:
    """A create naming an outcome, for no Voice Extension call, logs a call that already
    happened (003); any other create is a Voice Extension App's inbound call (000), whose
    outcome must be blank. The two sets of rules never mix."""
    return attributes.get("externalVendor") != VOICE_EXTENSION and not _blank(
        attributes.get("outcome")
    )


@dataclass(frozen=True)
class LoggedCall:
    direction: str
    outcome: str
    answered_at: datetime | None
    completed_at: datetime | None
    dialed_at: datetime | None
    external_vendor: str | None
    from_number: str | None
    to_number: str | None
    note: str | None
    vendor_call_id: str | None


def check_logged_call(
    attributes: Mapping[str, object], vocabulary: str, trace: RuleTrace
) -> LoggedCall:
    """The attribute rules of 003 "Log External Calls" (relationships are checked against the
    store by the API)."""
    trace.check(Rule.LOG_ATTRIBUTES)
    for name in attributes:
        if name not in LOG_ATTRIBUTES:
            why = "is read-only or not" if name in CALL_ATTRIBUTES else "is not a Call attribute,"
            raise validation_error(
                Rule.LOG_ATTRIBUTES,
                f"{name} {why} accepted when logging a call.",
                pointer=_pointer(name),
            )
    _check_strings(attributes, trace)
    trace.check(Rule.LOG_DIRECTION)
    direction = attributes.get("direction")
    if direction not in ("inbound", "outbound"):
        raise validation_error(
            Rule.LOG_DIRECTION,
            'direction must be either "inbound" or "outbound".',
            pointer=_pointer("direction"),
        )
    trace.check(Rule.LOG_OUTCOME)
    outcome = str(attributes.get("outcome"))
    allowed = OUTCOME_VOCABULARIES[vocabulary]
    if outcome not in allowed:
        raise validation_error(
            Rule.LOG_OUTCOME,
            f'outcome must be either "{allowed[0]}" or "{allowed[1]}".',
            pointer=_pointer("outcome"),
        )
    trace.check(Rule.LOG_TIMES)
    times = {
        name: _log_time(attributes, name) for name in ("answeredAt", "completedAt", "dialedAt")
    }
    answered_at, completed_at = times["answeredAt"], times["completedAt"]
    if answered_at is not None and outcome not in ANSWERED_OUTCOMES:
        raise validation_error(
            Rule.LOG_TIMES,
            f'answeredAt is given but the outcome is "{outcome}".',
            pointer=_pointer("answeredAt"),
        )
    if answered_at and completed_at and answered_at > completed_at:
        raise validation_error(
            Rule.LOG_TIMES,
            "answeredAt is after completedAt.",
            pointer=_pointer("answeredAt"),
        )
    trace.check(Rule.CALL_NUMBERS)
    for name in ("from", "to"):
        value = attributes.get(name)
        if isinstance(value, str) and len(value) > MAX_NUMBER:
            raise validation_error(
                Rule.CALL_NUMBERS,
                f"{name} is too long (maximum is {MAX_NUMBER} characters).",
                pointer=_pointer(name),
            )
    _check_vendor_call_id(attributes, trace)
    trace.check(Rule.CALL_NOTE_LENGTH)
    note = attributes.get("note")
    if isinstance(note, str) and len(note) > MAX_NOTE:
        raise validation_error(
            Rule.CALL_NOTE_LENGTH,
            f"note is too long (maximum is {MAX_NOTE} characters).",
            pointer=_pointer("note"),
        )
    return LoggedCall(
        direction=str(direction),
        outcome=outcome,
        answered_at=answered_at,
        completed_at=completed_at,
        dialed_at=times["dialedAt"],
        external_vendor=_optional(attributes.get("externalVendor")) or None,
        from_number=_optional(attributes.get("from")),
        to_number=_optional(attributes.get("to")),
        note=_optional(note),
        vendor_call_id=_optional(attributes.get("vendorCallId")),
    )


def _log_time(attributes: Mapping[str, object], name: str) -> datetime | None:
    raw = attributes.get(name)
    if _blank(raw):
        return None
    try:
        parsed = datetime.fromisoformat(str(raw))
    except ValueError:
        raise validation_error(
            Rule.LOG_TIMES, f'{name} "{raw}" is not an ISO 8601 date-time.', pointer=_pointer(name)
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
