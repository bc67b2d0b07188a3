"""WeChat's own customer-service (kf) accounts in the console: the list mirrored from WeChat, adding,
renaming and the avatar through messaging.inbox.kf (WeChat first, so WeChat's refusal is shown on the
form), removing, and "Sync now from WeChat"."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action
from unfold.forms import BaseDialogForm

from accounts.models import AccountKind, ChannelAccount
from audit.admin import ModelAdmin
from messaging.inbox import kf
from messaging.inbox.models import KfAccount
from scrm.errors import ApplicationError

SYNC_PERMISSION = "messaging.change_kfaccount"


def _service_accounts():
    return ChannelAccount.objects.filter(is_active=True, kind=AccountKind.OA).order_by("name")


class KfAccountForm(forms.ModelForm):
    headimg = forms.FileField(label=_("avatar (jpg)"), required=False, help_text=_("A jpg image; WeChat recommends 640×640."))

    class Meta:
        model = KfAccount
        fields = ["account", "kf_account", "nickname"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "account" in self.fields:
            self.fields["account"].queryset = _service_accounts()
        self.result: KfAccount | None = None

    def _post_clean(self):
        # Django's own checks first (a unique kf account per service account), then WeChat: the service
        # writes the row only once WeChat accepted, and its refusal becomes the form's error.
        super()._post_clean()
        if self.errors:
            return
        data = self.cleaned_data
        upload = data.get("headimg")
        try:
            if self.instance.pk is None:
                self.result = kf.kf_account_add(account=data["account"], kf_account=data["kf_account"], nickname=data["nickname"])
            else:
                current = KfAccount.objects.select_related("account").get(pk=self.instance.pk)
                if data["nickname"] != current.nickname:
                    current = kf.kf_account_update(kf=current, nickname=data["nickname"])
                self.result = current
            if upload is not None:
                self.result = kf.kf_account_upload_headimg(kf=self.result, data=upload.read(), filename=upload.name or "avatar.jpg")
        except ApplicationError as exc:
            self.add_error(None, str(exc.message))


class KfSyncDialogForm(BaseDialogForm):
    account = forms.ModelChoiceField(label=_("Account"), queryset=ChannelAccount.objects.none(), required=False, empty_label=_("All service accounts"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = _service_accounts()


@admin.register(KfAccount)
class KfAccountAdmin(ModelAdmin):
    form = KfAccountForm
    list_display = ["kf_account", "nickname", "account", "kf_wx", "online", "accepted_case", "synced_at"]
    list_filter = ["account", "online"]
    search_fields = ["kf_account", "nickname", "kf_wx"]
    list_select_related = ["account"]
    readonly_fields = ["kf_id", "headimgurl", "kf_wx", "invite_wx", "invite_status", "online", "accepted_case", "synced_at"]
    actions_list = ["sync_from_wechat"]

    def get_readonly_fields(self, request, obj=None):
        # WeChat renames a kf account's nickname only: its name and account are fixed once added.
        return (["account", "kf_account"] if obj is not None else []) + self.readonly_fields

    def get_fields(self, request, obj=None):
        editable = ["nickname", "headimg"] if obj is not None else ["account", "kf_account", "nickname", "headimg"]
        return editable + (self.readonly_fields if obj is not None else [])

    def save_model(self, request, obj, form, change):
        # Written by the service in the form's clean (WeChat answered first); only pick up the row.
        obj.pk = form.result.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        try:
            kf.kf_account_delete(kf=KfAccount.objects.select_related("account").get(pk=obj.pk))
        except ApplicationError as exc:
            messages.error(request, gettext("%(kf)s was not removed: %(reason)s") % {"kf": obj.kf_account, "reason": exc.message})

    def delete_queryset(self, request, queryset):
        for obj in queryset.select_related("account"):
            self.delete_model(request, obj)

    def has_sync_permission(self, request, obj=None):
        return request.user.has_perm(SYNC_PERMISSION)

    @action(
        description=_("Sync now from WeChat"), icon="sync", permissions=["sync"], url_path="sync-from-wechat",
        dialog={
            "title": _("Sync the kf accounts from WeChat"),
            "description": _("Reads the kf accounts WeChat lists for the account and who is online; kf accounts WeChat no longer has are removed here."),
            "form_class": KfSyncDialogForm,
            "form_submit_text": _("Sync now"),
        },
    )
    def sync_from_wechat(self, request: HttpRequest, form: KfSyncDialogForm) -> HttpResponse:
        chosen = form.cleaned_data.get("account")
        for account in [chosen] if chosen is not None else list(_service_accounts()):
            try:
                result = kf.kf_accounts_sync(account=account)
            except ApplicationError as exc:
                messages.error(request, f"{account.name}: {exc.message}")
                continue
            messages.success(request, gettext("%(account)s: %(accounts)d kf accounts, %(online)d online, %(removed)d removed.") % {
                "account": account.name, **result})
        target = reverse("admin:messaging_kfaccount_changelist")
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return HttpResponseRedirect(target)
