"""Streaming writers for the CRM export: one formatter per column, chosen once, applied per row.

CSV conventions of the CRM imports: UTF-8, a header of the column names, ``true``/``false`` for
booleans, ISO 8601 timestamps in UTC (``2026-11-25T15:50:09Z``) or dates (``2026-11-25``), and an
empty cell for a missing value (Salesforce upserts then leave the field as it is). JSON fields are
written as JSON text; in JSON Lines they are nested as they are stored.
"""
from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from typing import IO, Any, Callable, Sequence

from survey_engine.export.mappings import Column, Destination


def _iso(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _date(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%d")


def csv_formatter(column: Column, *, preformatted_datetimes: bool = False) -> Callable[[Any], str] | None:
    """Text of one CSV cell for values of ``column``, or None when the value is written as it comes
    (text, integers and JSON text; the csv module writes ``None`` as an empty cell). Timestamps the
    database already formatted need nothing either."""
    kind = column.type
    if kind == "bool":
        return lambda v: "" if v is None else ("true" if v else "false")
    if kind == "float":
        if column.decimals is not None:
            pattern = f"{{:.{column.decimals}f}}"
            return lambda v: "" if v is None else pattern.format(v)
        return lambda v: "" if v is None else repr(round(float(v), 6))
    if kind == "datetime" and not preformatted_datetimes:
        convert = _date if column.as_date else _iso
        return lambda v: "" if v is None else (v if isinstance(v, str) else convert(v))
    return None


def json_formatter(column: Column) -> Callable[[Any], str]:
    """JSON text of one value of ``column`` (JSON fields arrive as JSON text and are kept)."""
    kind = column.type
    dumps = json.dumps
    if kind == "json":
        return lambda v: "null" if v is None else v
    if kind == "datetime":
        convert = _date if column.as_date else _iso
        return lambda v: "null" if v is None else f'"{v if isinstance(v, str) else convert(v)}"'
    if kind == "bool":
        return lambda v: "null" if v is None else ("true" if v else "false")
    if kind == "float":
        digits = column.decimals if column.decimals is not None else 6
        return lambda v: "null" if v is None else repr(round(float(v), digits))
    if kind == "int":
        return lambda v: "null" if v is None else str(int(v))
    return lambda v: "null" if v is None else dumps(v, ensure_ascii=False)


class ProfileWriter:
    """Writes rows (tuples in ``destination.columns`` order) in the destination's format.

    ``preformatted_datetimes``: timestamps arrive as ISO 8601 text from the database.
    """

    def __init__(self, destination: Destination, stream: IO[str], *, preformatted_datetimes: bool = False):
        self.destination = destination
        self.stream = stream
        self.rows = 0
        columns = destination.columns
        self._jsonl = destination.format == "jsonl"
        if self._jsonl:
            self._formatters = [json_formatter(c) for c in columns]
            self._keys = [json.dumps(c.name, ensure_ascii=False) + ": " for c in columns]
        else:
            formatters = [csv_formatter(c, preformatted_datetimes=preformatted_datetimes) for c in columns]
            self._plan = [(i, f) for i, f in enumerate(formatters) if f is not None]
            self._csv = csv.writer(stream, lineterminator="\n")
            self._csv.writerow([c.name for c in columns])

    def _cells(self, row: Sequence[Any]) -> list:
        cells = list(row)
        for index, formatter in self._plan:
            cells[index] = formatter(cells[index])
        return cells

    def write(self, row: Sequence[Any]) -> None:
        self.write_many((row,))

    def write_many(self, rows: Sequence[Sequence[Any]]) -> int:
        """Write a batch of rows; returns how many."""
        if self._jsonl:
            keys, formatters, write = self._keys, self._formatters, self.stream.write
            for row in rows:
                write("{" + ", ".join(k + f(v) for k, f, v in zip(keys, formatters, row)) + "}\n")
        elif self._plan:
            self._csv.writerows([self._cells(row) for row in rows])
        else:
            self._csv.writerows(rows)
        self.rows += len(rows)
        return len(rows)
