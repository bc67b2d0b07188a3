"""The apps depend on each other in one direction only, so no import (and no model) loops:

    console → menus → campaigns → messaging → customers → accounts → audit → scrm

An app may import the apps to its right, never one to its left. scrm is the project package:
its settings and URLs name the apps by string; only its WSGI entry point imports one (the
callback fast path), by design. devtools sits above everything and is checked elsewhere.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings

from tests.test_devtools_boundary import _imports

ORDER = ("console", "menus", "campaigns", "messaging", "customers", "accounts", "audit", "scrm")
ALLOWED_EXCEPTIONS = {
    # The WSGI entry point routes callback URLs past Django's middleware to messaging's handler.
    ("scrm/wsgi.py", "messaging"),
}


def _imported_apps(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return sorted({(line, name.split(".")[0]) for line, name in _imports(tree) if name.split(".")[0] in ORDER})


def _violations(root: Path) -> list[str]:
    problems = []
    for position, app in enumerate(ORDER):
        allowed = set(ORDER[position:])
        for path in sorted((root / app).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            for line, target in _imported_apps(path):
                if target not in allowed and (relative, target) not in ALLOWED_EXCEPTIONS:
                    problems.append(f"{relative}:{line} imports {target}")
    return problems


def test_apps_import_only_the_apps_below_them():
    assert _violations(Path(settings.BASE_DIR)) == []


@pytest.mark.parametrize(
    ("app", "source", "caught"),
    [
        ("customers", "from messaging.channels import get_adapter\n", True),
        ("accounts", "def f():\n    import customers.models\n", True),
        ("messaging", "from campaigns.models import Campaign\n", True),
        ("campaigns", "from customers.models import Customer\nfrom accounts.models import ChannelAccount\n", False),
    ],
)
def test_the_scan_catches_an_upward_import_even_inside_a_function(tmp_path, app, source, caught):
    for name in ORDER:
        (tmp_path / name).mkdir()
    (tmp_path / app / "module.py").write_text(source)
    assert bool(_violations(tmp_path)) is caught


MAX_MODULE_LINES = 400


def test_no_app_module_grows_past_400_lines():
    # Past ~400 lines a module holds several jobs: it becomes a package (migrations aside).
    root = Path(settings.BASE_DIR)
    long = [
        f"{path.relative_to(root)}: {count} lines"
        for app in (*ORDER, "devtools")
        for path in sorted((root / app).rglob("*.py"))
        if "migrations" not in path.parts and (count := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert long == []


SPLICED_SQL = re.compile(r"""\bf(["']{1,3})\s*(SELECT|INSERT|UPDATE|DELETE|WITH|CREATE|TRUNCATE)\b""", re.IGNORECASE)


def _spliced_sql(root: Path) -> list[str]:
    found = []
    for app in ORDER:
        for path in sorted((root / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            text = path.read_text()
            for match in SPLICED_SQL.finditer(text):  # \s* spans a newline after an opening f"""
                found.append(f"{path.relative_to(root)}:{text.count(chr(10), 0, match.start()) + 1}")
    return found


def test_app_sql_is_composed_not_spliced_into_f_strings():
    # Statements are named psycopg.sql builders (scrm/sqltools.py): identifiers quoted, values as parameters.
    assert _spliced_sql(Path(settings.BASE_DIR)) == []


def test_the_sql_scan_sees_an_f_string_statement(tmp_path):
    for name in ORDER:
        (tmp_path / name).mkdir()
    (tmp_path / "customers" / "module.py").write_text(
        'cursor.execute(f"DELETE FROM {table} WHERE id = %s", [1])\n'
        'cursor.execute("SELECT 1")\n'
        'cursor.execute(\n    f"""\n    WITH gone AS (DELETE FROM {table} RETURNING id) SELECT 1\n    """\n)\n'
    )
    assert _spliced_sql(tmp_path) == ["customers/module.py:1", "customers/module.py:4"]
