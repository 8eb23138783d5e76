"""Every operation documents the problem+json errors the platform answers with, in one place.

shared/errors.py renders every failure of every service as RFC 9457 problem+json, but
FastAPI documents only the success and a 422 shaped like its own default handler's, in
application/json. Clients (and the schema fuzzer) then meet statuses, a media type and bodies
the document does not mention. The same statuses are added to every operation because the
causes are platform-wide: any call can be unauthenticated, refused, rate-limited, too large or
caught in an outage; any lookup can miss, and any state change can conflict. 422 stays
where FastAPI puts it: on operations whose parameters or body are validated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from shared.errors import PROBLEM_JSON

REF = "#/components/schemas/{model}"
# What each status means on this platform, for the document's readers.
ERROR_STATUSES = {
    "400": "The request cannot be processed as sent (e.g. an invalid or expired code).",
    "401": "No valid credentials came with the call.",
    "403": "The caller may not perform this operation.",
    "404": "The thing does not exist, or is not the caller's to see.",
    "409": "The operation does not fit the current state of the thing.",
    "413": "The body is larger than the platform accepts.",
    "422": "Some parameters or fields are missing or invalid (see `errors`).",
    "429": "A rate limit was reached; Retry-After says when to come back.",
    "503": "A dependency is down; retry after Retry-After seconds.",
}
# FastAPI's own 422 schemas, which describe a body this platform never sends.
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


class FieldError(BaseModel):
    """One invalid field of a 422: where, what, and the validator's error type."""

    loc: list[str | int]
    msg: str
    type: str


class Messages(BaseModel):
    """The message in both languages the platform speaks."""

    en: str
    ar: str


class Problem(BaseModel):
    """An RFC 9457 problem, as shared.errors.problem() builds it; errors may add fields."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI naming the kind of problem.")
    title: str
    status: int
    code: str = Field(description="A stable machine-readable code, e.g. `request_not_found`.")
    detail: str = Field(description="English message.")
    detail_ar: str = Field(description="Arabic message.")
    messages: Messages
    instance: str | None = Field(default=None, description="The path that was called.")
    errors: list[FieldError] | None = Field(default=None, description="Invalid fields (422).")


def _problem_response(description: str) -> dict[str, Any]:
    schema = {"$ref": REF.format(model="Problem")}
    return {"description": description, "content": {PROBLEM_JSON: {"schema": schema}}}


def with_problem_responses(document: dict[str, Any]) -> dict[str, Any]:
    """Add Problem to `document`'s components and the error statuses to each operation.

    A status an operation documents itself is kept, except FastAPI's default 422, which
    is replaced by the problem this platform really sends.
    """
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    for name, schema in Problem.model_json_schema(ref_template=REF).pop("$defs", {}).items():
        schemas[name] = schema
    schemas["Problem"] = {
        key: value
        for key, value in Problem.model_json_schema(ref_template=REF).items()
        if key != "$defs"
    }
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            # FastAPI documents a 422 exactly where parameters or a body are validated.
            validated = "422" in responses
            default_422 = responses.get("422", {}).get("content", {}).get("application/json", {})
            if default_422.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                del responses["422"]
            for status, description in ERROR_STATUSES.items():
                if status != "422" or validated:
                    responses.setdefault(status, _problem_response(description))
    return document


def install_problem_responses(app: FastAPI) -> None:
    """Make `app.openapi()` return its document with the problem responses added."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_problem_responses(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
