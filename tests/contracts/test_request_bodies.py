"""Every JSON body of every service is an InputModel: unknown fields refused, and no text that
Postgres cannot store (NUL, lone surrogates), which schemathesis found reaching the database
as a 500. A new body model on plain BaseModel fails here instead of in production."""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any, Union, get_args, get_origin

import fastapi.routing
from fastapi import FastAPI, UploadFile
from fastapi.routing import APIRoute

from shared.validation import InputModel


def _routes(app: FastAPI) -> Iterator[APIRoute]:
    iter_contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = [c.original_route for c in iter_contexts(app.routes)] if iter_contexts else app.routes
    for route in routes:
        if isinstance(route, APIRoute):
            yield route


def _models(annotation: Any) -> Iterator[Any]:
    """The types a body annotation admits, with `X | None` unwrapped."""
    if get_origin(annotation) in (Union, types.UnionType):
        for arg in get_args(annotation):
            if arg is not type(None):
                yield from _models(arg)
    else:
        yield annotation


async def test_every_json_body_is_an_input_model(stack: Any) -> None:
    seen, plain = 0, []
    for name in ("gateway", "intake", "routing", "notify"):
        for route in _routes(getattr(stack, name)):
            for field in route.dependant.body_params:
                for model in _models(field.field_info.annotation):
                    if model is UploadFile:  # a multipart file: scanned, not stored as text
                        continue
                    seen += 1
                    if not (isinstance(model, type) and issubclass(model, InputModel)):
                        plain.append(f"{name}: {sorted(route.methods or ())} {route.path} {model}")
    assert seen > 20
    assert plain == [], "derive these request bodies from shared.validation.InputModel"
