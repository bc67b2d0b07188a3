"""The customers changelist and change form of the console: customers' CustomerAdmin with the
Customer 360 page added (/admin/customers/customer/<id>/360/), each changelist row linking to it and
the edit form linking back. Composed here because the page reads campaigns and messaging too."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path, reverse
from unfold.views import ChangeList

from console.customer360.views import customer_360
from customers.admin import CustomerAdmin
from customers.models import Customer


class Customer360ChangeList(ChangeList):
    def url_for_result(self, result) -> str:
        return reverse("admin:customers_customer_360", args=[result.pk], current_app=self.model_admin.admin_site.name)


admin.site.unregister(Customer)


@admin.register(Customer)
class Customer360Admin(CustomerAdmin):
    change_form_template = "console/customer360/customer_change_form.html"

    def get_urls(self):
        return [
            path("<path:object_id>/360/", self.admin_site.admin_view(self.customer_360_view), name="customers_customer_360"),
            *super().get_urls(),
        ]

    def customer_360_view(self, request, object_id):
        return customer_360(self, request, object_id)

    def get_changelist(self, request, **kwargs):
        return Customer360ChangeList
