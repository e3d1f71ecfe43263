"""Across apps only services and selectors are used: no app queries another app's models itself.

The import-linter contract in pyproject.toml (`make lint`) keeps the floors (no app imports one above it,
no two apps import each other). This test keeps the other half of docs/architecture.md's rule: a model class
of another app may be named (a type annotation, an enum's values, a foreign key), but its manager
(`Model.objects`) and its table metadata (`Model._meta`) are that app's own business, reached through its
`selectors` and `services`.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "rulecenter"
INTERNALS = {"objects", "_meta", "_default_manager", "_base_manager"}


def app_modules() -> list[Path]:
    return sorted(
        path
        for path in PACKAGE.glob("*/**/*.py")
        if "tests" not in path.relative_to(PACKAGE).parts
        and "migrations" not in path.relative_to(PACKAGE).parts
    )


def foreign_model_internals(path: Path) -> list[str]:
    """`Model.objects` / `Model._meta` uses in `path` where Model comes from another app's models module."""
    app = path.relative_to(PACKAGE).parts[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    foreign: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if len(parts) == 3 and parts[0] == "rulecenter" and parts[2] == "models" and parts[1] != app:
                for alias in node.names:
                    foreign[alias.asname or alias.name] = node.module
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in INTERNALS
            and isinstance(node.value, ast.Name)
            and node.value.id in foreign
        ):
            found.append(
                (
                    node.lineno,
                    f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {node.value.id}.{node.attr}",
                )
            )
    return [use for _line, use in sorted(found)]


def test_the_check_sees_a_foreign_query(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check itself: a module of one app querying another's model is reported; its own models are not."""
    app = tmp_path / "rulecenter" / "ingest"
    app.mkdir(parents=True)
    module = app / "bad.py"
    module.write_text(
        "from rulecenter.rules.models import Rule\nfrom rulecenter.ingest.models import ImportedItem\n"
        "Rule.objects.all()\nImportedItem.objects.all()\nRule._meta.db_table\ndef f(r: Rule) -> None: ...\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(f"{__name__}.PACKAGE", tmp_path / "rulecenter")
    assert foreign_model_internals(module) == [
        "rulecenter/ingest/bad.py:3: Rule.objects",
        "rulecenter/ingest/bad.py:5: Rule._meta",
    ]


def test_no_app_queries_another_apps_models() -> None:
    found = [use for path in app_modules() for use in foreign_model_internals(path)]
    assert not found, "call the owning app's selectors/services instead:\n" + "\n".join(found)
