"""The notification-drain benchmark's own arithmetic: what counts as missing, repeated, met."""

from __future__ import annotations

from bench.notify_drain import Ledger, ratio_target, tally
from bench.wrk import spread


def test_tally_counts_messages_never_received_and_extra_copies() -> None:
    assert tally({"a": 1, "b": 3, "c": 1}, expected=5) == (2, 2)


def test_tally_of_a_clean_drain_is_zero_and_zero() -> None:
    assert tally({"a": 1, "b": 1}, expected=2) == (0, 0)


def test_ledger_counts_each_post_and_keeps_first_and_last_times() -> None:
    ledger = Ledger()
    for message_id in ("x", "y", "x"):
        ledger.add(message_id)
    assert ledger.unique() == 2
    assert ledger.ids["x"] == 2
    assert ledger.first is not None
    assert ledger.last is not None
    assert ledger.first <= ledger.last


def test_spread_gives_min_median_max() -> None:
    assert spread([3.0, 1.0, 2.0]) == {"min": 1.0, "median": 2.0, "max": 3.0}


def test_ratio_target_is_met_at_half_of_arqs_rate() -> None:
    assert ratio_target(500.0, 1000.0, clean=True) == {"value": 0.5, "target": 0.5, "met": True}
    assert ratio_target(499.0, 1000.0, clean=True)["met"] is False


def test_ratio_target_is_not_met_when_a_message_was_lost_or_repeated() -> None:
    assert ratio_target(2000.0, 1000.0, clean=False)["met"] is False


def test_ratio_target_without_a_reference_is_zero() -> None:
    assert ratio_target(100.0, 0.0, clean=True)["value"] == 0.0
