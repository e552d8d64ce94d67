"""Regenerate `contract_schemas.json` from the OpenAPI contract (a dev-only step).

    python tests/contract/generate_schemas.py [path/to/tempest-private-apps.openapi.yaml]

Needs PyYAML; the contract tests only read the JSON this writes. The JSON holds every
`components.schemas` entry and the inline connect body (as `ConnectRequest`) translated
to JSON Schema draft-07, plus which schema each endpoint takes and answers:

- `#/components/schemas/X` references become `#/definitions/X`;
- OpenAPI 3.0 `nullable: true` becomes `type: [X, "null"]` (or `anyOf` with null around
  a `$ref` or a `oneOf`), since draft-07 has no `nullable`;
- a `oneOf` with a `discriminator` becomes a `oneOf` whose branches also pin the
  discriminating property to their mapping key, so exactly one branch can match;
- OpenAPI-only keywords (`discriminator`, `example`, `nullable`) are dropped, and so are
  the siblings of a `$ref`, which draft-07 ignores anyway.

Deviations from the contract's letter, each backed by how Tempest behaves, are listed
in `DEVIATIONS` and recorded in the output.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "contract_schemas.json"
# /work/main/tests/contract -> /work/shared; CI checks out shared/ beside the repository.
DEFAULT_CONTRACT = HERE.parents[2] / "shared" / "contract" / "tempest-private-apps.openapi.yaml"

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
_REF_PREFIX = "#/components/schemas/"
_DROPPED = {"discriminator", "example", "nullable", "xml", "externalDocs"}

# (schema, property) -> why it is nullable although the contract does not say so.
DEVIATIONS: dict[tuple[str, str], str] = {
    ("ReportResponse", "response"): (
        'Tempest\'s own client reports a failed task with "response": null; the contract '
        "lists `response` as required without `nullable`"
    ),
}


def _ref(ref: str) -> str:
    if not ref.startswith(_REF_PREFIX):
        raise ValueError(f"unsupported $ref {ref!r}: only {_REF_PREFIX}* is expected")
    return "#/definitions/" + ref[len(_REF_PREFIX) :]


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str) and "$ref" not in schema:
        result = {**schema, "type": [kind, "null"]}
        if "enum" in result and None not in result["enum"]:
            result["enum"] = [*result["enum"], None]
        return result
    return {"anyOf": [schema, {"type": "null"}]}


def convert(node: Any) -> Any:
    """Translate one OpenAPI 3.0 schema node (recursively) to JSON Schema draft-07."""
    if isinstance(node, list):
        return [convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        converted: dict[str, Any] = {"$ref": _ref(node["$ref"])}
    else:
        converted = {key: convert(value) for key, value in node.items() if key not in _DROPPED}
        discriminator = node.get("discriminator")
        if discriminator is not None and "oneOf" in node:
            converted["oneOf"] = _discriminated(node["oneOf"], discriminator)
    if node.get("nullable") is True:
        converted = _nullable(converted)
    return converted


def _discriminated(branches: list[Any], discriminator: dict[str, Any]) -> list[dict[str, Any]]:
    prop = discriminator["propertyName"]
    by_ref = {ref: key for key, ref in discriminator.get("mapping", {}).items()}
    result = []
    for branch in branches:
        ref = branch["$ref"]
        key = by_ref.get(ref, ref.rsplit("/", 1)[-1])
        result.append(
            {
                "allOf": [
                    {"$ref": _ref(ref)},
                    {"properties": {prop: {"const": key}}, "required": [prop]},
                ]
            }
        )
    return result


def build(contract: dict[str, Any], source_sha256: str) -> dict[str, Any]:
    """The whole JSON document written to `contract_schemas.json`."""
    schemas = copy.deepcopy(contract["components"]["schemas"])
    for (schema, prop), _why in DEVIATIONS.items():
        schemas[schema]["properties"][prop]["nullable"] = True

    definitions = {name: convert(schema) for name, schema in schemas.items()}
    endpoints: dict[str, Any] = {}
    for path, item in contract["paths"].items():
        operation = item["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        if "$ref" in body:
            request = body["$ref"][len(_REF_PREFIX) :]
        elif path == "/apps.version.connect":
            request = "ConnectRequest"
            definitions[request] = convert(body)
        else:
            raise ValueError(f"{path}: an inline request body this script does not name")
        responses = {}
        for status, response in operation["responses"].items():
            content = response.get("content", {}).get("application/json")
            ref = content["schema"]["$ref"][len(_REF_PREFIX) :] if content else None
            responses[str(status)] = ref
        endpoints[path] = {"request": request, "responses": responses}

    return {
        "$schema": DRAFT_07,
        "$comment": (
            "Generated by tests/contract/generate_schemas.py from "
            "tempest-private-apps.openapi.yaml; do not edit by hand."
        ),
        "x-source-sha256": source_sha256,
        "x-deviations": [
            {"schema": schema, "property": prop, "nullable": True, "why": why}
            for (schema, prop), why in DEVIATIONS.items()
        ],
        "x-endpoints": endpoints,
        "definitions": definitions,
    }


def render(contract_path: Path) -> str:
    """The JSON text for the contract at `contract_path`."""
    import yaml  # dev-only dependency, needed only to regenerate

    raw = contract_path.read_bytes()
    document = build(yaml.safe_load(raw), hashlib.sha256(raw).hexdigest())
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    """Write `contract_schemas.json`; the optional argument is the contract's path."""
    contract_path = Path(argv[0]) if argv else DEFAULT_CONTRACT
    OUTPUT.write_text(render(contract_path), encoding="utf-8")
    print(f"wrote {OUTPUT} from {contract_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
