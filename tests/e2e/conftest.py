"""The whole system for each end-to-end module, its SMS going to the local receiver."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.live import LiveStack, live_stack
from tests.support.sms_receiver import SmsReceiver


@pytest.fixture(scope="module")
def webhook_stack(
    backing: Any, sms: SmsReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStack]:
    """Every process started once per module, on the run's database, Redis and bucket."""
    env = {**backing.env(), "SMS_PROVIDER": "webhook", "SMS_WEBHOOK_URL": sms.url}
    with live_stack(env, tmp_path_factory.mktemp("logs")) as running:
        yield running
