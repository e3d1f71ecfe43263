"""Docs that cannot drift: whatever the code offers a person is written down where that person will look.

Everything is discovered from the code, so a new setting, environment variable, command, command option,
URL, API operation or make target fails this test until it is documented:

- every `RULECENTER_*` setting, with its default, in docs/settings.md;
- every environment variable read in config/ or rulecenter/ in docs/settings.md or docs/deployment.md;
- every management command of our apps, and each of its options, in its own section of docs/commands.md;
- every URL pattern of ours in docs/urls.md or docs/api.md, and every API operation as `METHOD /path`;
- every make target as `make TARGET` in README.md or docs/;
- every page of docs/ linked from README.md, and no relative link in them pointing nowhere.
"""

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import get_commands, load_command_class
from django.urls import URLPattern, URLResolver, get_resolver

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SOURCE_DIRS = [ROOT / "config", ROOT / "rulecenter"]
# Options every Django command has; docs/commands.md explains them once, not per command.
COMMON_OPTIONS = {
    "--help", "--version", "--verbosity", "--settings", "--pythonpath", "--traceback", "--no-color",
    "--force-color", "--skip-checks",
}  # fmt: skip
PLACEHOLDER = r"(?:<[^<>/\s]+>|\{[^{}/\s]+\}|[A-Z]+)"  # <id>, {id} or ID in the docs; <int:pk> in the code


def read(*names: str) -> str:
    return "\n".join((DOCS / name).read_text(encoding="utf-8") for name in names)


def mentions(text: str, word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


# Settings and environment variables ---------------------------------------------------------------


@dataclass(frozen=True)
class EnvRead:
    name: str
    default: object  # the literal default in the code, or None when there is none or it is computed
    where: str


def source_files() -> Iterator[Path]:
    for directory in SOURCE_DIRS:
        for path in sorted(directory.rglob("*.py")):
            parts = set(path.relative_to(ROOT).parts)
            if not parts & {"tests", "migrations"}:
                yield path


def _literal(node: ast.expr | None) -> object:
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None


def environment_reads() -> list[EnvRead]:
    """Every `os.environ[...]`, `os.environ.get/setdefault(...)`, `os.getenv(...)`, `env_*("NAME", ...)`."""
    found: list[EnvRead] = []
    for path in source_files():
        where = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name: object = None
            default: ast.expr | None = None
            if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
                name = _literal(node.slice)
            elif isinstance(node, ast.Call) and node.args:
                func = ast.unparse(node.func)
                reads_env = func in {"os.environ.get", "os.environ.setdefault", "os.getenv"}
                if reads_env or re.fullmatch(r"env_\w+", func):
                    name = _literal(node.args[0])
                    default = node.args[1] if len(node.args) > 1 else None
            if isinstance(name, str):
                found.append(EnvRead(name, _literal(default), where))
    return found


def rulecenter_settings() -> set[str]:
    """Our settings as Django sees them, plus any assigned in config/settings/ (production.py included)."""
    names = {name for name in dir(settings) if name.startswith("RULECENTER_")}
    for path in sorted((ROOT / "config" / "settings").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign):
                names.update(
                    t.id for t in node.targets if isinstance(t, ast.Name) and t.id.startswith("RULECENTER_")
                )
    return names


def test_every_rulecenter_setting_is_in_settings_md_with_its_default() -> None:
    """docs/settings.md has a row for each RULECENTER_* setting, showing the default the code uses."""
    text = read("settings.md")
    missing = sorted(name for name in rulecenter_settings() if f"`{name}`" not in text)
    assert not missing, f"add these settings to docs/settings.md: {missing}"
    defaults = {r.name: r.default for r in environment_reads() if r.default is not None}
    wrong = []
    for name in sorted(rulecenter_settings()):
        if name not in defaults:
            continue
        rows = [line for line in text.splitlines() if line.startswith("|") and f"`{name}`" in line]
        if not any(f"`{defaults[name]}`" in row for row in rows):
            wrong.append(f"{name} (default `{defaults[name]}`)")
    assert not wrong, f"docs/settings.md's table must show these defaults: {wrong}"


def test_every_environment_variable_is_documented() -> None:
    """Each variable the code reads from the environment is in docs/settings.md or docs/deployment.md."""
    text = read("settings.md", "deployment.md")
    missing = sorted({f"{r.name} ({r.where})" for r in environment_reads() if not mentions(text, r.name)})
    assert not missing, f"document these environment variables: {missing}"


def test_environment_reads_are_found() -> None:
    """Guards the test above: it really sees the variables named in PRODUCT.md's contract."""
    names = {read.name for read in environment_reads()}
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "RULECENTER_NEWS_PAGE_SIZE", "HOST", "PORT"} <= names


# Management commands ------------------------------------------------------------------------------


def our_commands() -> dict[str, str]:
    """name -> app of every command in rulecenter/*/management/commands/, installed or not yet."""
    commands = {name: app for name, app in get_commands().items() if app.startswith("rulecenter.")}
    for path in sorted((ROOT / "rulecenter").glob("*/management/commands/*.py")):
        if not path.stem.startswith("_"):
            commands.setdefault(path.stem, f"rulecenter.{path.parts[-4]}")
    return commands


def command_sections(text: str) -> dict[str, str]:
    """The text under each heading of docs/commands.md, keyed by the heading's text."""
    sections: dict[str, str] = {}
    heading = ""
    for line in text.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
            sections[heading] = ""
        elif heading:
            sections[heading] += line + "\n"
    return sections


