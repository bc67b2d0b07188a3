"""Per-customer content: a sandboxed Django template engine over a strict, whitelisted context.

Operators write `{{ customer.display_name }}`; nothing else of the customer (phone, attributes, ids)
and no tags beyond `if` are reachable. Templates are checked before scheduling, so a typo fails at
validation, not at 3 a.m. mid-send.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Protocol

from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.base import TextNode, VariableNode
from django.template.defaulttags import IfNode
from django.utils.translation import gettext

from campaigns.errors import CampaignError
from campaigns.models import Campaign, MessageType
from campaigns.tracking.services import tracked_url
from scrm.errors import ApplicationError

ALLOWED_VARIABLES = {
    "customer.display_name",
    "customer.first_name",
    "customer.city",
    "customer.province",
    "customer.country",
    "customer.gender",
    "campaign.name",
}
ALLOWED_FILTERS = {"default", "upper", "lower", "title", "truncatechars", "capfirst"}
URL_RE = re.compile(r"https?://[^\s<>\"']+")

_engine = Engine(debug=False, autoescape=False, loaders=[], libraries={}, builtins=["django.template.defaultfilters", "django.template.defaulttags"], string_if_invalid="")

GENDER_LABELS = {0: "", 1: "先生", 2: "女士"}


def _check_nodes(nodes, problems: list[str]) -> None:
    for node in nodes:
        if isinstance(node, TextNode):
            continue
        if isinstance(node, VariableNode):
            _check_filter_expression(node.filter_expression, problems)
        elif isinstance(node, IfNode):
            for condition, nodelist in node.conditions_nodelists:
                if condition is not None:
                    _check_condition(condition, problems)
                _check_nodes(nodelist or [], problems)
        else:
            problems.append(f"tag not allowed: {getattr(node, 'token', None) and node.token.contents or type(node).__name__}")


def _check_condition(condition, problems: list[str]) -> None:
    value = getattr(condition, "value", None)
    if value is not None and hasattr(value, "filters"):
        _check_filter_expression(value, problems)
    for part in (getattr(condition, "first", None), getattr(condition, "second", None)):
        if part is not None:
            _check_condition(part, problems)


def _check_filter_expression(expression, problems: list[str]) -> None:
    var = expression.var
    lookups = getattr(var, "lookups", None)
    if lookups is not None:
        name = ".".join(lookups)
        if name not in ALLOWED_VARIABLES:
            problems.append(f"unknown variable: {name}")
    for func, _args in expression.filters:
        if func.__name__ not in ALLOWED_FILTERS:
            problems.append(f"filter not allowed: {func.__name__}")


@lru_cache(maxsize=512)
def compile_template(source: str) -> Template:
    """Parse and check one template string; raises ApplicationError listing what is not allowed."""
    try:
        template = _engine.from_string(source)
    except TemplateSyntaxError as exc:
        raise ApplicationError(gettext("Template syntax error."), code=CampaignError.INVALID_TEMPLATE, detail={"template": source, "error": str(exc)}) from exc
    problems: list[str] = []
    _check_nodes(template.nodelist, problems)
    if problems:
        raise ApplicationError(
            gettext("Template uses what is not allowed."), code=CampaignError.INVALID_TEMPLATE, detail={"template": source, "problems": problems}
        )
    return template


def uses_variables(source: str) -> bool:
    template = compile_template(source)
    return any(not isinstance(node, TextNode) for node in template.nodelist)


def customer_context(customer: Any, campaign_name: str = "") -> dict[str, Any]:
    """The whole of what a template can see about a customer."""
    display_name = getattr(customer, "display_name", "") or ""
    return {
        "customer": {
            "display_name": display_name,
            "first_name": display_name.split(" ")[0] if display_name else "",
            "city": getattr(customer, "city", "") or "",
            "province": getattr(customer, "province", "") or "",
            "country": getattr(customer, "country", "") or "",
            "gender": GENDER_LABELS.get(getattr(customer, "gender", 0), ""),
        },
        "campaign": {"name": campaign_name},
    }


def render(source: str, context: dict[str, Any]) -> str:
    if "{" not in source:
        return source
    return compile_template(source).render(Context(context, autoescape=False))


def rewrite_links(text: str, rewrite: Callable[[str], str]) -> str:
    return URL_RE.sub(lambda m: rewrite(m.group(0)), text)


def template_strings(content: dict[str, Any]) -> list[str]:
    """Every string of a content object that is rendered per customer."""
    out: list[str] = []
    for key in ("title", "text", "body"):
        if isinstance(content.get(key), str):
            out.append(content[key])
    for value in (content.get("fields") or {}).values():
        out.append(value.get("value", "") if isinstance(value, dict) else str(value))
    return out


def mass_body(content: dict[str, Any]) -> dict[str, Any]:
    """A mass send's body per msgtype, as 群发 documents it (campaigns.validation.MASS_MSGTYPES)."""
    msgtype = content.get("msgtype") or "text"
    if msgtype == "text":
        return {"msgtype": "text", "text": {"content": content["text"]}}
    if msgtype == "mpnews":
        # 1: the send goes ahead when WeChat judges the article a reprint (it is sent as a reprint).
        return {"msgtype": "mpnews", "mpnews": {"media_id": content["media_id"]}, "send_ignore_reprint": 1}
    if msgtype == "image":
        return {"msgtype": "image", "images": {"media_ids": list(content["media_ids"]), "recommend": content.get("recommend", ""),
                                               "need_open_comment": 0, "only_fans_can_comment": 0}}
    if msgtype in ("voice", "mpvideo"):
        return {"msgtype": msgtype, msgtype: {"media_id": content["media_id"]}}
    if msgtype == "wxcard":
        return {"msgtype": "wxcard", "wxcard": {"card_id": content["card_id"]}}
    raise ValueError(msgtype)


