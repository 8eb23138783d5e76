"""Read, add to and delete rollup rows (daily cells or department blocks) a batch at a time.

Both tables hold the same figure columns under different keys, so one statement of each kind
is generated per table. Every statement takes whole columns as arrays: one statement per
batch, where executemany made one round of ON CONFLICT per row (4.4 s of 11.7 s folding
116 k requests).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from routing_service.statistics import sketch
from routing_service.statistics.figures import COUNTS, Figures

_FIGURES = (*COUNTS, "by_status", "first_response_histogram", "resolution_histogram")
# Arrays of different lengths cannot share one int[][]: histograms come as literals.
_FIGURE_TYPES = {**dict.fromkeys(COUNTS, "int"), "by_status": "jsonb"} | dict.fromkeys(
    ("first_response_histogram", "resolution_histogram"), "text"
)
DENSE = {
    "first_response_dense": "first_response_histogram",
    "resolution_dense": "resolution_histogram",
}
"""The blocks' dense forms of their histograms, by the histogram each is derived from."""


@dataclass(frozen=True)
class Table:
    """A rollup table and its key columns with their Postgres types, in key order."""

    name: str
    key: tuple[tuple[str, str], ...]
    dense: bool = False
    """Whether rows also keep their histograms in the dense form (migration 0012)."""

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.key)

    def _unnest(self, columns: Sequence[tuple[str, str]]) -> str:
        arrays = ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in columns)
        return f"unnest({arrays}) AS k({', '.join(name for name, _ in columns)})"

    def _match(self) -> str:
        ours = ", ".join(f"c.{name}" for name in self.key_names)
        theirs = ", ".join(f"k.{name}" for name in self.key_names)
        return f"({ours}) = ({theirs})"

    @cached_property
    def select(self) -> TextClause:
        """The rows of the keys given as one array per key column: their figures, not the
        blocks' dense histograms (written from the figures, never read back by the fold)."""
        names = ", ".join(f"c.{name}" for name in (*self.key_names, *_FIGURES))
        return text(
            f"SELECT {names} FROM {self.name} c JOIN {self._unnest(self.key)} ON {self._match()}"  # noqa: S608
        )

    @cached_property
    def upsert(self) -> TextClause:
        """Insert or replace whole rows given as one array per column."""
        written = {**_FIGURE_TYPES, **(dict.fromkeys(DENSE, "bytea") if self.dense else {})}
        columns = (*self.key, *written.items())
        names = ", ".join(name for name, _ in columns)
        values = ", ".join(
            f"CAST(k.{name} AS int[])" if name.endswith("_histogram") else f"k.{name}"
            for name, _ in columns
        )
        updates = ", ".join(f"{name} = excluded.{name}" for name in written)
        return text(
            f"INSERT INTO {self.name} ({names}) SELECT {values} FROM {self._unnest(columns)} "  # noqa: S608
            f"ON CONFLICT ({', '.join(self.key_names)}) DO UPDATE SET {updates}"
        )

    @cached_property
    def delete(self) -> TextClause:
        """Delete the rows of the keys given as one array per key column."""
        return text(
            f"DELETE FROM {self.name} c USING {self._unnest(self.key)} WHERE {self._match()}"  # noqa: S608
        )


CELLS = Table(
    "statistics_daily", (("department_code", "text"), ("day", "date"), ("officer_key", "uuid"))
)
BLOCKS = Table(
    "statistics_blocks",
    (("department_code", "text"), ("level", "int2"), ("start_day", "date")),
    dense=True,
)


async def add(session: AsyncSession, table: Table, deltas: Mapping[Any, Figures]) -> None:
    """Add each key's figures to its row (keys as tuples in the table's key order); a row
    that comes to count no request is deleted."""
    if not deltas:
        return
    keys: list[Any] = list(deltas)
    current = {
        tuple(row[name] for name in table.key_names): Figures.from_row(row)
        for row in (await session.execute(table.select, _key_columns(table, keys))).mappings()
    }
    upserts: list[dict[str, Any]] = []
    empty: list[Hashable] = []
    for key, delta in deltas.items():
        figures = current.get(key, Figures())
        figures.absorb(delta)
        if figures.submitted == 0:
            empty.append(key)
        else:
            row = figures.as_row(dict(zip(table.key_names, key, strict=True)))
            if table.dense:
                row.update(dense_forms(figures))
            upserts.append(row)
    if upserts:
        await session.execute(table.upsert, columns(upserts))
    if empty:
        await session.execute(table.delete, _key_columns(table, empty))


def dense_forms(figures: Figures) -> dict[str, bytes]:
    """A block's histograms in the dense form, by column (migration 0012)."""
    return {column: sketch.dense(getattr(figures, name)) for column, name in DENSE.items()}


def columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Rows as one list per column, for an unnest."""
    return {name: [row[name] for row in rows] for name in rows[0]}


def _key_columns(table: Table, keys: Sequence[Any]) -> dict[str, list[Any]]:
    return {name: [key[i] for key in keys] for i, name in enumerate(table.key_names)}
