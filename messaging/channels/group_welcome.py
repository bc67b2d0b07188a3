"""WeCom group welcome templates (入群欢迎语素材管理, https://developer.work.weixin.qq.com/document/path/92366):
the product's row and WeCom's library kept the same through group_welcome_template/add, edit, get, del.

Limits from the page, checked before WeCom is called: at most 100 templates per corp; text at most
3000 bytes (`%NICKNAME%` becomes the joining customer's nickname); at most one attachment besides
the text (image, link, miniprogram, file or video — WeCom keeps only the first otherwise, so the
product refuses more), with the field limits of attachments (link title 128, desc 512, mini-program
title 64 bytes); not empty. Attachments are uploaded when the template is saved (a media_id of
media/upload, wecom_media)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext
from wechatpy.exceptions import WeChatClientException

from accounts.models import AccountKind
from messaging.channels import wecom_media
from messaging.channels.clients import wecom_client
from messaging.channels.models import GroupWelcomeTemplate
from messaging.errors import MessagingError
from scrm.errors import ApplicationError

MAX_TEMPLATES = 100
TEXT_MAX_BYTES = 3000
NICKNAME = "%NICKNAME%"


def _invalid(message: str, **detail: Any) -> ApplicationError:
    return ApplicationError(message, code=MessagingError.GROUP_WELCOME_INVALID, detail=detail or None)


def _remote_failed(exc: WeChatClientException) -> ApplicationError:
    return ApplicationError(code=MessagingError.GROUP_WELCOME_REMOTE_FAILED, detail={"errcode": exc.errcode})


def group_welcome_clean(*, account, name: str, text: str, attachment: Any) -> tuple[str, str, dict | None]:
    """The template's fields checked against WeCom's rules; a 4xx names the first problem."""
    if account.kind != AccountKind.WECOM:
        raise _invalid(gettext("Group welcome templates belong to a WeCom corp."), field="account")
    name, text = (name or "").strip(), text or ""
    if not name or len(name) > 128:
        raise _invalid(gettext("The name is empty or longer than 128 characters."), field="name")
    if len(text.encode()) > TEXT_MAX_BYTES:
        raise _invalid(gettext("The text is longer than 3000 bytes."), field="text", size=len(text.encode()))
    specs = wecom_media.attachments_validate([attachment] if attachment else [])
    if not text.strip() and not specs:
        raise _invalid(gettext("A group welcome template needs a text or an attachment."), field="text")
    return name, text, (specs[0] if specs else None)


def _body(template: GroupWelcomeTemplate) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if template.text.strip():
        body["text"] = {"content": template.text}
    if template.attachment:
        [rendered] = wecom_media.attachments_render(template.account, [template.attachment])
        body[rendered["msgtype"]] = rendered[rendered["msgtype"]]
    return body


def group_welcome_create(*, account, name: str, text: str = "", attachment: Any = None, notify: bool = True, user=None) -> GroupWelcomeTemplate:
    """Add the template to the corp's WeCom library and keep it (409 once the library holds 100)."""
    name, text, spec = group_welcome_clean(account=account, name=name, text=text, attachment=attachment)
    with transaction.atomic():
        # One creation per corp at a time: the count and the add cannot race past 100.
        type(account).objects.select_for_update().filter(pk=account.pk).first()
        if GroupWelcomeTemplate.objects.filter(account=account).count() >= MAX_TEMPLATES:
            raise ApplicationError(code=MessagingError.GROUP_WELCOME_LIBRARY_FULL)
        template = GroupWelcomeTemplate(account=account, name=name, text=text, attachment=spec, notify=notify, created_by=user)
        try:
            answer = wecom_client(account).post("externalcontact/group_welcome_template/add",
                                                data={**_body(template), "notify": int(notify)})
        except WeChatClientException as exc:
            raise _remote_failed(exc) from exc
        template.template_id = str(answer["template_id"])
        template.save()
    return template


def group_welcome_update(*, template: GroupWelcomeTemplate, name: str, text: str = "", attachment: Any = None) -> GroupWelcomeTemplate:
    """Edit the template on WeCom (group_welcome_template/edit), then here."""
    name, text, spec = group_welcome_clean(account=template.account, name=name, text=text, attachment=attachment)
    template.name, template.text, template.attachment = name, text, spec
    try:
        wecom_client(template.account).post("externalcontact/group_welcome_template/edit",
                                            data={"template_id": template.template_id, **_body(template)})
    except WeChatClientException as exc:
        raise _remote_failed(exc) from exc
    template.save()
    return template


def group_welcome_fetch(*, template: GroupWelcomeTemplate) -> dict[str, Any]:
    """What WeCom's library holds for the template (group_welcome_template/get)."""
    try:
        answer = wecom_client(template.account).post("externalcontact/group_welcome_template/get", data={"template_id": template.template_id})
    except WeChatClientException as exc:
        raise _remote_failed(exc) from exc
    return {k: v for k, v in answer.items() if k not in ("errcode", "errmsg")}


def group_welcome_delete(*, template: GroupWelcomeTemplate) -> None:
    """Delete the template on WeCom (group_welcome_template/del), then here; one WeCom no longer
    knows (40058) is deleted here all the same."""
    try:
        wecom_client(template.account).post("externalcontact/group_welcome_template/del", data={"template_id": template.template_id})
    except WeChatClientException as exc:
        if exc.errcode != 40058:
            raise _remote_failed(exc) from exc
    template.delete()
