"""``python -m survey_engine.definitions``: check questionnaire files, or regenerate their JSON Schema.

    python -m survey_engine.definitions check questionnaires/      # list every problem, exit 1 if any
    python -m survey_engine.definitions schema                     # rewrite questionnaires/questionnaire.schema.json
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from survey_engine.definitions.errors import DefinitionError
from survey_engine.definitions.questionnaire import (
    SCHEMA_PATH,
    load_questionnaire,
    load_questionnaire_dir,
    write_questionnaire_schema,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m survey_engine.definitions", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="validate questionnaire files or directories")
    check.add_argument("paths", nargs="+", type=Path)
    schema = sub.add_parser("schema", help="write the questionnaire JSON Schema")
    schema.add_argument("--output", type=Path, default=SCHEMA_PATH)
    args = parser.parse_args(argv)
    if args.command == "schema":
        print(f"wrote {write_questionnaire_schema(args.output)}")
        return 0
    failed = False
    for path in args.paths:
        try:
            specs = load_questionnaire_dir(path) if path.is_dir() else [load_questionnaire(path)]
        except DefinitionError as exc:
            print(exc, file=sys.stderr)
            failed = True
            continue
        for spec in specs:
            print(f"ok: {spec.id} v{spec.version} ({len(spec.items)} items, {len(spec.constructs)} constructs)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
