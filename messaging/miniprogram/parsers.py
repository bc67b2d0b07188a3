"""The JSON parser of the mini-program API: untrusted clients, so bounded nesting and text PostgreSQL
can store. Deeply nested JSON makes Python's decoder raise RecursionError, which DRF's JSONParser
does not catch (a 500); a NUL character cannot be stored in a text or jsonb column (a 500 later)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 16


def _check(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ParseError(_("JSON nested deeper than %(depth)s levels.") % {"depth": MAX_DEPTH})
    if isinstance(value, str):
        if "\x00" in value:
            raise ParseError(_("JSON strings may not contain NUL characters."))
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ParseError(_("JSON strings must be valid Unicode (no lone surrogates).")) from exc
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, depth + 1)
            _check(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(item, depth + 1)


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(_("JSON nested deeper than %(depth)s levels.") % {"depth": MAX_DEPTH}) from exc
        _check(data, 0)
        return data
