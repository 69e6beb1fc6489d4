"""POST /calls logging a call that did not start in Outreach, as 003 "Log External Calls" says,
with the outcome's words of the reference (default) or of the guide (a setting)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from outreach_sandbox import SandboxControl

from .helpers import ALL_SCOPES, Api, Cast, error_of, inbound, user_ref


def logged(**overrides: Any) -> dict[str, Any]:
    return {
        "direction": "outbound",
        "outcome": "Answered",
        "answeredAt": "2030-01-01T12:00:05Z",
        "completedAt": "2030-01-01T12:01:00Z",
        "to": "+12065550100",
        "vendorCallId": "pbx-1",
        **overrides,
    }


def with_prospect(cast: Cast, **more: Any) -> dict[str, Any]:
    prospect = {"prospect": {"data": {"type": "prospect", "id": cast.pat["id"]}}}
    return {**user_ref(cast.rita["id"]), **prospect, **more}


def task_ref(task_id: int) -> dict[str, Any]:
    return {"task": {"data": {"type": "task", "id": task_id}}}


def test_it_logs_an_outbound_call_with_its_outcome_times_user_prospect_and_task(
    rita: Api, cast: Cast, sandbox: SandboxControl
) -> None:
    task = sandbox.create_task(cast.rita["id"], prospect_id=cast.pat["id"])
    response = rita.create_call(logged(), with_prospect(cast, **task_ref(task["id"])))
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["attributes"]["outcome"] == "Answered"
    assert data["attributes"]["answeredAt"] == "2030-01-01T12:00:05.000Z"
    assert data["attributes"]["completedAt"] == "2030-01-01T12:01:00.000Z"
    assert data["attributes"]["direction"] == "outbound"
    assert data["attributes"]["state"] is None
    assert data["attributes"]["externalVendor"] is None
    assert data["relationships"]["task"]["data"] == {"type": "task", "id": task["id"]}
    assert {"LOG-OUTCOME", "LOG-TASK"} <= set(sandbox.requests()[-1]["rulesChecked"])
    assert "CALL-DIRECTION-INBOUND" not in sandbox.requests()[-1]["rulesChecked"]


def test_it_logs_an_inbound_call_and_one_without_a_prospect(rita: Api, cast: Cast) -> None:
    response = rita.create_call(logged(direction="inbound"), user_ref(cast.rita["id"]))
    assert response.status_code == 201, response.text
    assert response.json()["data"]["relationships"]["prospect"]["data"] is None


def test_it_takes_the_guides_words_only_when_told(
    rita: Api, cast: Cast, sandbox: SandboxControl
) -> None:
    refused = rita.create_call(logged(outcome="completed"), with_prospect(cast))
    assert refused.status_code == 422
    assert error_of(refused)["source"] == {"pointer": "/data/attributes/outcome"}
    assert sandbox.requests()[-1]["refusedBy"] == "LOG-OUTCOME"

    sandbox.set_outcome_vocabulary("guide")
    assert sandbox.config()["outcomeVocabulary"] == "guide"
    assert rita.create_call(logged(outcome="completed"), with_prospect(cast)).status_code == 201
    not_answered = logged(outcome="no_answer", answeredAt=None)
    assert rita.create_call(not_answered, with_prospect(cast)).status_code == 201
    assert rita.create_call(logged(outcome="Answered"), with_prospect(cast)).status_code == 422

    sandbox.reset()
    assert sandbox.config()["outcomeVocabulary"] == "reference"


@pytest.mark.parametrize(
    ("overrides", "rule", "pointer"),
    [
        ({"direction": "sideways"}, "LOG-DIRECTION", "/data/attributes/direction"),
        ({"direction": None}, "LOG-DIRECTION", "/data/attributes/direction"),
        ({"outcome": "Voicemail"}, "LOG-OUTCOME", "/data/attributes/outcome"),
        ({"state": "completed"}, "LOG-ATTRIBUTES", "/data/attributes/state"),
        (
            {"recordingUrl": "https://r.example/1"},
            "LOG-ATTRIBUTES",
            "/data/attributes/recordingUrl",
        ),
        ({"answeredAt": "yesterday"}, "LOG-TIMES", "/data/attributes/answeredAt"),
        ({"answeredAt": "2030-01-01T12:02:00Z"}, "LOG-TIMES", "/data/attributes/answeredAt"),
        ({"outcome": "Not Answered"}, "LOG-TIMES", "/data/attributes/answeredAt"),
        ({"vendorCallId": "x" * 64}, "CALL-VENDOR-CALL-ID", "/data/attributes/vendorCallId"),
        ({"to": "1" * 256}, "CALL-NUMBERS", "/data/attributes/to"),
    ],
)
def test_it_refuses_a_logged_call_outside_the_guide(
    rita: Api,
    cast: Cast,
    sandbox: SandboxControl,
    overrides: dict[str, Any],
    rule: str,
    pointer: str,
) -> None:
    response = rita.create_call(logged(**overrides), with_prospect(cast))
    assert response.status_code == 422
    assert error_of(response)["source"] == {"pointer": pointer}
    assert sandbox.requests()[-1]["refusedBy"] == rule


def test_it_refuses_a_logged_call_without_a_user_of_the_org(
    rita: Api, cast: Cast, sandbox: SandboxControl
) -> None:
    assert rita.create_call(logged(), {}).status_code == 422
    assert sandbox.requests()[-1]["refusedBy"] == "LOG-USER"
    assert rita.create_call(logged(), user_ref(cast.oscar["id"])).status_code == 422
    assert sandbox.requests()[-1]["refusedBy"] == "LOG-USER"


def test_it_refuses_a_prospect_of_another_org(
    rita: Api, cast: Cast, sandbox: SandboxControl
) -> None:
    stranger = sandbox.create_prospect(first_name="Stan", org_guid=cast.other_org_guid)
    prospect = {"prospect": {"data": {"type": "prospect", "id": stranger["id"]}}}
    response = rita.create_call(logged(), {**user_ref(cast.rita["id"]), **prospect})
    assert response.status_code == 422
    assert sandbox.requests()[-1]["refusedBy"] == "LOG-PROSPECT"


@pytest.mark.parametrize(
    "task_of",
    [
        lambda cast, sandbox: {"id": 999},
        lambda cast, sandbox: sandbox.create_task(
            cast.rita["id"], prospect_id=cast.pat["id"], action="email"
        ),
        lambda cast, sandbox: sandbox.create_task(
            cast.rita["id"], prospect_id=cast.pat["id"], state="complete"
        ),
        lambda cast, sandbox: sandbox.create_task(cast.tess["id"], prospect_id=cast.pat["id"]),
        lambda cast, sandbox: sandbox.create_task(cast.rita["id"]),
    ],
    ids=["unknown", "not-a-call-task", "complete", "another-users", "no-prospect"],
)
def test_it_refuses_a_task_that_is_not_the_calls_open_call_task(
    rita: Api,
    cast: Cast,
    sandbox: SandboxControl,
    task_of: Callable[[Cast, SandboxControl], dict[str, Any]],
) -> None:
    task = task_of(cast, sandbox)
    response = rita.create_call(logged(), with_prospect(cast, **task_ref(task["id"])))
    assert response.status_code == 422
    assert error_of(response)["source"] == {"pointer": "/data/relationships/task"}
    assert sandbox.requests()[-1]["refusedBy"] == "LOG-TASK"


def test_it_keeps_the_voice_extension_rules_for_a_create_without_an_outcome(
    rita: Api, cast: Cast, sandbox: SandboxControl
) -> None:
    response = rita.create_call(inbound(direction="outbound"), user_ref(cast.rita["id"]))
    assert response.status_code == 422
    assert sandbox.requests()[-1]["refusedBy"] == "CALL-DIRECTION-INBOUND"


def test_it_refuses_to_update_a_logged_call(rita: Api, cast: Cast, sandbox: SandboxControl) -> None:
    created = rita.create_call(logged(), with_prospect(cast))
    response = rita.update_call(created.json()["data"]["id"], state="completed")
    assert response.status_code == 422
    assert sandbox.requests()[-1]["refusedBy"] == "CALL-UPDATE-VOICE-EXTENSION"


def test_it_lists_a_users_open_tasks_about_a_prospect(
    cast: Cast, sandbox: SandboxControl, api_for: Callable[..., Api]
) -> None:
    wanted = sandbox.create_task(cast.rita["id"], prospect_id=cast.pat["id"])
    sandbox.create_task(cast.rita["id"], prospect_id=cast.pat["id"], state="complete")
    sandbox.create_task(cast.tess["id"], prospect_id=cast.pat["id"])
    rita = api_for(cast.rita, (*ALL_SCOPES, "tasks.read"))
    response = rita.get(
        "/tasks",
        **{
            "filter[state]": "incomplete",
            "filter[owner][id]": cast.rita["id"],
            "filter[prospect][id]": cast.pat["id"],
        },
    )
    assert response.status_code == 200, response.text
    (task,) = response.json()["data"]
    assert task["id"] == wanted["id"]
    assert task["attributes"]["action"] == "call"


def test_it_refuses_to_list_tasks_without_the_scope(rita: Api, sandbox: SandboxControl) -> None:
    assert rita.get("/tasks").status_code == 403
    assert sandbox.requests()[-1]["refusedBy"] == "API-SCOPE"
