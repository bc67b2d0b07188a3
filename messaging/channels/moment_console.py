"""The console's form to create a customer moment (消息通道 → 客户朋友圈 → 新增): text, attachments
(images, a video or a link with its picture), who publishes it (staff members by name) and which of
their customers see it (tags mirrored as corp tags, by name). Two steps: the form is checked against
WeCom's limits with the API's own rules (wecom_moments.moment_validate) and shown for confirmation;
the confirmation calls the same service as `POST /api/v1/wecom/moments/` (moment_create), which
writes the audit entry and sends the task after commit.

The uploaded files are kept (MediaFile) when the form is valid, so that the confirmation carries only
their ids, signed with the rest of the moment; an abandoned confirmation leaves them unused."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.widgets import (
    INPUT_CLASSES,
    UnfoldAdminRadioSelectWidget,
    UnfoldAdminSelect2MultipleWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from accounts.models import AccountKind, ChannelAccount
from customers.models import Tag
from customers.wecom.models import WeComStaff
from customers.wecom.selectors import relations_reach
from messaging.channels.models import MediaFile, MediaKind, TagMirror
from messaging.channels.wecom_media import (
    LINK_TITLE_BYTES,
    LINK_URL_BYTES,
    MAX_BYTES,
    MIN_BYTES,
    media_file_create,
    media_kind_of,
)
from messaging.channels.wecom_moments import MAX_IMAGES, TEXT_MAX_BYTES, TEXT_MAX_CHARS, moment_create, moment_validate
from scrm.errors import ApplicationError

SIGNING_SALT = "messaging.moment_console"
FILE_CLASSES = " ".join(INPUT_CLASSES)
CONFIRM_MAX_AGE = 24 * 3600  # seconds a confirmation page stays valid


class AttachmentKind:
    NONE, IMAGES, VIDEO, LINK = "none", "images", "video", "link"
    CHOICES = [(NONE, _("Text only")), (IMAGES, _("Images (at most 9)")), (VIDEO, _("One video")), (LINK, _("One link"))]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/jpeg,image/png", "class": FILE_CLASSES}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, (list, tuple)) else [data] if data else []
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


class StaffChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: WeComStaff) -> str:
        return f"{obj.name} ({obj.userid})" if obj.name else obj.userid


class TagChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Tag) -> str:
        return f"{obj.group.name} / {obj.name}"


def _mb(kind: str) -> int:
    return MAX_BYTES[kind] // (1024 * 1024)


class MomentForm(forms.Form):
    text = forms.CharField(
        label=_("Text"), required=False, widget=UnfoldAdminTextareaWidget(attrs={"rows": 5}), strip=False,
        help_text=_("At most 2000 characters. A text, attachments or both."),
    )
    kind = forms.ChoiceField(label=_("Attachments"), choices=AttachmentKind.CHOICES, initial=AttachmentKind.NONE,
                             widget=UnfoldAdminRadioSelectWidget)
    images = MultipleFileField(label=_("Images"), required=False, help_text=_("JPG or PNG, at most 10 MB each, at most 9."))
    video = forms.FileField(label=_("Video"), required=False, widget=forms.ClearableFileInput(attrs={"accept": "video/mp4", "class": FILE_CLASSES}),
                            help_text=_("MP4, at most 10 MB."))
    link_title = forms.CharField(label=_("Link title"), required=False, widget=UnfoldAdminTextInputWidget)
    link_url = forms.CharField(label=_("Link URL"), required=False, help_text=_("Starts with http:// or https://."),
                               widget=UnfoldAdminTextInputWidget)
    link_image = forms.FileField(label=_("Link picture"), required=False,
                                 widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png", "class": FILE_CLASSES}),
                                 help_text=_("Optional: JPG or PNG, at most 10 MB."))
    senders = StaffChoiceField(
        label=_("Staff members who publish it"), queryset=WeComStaff.objects.none(), required=False,
        widget=UnfoldAdminSelect2MultipleWidget, help_text=_("None chosen: every staff member in the app's visible range."),
    )
    tags = TagChoiceField(
        label=_("Customers with tags"), queryset=Tag.objects.none(), required=False, widget=UnfoldAdminSelect2MultipleWidget,
        help_text=_("Only tags mirrored as WeCom corp tags. None chosen: all the staff members' customers."),
    )

    def __init__(self, *args: Any, account: ChannelAccount, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account
        self.fields["senders"].queryset = WeComStaff.objects.filter(account=account, departed_at__isnull=True).order_by("name", "userid")
        mirrored = TagMirror.objects.filter(account=account).values("tag_id")
        self.fields["tags"].queryset = Tag.objects.filter(pk__in=mirrored).select_related("group").order_by("group__name", "name")

    def _file_error(self, field: str, upload, kind: str) -> bool:
        content = upload.read()
        upload.seek(0)
        name = upload.name
        if media_kind_of(content) != kind:
            message = (gettext("%(name)s is not a JPG or PNG image.") if kind == MediaKind.IMAGE
                       else gettext("%(name)s is not an MP4 video."))
            self.add_error(field, message % {"name": name})
            return True
        if not MIN_BYTES < len(content) <= MAX_BYTES[kind]:
            self.add_error(field, gettext("%(name)s is larger than %(mb)s MB (or empty).") % {"name": name, "mb": _mb(kind)})
            return True
        return False

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        text = cleaned.get("text") or ""
        if len(text) > TEXT_MAX_CHARS or len(text.encode()) > TEXT_MAX_BYTES:
            self.add_error("text", gettext("The text has at most 2000 characters (4000 bytes); it has %(n)s characters.") % {"n": len(text)})
        kind = cleaned.get("kind")
        if kind == AttachmentKind.IMAGES:
            images = cleaned.get("images") or []
            if not images:
                self.add_error("images", gettext("Choose at least one image."))
            elif len(images) > MAX_IMAGES:
                self.add_error("images", gettext("A moment takes at most 9 images; %(n)s were chosen.") % {"n": len(images)})
            else:
                for upload in images:
                    if self._file_error("images", upload, MediaKind.IMAGE):
                        break
        elif kind == AttachmentKind.VIDEO:
            if not cleaned.get("video"):
                self.add_error("video", gettext("Choose the video."))
            else:
                self._file_error("video", cleaned["video"], MediaKind.VIDEO)
        elif kind == AttachmentKind.LINK:
            title, url = (cleaned.get("link_title") or "").strip(), (cleaned.get("link_url") or "").strip()
            cleaned["link_title"], cleaned["link_url"] = title, url
            if not title:
                self.add_error("link_title", gettext("The link needs a title."))
            elif len(title.encode()) > LINK_TITLE_BYTES:
                self.add_error("link_title", gettext("The link title has at most %(n)s bytes (about %(c)s Chinese characters).")
                               % {"n": LINK_TITLE_BYTES, "c": LINK_TITLE_BYTES // 3})
            if not url.startswith(("http://", "https://")):
                self.add_error("link_url", gettext("The link must start with http:// or https://."))
            elif len(url.encode()) > LINK_URL_BYTES:
                self.add_error("link_url", gettext("The link has at most %(n)s bytes.") % {"n": LINK_URL_BYTES})
            if cleaned.get("link_image"):
                self._file_error("link_image", cleaned["link_image"], MediaKind.IMAGE)
        if kind == AttachmentKind.NONE and not text.strip():
            self.add_error("text", gettext("Write a text or add attachments."))
        return cleaned

    def attachment_specs(self) -> list[dict]:
        """The attachments as the API's specs, their files kept (MediaFile); call inside a transaction."""
        data = self.cleaned_data

        def keep(upload) -> int:
            return media_file_create(name=upload.name, content=upload.read(), content_type=upload.content_type or "").pk

        if data["kind"] == AttachmentKind.IMAGES:
            return [{"msgtype": "image", "media_file": keep(f)} for f in data["images"]]
        if data["kind"] == AttachmentKind.VIDEO:
            return [{"msgtype": "video", "media_file": keep(data["video"])}]
        if data["kind"] == AttachmentKind.LINK:
            link = {"msgtype": "link", "title": data["link_title"], "url": data["link_url"]}
            if data.get("link_image"):
                link["media_file"] = keep(data["link_image"])
            return [link]
        return []