def test_every_command_has_a_section_in_commands_md() -> None:
    """Each of our commands has a heading of its own in docs/commands.md (e.g. `## rulecenter serve`)."""
    sections = command_sections(read("commands.md"))
    missing = sorted(
        name for name in our_commands() if not any(mentions(heading, name) for heading in sections)
    )
    assert not missing, f"add a section per command to docs/commands.md: {missing}"


@pytest.mark.parametrize("name", sorted(our_commands()))
def test_every_command_option_is_documented(name: str) -> None:
    """Each option a command accepts (`--verified`, `--port` …) appears in that command's section."""
    command = load_command_class(our_commands()[name], name)
    parser = command.create_parser("rulecenter", name)
    options = {
        option
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--") and option not in COMMON_OPTIONS
    }
    sections = command_sections(read("commands.md"))
    section = "".join(body for heading, body in sections.items() if mentions(heading, name))
    missing = sorted(option for option in options if not mentions(section, option))
    assert not missing, f"docs/commands.md's section on {name} must explain {missing}"


def test_commands_are_found() -> None:
    assert {"serve", "loaddemo", "recount_listing", "issue_token", "create_member"} <= set(our_commands())


# URLs -------------------------------------------------------------------------------------------------


def url_patterns(patterns: list[URLPattern | URLResolver] | None = None, prefix: str = "") -> Iterator[str]:
    """Every route of the URLconf as one string, e.g. `news/<int:pk>/` or `rules/^(?P<slug>…)/…$`."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from url_patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern)


def _regex_to_route(route: str) -> str:
    """`^(?P<slug>[-a-z]+)/v\\.(?P<fmt>md|txt)$` -> `<slug>/v.<fmt>`: named groups become placeholders."""
    out = ""
    index = 0
    while index < len(route):
        if route.startswith("(?P<", index):
            name_end = route.index(">", index)
            name = route[index + 4 : name_end]
            depth, index = 1, name_end + 1
            while depth:
                depth += {"(": 1, ")": -1}.get(route[index], 0) if route[index - 1] != "\\" else 0
                index += 1
            out += f"<{name}>"
        elif route[index] == "\\" and index + 1 < len(route):
            out += route[index + 1]
            index += 2
        elif route[index] in "^$":
            index += 1
        else:
            out += route[index]
            index += 1
    return out


def public_path(route: str) -> str | None:
    """The path a person would write for a route, or None for the admin's internals."""
    path = re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", "/" + _regex_to_route(route))  # <int:pk> -> <pk>
    if path.startswith("/admin/") and path != "/admin/":
        return None
    return path


def path_regex(path: str, *, before: str = r"(?<![\w/.-])") -> re.Pattern[str]:
    """A regex finding `path` in prose, whatever the placeholders are called: <id>, {id}, ID."""
    parts = re.split(r"<[^<>]+>|\{[^{}]+\}", path)
    body = PLACEHOLDER.join(re.escape(part) for part in parts)
    return re.compile(rf"{before}{body}(?![\w/.<{{-])")


def test_every_url_is_in_urls_md_or_api_md() -> None:
    """Each URL pattern of ours (the admin's inner pages aside) appears in docs/urls.md or docs/api.md."""
    text = read("urls.md", "api.md")
    paths = sorted({path for route in url_patterns() if (path := public_path(route))})
    missing = [path for path in paths if not path_regex(path).search(text)]
    assert not missing, f"document these URLs in docs/urls.md (pages) or docs/api.md (API): {missing}"


def test_every_api_operation_is_in_api_md() -> None:
    """Each API operation in the OpenAPI schema appears in docs/api.md as `METHOD /api/v1/…`."""
    from config.api import api

    text = read("api.md")
    missing = [
        f"{method.upper()} {path}"
        for path, operations in api.get_openapi_schema()["paths"].items()
        for method in operations
        if not path_regex(path, before=rf"\b{method.upper()}\s+`?").search(text)
    ]
    assert not missing, f"document these API operations in docs/api.md: {missing}"


def test_urls_are_found() -> None:
    paths = {public_path(route) for route in url_patterns()}
    assert {"/news/", "/news/<pk>/", "/feeds/news.rss", "/api/v1/openapi.json", "/admin/"} <= paths


def test_regex_routes_read_as_paths() -> None:
    route = r"rules/^(?P<slug>[-a-zA-Z0-9_]+)/versions/(?P<number>[0-9]{1,9})\.(?P<fmt>md|txt|json)$"
    assert public_path(route) == "/rules/<slug>/versions/<number>.<fmt>"
    assert path_regex("/news/<pk>/").search("打开 `/news/<id>/` 查看")
    assert not path_regex("/news/").search("`/news/<id>/`")


# Make targets and links ---------------------------------------------------------------------------


def make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    return {
        match.group(1) for match in re.finditer(r"^([A-Za-z][\w-]*)\s*:(?!=)", makefile, flags=re.MULTILINE)
    }


def test_every_make_target_is_documented() -> None:
    """Each make target appears as `make TARGET` in README.md or a page of docs/."""
    text = (ROOT / "README.md").read_text(encoding="utf-8") + read(*sorted(p.name for p in DOCS.glob("*.md")))
    missing = sorted(target for target in make_targets() if not mentions(text, f"make {target}"))
    assert not missing, f"document these make targets in README.md or docs/: {missing}"
    assert {"run", "test"} <= make_targets()


def test_readme_links_every_doc_and_no_link_is_broken() -> None:
    """README.md links each page of docs/; relative links in README.md and docs/ point at real files."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    unlinked = sorted(p.name for p in DOCS.glob("*.md") if f"docs/{p.name}" not in readme)
    assert not unlinked, f"link these pages from README.md: {unlinked}"
    broken = []
    for page in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:|#", target):
                continue
            if not (page.parent / target.split("#")[0]).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, f"broken links: {broken}"
