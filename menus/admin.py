"""The console's menu editor: the menus of each service account, an editor with a phone-shaped
preview on the change page, versions with their history, publish / unpublish, what one follower
sees (menu/trymatch) and the menu's analytics."""

from __future__ import annotations

import json
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import AccountKind, ChannelAccount
from audit.admin import ModelAdmin
from menus import selectors, services
from menus.analytics import menu_analytics
from menus.errors import MenuError
from menus.models import Menu
from menus.validation import ACTION_TYPES, ITEM_TYPES, SUB_NAME_BYTES, TOP_NAME_BYTES, menu_problems
from scrm.errors import ApplicationError

ANALYTICS_DAYS = 30


class _PostOnly(Exception):
    """The editor's calls change things: only POST (a GET answers 405)."""


def _post_only(view):
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except _PostOnly:
            return HttpResponseNotAllowed(["POST"])

    return wrapped


def item_type_labels() -> dict[str, str]:
    return {
        "click": gettext("Click: send an event (routes to an action)"),
        "view": gettext("Open a web page"),
        "miniprogram": gettext("Open a mini-program page"),
        "scancode_push": gettext("Scan a code"),
        "scancode_waitmsg": gettext("Scan a code and wait for a message"),
        "pic_sysphoto": gettext("Take a photo"),
        "pic_photo_or_album": gettext("Take a photo or choose from the album"),
        "pic_weixin": gettext("Choose from the WeChat album"),
        "location_select": gettext("Send a location"),
        "media_id": gettext("Send saved material (media_id)"),
        "article_id": gettext("Open a published article (article_id)"),
    }


def action_labels() -> dict[str, str]:
    return {
        "reply_text": gettext("Reply with text"),
        "reply_image": gettext("Reply with an image"),
        "reply_article": gettext("Reply with an article card"),
        "reply_miniprogram": gettext("Reply with a mini-program card"),
        "open_conversation": gettext("Open a customer-service conversation"),
        "tag_customer": gettext("Tag the customer"),
        "record_topics": gettext("Record interest in topics"),
    }


class MenuAccountFilter(admin.SimpleListFilter):
    title = _("account")
    parameter_name = "account"

    def lookups(self, request, model_admin):
        return ChannelAccount.objects.filter(kind=AccountKind.OA).filter_choices()

    def queryset(self, request, queryset):
        return queryset.filter(account_id=self.value()) if (self.value() or "").isdigit() else queryset


class MenuForm(forms.ModelForm):
    class Meta:
        model = Menu
        fields = ["account", "segment", "name"]

    def clean(self):
        data = super().clean()
        account, segment = data.get("account"), data.get("segment")
        if self.instance.pk is None and account is not None:
            if account.kind != AccountKind.OA:
                raise forms.ValidationError(MenuError.MENU_BAD_ACCOUNT.label)
            if Menu.objects.filter(account=account, segment=segment).exists():
                raise forms.ValidationError(MenuError.MENU_EXISTS.label)
        return data


