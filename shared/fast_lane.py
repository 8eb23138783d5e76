"""Hot routes served ahead of FastAPI's stack, inside the app's own middleware.

py-spy put more of a hot call's CPU in the framework than in the work: FastAPI's telemetry
and body-limit layers, Starlette's two exception middlewares, the router testing every route,
dependency solving, Request and Response objects. A `FastLane` serves chosen routes with a
handler of their own, wrapped in the app's own middleware (`app.user_middleware`: the same
classes, in the same order, so request IDs, metrics and limits are those of every call) and
answering what the handler raises with the app's own exception handlers. Every other call,
and every call while tracing is on, goes through FastAPI as before.

It picks a route exactly as the router does: routes in registration order, the first full
match (path and method) wins. A path an earlier route of the app's own matches goes to the
router, and so does every call no lane route fully matches (405s, 404s, redirects). The route
it picked is put in the scope as the router would, so metrics keep their route template.

A handler with `prepare` gets the whole body first (only a body that declares a length
within the limit) and may decline the call: FastAPI then serves it, the body replayed, so
unusual input gets FastAPI's own answer rather than an imitation of it.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import fastapi.routing
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import tracing

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
Prepare = Callable[[Scope, bytes], object | None]

LANE_INPUT = "tawasul.lane_input"
"""Scope key under which a handler finds what its `prepare` made of the body."""
_LANE_HANDLER = "tawasul.lane_handler"


@dataclass(frozen=True, slots=True)
class LaneRoute:
    """What serves one route's calls in the lane; `prepare` reads the body first and may
    decline (None) so FastAPI answers instead."""

    handle: Handler
    prepare: Prepare | None = None
    max_body: int = 0  # a body `prepare` reads is at most this long (its content-length)


class Candidate(NamedTuple):
    """One route in the router's order: cheap tests of the path, then its own `matches`."""

    prefix: str  # every path it matches starts so
    regex: re.Pattern[str] | None  # the pattern its `matches` tests the path with, if known
    matches: Callable[[Scope], tuple[Match, Scope]]
    lane: LaneRoute | None  # None: a route FastAPI serves
    route: BaseRoute  # what the router puts in the scope as "route"


def _flatten(routes: Sequence[BaseRoute]) -> Iterator[tuple[BaseRoute, Any]]:
    """(route, matcher) in the order the router tries them, included routers opened up.

    FastAPI ≥ 0.16x keeps included routers whole and matches their routes through
    `iter_route_contexts`; older versions copied them into the app's own route list."""
    iter_contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    if iter_contexts is None:
        for route in routes:
            yield route, route
        return
    for context in iter_contexts(routes):
        yield context.original_route, context


def _candidate(route: BaseRoute, matcher: Any, lane: LaneRoute | None) -> Candidate:
    """What `FastLane.pick` tests a route with before asking the route itself."""
    path_format = getattr(matcher, "path_format", None)
    regex = getattr(matcher, "path_regex", None)
    # Plain routes match on the path's pattern, then the method; mounts, hosts, route
    # classes of their own and anything else are always asked.
    if (
        type(route) not in (APIRoute, Route)
        or not isinstance(path_format, str)
        or not path_format.startswith("/")
        or not isinstance(regex, re.Pattern)
    ):
        return Candidate("", None, matcher.matches, lane, route)
    return Candidate(path_format.split("{", 1)[0], regex, matcher.matches, lane, route)


def candidates(
    routes: Sequence[BaseRoute], lanes: Mapping[Callable[..., Any], LaneRoute]
) -> list[Candidate]:
    """The routes up to the last lane one, each marked with its lane or as FastAPI's.

    `lanes` maps the endpoint functions of the routes the lane serves to their handlers."""
    found: list[Candidate] = []
    last_lane = 0
    for route, matcher in _flatten(routes):
        endpoint = getattr(route, "endpoint", None)
        lane = lanes.get(endpoint) if isinstance(route, APIRoute) and endpoint else None
        found.append(_candidate(route, matcher, lane))
        if lane is not None:
            last_lane = len(found)
    # Routes after the last lane one never decide whether a call takes the lane.
    return found[:last_lane]


