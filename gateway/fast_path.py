"""The gateway's forwarded routes, served in the fast lane (shared/fast_lane.py).

py-spy showed FastAPI spending more CPU around a forwarded call than the forwarding itself.
Each forwarded route's calls are served by a handler that authenticates (when the route needs
a token), relays the call upstream and sends the answer on, inside the gateway's own
middleware and with its own exception handlers; every other call goes to FastAPI unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from gateway.deps import GatewayState, client_ip_of
from gateway.partners.audit import audit_partner_call
from gateway.proxy import Answer, Forwarder
from shared.fast_lane import FastLane, Handler, LaneRoute, header
from shared.fast_lane import install as install_lane
from shared.identity import PrincipalKind


@dataclass(frozen=True, slots=True)
class ForwardTarget:
    """Where a forwarded route's calls go, and whether they need a bearer token."""

    upstream: Forwarder
    authenticated: bool


def forward_handler(target: ForwardTarget, state: GatewayState) -> Handler:
    """The lane handler of one forwarded route: what its FastAPI endpoint does, without it."""
    hops = state.settings.trusted_proxy_hops

    async def forward(scope: Scope, receive: Receive, send: Send) -> None:
        identity = None
        if target.authenticated:
            claims = await state.guard.authenticate(header(scope, b"authorization"))
            identity = claims.identity
        ip = client_ip_of(scope, hops)
        answer = await target.upstream.relay(scope, receive, identity, client_ip=ip)
        if identity is not None and identity.kind is PrincipalKind.partner:
            response = answer.response() if isinstance(answer, Answer) else answer
            await audit_partner_call(state, identity, Request(scope), response, ip)
            await response(scope, receive, send)
        elif isinstance(answer, Answer):
            await answer.send(send)
        else:
            await answer(scope, receive, send)

    return forward


def install(
    app: FastAPI, targets: Mapping[Callable[..., Any], ForwardTarget], state: GatewayState
) -> FastLane | None:
    """Serve the forwarded routes in `app`'s fast lane; call once every route is added."""
    lanes = {
        endpoint: LaneRoute(forward_handler(target, state)) for endpoint, target in targets.items()
    }
    return install_lane(app, lanes)
