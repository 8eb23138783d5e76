"""Forwarded calls without FastAPI's routing, Request and Response objects.

py-spy showed FastAPI spending more CPU around a forwarded call than the forwarding itself:
matching the path against every route of the included routers first, building a Request,
solving its (empty) dependencies, wrapping the answer in a Response. `ForwardFastPath` sits
where FastAPI calls its router (inside every middleware and the exception handlers) and
serves the forwarded prefixes itself; everything else goes to the router unchanged.

It picks a route exactly as the router does: routes in registration order, the first
full match (path and method) wins. A path an own route of the gateway matches first (staff
sign-in under /v1/staff, partner admin under /v1/admin, ...) goes to the router, and so does
every call no forwarded route fully matches (405s, 404s, redirects). The route it picked is
put in the scope as the router would, so metrics keep their route template.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import fastapi.routing
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.deps import GatewayState, client_ip_of
from gateway.partners.audit import audit_partner_call
from gateway.proxy import Answer, Forwarder
from shared.identity import PrincipalKind


@dataclass(frozen=True, slots=True)
class ForwardTarget:
    """Where a forwarded route's calls go, and whether they need a bearer token."""

    upstream: Forwarder
    authenticated: bool


class _Candidate(NamedTuple):
    """One route in the router's order: cheap tests of the path, then its own `matches`."""

    prefix: str  # every path it matches starts so
    regex: re.Pattern[str] | None  # the pattern its `matches` tests the path with, if known
    matches: Callable[[Scope], tuple[Match, Scope]]
    target: ForwardTarget | None  # None: one of the gateway's own routes


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


def _candidate(route: BaseRoute, matcher: Any, target: ForwardTarget | None) -> _Candidate:
    """What `ForwardFastPath.pick` tests a route with before asking the route itself."""
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
        return _Candidate("", None, matcher.matches, target)
    return _Candidate(path_format.split("{", 1)[0], regex, matcher.matches, target)


def candidates(
    routes: Sequence[BaseRoute], targets: Mapping[Callable[..., Any], ForwardTarget]
) -> list[_Candidate]:
    """The routes up to the last forwarded one, each marked forwarded (with its target) or own.

    `targets` maps the endpoint functions of the forwarded routes to where they forward."""
    found: list[_Candidate] = []
    last_forwarded = 0
    for route, matcher in _flatten(routes):
        endpoint = getattr(route, "endpoint", None)
        target = targets.get(endpoint) if isinstance(route, APIRoute) and endpoint else None
        found.append(_candidate(route, matcher, target))
        if target is not None:
            last_forwarded = len(found)
    # Routes after the last forwarded one never decide whether a call is forwarded.
    return found[:last_forwarded]


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

    def __init__(self, found: Sequence[_Candidate]) -> None:
        keyed: dict[str, str] = {}
        for candidate in found:
            if candidate.prefix.count("/") >= 3:
                keyed[candidate.prefix] = _key(candidate.prefix)

        def bucket(key: str | None) -> tuple[_Candidate, ...]:
            return tuple(c for c in found if keyed.get(c.prefix, key) == key)

        self.unkeyed = bucket(None)
        self.buckets = {key: bucket(key) for key in set(keyed.values())}

    def for_path(self, path: str) -> tuple[_Candidate, ...]:
        """The candidates for this path, in the router's order."""
        return self.buckets.get(_key(path), self.unkeyed)


def _header(scope: Scope, name: bytes) -> str | None:
    """The first header called `name`, as Request.headers.get reads it."""
    for key, value in scope["headers"]:
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


class ForwardFastPath:
    """ASGI app in front of the router: serves forwarded routes, hands the rest on."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        router: ASGIApp,
        routes: Sequence[_Candidate],
        state: GatewayState,
    ) -> None:
        self.app = app
        self._router = router
        self._routes = RouteTable(routes)
        self._state = state
        self._hops = state.settings.trusted_proxy_hops

    def pick(self, scope: Scope) -> tuple[ForwardTarget, Scope] | None:
        """The forwarded route the router would pick for this call, or None."""
        if (
            scope["type"] != "http"
            or scope.get("root_path")
            # FastAPI's own telemetry records the route the router selected: leave it to it.
            or scope.get("fastapi.telemetry") is not None
        ):
            return None
        path: str = scope["path"]
        for prefix, regex, matches, target in self._routes.for_path(path):
            if regex is not None:
                if regex.match(path) is None:
                    continue
            elif not path.startswith(prefix):
                continue
            match, child_scope = matches(scope)  # the route's own answer decides
            if match is Match.FULL:
                return None if target is None else (target, child_scope)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        picked = self.pick(scope)
        if picked is None:
            await self.app(scope, receive, send)
            return
        target, child_scope = picked
        if "router" not in scope:
            scope["router"] = self._router
        scope.update(child_scope)  # endpoint, path_params and route, as the router sets them
        identity = None
        if target.authenticated:
            claims = await self._state.guard.authenticate(_header(scope, b"authorization"))
            identity = claims.identity
        ip = client_ip_of(scope, self._hops)
        answer = await target.upstream.relay(scope, receive, identity, client_ip=ip)
        if identity is not None and identity.kind is PrincipalKind.partner:
            response = answer.response() if isinstance(answer, Answer) else answer
            await audit_partner_call(self._state, identity, Request(scope), response, ip)
            await response(scope, receive, send)
        elif isinstance(answer, Answer):
            await answer.send(send)
        else:
            await answer(scope, receive, send)


def install(
    app: FastAPI, targets: Mapping[Callable[..., Any], ForwardTarget], state: GatewayState
) -> ForwardFastPath:
    """Put the fast path in front of `app`'s router; call once every route is added."""
    router = app.router
    fast = ForwardFastPath(
        router.middleware_stack,
        router=router,
        routes=candidates(app.routes, targets),
        state=state,
    )
    router.middleware_stack = fast
    return fast
