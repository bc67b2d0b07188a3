"""Print docs/errors.md from the error-code catalogues, or write it (`--write`)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from devtools.error_codes import error_codes_markdown

DOCS_PAGE = Path(settings.BASE_DIR) / "docs" / "errors.md"


class Command(BaseCommand):
    help = "Render docs/errors.md from the error-code catalogues (print it, or --write it)."

    def add_arguments(self, parser):
        parser.add_argument("--write", action="store_true", help=f"write {DOCS_PAGE.relative_to(settings.BASE_DIR)}")

    def handle(self, *args, write: bool = False, **options):
        page = error_codes_markdown()
        if write:
            DOCS_PAGE.write_text(page, encoding="utf-8")
            self.stdout.write(f"wrote {DOCS_PAGE}")
        else:
            self.stdout.write(page, ending="")
