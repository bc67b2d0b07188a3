"""unfold's changelist column headers, computed once per page instead of once per row.

unfold 0.91's `items_for_result` calls `result_headers(cl)` for every row it renders — each time a
label lookup per column and the "select all" checkbox rendered through the form widget templates — to
read one header's text per cell. A page of 100 customers computed the headers 101 times; a search
that finds one customer spent a third of its Python work on them. The headers depend only on the
changelist (its columns and ordering), so they are kept on the ChangeList object, which lives for one
request, and the checkbox, whose HTML depends only on the language, is rendered once per language per
process.

`install()` (ConsoleConfig.ready) points unfold's module-level names at these two; it refuses to start
if unfold no longer has them (a version that changed them needs this looked at again).
"""

from __future__ import annotations

from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from unfold.templatetags import unfold_list
from unfold.widgets import UnfoldBooleanWidget

_unfold_result_headers = unfold_list.result_headers


def result_headers_once(cl):
    headers = getattr(cl, "_console_result_headers", None)
    if headers is None:
        headers = cl._console_result_headers = list(_unfold_result_headers(cl))
    return headers


_RENDERED: dict[tuple, str] = {}
_RENDERED_MAX = 64


class BooleanWidgetRenderedOnce(UnfoldBooleanWidget):
    """The header's checkbox: the same HTML for the same name, value and attributes in a language."""

    def render(self, name, value, attrs=None, renderer=None):
        if attrs is not None or renderer is not None:
            return super().render(name, value, attrs, renderer)
        key = (get_language(), name, value, tuple((attr, str(item)) for attr, item in self.attrs.items()))
        html = _RENDERED.get(key)
        if html is None:
            html = str(super().render(name, value))
            if len(_RENDERED) < _RENDERED_MAX:
                _RENDERED[key] = html
        return mark_safe(html)  # noqa: S308 (the widget template's own escaped output)


def install() -> None:
    if not callable(getattr(unfold_list, "result_headers", None)) or getattr(unfold_list, "UnfoldBooleanWidget", None) is None:
        raise RuntimeError("unfold.templatetags.unfold_list changed: console/changelist_headers.py needs a look")
    unfold_list.result_headers = result_headers_once
    unfold_list.UnfoldBooleanWidget = BooleanWidgetRenderedOnce