def _key(path: str) -> str:
    """The path up to its third slash ("/v1/requests" of "/v1/requests/1/submit")."""
    second = path.find("/", 1)
    third = path.find("/", second + 1) if second != -1 else -1
    return path if third == -1 else path[:third]


class RouteTable:
    """`candidates` bucketed so a call tests only the routes that could match its path.

    A route whose literal prefix runs past the third slash can only match paths with the
    same `_key`; the others ("/v1/catalog", "/v1/requests", unknown kinds) are tested for
    every path. Each bucket keeps the router's order, so the first full match still wins."""

    def __init__(self, found: Sequence[Candidate]) -> None:
        keyed: dict[str, str] = {}
        for candidate in found:
            if candidate.prefix.count("/") >= 3:
                keyed[candidate.prefix] = _key(candidate.prefix)

        def bucket(key: str | None) -> tuple[Candidate, ...]:
            return tuple(c for c in found if keyed.get(c.prefix, key) == key)

        self.unkeyed = bucket(None)
        self.buckets = {key: bucket(key) for key in set(keyed.values())}

    def for_path(self, path: str) -> tuple[Candidate, ...]:
        """The candidates for this path, in the router's order."""
        return self.buckets.get(_key(path), self.unkeyed)


def header(scope: Scope, name: bytes) -> str | None:
    """The first header called `name`, as Request.headers.get reads it."""
    for key, value in scope["headers"]:
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


