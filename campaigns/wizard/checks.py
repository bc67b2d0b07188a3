"""The wizard's checks of content before sending: links and the 16-character title preview.

Links are not fetched (the console may have no internet, and a fetch proves little about the moment
of sending): each is checked to be a well-formed https URL on an allowed domain, and the operator is
told which links will be rewritten to tracked short links.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from campaigns.models import MessageType
from campaigns.rendering import URL_RE
from campaigns.validation import TITLE_PREVIEW_CHARS, title_check

# Where a link sits in `content`, besides URLs inside texts.
LINK_KEYS = ("url",)


def _allowed(host: str, domains: list[str]) -> bool:
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in (d.lower().lstrip(".") for d in domains))


def link_check(url: str, *, in_text: bool = False) -> dict[str, Any]:
    """One link: is it well-formed https on an allowed domain, and will it be tracked?"""
    problems: list[str] = []
    notes: list[str] = []
    parts = urlsplit(url)
    domains = list(getattr(settings, "CAMPAIGN_LINK_DOMAINS", []) or [])
    if "{" in url or "}" in url:
        problems.append(_("Variables are not filled in inside links."))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(_("Not a web address: it needs https:// and a host name."))
    else:
        if parts.scheme != "https":
            problems.append(_("Use https: WeChat warns readers before opening plain http pages."))
        if " " in url:
            problems.append(_("Spaces are not allowed in a link."))
        if domains and not _allowed(parts.hostname, domains):
            problems.append(_("%(host)s is not one of the allowed domains (%(domains)s).") % {"host": parts.hostname, "domains": ", ".join(domains)})
        if not domains:
            notes.append(_("No domain allow-list is configured (CAMPAIGN_LINK_DOMAINS): any https host is accepted."))
        notes.append(
            _("Rewritten per customer to a tracked short link on %(base)s, which counts the click and redirects here.")
            % {"base": settings.PUBLIC_BASE_URL}
        )
        if not settings.PUBLIC_BASE_URL.startswith("https://"):
            notes.append(_("The tracked links' own address (PUBLIC_BASE_URL) is not https."))
    return {"url": url, "ok": not problems, "problems": problems, "notes": notes, "in_text": in_text}


def content_links(content: dict[str, Any]) -> list[str]:
    """Every web link of a content object, in order, without duplicates."""
    found: list[str] = []
    for key in LINK_KEYS:
        if content.get(key):
            found.append(str(content[key]))
    texts = [content.get(k) for k in ("text", "body", "title")] + list((content.get("fields") or {}).values())
    for text in texts:
        if isinstance(text, dict):
            text = text.get("value")
        if isinstance(text, str):
            found.extend(URL_RE.findall(text))
    for item in content.get("attachments") or []:
        link = (item.get("link") or {}).get("url") if isinstance(item, dict) else None
        if link:
            found.append(link)
    return list(dict.fromkeys(found))


def links_check(content: dict[str, Any]) -> list[dict[str, Any]]:
    return [link_check(url) for url in content_links(content)]


def title_preview(*, message_type: str, content: dict[str, Any], rendered_first_line: str, template_title: str = "") -> dict[str, Any]:
    """How the message's first line shows in the chat list / notification: its first 16 characters."""
    if message_type in (MessageType.TEMPLATE, MessageType.OA_SUBSCRIBE, MessageType.MP_SUBSCRIBE):
        # Notifications show the template's title, then the first key.
        title = template_title or rendered_first_line
    else:
        title = rendered_first_line
    checked = title_check(title=title, key_words=content.get("key_words"))
    warnings = [
        _("“%(word)s” is not within the first %(n)d characters.") % {"word": word, "n": TITLE_PREVIEW_CHARS}
        for word in checked["hidden_key_words"]
    ]
    return {
        "full": title,
        "preview": checked["preview"],
        "truncated": checked["truncated"],
        "chars": len(title),
        "limit": TITLE_PREVIEW_CHARS,
        "warnings": warnings,
    }
