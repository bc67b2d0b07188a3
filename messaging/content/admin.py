"""The content library in the console: materials with previews (served from the product's own host),
uploads and deletion through WeChat, and "Sync from WeChat"; article drafts, publishing and their
statistics (messaging.content.admin_articles)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action
from unfold.forms import BaseDialogForm

from accounts.models import AccountKind, ChannelAccount
from audit.admin import ModelAdmin
from messaging.content.materials import material_delete, material_upload, materials_sync
from messaging.content.models import Material, MaterialKind
from scrm.errors import ApplicationError

PREVIEWABLE = ("image/", "audio/", "video/")


def service_accounts():
    return ChannelAccount.objects.for_choosing().filter(is_active=True, kind=AccountKind.OA)


class ServiceAccountFilter(admin.SimpleListFilter):
    """The account filter without loading (or decrypting) the accounts' secrets."""

    title = _("account")
    parameter_name = "account"

    def lookups(self, request, model_admin):
        return ChannelAccount.objects.filter(kind=AccountKind.OA).filter_choices()

    def queryset(self, request, queryset):
        return queryset.filter(account_id=self.value()) if self.value() else queryset


class MaterialUploadForm(forms.ModelForm):
    file = forms.FileField(label=_("file"))

    class Meta:
        model = Material
        fields = ["account", "kind", "permanent", "title", "introduction"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = service_accounts()
        self.fields["title"].help_text = _("Videos only: WeChat requires a title and an introduction.")

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("file")
        account = cleaned.get("account")
        if upload is None or account is None:
            return cleaned
        data = upload.read()
        try:
            cleaned["material"] = material_upload(
                account=account, kind=cleaned["kind"], name=upload.name, data=data, permanent=cleaned.get("permanent", True),
                title=cleaned.get("title", ""), introduction=cleaned.get("introduction", ""), content_type=upload.content_type or "",
            )
        except ApplicationError as exc:
            raise forms.ValidationError(str(exc.message)) from exc
        return cleaned


class SyncDialogForm(BaseDialogForm):
    account = forms.ModelChoiceField(label=_("Account"), queryset=ChannelAccount.objects.none())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = service_accounts()


@admin.register(Material)
class MaterialAdmin(ModelAdmin):
    list_display = ["preview_small", "name", "account", "kind", "permanent", "media_id", "size", "uploaded_at", "status_display"]
    list_filter = [ServiceAccountFilter, "kind", "permanent", ("removed_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "=media_id", "title"]
    list_select_related = ["account"]
    readonly_fields = ["preview_large", "account", "kind", "permanent", "name", "media_id", "url", "title", "introduction",
                       "content_type", "size", "uploaded_at", "expires_at", "removed_at"]
    actions_list = ["sync_from_wechat"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("data")

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = MaterialUploadForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["account", "kind", "permanent", "file", "title", "introduction"]
        return self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def save_model(self, request, obj, form, change):
        # The form uploaded the file to WeChat and stored the row; the admin logs that row.
        material = form.cleaned_data["material"]
        obj.pk = material.pk
        obj.__dict__.update({k: v for k, v in material.__dict__.items() if not k.startswith("_")})

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        try:
            material_delete(material=obj)
        except ApplicationError as exc:
            messages.error(request, str(exc.message))

    def delete_queryset(self, request, queryset):
        for material in queryset:
            self.delete_model(request, material)

    def get_urls(self):
        return [
            path("<int:material_id>/preview/", self.admin_site.admin_view(self.preview_view), name="messaging_material_preview"),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest, material_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise Http404
        material = get_object_or_404(Material, pk=material_id)
        if not material.data or not material.content_type.startswith(PREVIEWABLE):
            raise Http404
        response = HttpResponse(bytes(material.data), content_type=material.content_type)
        response["Cache-Control"] = "private, max-age=3600"
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def _preview(self, obj: Material, *, height: int) -> str:
        if not obj.size or not obj.content_type.startswith(PREVIEWABLE):
            return gettext("no preview (uploaded elsewhere)") if not obj.size else "—"
        url = reverse("admin:messaging_material_preview", args=[obj.pk])
        if obj.content_type.startswith("image/"):
            return format_html('<img src="{}" alt="{}" style="max-height:{}px;max-width:{}px" loading="lazy">', url, obj.name, height, height * 2)
        if obj.content_type.startswith("audio/"):
            return format_html('<audio controls preload="none" src="{}"></audio>', url)
        return format_html('<video controls preload="none" src="{}" style="max-height:{}px"></video>', url, height * 3)

    @admin.display(description=_("preview"))
    def preview_small(self, obj: Material) -> str:
        return self._preview(obj, height=48)

    @admin.display(description=_("preview"))
    def preview_large(self, obj: Material) -> str:
        return self._preview(obj, height=240)

    @admin.display(description=_("status"))
    def status_display(self, obj: Material) -> str:
        if obj.removed_at:
            return gettext("Deleted on WeChat")
        if obj.kind == MaterialKind.BODY_IMAGE:
            return gettext("Article image")
        return gettext("Available") if obj.permanent else gettext("Temporary (3 days)")

    @action(
        description=_("Sync from WeChat"), icon="sync", url_path="sync-from-wechat", permissions=["view"],
        dialog={
            "title": _("Sync the material library from WeChat"),
            "description": _("Lists the account's permanent images, voice and video on WeChat: materials uploaded elsewhere are added, those deleted on WeChat are marked deleted."),
            "form_class": SyncDialogForm,
            "form_submit_text": _("Sync now"),
        },
    )
    def sync_from_wechat(self, request: HttpRequest, form: SyncDialogForm) -> HttpResponse:
        account = form.cleaned_data["account"]
        try:
            result = materials_sync(account=account)
            messages.success(request, gettext("%(account)s: %(added)d added, %(removed)d marked deleted.") % {
                "account": account.name, "added": result.added, "removed": result.removed})
        except ApplicationError as exc:
            messages.error(request, str(exc.message))
        target = reverse("admin:messaging_material_changelist")
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return HttpResponseRedirect(target)


# Articles register in their own module (it imports this one's helpers).
from messaging.content import admin_articles  # noqa: E402,F401
