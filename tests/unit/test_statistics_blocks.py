"""Aligned day blocks: a period is covered exactly by few blocks, and a cell's change reaches
the one block of each level that holds its day."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from routing_service.statistics.blocks import EPOCH, LEVELS, block_deltas, block_start, cover
from routing_service.statistics.figures import Figures

days = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 1, 1))


@given(days, st.integers(min_value=1, max_value=366))
def test_blocks_cover_the_period_exactly_once_and_are_aligned(start: date, length: int) -> None:
    end = start + timedelta(days=length)
    covered: list[date] = []
    for level, first in cover(start, end):
        assert 0 <= level < LEVELS
        assert block_start(first, level) == first
        covered.extend(first + timedelta(days=i) for i in range(1 << level))
    assert covered == [start + timedelta(days=i) for i in range(length)]


@given(days, st.integers(min_value=1, max_value=366))
def test_a_year_needs_at_most_seventeen_blocks(start: date, length: int) -> None:
    """The read's cost bound: about 2·log₂(days) blocks, never a row per day."""
    assert len(cover(start, start + timedelta(days=length))) <= 17


def test_an_empty_period_has_no_blocks() -> None:
    assert cover(date(2026, 1, 1), date(2026, 1, 1)) == []


@given(days, st.integers(min_value=0, max_value=LEVELS - 1))
def test_a_day_lies_in_its_block(day: date, level: int) -> None:
    first = block_start(day, level)
    assert first <= day < first + timedelta(days=1 << level)
    assert (first - EPOCH).days % (1 << level) == 0


def test_block_deltas_add_every_officers_cells_into_each_level() -> None:
    rng = random.Random(3)
    cells = {}
    for _ in range(40):
        day = date(2026, 1, 1) + timedelta(days=rng.randrange(90))
        figures = Figures(submitted=rng.randint(1, 4), by_status={"routed": 1})
        figures.first_response_histogram = {rng.randint(400, 420): 1}
        cells[("visas", day, uuid.uuid4())] = figures
    blocks = block_deltas(cells)
    for level in range(LEVELS):
        in_level = [f for (_, lvl, _), f in blocks.items() if lvl == level]
        assert sum(f.submitted for f in in_level) == sum(f.submitted for f in cells.values())
    one_day = date(2026, 2, 3)
    want = sum(f.submitted for (_, day, _), f in cells.items() if day == one_day)
    got = blocks.get(("visas", 0, one_day))
    assert (got.submitted if got else 0) == want
