"""Department figures over aligned blocks of 1, 2, 4 … 256 days, so a period's figures are the
sum of at most ~2·log₂(days) blocks instead of a cell per day and officer.

A 30-day answer for a department of 40 officers used to add ~1,200 daily cells and about one
histogram entry per request in the period, so its cost followed the period's requests and
staff. Every block is kept whole by the fold (a change is added to the block of each level
that holds its day), and a block's histogram has at most one entry per log bucket (~700 for
a minute to a year), so the department figures of any period up to a year cost at most
~17 blocks however many requests, officers or years the database holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from routing_service.statistics.figures import Cell, Figures

EPOCH = date(1970, 1, 1)
"""Blocks of level k start on days whose distance from EPOCH is a multiple of 2^k."""
LEVELS = 9
"""Levels 0..8: a day up to 256 days; a year, the longest period asked, needs no more."""

Block = tuple[str, int, date]
"""(department_code, level, start_day): one row of statistics_blocks."""


def block_start(day: date, level: int) -> date:
    """First day of the level-`level` block that holds `day`."""
    offset = (day - EPOCH).days
    return EPOCH + timedelta(days=offset >> level << level)


def cover(start: date, end: date) -> list[tuple[int, date]]:
    """The fewest aligned blocks that cover the days [start, end) exactly, as (level, start)."""
    blocks: list[tuple[int, date]] = []
    position, stop = (start - EPOCH).days, (end - EPOCH).days
    while position < stop:
        level = 0
        while (
            level + 1 < LEVELS and position % (2 << level) == 0 and position + (2 << level) <= stop
        ):
            level += 1
        blocks.append((level, EPOCH + timedelta(days=position)))
        position += 1 << level
    return blocks


def block_deltas(cell_deltas: Mapping[Cell, Figures]) -> dict[Block, Figures]:
    """What the cells' changes add to each department block that holds their days."""
    deltas: dict[Block, Figures] = {}
    for (department, day, _officer), delta in cell_deltas.items():
        for level in range(LEVELS):
            key = (department, level, block_start(day, level))
            block = deltas.get(key)
            if block is None:
                block = deltas[key] = Figures()
            block.absorb(delta)
    return deltas
