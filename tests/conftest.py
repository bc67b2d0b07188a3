"""Shared fixtures. Each module in tests/plugins/ is loaded as a pytest plugin, so features add
their fixtures there without editing this file."""

from pathlib import Path

pytest_plugins = sorted(
    f"tests.plugins.{path.stem}" for path in (Path(__file__).parent / "plugins").glob("*.py") if path.stem != "__init__"
)