def _preview(account: ChannelAccount, payload: dict) -> dict[str, Any]:
    """What the confirmation shows: the attachments by name, staff members and tags by name, and how
    many customers it can reach at most."""
    files = {f.pk: f for f in MediaFile.objects.defer("content").filter(pk__in=[a.get("media_file") for a in payload["attachments"]])}
    attachments = []
    for spec in payload["attachments"]:
        media = files.get(spec.get("media_file"))
        attachments.append({
            "msgtype": spec["msgtype"], "title": spec.get("title", ""), "url": spec.get("url", ""),
            "file": f"{media.name} ({max(1, media.size // 1024)} KB)" if media else "",
        })
    staff = dict(WeComStaff.objects.filter(account=account, userid__in=payload["sender_userids"]).values_list("userid", "name"))
    tags = Tag.objects.filter(pk__in=payload["tag_ids"]).select_related("group").order_by("group__name", "name")
    remote = list(TagMirror.objects.filter(account=account, tag_id__in=payload["tag_ids"]).values_list("remote_id", flat=True))
    return {
        "text": payload["text"],
        "attachments": attachments,
        "staff": [f"{staff.get(u) or u} ({u})" for u in payload["sender_userids"]],
        "tags": [f"{t.group.name} / {t.name}" for t in tags],
        "reach": relations_reach(account_id=account.pk, staff_userids=payload["sender_userids"], remote_tag_ids=remote),
    }


