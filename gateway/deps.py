"""Dependencies of the gateway's own endpoints."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.auth.passwords import Passwords
from gateway.auth.service import AuthConfig
from gateway.auth.tokens import TokenIssuer
from gateway.guard import Guard
from gateway.ratelimit import RateLimiter
from gateway.settings import GatewaySettings


@dataclass
class GatewayState:
    """Everything the gateway built at start-up, shared by all requests."""

    settings: GatewaySettings
    sessions: async_sessionmaker[AsyncSession]
    passwords: Passwords
    issuer: TokenIssuer
    guard: Guard
    limiter: RateLimiter
    auth: AuthConfig


def state_of(request: Request) -> GatewayState:
    """The gateway's shared state."""
    state: GatewayState = request.app.state.gateway
    return state


async def get_state(request: Request) -> GatewayState:
    """FastAPI dependency: the shared state (async, so FastAPI never hops to a thread)."""
    return state_of(request)


def client_ip(request: Request, trusted_hops: int) -> str:
    """The caller's address: the peer, or the entry our own ingress added to X-Forwarded-For."""
    peer = request.client.host if request.client else "unknown"
    if trusted_hops <= 0:
        return peer
    chain = [part.strip() for part in request.headers.get("x-forwarded-for", "").split(",")]
    chain = [part for part in chain if part]
    return chain[-trusted_hops] if len(chain) >= trusted_hops else peer
