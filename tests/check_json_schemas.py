#!/usr/bin/env python3
"""Validates folio's JSON output against the schemas in docs/json.

Usage: check_json_schemas.py OUTPUTS_DIR

OUTPUTS_DIR holds NAME.json files, each the output of one command, NAME
matching docs/json/NAME.schema.json. Every schema must have at least one
output (so a schema cannot go unchecked), and every output must validate
(JSON Schema draft 2020-12, with the `jsonschema` package). Prints one
line per problem and exits 1 when there is any.
"""
import json
import pathlib
import sys

import jsonschema

SCHEMAS = pathlib.Path(__file__).resolve().parent.parent / "docs" / "json"


def main() -> int:
    outputs = pathlib.Path(sys.argv[1])
    problems = []
    schemas = sorted(SCHEMAS.glob("*.schema.json"))
    if not schemas:
        problems.append(f"no schemas in {SCHEMAS}")
    for schema_path in schemas:
        name = schema_path.name[: -len(".schema.json")]
        schema = json.loads(schema_path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        validator = jsonschema.Draft202012Validator(schema)
        found = sorted(outputs.glob(f"{name}.json")) + sorted(outputs.glob(f"{name}.*.json"))
        if not found:
            problems.append(f"{name}: no output checked against docs/json/{schema_path.name}")
        for out in found:
            doc = json.loads(out.read_text())
            for err in validator.iter_errors(doc):
                where = "/".join(str(p) for p in err.absolute_path) or "(top)"
                problems.append(f"{out.name}: {where}: {err.message}")
    for out in sorted(outputs.glob("*.json")):
        base = out.name.split(".")[0]
        if not (SCHEMAS / f"{base}.schema.json").exists():
            problems.append(f"{out.name}: no schema docs/json/{base}.schema.json")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
