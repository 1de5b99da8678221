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
from typing import IO, Any, Callable, Iterable, Sequence

from survey_engine.export.mappings import Column, Destination


def _iso(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _date(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%d")


def csv_formatter(column: Column) -> Callable[[Any], str]:
    """Text of one CSV cell for values of ``column`` (``None`` becomes an empty cell)."""
    kind = column.type
    if kind == "bool":
        return lambda v: "" if v is None else ("true" if v else "false")
    if kind == "float":
        if column.decimals is not None:
            pattern = f"{{:.{column.decimals}f}}"
            return lambda v: "" if v is None else pattern.format(v)
        return lambda v: "" if v is None else repr(round(float(v), 6))
    if kind == "int":
        return lambda v: "" if v is None else str(int(v))
    if kind == "datetime":  # the database formats them (ISO 8601 text); datetimes are formatted here
        convert = _date if column.as_date else _iso
        return lambda v: "" if v is None else (v if isinstance(v, str) else convert(v))
    if kind == "json":  # selected as JSON text
        return lambda v: "" if v is None else v
    return lambda v: "" if v is None else v


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
    """Writes rows (tuples in ``destination.columns`` order) in the destination's format."""

    def __init__(self, destination: Destination, stream: IO[str]):
        self.destination = destination
        self.stream = stream
        self.rows = 0
        columns = destination.columns
        if destination.format == "jsonl":
            self._formatters = [json_formatter(c) for c in columns]
            self._keys = [json.dumps(c.name, ensure_ascii=False) + ": " for c in columns]
        else:
            self._formatters = [csv_formatter(c) for c in columns]
            self._csv = csv.writer(stream, lineterminator="\n")
            self._csv.writerow([c.name for c in columns])

    def write(self, row: Sequence[Any]) -> None:
        cells = [f(v) for f, v in zip(self._formatters, row)]
        if self.destination.format == "jsonl":
            self.stream.write("{" + ", ".join(k + c for k, c in zip(self._keys, cells)) + "}\n")
        else:
            self._csv.writerow(cells)
        self.rows += 1

    def write_all(self, rows: Iterable[Sequence[Any]]) -> int:
        for row in rows:
            self.write(row)
        return self.rows
