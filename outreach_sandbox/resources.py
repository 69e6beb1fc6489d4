"""The JSON:API resource objects the sandbox answers with, shaped like Outreach's (001 and the
OpenAPI document's components.schemas): user, prospect, phoneNumber, call and the org."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .store import Call, Org, PhoneNumber, Prospect, Task, User


def timestamp(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def identifier(resource_type: str, resource_id: int | str | None) -> dict[str, Any]:
    return {"data": None if resource_id is None else {"type": resource_type, "id": resource_id}}


def org_resource(org: Org) -> dict[str, Any]:
    return {
        "type": "org",
        "id": org.guid,
        "attributes": {"name": org.name, "timeZone": "Etc/UTC"},
    }


def user_resource(user: User, base_url: str) -> dict[str, Any]:
    return {
        "type": "user",
        "id": user.id,
        "attributes": {
            "email": user.email,
            "firstName": user.first_name,
            "lastName": user.last_name,
            "name": user.name,
            "locked": False,
            "createdAt": timestamp(user.created_at),
            "updatedAt": timestamp(user.created_at),
        },
        "links": {"self": f"{base_url}/api/v2/users/{user.id}"},
    }


_PHONE_LISTS = {
    "mobile": "mobilePhones",
    "work": "workPhones",
    "home": "homePhones",
    "voip": "voipPhones",
    "other": "otherPhones",
}


def prospect_resource(
    prospect: Prospect, phones: list[PhoneNumber], base_url: str
) -> dict[str, Any]:
    phone_lists: dict[str, list[str]] = {name: [] for name in _PHONE_LISTS.values()}
    for phone in phones:
        phone_lists[_PHONE_LISTS.get(phone.phone_type, "otherPhones")].append(phone.number)
    return {
        "type": "prospect",
        "id": prospect.id,
        "attributes": {
            "firstName": prospect.first_name,
            "lastName": prospect.last_name,
            "name": f"{prospect.first_name} {prospect.last_name}".strip(),
            "emails": prospect.emails,
            **phone_lists,
            "createdAt": timestamp(prospect.created_at),
            "updatedAt": timestamp(prospect.created_at),
        },
        "relationships": {
            "phoneNumbers": {"data": [{"type": "phoneNumber", "id": p.id} for p in phones]},
        },
        "links": {"self": f"{base_url}/api/v2/prospects/{prospect.id}"},
    }


def phone_number_resource(phone: PhoneNumber, base_url: str) -> dict[str, Any]:
    return {
        "type": "phoneNumber",
        "id": phone.id,
        "attributes": {
            "number": phone.number,
            "rawNumber": phone.number,
            "phoneType": phone.phone_type,
            "countryCode": None,
            "extension": phone.extension,
            "order": 0,
            "status": None,
            "createdAt": timestamp(phone.created_at),
            "updatedAt": timestamp(phone.created_at),
        },
        "relationships": {"prospect": identifier("prospect", phone.prospect_id)},
        "links": {"self": f"{base_url}/api/v2/phoneNumbers/{phone.id}"},
    }


def call_attributes(call: Call) -> dict[str, Any]:
    """All of 001's Call attributes; those the sandbox does not track are null."""
    return {
        "answeredAt": timestamp(call.answered_at),
        "completedAt": timestamp(call.completed_at),
        "createdAt": timestamp(call.created_at),
        "dialedAt": timestamp(call.dialed_at),
        "direction": call.direction,
        "externalVendor": call.external_vendor,
        "from": call.from_number,
        "note": call.note,
        "outcome": call.outcome,
        "recordingUrl": call.recording_url,
        "returnedAt": None,
        "sequenceAction": None,
        "shouldRecordCall": None,
        "state": call.state,
        "stateChangedAt": timestamp(call.state_changed_at),
        "tags": [],
        "to": call.to_number,
        "uid": None,
        "updatedAt": timestamp(call.updated_at),
        "userCallType": None,
        "vendorCallId": call.vendor_call_id,
        # The update sends voicemailUrl; the resource reports it as voicemailRecordingUrl.
        "voicemailRecordingUrl": call.voicemail_url,
    }


def call_resource(call: Call, base_url: str) -> dict[str, Any]:
    return {
        "type": "call",
        "id": call.id,
        "attributes": call_attributes(call),
        "relationships": {
            "user": identifier("user", call.user_id),
            "prospect": identifier("prospect", call.prospect_id),
            "task": identifier("task", call.task_id),
        },
        "links": {"self": f"{base_url}/api/v2/calls/{call.id}"},
    }


def task_resource(task: Task, base_url: str) -> dict[str, Any]:
    return {
        "type": "task",
        "id": task.id,
        "attributes": {
            "action": task.action,
            "state": task.state,
            "completed": task.state == "complete",
            "createdAt": timestamp(task.created_at),
            "updatedAt": timestamp(task.created_at),
        },
        "relationships": {
            "owner": identifier("user", task.owner_id),
            "prospect": identifier("prospect", task.prospect_id),
        },
        "links": {"self": f"{base_url}/api/v2/tasks/{task.id}"},
    }
