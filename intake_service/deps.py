"""Dependencies of the intake endpoints: who is calling, and the database."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from intake_service.settings import IntakeSettings
from shared.db.database import Database, get_db
from shared.http import identity_from, require_resident
from shared.identity import Identity


def settings_of(request: Request) -> IntakeSettings:
    """The settings the app was created with."""
    settings: IntakeSettings = request.app.state.settings
    return settings


async def get_app_settings(request: Request) -> IntakeSettings:
    """FastAPI dependency: the settings (async, so FastAPI never hops to a thread)."""
    return settings_of(request)


async def current_resident(request: Request) -> Identity:
    """The resident the gateway vouched for; 401 without identity, 403 for non-residents."""
    settings = settings_of(request)
    identity = identity_from(request, settings.internal_auth_secret.get_secret_value().encode())
    return require_resident(identity)


DB = Annotated[Database, Depends(get_db)]
Resident = Annotated[Identity, Depends(current_resident)]
Settings = Annotated[IntakeSettings, Depends(get_app_settings)]