class RenderTarget(Protocol):
    """What rendering needs of a recipient: the delivery (for tracked links) and the customer."""

    id: int
    customer_id: int
    customer: Any


VARIANT_KEYS = ("variants", "variant_test")


def variant_content(content: dict[str, Any], variant: int | None) -> dict[str, Any]:
    """The content one variant sends: the campaign's, with the variant's own keys over it."""
    base = {k: v for k, v in content.items() if k not in VARIANT_KEYS}
    variants = content.get("variants") or []
    if variant is None or not variants or variant >= len(variants):
        return base
    return {**base, **variants[variant]}


class MessageRenderer:
    """A campaign's content (or one variant's) rendered for one recipient (per-customer text,
    tracked links) as the adapter's payload, or once for a list call (mass sends and WeCom tasks
    carry one body)."""

    def __init__(self, campaign: Campaign, variant: int | None = None):
        self.campaign = campaign
        self.variant = variant
        self.content = variant_content(campaign.content or {}, variant)

    def text(self, source: str, row: RenderTarget, *, links: bool = True) -> str:
        text = render(source, customer_context(row.customer, self.campaign.name)) if row.customer is not None else source
        if links:
            text = rewrite_links(text, lambda url: self.link(url, row))
        return text

    def link(self, url: str, row: RenderTarget) -> str:
        return tracked_url(delivery_id=row.id, campaign_id=self.campaign.pk, customer_id=row.customer_id, url=url)

    def _fields(self, row: RenderTarget) -> dict[str, dict[str, str]]:
        data = {}
        for key, value in (self.content.get("fields") or {}).items():
            item = dict(value) if isinstance(value, dict) else {"value": str(value)}
            item["value"] = self.text(str(item.get("value", "")), row, links=False)
            data[key] = item
        return data

    def payload(self, row: RenderTarget) -> dict[str, Any]:
        mtype = self.campaign.message_type
        c = self.content
        if mtype == MessageType.TEMPLATE:
            payload: dict[str, Any] = {"template_id": c["template_id"], "data": self._fields(row)}
            if c.get("url"):
                payload["url"] = self.link(c["url"], row)
            if c.get("miniprogram"):
                payload["miniprogram"] = c["miniprogram"]
            return payload
        if mtype == MessageType.CUSTOMER_SERVICE:
            return {"msgtype": "text", "text": {"content": self.text(c["text"], row)}}
        if mtype in (MessageType.OA_SUBSCRIBE, MessageType.MP_SUBSCRIBE):
            payload = {"template_id": c["template_id"], "data": self._fields(row)}
            if c.get("page"):
                payload["page"] = c["page"]
            if c.get("miniprogram"):
                payload["miniprogram"] = c["miniprogram"]
            return payload
        raise ValueError(mtype)

    def batch_payload(self, *, staff: str = "", tag_id: int | None = None) -> dict[str, Any]:
        """The one body of a list call; for a mass send by tag (sendall), the tag's filter."""
        c = self.content
        if self.campaign.message_type == MessageType.MASS:
            payload = mass_body(c)
            if tag_id is not None:
                payload["filter"] = {"is_to_all": False, "tag_id": tag_id}
            return payload
        return {"sender": staff, "text": {"content": c["text"]}, "attachments": c.get("attachments") or []}
