"""The API's OpenAPI schema may only change together with the committed snapshot.

When you change the API on purpose, regenerate the snapshot and commit it with the change:

    UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/test_openapi_snapshot.py
"""

import json
import os
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

SNAPSHOT = Path(__file__).parent / "snapshots" / "openapi.json"
REGENERATE = "UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/test_openapi_snapshot.py"


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def changed_paths(old: Any, new: Any, at: str = "") -> list[str]:
    """Where two JSON documents differ, as /slash/paths, so the failure says what changed."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[str] = []
        for key in sorted(set(old) | set(new)):
            found += changed_paths(old.get(key), new.get(key), f"{at}/{key}")
        return found
    return [] if old == new else [at or "/"]


def test_openapi_schema_matches_the_snapshot(client: Client) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(render(schema), encoding="utf-8")
    if not SNAPSHOT.exists():
        pytest.fail(f"No OpenAPI snapshot at {SNAPSHOT}. Create it with:\n    {REGENERATE}")
    committed = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    if committed != schema:
        differences = "\n    ".join(changed_paths(committed, schema)[:30])
        pytest.fail(
            "The OpenAPI schema differs from tests/snapshots/openapi.json at:\n"
            f"    {differences}\n"
            "If the API change is intended, regenerate the snapshot and commit it with the change:\n"
            f"    {REGENERATE}"
        )


def test_every_operation_is_named_summarised_and_documents_its_problems(client: Client) -> None:
    """STYLE.md: every endpoint has an operation id and a summary; errors are documented as problems."""
    schema = client.get("/api/v1/openapi.json").json()
    operations = [op for path in schema["paths"].values() for op in path.values()]
    assert operations
    for operation in operations:
        assert operation["operationId"]
        assert operation["summary"]
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert list(response["content"]) == ["application/problem+json"], (
                    operation["operationId"],
                    status,
                )
    assert len({op["operationId"] for op in operations}) == len(operations)
