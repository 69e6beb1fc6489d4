"""JSON:API request checks shared by every /api/v2 resource: the media type, the document's
shape, relationship identifiers, query parameters, and paginated collections."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from urllib.parse import urlencode

from .errors import ApiError, bad_request, validation_error
from .messages import JSON_API, Request, parse_json
from .rules import Rule, RuleTrace

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def read_document(request: Request, trace: RuleTrace) -> dict[str, Any]:
    """The body of a POST/PATCH: JSON:API media type (else 415), valid JSON (else 400)."""
    trace.check(Rule.API_CONTENT_TYPE)
    media_type, parameters = request.media_type
    # JSON:API: a server answers 415 to its media type with any parameter but ext and profile.
    if media_type != JSON_API or any(
        not p.lower().startswith(("ext=", "profile=")) for p in parameters
    ):
        raise ApiError(
            415,
            "unsupportedMediaType",
            "Unsupported Media Type",
            f"Requests with a body must be sent as Content-Type: {JSON_API}.",
            rule=Rule.API_CONTENT_TYPE,
        )
    trace.check(Rule.API_JSON)
    return parse_json(request.body)


def read_resource(
    document: object, *, resource_type: str, resource_id: str | None, trace: RuleTrace
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The attributes and relationships of the document's primary data, checked for shape."""
    trace.check(Rule.API_DOCUMENT)
    if not isinstance(document, dict) or not isinstance(document.get("data"), dict):
        raise validation_error(
            Rule.API_DOCUMENT, "The document must have a data object.", pointer="/data"
        )
    data = document["data"]
    if data.get("type") != resource_type:
        raise validation_error(
            Rule.API_DOCUMENT, f'data.type must be "{resource_type}".', pointer="/data/type"
        )
    if resource_id is not None and "id" in data and str(data["id"]) != resource_id:
        raise validation_error(
            Rule.API_DOCUMENT, f"data.id must be {resource_id}, as in the URL.", pointer="/data/id"
        )
    for member in ("attributes", "relationships"):
        if not isinstance(data.get(member, {}), dict):
            raise validation_error(
                Rule.API_DOCUMENT, f"data.{member} must be an object.", pointer=f"/data/{member}"
            )
    return data.get("attributes", {}), data.get("relationships", {})


def relationship_id(
    relationships: dict[str, Any], name: str, resource_type: str, rule: Rule, trace: RuleTrace
) -> int | None:
    """The integer id a to-one relationship points at, None if absent or null."""
    trace.check(rule)
    pointer = f"/data/relationships/{name}"
    if name not in relationships:
        return None
    member = relationships[name]
    if not isinstance(member, dict) or "data" not in member:
        raise validation_error(rule, f"{name} must be {{data: ...}}.", pointer=pointer)
    data = member["data"]
    if data is None:
        return None
    if not isinstance(data, dict) or data.get("type") != resource_type:
        raise validation_error(
            rule, f'{name}.data must be {{type: "{resource_type}", id}}.', pointer=f"{pointer}/data"
        )
    raw_id = data.get("id")
    if isinstance(raw_id, bool) or not str(raw_id).isdigit():
        raise validation_error(
            rule, f"{name}.data.id must be an integer id.", pointer=f"{pointer}/data/id"
        )
    return int(str(raw_id))


def check_query(
    request: Request,
    trace: RuleTrace,
    *,
    filters: Collection[str] = (),
    includes: Collection[str] = (),
    collection: bool = False,
) -> list[str]:
    """Refuses query parameters the endpoint does not know; answers the requested includes."""
    trace.check(Rule.API_QUERY)
    known = {f"filter[{name}]" for name in filters}
    if collection:
        known |= {"page[size]", "page[after]"}
    if includes:
        known.add("include")
    for name in request.query:
        if name not in known:
            raise bad_request(
                Rule.API_QUERY, f"{name} is not a supported query parameter here.", parameter=name
            )
    requested = [i for i in (request.param("include") or "").split(",") if i]
    for include in requested:
        if include not in includes:
            raise bad_request(
                Rule.API_QUERY, f"{include} cannot be included here.", parameter="include"
            )
    return requested


def collection_document(
    request: Request, resources: list[dict[str, Any]], self_url: str
) -> dict[str, Any]:
    """One page of resources, with links.next while more remain (follow it as given)."""
    size = _page_parameter(request, "page[size]", DEFAULT_PAGE_SIZE)
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise bad_request(
            Rule.API_QUERY, f"page[size] must be 1 to {MAX_PAGE_SIZE}.", parameter="page[size]"
        )
    start = _page_parameter(request, "page[after]", 0)
    page = resources[start : start + size]
    document: dict[str, Any] = {"data": page, "meta": {"count": len(resources)}, "links": {}}
    if start + size < len(resources):
        query = {k: v[-1] for k, v in request.query.items() if k != "page[after]"}
        query["page[after]"] = str(start + size)
        document["links"]["next"] = f"{self_url}?{urlencode(query)}"
    return document


def _page_parameter(request: Request, name: str, default: int) -> int:
    raw = request.param(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise bad_request(Rule.API_QUERY, f"{name} must be a whole number.", parameter=name)
    return int(raw)
