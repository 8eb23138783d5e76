"""A partner client created by an admin, and the access token its credentials buy."""

from __future__ import annotations

from typing import Any

import httpx


async def partner_token(client: httpx.AsyncClient, admin_auth: dict[str, str], **body: Any) -> str:
    """Create a partner with `body` (name, scopes, agencies or departments, …) through the
    admin API, then exchange its client credentials for an access token."""
    created = await client.post("/v1/admin/partners", json=body, headers=admin_auth)
    assert created.status_code == 201, created.text
    partner = created.json()
    form = {
        "grant_type": "client_credentials",
        "client_id": partner["client_id"],
        "client_secret": partner["client_secret"],
    }
    token = await client.post("/v1/oauth/token", data=form)
    assert token.status_code == 200, token.text
    return str(token.json()["access_token"])