def _wecom_accounts():
    return ChannelAccount.objects.for_choosing().filter(kind=AccountKind.WECOM)


def moment_create_view(model_admin, request):
    """GET the form (a corp chosen first when there are several); POST checks it and shows the
    confirmation; POST with the signed confirmation creates the moment and opens its page."""
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    accounts = _wecom_accounts()
    add_url = reverse("admin:messaging_wecommoment_add")
    context: dict[str, Any] = {
        **model_admin.admin_site.each_context(request), "opts": model_admin.model._meta, "title": gettext("New customer moment"),
        "changelist_url": reverse("admin:messaging_wecommoment_changelist"), "add_url": add_url,
    }
    chosen = request.POST.get("account") or request.GET.get("account")
    account = accounts.filter(pk=chosen).first() if str(chosen or "").isdigit() else None
    if account is None and len(accounts) == 1:
        account = accounts[0]
    if account is None:
        return TemplateResponse(request, "channels/moment_create.html", {**context, "accounts": accounts})
    context["account"] = account

    if request.method == "POST" and "payload" in request.POST:
        try:
            payload = signing.loads(request.POST["payload"], salt=SIGNING_SALT, max_age=CONFIRM_MAX_AGE)
        except signing.BadSignature:
            messages.error(request, gettext("The confirmation has expired: fill in the form again."))
            return HttpResponseRedirect(f"{add_url}?account={account.pk}")
        if payload.get("account") != account.pk:
            raise PermissionDenied
        try:
            moment = moment_create(
                account=account, text=payload["text"], attachments=payload["attachments"], sender_userids=payload["sender_userids"],
                tag_ids=payload["tag_ids"], user=request.user, idempotency_key=payload["key"], ip=request.META.get("REMOTE_ADDR"),
            )
        except ApplicationError as exc:
            # Something changed since the form was checked (a staff member left, a tag was unmirrored).
            return TemplateResponse(request, "channels/moment_create.html",
                                    {**context, "form": MomentForm(account=account), "error": exc.message})
        messages.success(request, gettext("The moment was sent to WeCom; the staff members publish it from their WeCom client."))
        return HttpResponseRedirect(reverse("admin:messaging_wecommoment_change", args=[moment.pk]))

    form = MomentForm(request.POST or None, request.FILES or None, account=account)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                clean = moment_validate(
                    account=account, text=data["text"], attachments=form.attachment_specs(),
                    sender_userids=[s.userid for s in data["senders"]], tag_ids=[t.pk for t in data["tags"]],
                )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            payload = {"account": account.pk, "text": clean["text"], "attachments": clean["attachments"],
                       "sender_userids": clean["sender_userids"], "tag_ids": clean["tag_ids"], "key": f"console:{uuid.uuid4().hex}"}
            return TemplateResponse(request, "channels/moment_create.html", {
                **context, "confirm": True, "payload": signing.dumps(payload, salt=SIGNING_SALT), "preview": _preview(account, payload),
            })
    return TemplateResponse(request, "channels/moment_create.html", {**context, "form": form})
