"""Log-bucket histograms: every percentile within 1% of percentile_cont's exact value."""

from __future__ import annotations

import math
import random
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing_service.statistics import sketch
from routing_service.statistics.figures import Contribution, Figures, contribution, differences
from shared.db.statistics import NO_OFFICER


def _exact(values: list[float], q: float) -> float:
    """Postgres's percentile_cont: linear between the two nearest ranks."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def test_every_value_is_within_the_accuracy_of_its_bucket() -> None:
    value = 1.5
    while value < 10 * 365 * 86_400:
        estimate = sketch.representative(sketch.bucket(value))
        assert abs(estimate - value) <= sketch.RELATIVE_ACCURACY * value * 1.000001
        value *= 1.013


@pytest.mark.parametrize("seed", range(20))
def test_percentiles_match_exact_ones_within_one_percent(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.lognormvariate(10, 1.5) + 2 for _ in range(rng.randint(1, 400))]
    histogram: dict[int, int] = {}
    sketch.merge(histogram, {sketch.bucket(v): 1 for v in values[:1]})
    for v in values[1:]:
        sketch.merge(histogram, {sketch.bucket(v): 1})
    estimates = sketch.quantiles(histogram, (0.5, 0.9, 0.0, 1.0))
    for q, estimate in zip((0.5, 0.9, 0.0, 1.0), estimates, strict=True):
        assert estimate == pytest.approx(_exact(values, q), rel=sketch.RELATIVE_ACCURACY)


def test_empty_histogram_has_no_percentile_and_zero_counts_vanish() -> None:
    assert sketch.quantiles({}, (0.5,)) == [None]
    histogram = {7: 1}
    sketch.merge(histogram, {7: -1})
    assert histogram == {}
    assert sketch.bucket(0.2) == 0
    assert sketch.representative(0) == 0.0


def test_stored_pairs_round_trip_and_add_up() -> None:
    histogram = {40: 2, 3: 1, 1200: 5}
    stored = sketch.pairs(histogram)
    assert stored == [3, 1, 40, 2, 1200, 5]  # buckets ascending, as migration 0009 writes
    total: dict[int, int] = {}
    sketch.add_pairs(total, stored)
    sketch.add_pairs(total, sketch.pairs({40: 1, 7: 4}))
    assert total == {3: 1, 7: 4, 40: 3, 1200: 5}
    with pytest.raises(ValueError, match="zip"):
        sketch.add_pairs(total, [1, 2, 3])


def _row(**changes: object) -> dict[str, object]:
    submitted = datetime(2024, 5, 1, 23, 30, tzinfo=UTC)
    row: dict[str, object] = {
        "department_code": "visas",
        "submitted_at": submitted,
        "status": "closed",
        "first_response_at": submitted + timedelta(hours=2),
        "first_response_due_at": submitted + timedelta(hours=1),
        "resolved_at": submitted + timedelta(hours=30),
        "resolution_due_at": submitted + timedelta(hours=48),
        "breached_at": None,
        "rating": 4,
        "officer_id": None,
    }
    row.update(changes)
    return row


def test_a_request_counts_on_its_utc_submission_day() -> None:
    c = contribution(_row())
    assert c.day == date(2024, 5, 1)
    assert c.officer_key == NO_OFFICER
    assert (c.first_response_on_time, c.resolution_on_time) == (False, True)
    assert c.first_response_bucket == sketch.bucket(7200)


def test_moving_a_request_takes_it_back_from_one_cell_and_adds_it_to_another() -> None:
    officer = uuid.uuid4()
    request_id = uuid.uuid4()
    before = {request_id: contribution(_row())}
    after = {request_id: contribution(_row(officer_id=officer, status="reopened", rating=None))}
    deltas = differences(before, after)
    old_cell, new_cell = before[request_id].cell, after[request_id].cell
    assert deltas[old_cell].submitted == -1
    assert deltas[old_cell].by_status == {"closed": -1}
    assert deltas[old_cell].rating_sum == -4
    assert deltas[new_cell].submitted == 1
    assert deltas[new_cell].ratings == 0
    total = Figures()
    total.add(before[request_id], 1)
    for delta in deltas.values():
        total.absorb(delta)
    assert total.submitted == 1
    assert total.by_status == {"reopened": 1}
    assert total.first_response_histogram == {sketch.bucket(7200): 1}


def test_an_unchanged_request_changes_nothing() -> None:
    request_id = uuid.uuid4()
    same: dict[uuid.UUID, Contribution] = {request_id: contribution(_row())}
    assert differences(same, dict(same)) == {}


_HISTOGRAMS = st.dictionaries(
    st.integers(0, sketch.LARGEST_BUCKET), st.integers(1, 2**32 - 1), max_size=40
)


def test_the_dense_form_is_the_first_bucket_and_a_count_per_bucket_to_the_last() -> None:
    assert sketch.dense({}) == b""
    assert sketch.dense({5: 2, 3: 1}) == bytes.fromhex("00000003000000010000000000000002")


@settings(max_examples=300)
@given(st.lists(st.tuples(_HISTOGRAMS, st.booleans()), max_size=8), st.lists(_HISTOGRAMS))
def test_histograms_added_in_any_form_have_the_percentiles_of_their_sum(
    parts: list[tuple[dict[int, int], bool]], more: list[dict[int, int]]
) -> None:
    """Dense forms add up as integers (counts up to 2^32 - 1 each, so sums overflow 32 bits)
    and give what the sum of the sparse histograms gives, alone or mixed with pairs."""
    summed = sketch.Histogram()
    expected: dict[int, int] = {}
    for histogram, as_dense in parts:
        if as_dense:
            summed.add_dense(sketch.dense(histogram))
        else:
            summed.add_pairs(sketch.pairs(histogram))
        sketch.merge(expected, histogram)
    other = sketch.Histogram()
    for histogram in more:
        other.add_dense(sketch.dense(histogram))
        sketch.merge(expected, histogram)
    summed.absorb(other)
    qs = (0.0, 0.5, 0.9, 0.37, 1.0)
    assert summed.quantiles(qs) == sketch.quantiles(expected, qs)
