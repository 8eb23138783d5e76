"""Forged and misused access tokens are refused at the gateway (reliability checklist #31).

Each attack starts from a resident's real token: its claims re-signed with the gateway's own
key must be accepted (the control, so a refusal below is the attack's doing), then one thing
is changed per case. Every refusal is the same 401 problem, and a token header pointing at a
key on 127.0.0.1 (jku, x5u) must never make the gateway fetch it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.auth.tokens import load_private_key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A token with no signature at all, whatever its header says."""
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


class KeyServer:
    """A loopback HTTP server that records every request: the key an attacker points at."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def key_server() -> Iterator[KeyServer]:
    server = KeyServer()
    yield server
    server.close()


@pytest.fixture
async def victim(client: httpx.AsyncClient, stack: Any, sms: Any) -> Any:
    """A signed-in resident whose token the attacks start from."""
    return await stack.sign_up(client, sms.ledger)


def _real_key(stack: Any) -> Ed25519PrivateKey:
    pem = stack.gateway_settings.jwt_private_key.get_secret_value().encode()
    return load_private_key(pem)


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


async def _status(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/v1/requests", headers={"Authorization": f"Bearer {token}"})


async def test_the_real_claims_re_signed_with_the_real_key_are_accepted(
    client: httpx.AsyncClient, stack: Any, victim: Any
) -> None:
    """The control: the harness crafts tokens the gateway accepts."""
    claims = {**_claims(victim.access_token), "jti": "control"}  # Ed25519 is deterministic
    token = jwt.encode(claims, _real_key(stack), algorithm="EdDSA")
    assert token != victim.access_token  # verified afresh, not found in the gateway's cache
    assert (await _status(client, token)).status_code == 200


def _public_pem(stack: Any) -> bytes:
    return (
        _real_key(stack)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _with(**changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def change(claims: dict[str, Any]) -> dict[str, Any]:
        out = {**claims, **changes}
        return {k: v for k, v in out.items() if v is not None}

    return change


# Claim changes signed with the gateway's own key: all must still be refused.
CLAIM_ATTACKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "expired": lambda c: {**c, "iat": c["iat"] - 3600, "nbf": c["nbf"] - 3600, "exp": 1},
    "no exp": _with(exp=None),
    "not yet valid": lambda c: {**c, "nbf": int(time.time()) + 3600},
    "wrong audience": _with(aud="another-api"),
    "no audience": _with(aud=None),
    "wrong issuer": _with(iss="https://attacker.example"),
    "no session": _with(sid=None),
    "refresh type": _with(typ="refresh"),
    "no type": _with(typ=None),
    "unknown kind": _with(knd="superuser"),
}


@pytest.mark.parametrize("attack", sorted(CLAIM_ATTACKS))
async def test_claims_the_gateway_did_not_issue_are_refused(
    client: httpx.AsyncClient, stack: Any, victim: Any, attack: str
) -> None:
    claims = CLAIM_ATTACKS[attack](_claims(victim.access_token))
    token = jwt.encode(claims, _real_key(stack), algorithm="EdDSA")
    _assert_refused(await _status(client, token), attack)


async def test_forged_signatures_and_algorithms_are_refused(
    client: httpx.AsyncClient, stack: Any, victim: Any, key_server: KeyServer
) -> None:
    claims = _claims(victim.access_token)
    raised = {**claims, "knd": "staff", "rol": ["admin"]}
    attacker = Ed25519PrivateKey.generate()
    attacker_jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(attacker.public_key()))
    header, payload, signature = victim.access_token.split(".")
    tokens = {
        "alg none": _unsigned({"alg": "none", "typ": "JWT"}, claims),
        "alg None": _unsigned({"alg": "None", "typ": "JWT"}, claims),
        "no signature": f"{header}.{payload}.",
        "claims changed under the real signature": (
            f"{header}.{_b64(json.dumps(raised).encode())}.{signature}"
        ),
        "HS256 with the public key as secret": _hs256(claims, _public_pem(stack)),
        "another Ed25519 key": jwt.encode(claims, attacker, algorithm="EdDSA"),
        "unknown kid": jwt.encode(claims, attacker, algorithm="EdDSA", headers={"kid": "k9"}),
        "embedded jwk": jwt.encode(
            claims, attacker, algorithm="EdDSA", headers={"jwk": attacker_jwk}
        ),
        "jku to loopback": jwt.encode(
            claims, attacker, algorithm="EdDSA", headers={"jku": f"{key_server.url}/jwks"}
        ),
        "x5u to loopback": jwt.encode(
            claims, attacker, algorithm="EdDSA", headers={"x5u": f"{key_server.url}/cert"}
        ),
        "the refresh token": victim.refresh_token,
        "garbage": "not.a.token",
        "empty": "",
    }
    for attack, token in tokens.items():
        _assert_refused(await _status(client, token), attack)
    assert key_server.hits == []


def _hs256(claims: dict[str, Any], secret: bytes) -> str:
    """Key confusion: HMAC-signed with the verifier's public key (PyJWT refuses to make this
    itself, which is the point), so it is assembled by hand."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims).encode())
    mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(mac)}"


def _assert_refused(response: httpx.Response, attack: str) -> None:
    assert response.status_code == 401, (attack, response.status_code, response.text)
    body = response.json()
    assert body["code"] == "invalid_token", attack
    assert body["detail_ar"], attack
    assert response.headers["www-authenticate"].startswith("Bearer"), attack
