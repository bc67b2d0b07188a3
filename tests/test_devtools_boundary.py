"""Production packages never import development tooling: the devtools app, unittest.mock, or
Django's test client/RequestFactory. devtools may import every app; the apps import nothing of it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.conf import settings

PRODUCTION_PACKAGES = ("accounts", "customers", "campaigns", "messaging", "scrm")
# Module prefixes production code must not import (a module or anything under it): all of
# unittest (mock) and django.test (RequestFactory, Client, override_settings…) are test tooling.
FORBIDDEN_MODULES = ("devtools", "unittest", "django.test")


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, dotted name) for every module and imported name in a module, at any depth."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _forbidden(name: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in FORBIDDEN_MODULES)


def _production_modules() -> list[Path]:
    root = Path(settings.BASE_DIR)
    return sorted(path for package in PRODUCTION_PACKAGES for path in (root / package).rglob("*.py"))


def test_the_scan_sees_the_production_packages():
    modules = {path.relative_to(settings.BASE_DIR).parts[0] for path in _production_modules()}
    assert modules == set(PRODUCTION_PACKAGES)


@pytest.mark.parametrize(
    "source",
    [
        "from unittest import mock",
        "import unittest.mock",
        "from django.test import RequestFactory",
        "from django.test.client import RequestFactory",
        "from devtools.simulator import simulate",
        "def f():\n    from devtools import population",
    ],
)
def test_the_scan_catches_each_kind_of_import(source):
    assert any(_forbidden(name) for _, name in _imports(ast.parse(source)))


def test_no_production_module_imports_devtools_or_test_tooling():
    offenders = []
    for path in _production_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        relative = path.relative_to(settings.BASE_DIR)
        offenders += [f"{relative}:{line} imports {name}" for line, name in _imports(tree) if _forbidden(name)]
    assert not offenders, "production code imports development tooling:\n" + "\n".join(offenders)
