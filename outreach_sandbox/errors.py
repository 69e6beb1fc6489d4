"""The two error shapes Outreach answers with: JSON:API errors under /api/v2 and OAuth errors at
/oauth/token. Each carries the id of the sandbox rule that refused, for the request log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ApiError(Exception):
    """A JSON:API error: {"errors": [{"id", "title", "detail", "source": {"pointer"}}]}."""

    status: int
    error_id: str
    title: str
    detail: str
    rule: str | None = None
    pointer: str | None = None
    parameter: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        error: dict[str, Any] = {"id": self.error_id, "title": self.title, "detail": self.detail}
        if self.pointer is not None:
            error["source"] = {"pointer": self.pointer}
        elif self.parameter is not None:
            error["source"] = {"parameter": self.parameter}
        return {"errors": [error]}


@dataclass
class OAuthError(Exception):
    """An RFC 6749 error answer: {"error": ..., "error_description": ...}."""

    status: int
    error: str
    description: str
    rule: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def document(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def validation_error(rule: str, detail: str, *, pointer: str | None = None) -> ApiError:
    return ApiError(422, "validationError", "Validation Error", detail, rule=rule, pointer=pointer)


def not_found(rule: str, detail: str) -> ApiError:
    return ApiError(404, "resourceNotFound", "Resource Not Found", detail, rule=rule)


def bad_request(rule: str, detail: str, *, parameter: str | None = None) -> ApiError:
    return ApiError(400, "badRequest", "Bad Request", detail, rule=rule, parameter=parameter)
