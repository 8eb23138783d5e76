"""Fixtures of the deploy tests: each overlay, rendered."""

from __future__ import annotations

import pytest

from tests.deploy.rendering import (
    OVERLAYS,
    Obj,
    render,
)


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def objects(overlay: str) -> tuple[Obj, ...]:
    return render(overlay)