def _declared_length(scope: Scope) -> int | None:
    """The body length the request declares, when it declares exactly one."""
    found: int | None = None
    for key, value in scope["headers"]:
        if key == b"transfer-encoding":
            return None
        if key == b"content-length":
            if found is not None or not value.isdigit():
                return None
            found = int(value)
    return found


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """`receive` that first hands out the messages already read, in order."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def _lookup(handlers: Mapping[Any, Callable[..., Any]], exc: Exception) -> Any:
    """The handler Starlette would pick for `exc`: the nearest class in its MRO."""
    for kind in type(exc).__mro__:
        if kind in handlers:
            return handlers[kind]
    return None


async def _answer(
    handler: Callable[..., Any], exc: Exception, scope: Scope, receive: Receive, send: Send
) -> None:
    request = Request(scope, receive)
    if inspect.iscoroutinefunction(handler):
        response = await handler(request, exc)
    else:
        response = await run_in_threadpool(handler, request, exc)
    await response(scope, receive, send)


def _tracking(send: Send) -> tuple[Send, Callable[[], bool]]:
    """`send`, and a way to ask whether an answer was begun through it."""
    started = False

    async def tracked(message: Message) -> None:
        nonlocal started
        if message["type"] == "http.response.start":
            started = True
        await send(message)

    return tracked, lambda: started


class _Handled:
    """Innermost: runs the lane handler and answers what it raises with the app's handlers
    for specific errors, as Starlette's ExceptionMiddleware does inside the user middleware."""

    def __init__(self, handlers: Mapping[Any, Callable[..., Any]]) -> None:
        self._handlers = {k: v for k, v in handlers.items() if k not in (500, Exception)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracked, started = _tracking(send)
        try:
            await scope[_LANE_HANDLER](scope, receive, tracked)
        except Exception as exc:
            handler = _lookup(self._handlers, exc)
            if handler is None or started():
                raise
            await _answer(handler, exc, scope, receive, send)


class _Crashes:
    """Outermost: a crash gets the app's 500 answer when none was begun, and is raised on to
    the server, as Starlette's ServerErrorMiddleware does outside the user middleware."""

    def __init__(self, app: ASGIApp, handler: Callable[..., Any] | None) -> None:
        self._app = app
        self._handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracked, started = _tracking(send)
        try:
            await self._app(scope, receive, tracked)
        except Exception as exc:
            if self._handler is not None and not started():
                await _answer(self._handler, exc, scope, receive, send)
            raise


class FastLane:
    """Serves the lane's routes for the app it was made for; `pick` says which calls."""

    def __init__(self, app: FastAPI, routes: Sequence[Candidate]) -> None:
        self._app = app
        self._routes = RouteTable(routes)
        handlers = app.exception_handlers
        chain: ASGIApp = _Handled(handlers)
        for middleware in reversed(app.user_middleware):
            chain = middleware.cls(chain, *middleware.args, **middleware.kwargs)
        self._chain = _Crashes(chain, handlers.get(500) or handlers.get(Exception))

    def pick(self, scope: Scope) -> tuple[LaneRoute, Scope] | None:
        """The lane route the router would pick for this call, or None."""
        if (
            scope["type"] != "http"
            or scope.get("root_path")
            or self._app.root_path
            # FastAPI's own telemetry records the route the router selected: leave it to it.
            or scope.get("fastapi.telemetry") is not None
        ):
            return None
        path: str = scope["path"]
        for prefix, regex, matches, lane, route in self._routes.for_path(path):
            if regex is not None:
                if regex.match(path) is None:
                    continue
            elif not path.startswith(prefix):
                continue
            match, child_scope = matches(scope)  # the route's own answer decides
            if match is Match.FULL:
                if lane is None:
                    return None
                # A route of an included router matches without naming itself: name it, as
                # the router does before calling it, so metrics read its template.
                if "route" not in child_scope:
                    child_scope = {**child_scope, "route": route}
                return lane, child_scope
        return None

    async def run(
        self, picked: tuple[LaneRoute, Scope], scope: Scope, receive: Receive, send: Send
    ) -> Receive | None:
        """Serve a picked call; or, when its `prepare` declines, the `receive` FastAPI
        must read the call with (replaying what was read), and nothing sent."""
        lane, child_scope = picked
        if lane.prepare is not None:
            declared = _declared_length(scope)
            if declared is None or declared > lane.max_body:
                return receive  # nothing read: FastAPI and its limits decide
            messages: list[Message] = []
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":
                    return _replaying(messages, receive)  # a disconnect, as FastAPI sees it
                if not message.get("more_body", False):
                    break
            body = b"".join(message.get("body", b"") for message in messages)
            try:
                prepared = lane.prepare(scope, body)
            except Exception:  # whatever it cannot read, FastAPI answers itself
                prepared = None
            replay = _replaying(messages, receive)
            if prepared is None:
                return replay
            scope[LANE_INPUT] = prepared
            receive = replay
        if "router" not in scope:
            scope["router"] = self._app.router
        scope.update(child_scope)  # endpoint, path_params and route, as the router sets them
        scope[_LANE_HANDLER] = lane.handle
        await self._chain(scope, receive, send)
        return None


class ServiceApp(FastAPI):
    """FastAPI whose `fast_lane`, once installed, serves its routes ahead of the stack."""

    fast_lane: FastLane | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = self.fast_lane
        if lane is not None and scope["type"] == "http":
            picked = lane.pick(scope)
            if picked is not None:
                scope["app"] = self
                left = await lane.run(picked, scope, receive, send)
                if left is None:
                    return
                receive = left
        await super().__call__(scope, receive, send)


def install(app: FastAPI, lanes: Mapping[Callable[..., Any], LaneRoute]) -> FastLane | None:
    """Give `app` a lane for the routes whose endpoints `lanes` names; call once every route
    and middleware is added. Off while tracing is on: its instrumentation wraps the stack
    the lane would skip."""
    if not isinstance(app, ServiceApp) or tracing.enabled():
        return None
    app.fast_lane = FastLane(app, candidates(app.routes, lanes))
    return app.fast_lane
