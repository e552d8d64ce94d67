"""The emulator's own OpenAPI document: served as built, and the Tempest contract's twin.

`test_schemathesis.py` fuzzes the emulator with the document it serves, in every
clone. Here that document is compared, schema by schema, with the upstream contract
`../shared/contract/tempest-private-apps.openapi.yaml` wherever it is beside the
repository (CI has it); a bare clone skips that comparison with the reason.

Both documents are reduced to what a schema says about JSON (types, fields, required
fields, enums, nullability, a discriminated union's members by tag), with every
`$ref` resolved, then compared; each difference must be one of `DIFFERENCES`, each
with its reason, and each of those must still be seen (so the list cannot go stale).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tempest_sdk.emulator import ENDPOINTS, Emulator
from tempest_sdk.emulator._openapi import openapi_document

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT.parent / "shared" / "contract" / "tempest-private-apps.openapi.yaml"

# (where, what differs) -> why. `where` ends with the field; `what` names the side.
DIFFERENCES: dict[tuple[str, str], str] = {
    ("body.response.nullable", "only in emulator: true"): (
        "the one documented deviation (tests/contract/generate_schemas.py): Tempest's own "
        'client reports a failed task with "response": null'
    ),
    ("external_url.format", 'only in contract: "uri"'): (
        "the SDK's models and the emulator take any string; `format` is an annotation "
        "in OpenAPI 3.0 and the emulator does not check it"
    ),
    ("url.format", 'only in contract: "uri"'): (
        "as for external_url: a link's url is any string to the models and the emulator"
    ),
    ("200.response_type.enum", 'only in emulator: ["list_resources"]'): (
        "the SDK's ListResourcesResponse pins its response_type to 'list_resources' (a "
        "Literal), which is the only value the contract's discriminator maps to it"
    ),
}


def contract() -> dict[str, Any]:
    if not CONTRACT.is_file():
        # A bare clone has no ../shared; CI and the developers' checkouts have it.
        pytest.skip(f"the Tempest contract is not beside the repository (expected {CONTRACT})")
    document: dict[str, Any] = yaml.safe_load(CONTRACT.read_text("utf-8"))
    return document


def canonical(document: dict[str, Any], node: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """What `node` says about JSON, with its `$ref`s resolved (recursion cut by name)."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        if name in seen:
            return {"recursive": name}
        result = canonical(document, document["components"]["schemas"][name], (*seen, name))
        # The contract writes `nullable` beside a $ref (3.0 ignores it; the intent is clear).
        return {**result, "nullable": True} if node.get("nullable") else result
    result: dict[str, Any] = {}
    if len(node.get("allOf", ())) == 1:
        result = canonical(document, node["allOf"][0], seen)
    for key in ("type", "format"):
        if key in node:
            result[key] = node[key]
    if node.get("nullable"):
        result["nullable"] = True
    if "enum" in node:
        result["enum"] = sorted(str(value) for value in node["enum"])
    if "properties" in node:
        result["properties"] = {
            name: canonical(document, value, seen) for name, value in node["properties"].items()
        }
        result["required"] = sorted(node.get("required", []))
    if "items" in node:
        result["items"] = canonical(document, node["items"], seen)
    if "oneOf" in node:
        # Members by their discriminator's tag; the tag's own enum is the mapping's to say.
        discriminator = node["discriminator"]
        members = {}
        for tag, ref in discriminator["mapping"].items():
            member = canonical(document, {"$ref": ref}, seen)
            member["properties"][discriminator["propertyName"]].pop("enum", None)
            members[tag] = member
        result["oneOf"] = members
    return result


def differences(contract_side: Any, emulator_side: Any, where: str) -> list[tuple[str, str]]:
    """Every difference, as (where, what); dotted paths skip the schema keywords."""
    if not (isinstance(contract_side, dict) and isinstance(emulator_side, dict)):
        if contract_side == emulator_side:
            return []
        return [
            (where, f"contract {json.dumps(contract_side)}, emulator {json.dumps(emulator_side)}")
        ]
    found = []
    for key in sorted(set(contract_side) | set(emulator_side)):
        here = where if key in ("properties", "items", "oneOf") else f"{where}.{key}"
        if key not in emulator_side:
            found.append((here, f"only in contract: {json.dumps(contract_side[key])}"))
        elif key not in contract_side:
            found.append((here, f"only in emulator: {json.dumps(emulator_side[key])}"))
        else:
            found += differences(contract_side[key], emulator_side[key], here)
    return found


def explained(difference: tuple[str, str]) -> tuple[str, str] | None:
    where, what = difference
    for known in DIFFERENCES:
        if where.replace(" ", ".").endswith("." + known[0]) and what == known[1]:
            return known
    return None


def body(operation: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = operation["requestBody"]["content"]["application/json"]["schema"]
    return schema


def test_the_emulator_serves_its_document():
    emulator = Emulator(base_path="/tempest/api")
    with emulator.serve_in_thread():
        # A description of the API, like the contract: readable without the token.
        answer = httpx.get(f"{emulator.url}/openapi.json", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == openapi_document("/tempest/api")
    assert answer.json()["servers"] == [{"url": "/tempest/api", "description": "the emulator"}]
    # Serving it is not app traffic.
    assert not emulator.request_counts


def test_the_document_covers_every_endpoint_and_answer():
    document = openapi_document()
    assert set(document["paths"]) == {f"/{endpoint}" for endpoint in ENDPOINTS}
    for path, item in document["paths"].items():
        assert set(item) == {"post"}, path
        responses = item["post"]["responses"]
        assert {"200", "400", "401", "500"} <= set(responses), path
        assert ("204" in responses) == (path == "/apps.operations.next"), path
    # Strict where the emulator is: the contract's required fields are required here.
    resource = document["components"]["schemas"]["Resource"]
    assert {"type", "external_id", "display_name"} <= set(resource["required"])
    # Fresh each call: a caller's change does not leak into the next one.
    document["paths"].clear()
    assert openapi_document()["paths"]


def test_the_document_matches_the_tempest_contract():
    upstream = contract()
    ours = openapi_document()
    assert set(ours["paths"]) == set(upstream["paths"])
    found: list[tuple[str, str]] = []
    for path, item in upstream["paths"].items():
        assert set(ours["paths"][path]) == set(item), path
        theirs, mine = item["post"], ours["paths"][path]["post"]
        found += differences(
            canonical(upstream, body(theirs)), canonical(ours, body(mine)), f"{path} body"
        )
        # Every answer the contract lists, with the same schema (the emulator adds 401).
        for status, answer in theirs["responses"].items():
            assert status in mine["responses"], f"{path} {status}"
            schema = answer.get("content", {}).get("application/json", {}).get("schema")
            served = (mine["responses"][status].get("content") or {}).get("application/json")
            if schema is None:
                assert served is None, f"{path} {status}"
                continue
            found += differences(
                canonical(upstream, schema), canonical(ours, served["schema"]), f"{path} {status}"
            )
    unexplained = [difference for difference in found if explained(difference) is None]
    assert not unexplained, "\n".join(f"{where}: {what}" for where, what in unexplained)
    stale = set(DIFFERENCES) - {explained(difference) for difference in found}
    assert not stale, f"listed differences no longer seen: {sorted(stale)}"
