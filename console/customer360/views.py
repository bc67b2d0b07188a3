"""The Customer 360 page: the customer's profile cards and a paginated timeline (thin: it reads
console.customer360's selectors and renders)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from console.customer360 import selectors, timeline
from customers.models import Customer

KIND_LABELS = {
    "all": gettext_lazy("Everything"),
    "messages": gettext_lazy("Messages in"),
    "pushes": gettext_lazy("Pushes out"),
    "clicks": gettext_lazy("Clicks"),
    "conversions": gettext_lazy("Conversions"),
    "follows": gettext_lazy("Follow changes"),
}


def customer_360(model_admin, request: HttpRequest, object_id: str) -> TemplateResponse:
    if not str(object_id).isdigit():
        raise Http404
    customer = get_object_or_404(Customer, pk=int(object_id))
    if not model_admin.has_view_permission(request, customer):
        raise PermissionDenied
    kind = request.GET.get("kind", "all")
    if kind not in timeline.KINDS:
        kind = "all"
    cursor = request.GET.get("before") or None
    try:
        page = timeline.timeline_page(customer_id=customer.pk, cursor=cursor, kind=kind)
    except timeline.CursorInvalid:
        messages.warning(request, _("That timeline position is not valid; showing the newest entries."))
        cursor, page = None, timeline.timeline_page(customer_id=customer.pk, kind=kind)
    base = reverse("admin:customers_customer_360", args=[customer.pk])
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Customer._meta,
        "original": customer,
        "customer": customer,
        "title": _("Customer 360: %(name)s") % {"name": str(customer)},
        "profile": selectors.customer_profile(customer=customer, user=request.user),
        "entries": selectors.timeline_decorate(page.entries),
        "next_url": f"{base}?kind={kind}&before={page.next_cursor}" if page.next_cursor else "",
        "first_url": f"{base}?kind={kind}" if cursor else "",
        "kind": kind,
        "kinds": [{"value": k, "label": str(v), "url": f"{base}?kind={k}"} for k, v in KIND_LABELS.items()],
        "change_url": reverse("admin:customers_customer_change", args=[customer.pk]),
        "may_change": model_admin.has_change_permission(request, customer),
    }
    return TemplateResponse(request, "console/customer360/customer_360.html", context)
