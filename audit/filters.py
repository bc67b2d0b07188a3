"""List filters of the console's changelists rendered as one plain <select> each.

unfold's dropdown filters build a Django form per filter and render it through the widget templates (a
template per option and per attribute set): on a changelist that is ~10 ms of a page whose query takes
under a millisecond. These render the same markup, with the same classes, from one small template."""

from __future__ import annotations

from django.contrib import admin
from unfold.widgets import SELECT_CLASSES

SELECT_CLASS = " ".join(SELECT_CLASSES)


class SelectFilter(admin.SimpleListFilter):
    """A SimpleListFilter shown as a select in the changelist's filter form (`list_filter_submit`)."""

    template = "console/filters/select.html"

    def choices(self, changelist):
        value = self.value()
        yield {"value": "", "display": None, "selected": value in (None, "")}
        for lookup, title in self.lookup_choices:
            yield {"value": str(lookup), "display": title, "selected": value == str(lookup)}

    def select_class(self) -> str:
        return SELECT_CLASS
