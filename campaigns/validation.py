"""Checks a campaign must pass before it is scheduled: content shape per message type, templates,
the platform's own rules, and the title preview."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext

from campaigns.errors import CampaignError
from campaigns.groups.audience import group_audience_problem
from campaigns.models import Campaign, MessageType, PriorityClass, WeComSenderRule
from campaigns.policy import policy_overrides_clean
from campaigns.rendering import compile_template, customer_context, render, template_strings, uses_variables
from scrm.errors import ApplicationError

TITLE_PREVIEW_CHARS = 16
# Message types WeChat sends as one list call with one body: no per-customer variables there.
BATCH_TYPES = {MessageType.MASS, MessageType.WECOM_GROUP}
SUBSCRIBE_TYPES = {MessageType.OA_SUBSCRIBE, MessageType.MP_SUBSCRIBE}
ACCOUNT_KINDS = {
    MessageType.MASS: "oa",
    MessageType.TEMPLATE: "oa",
    MessageType.CUSTOMER_SERVICE: "oa",
    MessageType.OA_SUBSCRIBE: "oa",
    MessageType.WECOM_GROUP: "wecom",
    MessageType.MP_SUBSCRIBE: "miniprogram",
    MessageType.INBOX: "miniprogram",
}
# Mass sends by msgtype (群发: https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Batch_Sends_and_Originality_Checks.html):
# what the content names for each. mpnews: a draft's media_id; image: 1+ image material media_ids;
# voice / mpvideo: a voice / video material's media_id; wxcard: a card_id.
MASS_MSGTYPES = {"text": "text", "mpnews": "media_id", "image": "media_ids", "voice": "media_id", "mpvideo": "media_id", "wxcard": "card_id"}
REQUIRED = {
    MessageType.MASS: [],
    MessageType.TEMPLATE: ["template_id", "template_keys", "fields"],
    MessageType.CUSTOMER_SERVICE: ["text"],
    MessageType.OA_SUBSCRIBE: ["template_id", "template_keys", "fields"],
    MessageType.WECOM_GROUP: ["text"],
    MessageType.MP_SUBSCRIBE: ["template_id", "template_keys", "fields"],
    MessageType.INBOX: ["title"],
}


def title_check(*, title: str, key_words: list[str] | None = None) -> dict[str, Any]:
    """The chat-list preview (first 16 characters) and the key words that fall beyond it."""
    preview = title[:TITLE_PREVIEW_CHARS]
    hidden = [word for word in (key_words or []) if word and word not in preview]
    warnings = [f"'{word}' is not within the first {TITLE_PREVIEW_CHARS} characters" for word in hidden]
    return {"preview": preview, "truncated": len(title) > TITLE_PREVIEW_CHARS, "hidden_key_words": hidden, "warnings": warnings}


MAX_VARIANTS = 8
VARIANT_MODES = ("split", "cells")


def variants_problem(content: dict[str, Any]) -> str:
    """What is wrong with a campaign's variant test ("" when nothing): 2–8 variants, each an object of
    content keys; mode split or cells; cells leave a rest; the wait, sample and threshold in range."""
    variants = content.get("variants")
    if not isinstance(variants, list) or not 2 <= len(variants) <= MAX_VARIANTS:
        return "2 to 8 variants"
    if not all(isinstance(v, dict) and v and not set(v) & {"variants", "variant_test"} for v in variants):
        return "each variant is an object of the content keys it changes"
    given = content.get("variant_test") or {}
    if not isinstance(given, dict) or given.get("mode", "split") not in VARIANT_MODES:
        return "mode is split or cells"
    try:
        cell = int(given.get("cell_percent", 10))
        wait = int(given.get("wait_minutes", 24 * 60))
        sample = int(given.get("min_sample", 100))
        threshold = float(given.get("threshold", 0.95))
    except (TypeError, ValueError):
        return "cell_percent, wait_minutes and min_sample are numbers"
    if given.get("mode") == "cells" and not (1 <= cell <= 50 and cell * len(variants) < 100):
        return "each test cell is 1–50% and the cells leave a rest"
    if wait < 1 or sample < 1 or not 0.5 < threshold < 1:
        return "wait_minutes and min_sample at least 1, threshold between 0.5 and 1"
    return ""


def campaign_title(campaign: Campaign) -> str:
    content = campaign.content or {}
    if content.get("title"):
        return str(content["title"])
    text = content.get("text") or content.get("body") or ""
    return str(text).split("\n", 1)[0]


def campaign_validate(*, campaign: Campaign) -> dict[str, Any]:
    """Refuse (ApplicationError with every problem) or return warnings and the title preview."""
    errors: dict[str, Any] = {}
    content = campaign.content or {}
    mtype = campaign.message_type
    account = campaign.account
    if mtype not in MessageType.values:
        errors["message_type"] = "unknown message type"
    elif account.kind != ACCOUNT_KINDS[mtype]:
        errors["account"] = f"{mtype} needs a {ACCOUNT_KINDS[mtype]} account, not {account.kind}"
    if not isinstance(content, dict):
        raise ApplicationError(gettext("Content must be an object."), code=CampaignError.INVALID_CAMPAIGN, detail={"content": "not an object"})
    missing = [key for key in REQUIRED.get(mtype, []) if not content.get(key)]
    if mtype == MessageType.MASS:
        msgtype = content.get("msgtype") or "text"
        if msgtype not in MASS_MSGTYPES:
            errors["msgtype"] = f"one of {', '.join(MASS_MSGTYPES)}"
        elif not content.get(MASS_MSGTYPES[msgtype]):
            missing.append(MASS_MSGTYPES[msgtype])
        elif msgtype == "image" and not (isinstance(content["media_ids"], list) and all(isinstance(m, str) and m for m in content["media_ids"])):
            errors["media_ids"] = "a list of image media_ids"
    if missing:
        errors["content"] = {"missing": missing}
    if mtype == MessageType.TEMPLATE and campaign.priority_class != PriorityClass.TRANSACTIONAL:
        errors["priority_class"] = "WeChat forbids marketing in template messages: template messages are transactional only"
    if "group_audience" in content:
        problem = group_audience_problem(content["group_audience"], message_type=mtype)
        if problem:
            errors["group_audience"] = problem
    elif campaign.segment_id is None:
        errors["segment"] = "a target segment is required"
    if "template_keys" in content and "fields" in content:
        declared = set(content.get("template_keys") or [])
        given = set((content.get("fields") or {}).keys())
        if given - declared or declared - given:
            errors["fields"] = {"unknown": sorted(given - declared), "missing": sorted(declared - given)}
    for link_key in ("url",):
        url = content.get(link_key)
        if url and not str(url).startswith(("https://", "http://")):
            errors[link_key] = "links must be http(s) URLs"
    mini = content.get("miniprogram")
    if mini is not None and (not isinstance(mini, dict) or not mini.get("appid") or not mini.get("pagepath")):
        errors["miniprogram"] = "needs appid and pagepath"
    variant_sources: list[str] = []
    if "variants" in content or "variant_test" in content:
        problem = variants_problem(content)
        if problem:
            errors["variants"] = problem
        else:
            for variant in content["variants"]:
                variant_sources += template_strings(variant)
    template_errors = []
    for source in template_strings(content) + variant_sources:
        try:
            compile_template(source)
            if mtype in BATCH_TYPES and uses_variables(source):
                template_errors.append({"template": source, "problems": [f"{mtype} is one list call: no per-customer variables"]})
        except ApplicationError as exc:
            template_errors.append(exc.detail)
    if template_errors:
        errors["templates"] = template_errors
    try:
        policy_overrides_clean(campaign.policy_overrides or {})
    except ApplicationError as exc:
        errors["policy_overrides"] = exc.detail or exc.message
    if campaign.send_window_start and campaign.send_window_end and campaign.send_window_start == campaign.send_window_end:
        errors["send_window"] = "start and end must differ"
    if campaign.min_predicted_engagement is not None and campaign.top_percent is not None:
        errors["targeting"] = "choose a minimum predicted engagement or a top percent, not both"
    if campaign.wecom_sender_rule not in WeComSenderRule.values:
        errors["wecom_sender_rule"] = f"one of {', '.join(WeComSenderRule.values)}"
    elif campaign.wecom_sender_rule != WeComSenderRule.LAST_INTERACTION and mtype != MessageType.WECOM_GROUP:
        errors["wecom_sender_rule"] = "only WeCom group messages have a sender rule"
    if campaign.recurrence:
        parts = campaign.recurrence.split()
        if len(parts) != 5:
            errors["recurrence"] = "crontab needs 5 fields: minute hour day month weekday"
    if errors:
        raise ApplicationError(code=CampaignError.INVALID_CAMPAIGN, detail=errors)
    sample = render_sample(campaign)
    title = title_check(title=campaign_title(campaign), key_words=content.get("key_words"))
    return {"title": title, "warnings": title["warnings"], "sample": sample}


def render_sample(campaign: Campaign) -> dict[str, str]:
    class _Sample:
        display_name = "张三"
        city = "上海"
        province = "上海"
        country = "中国"
        gender = 1

    ctx = customer_context(_Sample(), campaign.name)
    return {source: render(source, ctx) for source in template_strings(campaign.content or {})}