@admin.register(Menu)
class MenuAdmin(ModelAdmin):
    form = MenuForm
    list_display = ["name", "account", "audience", "published_version_number", "published_at", "updated_at"]
    list_filter = [MenuAccountFilter]
    search_fields = ["name"]
    change_form_template = "menus/change_form.html"

    @admin.display(description=_("audience"))
    def audience(self, obj: Menu) -> str:
        return str(obj.segment) if obj.segment_id else gettext("Default menu (everyone else)")

    @admin.display(description=_("published version"))
    def published_version_number(self, obj: Menu):
        return obj.published_version.number if obj.published_version_id else "—"

    def get_fields(self, request, obj=None):
        return ["account", "segment", "name"] if obj is None else ["name", "account", "segment", "published_at", "wechat_menuid", "wechat_tag_id"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["account", "segment", "published_at", "wechat_menuid", "wechat_tag_id"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "account":
            kwargs["queryset"] = ChannelAccount.objects.for_choosing().filter(kind=AccountKind.OA)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            services.menu_rename(menu=obj, name=obj.name)
            return
        created = services.menu_create(account=obj.account, name=obj.name, segment=obj.segment)
        obj.pk = created.pk
        obj.refresh_from_db()

    def has_delete_permission(self, request, obj=None):
        # A menu on WeChat is unpublished first (menus.services.menu_delete refuses it too).
        if obj is not None and obj.published_version_id:
            return False
        return super().has_delete_permission(request, obj)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:object_id>/validate/", wrap(_post_only(self.validate_view)), name="menus_menu_validate"),
            path("<int:object_id>/save-version/", wrap(_post_only(self.save_version_view)), name="menus_menu_save_version"),
            path("<int:object_id>/publish/", wrap(_post_only(self.publish_view)), name="menus_menu_publish"),
            path("<int:object_id>/unpublish/", wrap(_post_only(self.unpublish_view)), name="menus_menu_unpublish"),
            path("<int:object_id>/preview-customer/", wrap(self.preview_customer_view), name="menus_menu_preview_customer"),
        ] + super().get_urls()

    # --- the editor's calls ----------------------------------------------------------------
    def _menu_for_change(self, request: HttpRequest, object_id: int) -> Menu:
        if request.method != "POST":
            raise _PostOnly
        menu = get_object_or_404(Menu, pk=object_id)
        if not self.has_change_permission(request, menu):
            raise PermissionDenied
        return menu

    def _body(self, request: HttpRequest) -> dict:
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            body = {}
        return body if isinstance(body, dict) else {}

    def validate_view(self, request: HttpRequest, object_id: int) -> JsonResponse:
        menu = self._menu_for_change(request, object_id)
        problems = menu_problems(self._body(request).get("buttons"), conditional=not menu.is_default)
        return JsonResponse({"valid": not problems, "problems": problems})

    def save_version_view(self, request: HttpRequest, object_id: int) -> JsonResponse:
        menu = self._menu_for_change(request, object_id)
        body = self._body(request)
        try:
            version = services.menu_version_save(menu=menu, buttons=body.get("buttons"), note=str(body.get("note") or ""), user=request.user)
        except ApplicationError as exc:
            return JsonResponse({"ok": False, "message": str(exc.message), "problems": (exc.detail or {}).get("problems", [])}, status=400)
        self.log_change(request, menu, gettext("Saved version %(number)s.") % {"number": version.number})
        return JsonResponse({"ok": True, "version": version.number, "message": gettext("Saved as version %(number)s.") % {"number": version.number}})

    def publish_view(self, request: HttpRequest, object_id: int):
        menu = self._menu_for_change(request, object_id)
        try:
            menu = services.menu_publish(menu=menu)
        except ApplicationError as exc:
            messages.error(request, str(exc.message))
        else:
            self.log_change(request, menu, gettext("Published version %(number)s.") % {"number": menu.published_version.number})
            messages.success(request, gettext("Version %(number)s is published on WeChat.") % {"number": menu.published_version.number})
        return redirect(reverse("admin:menus_menu_change", args=[menu.pk]))

    def unpublish_view(self, request: HttpRequest, object_id: int):
        menu = self._menu_for_change(request, object_id)
        try:
            services.menu_unpublish(menu=menu)
        except ApplicationError as exc:
            messages.error(request, str(exc.message))
        else:
            self.log_change(request, menu, gettext("Unpublished."))
            messages.success(request, gettext("The menu is no longer on WeChat."))
        return redirect(reverse("admin:menus_menu_change", args=[menu.pk]))

    def preview_customer_view(self, request: HttpRequest, object_id: int) -> JsonResponse:
        menu = get_object_or_404(Menu, pk=object_id)
        if not self.has_view_permission(request, menu):
            raise PermissionDenied
        try:
            customer_id = int(request.GET.get("customer") or 0)
            if customer_id <= 0 or customer_id >= 2**63:
                raise ValueError
        except ValueError:
            return JsonResponse({"ok": False, "message": gettext("Enter a customer id.")}, status=400)
        try:
            preview = selectors.menu_preview_for_customer(account=menu.account, customer_id=customer_id)
        except ApplicationError as exc:
            return JsonResponse({"ok": False, "message": str(exc.message)}, status=400)
        return JsonResponse({"ok": True, **preview})

    # --- the page ---------------------------------------------------------------------------
    def change_view(self, request, object_id, form_url="", extra_context=None):
        menu = get_object_or_404(Menu, pk=object_id) if str(object_id).isdigit() else None
        extra = dict(extra_context or {})
        if menu is not None:
            latest = menu.versions.order_by("-number").first()
            today = timezone.localdate()
            try:
                report = menu_analytics(account_id=menu.account_id, start=today - timedelta(days=ANALYTICS_DAYS - 1), end=today)
                analytics_unavailable = ""
            except ApplicationError as exc:  # the embedded SQLite database
                report, analytics_unavailable = {"items": [], "daily": []}, str(exc.message)
            extra.update(
                menu_editor={
                    "buttons": latest.buttons if latest else [],
                    "conditional": not menu.is_default,
                    "item_types": item_type_labels(),
                    "top_types": list(ITEM_TYPES),
                    "actions": action_labels(),
                    "action_types": list(ACTION_TYPES),
                    "top_name_bytes": TOP_NAME_BYTES,
                    "sub_name_bytes": SUB_NAME_BYTES,
                    "account_name": menu.account.name,
                },
                menu_versions=selectors.menu_versions(menu=menu)[:20],
                menu_item_stats=[row for row in report["items"] if row["menu_id"] == menu.pk],
                menu_daily=[row for row in report["daily"] if row["menu_id"] == menu.pk][-60:],
                analytics_days=ANALYTICS_DAYS,
                analytics_unavailable=analytics_unavailable,
                can_change_menu=self.has_change_permission(request, menu),
            )
        return super().change_view(request, object_id, form_url, extra_context=extra)
