"""Walk every console page as a superuser: the admin index and app pages, each registered
ModelAdmin's URLs (changelist, add, change, history, delete confirmation, its custom views) and the
other pages mounted under /admin/. Used by tests/console/test_every_page.py on PostgreSQL and by
tests/console/sqlite_pages_check.py on the embedded SQLite default.

`console_sample_data()` makes sure every registered model has a row, so its change form is walked.
`walk()` returns what it visited, what failed (a 5xx, a 404, an untranslated string) and what it
skipped on purpose (URLs needing arguments it cannot fill, views that act on GET)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django.utils.text import capfirst

ZH = "zh-hans"
_ARG = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")
_OBJECT_ARGS = {"object_id", "pk", "id"}
# Site URLs not walked: they need arguments or act (log out on POST, view-on-site redirects).
_SITE_SKIPPED = {"logout", "view_on_site", "autocomplete", "login"}
# Words an operator reads in Latin letters in either language (identifiers, formats, product names).
LATIN_OK = {
    "id", "openid", "unionid", "external_userid", "userid", "appid", "app", "url", "urls", "api", "json", "csv", "ip",
    "wechat", "wecom", "scrm", "msgid", "encodingaeskey", "aes", "token", "sql", "postgresql", "sqlite", "cron",
    "utc", "http", "https", "ok", "—", "utm", "uv", "pv", "qr", "eta", "english", "en", "appsecret",
}


def _catalogue(language: str) -> list[tuple[str, str]]:
    """(msgid, msgstr) of the project's catalogue for `language`; plural forms give their first msgstr."""
    path = Path(settings.BASE_DIR) / "locale" / language / "LC_MESSAGES" / "django.po"
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        if "#~" in block:
            continue
        section, parts = None, {"msgid": [], "msgstr": []}
        for line in block.splitlines():
            m = re.match(r'^(msgid|msgid_plural|msgstr(?:\[0\])?|msgstr\[\d+\]|msgctxt)?\s*"(.*)"\s*$', line)
            if not m:
                continue
            if m.group(1):
                section = {"msgstr[0]": "msgstr"}.get(m.group(1), m.group(1))
            if section in parts:
                parts[section].append(m.group(2))
        msgid = "".join(parts["msgid"]).replace('\\"', '"').replace("\\n", "\n")
        fuzzy = re.search(r"^#,.*\bfuzzy\b", block, re.M)  # a guess, not a translation
        if msgid:
            entries.append((msgid, "" if fuzzy else "".join(parts["msgstr"])))
    return entries


def untranslated_msgids(language: str = "zh_Hans") -> set[str]:
    return {msgid for msgid, msgstr in _catalogue(language) if not msgstr}


def catalogue_msgids(language: str) -> set[str]:
    return {msgid for msgid, _ in _catalogue(language)}


class _Text(HTMLParser):
    """The text an operator reads: text nodes outside script/style, and labels in attributes; plus
    the texts of form labels, table headers and fieldset titles on their own."""

    _LABELS = {"label", "th", "legend", "h2", "button"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.labels: list[str] = []
        self._skip = 0
        self._label: list[list[str]] = []
        self._label_tags: list[str] = []
        self._thead = 0
        self._icon: list[bool] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self._skip += 1
        if tag == "thead":
            self._thead += 1
        if tag == "span":
            # Material Symbols icons are ligatures: their text ("search") is not read, it is drawn.
            self._icon.append("material-symbols" in (dict(attrs).get("class") or ""))
        if tag in self._LABELS and (tag != "th" or self._thead):
            self._label.append([])
            self._label_tags.append(tag)
        for name, value in attrs:
            if name in ("title", "placeholder", "aria-label", "alt") and value:
                self.texts.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template") and self._skip:
            self._skip -= 1
        if tag == "thead" and self._thead:
            self._thead -= 1
        if tag == "span" and self._icon:
            self._icon.pop()
        if self._label_tags and self._label_tags[-1] == tag:
            self._label_tags.pop()
            text = " ".join("".join(self._label.pop()).split())
            if text:
                self.labels.append(text)

    def handle_data(self, data):
        if self._skip or any(self._icon):
            return
        text = data.strip()
        if text:
            self.texts.append(text)
        for open_label in self._label:
            open_label.append(data)


def page_texts(html: str) -> tuple[list[str], list[str]]:
    parser = _Text()
    parser.feed(html)
    return parser.texts, parser.labels


def untranslated_on_page(html: str, untranslated: set[str]) -> set[str]:
    """Catalogue strings left untranslated that the page shows (as a whole text, a label with a
    colon, or inside a longer text)."""
    texts, _ = page_texts(html)
    found = set()
    normalised = {t.rstrip(":：").strip() for t in texts}
    for msgid in untranslated:
        variants = {msgid, capfirst(msgid)}
        if variants & normalised or (len(msgid) >= 24 and any(msgid in t for t in texts)):
            found.add(msgid)
    return found


def english_labels(html: str) -> set[str]:
    """Form labels, column headers and section titles written only in Latin letters (not an identifier
    an operator knows by that name): labels the catalogue does not reach, e.g. Django's default
    verbose name of a field without one."""
    _, labels = page_texts(html)
    found = set()
    for label in labels:
        text = label.rstrip(":：*").strip()
        if not text or re.search(r"[\u3400-\u9fff]", text):
            continue
        words = re.findall(r"[A-Za-z][A-Za-z_']*", text)
        if words and any(w.lower() not in LATIN_OK for w in words):
            found.add(text)
    return found


@dataclass
class Page:
    url: str
    status: int
    content_type: str = ""
    untranslated: set[str] = field(default_factory=set)
    english: set[str] = field(default_factory=set)


@dataclass
class Walk:
    pages: list[Page] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def failures(self, *, english: bool = True) -> list[str]:
        lines = []
        for page in self.pages:
            if page.status >= 500 or page.status == 404:
                lines.append(f"{page.url}: HTTP {page.status}")
            if page.untranslated:
                lines.append(f"{page.url}: untranslated {sorted(page.untranslated)}")
            if english and page.english:
                lines.append(f"{page.url}: English labels {sorted(page.english)}")
        return lines


def _route(pattern) -> str:
    return str(pattern.pattern).lstrip("^").rstrip("$")


def _fill(route: str, object_id) -> str | None:
    names = [m.group("name") for m in _ARG.finditer(route)]
    if not names:
        return route
    if set(names) <= _OBJECT_ARGS and object_id is not None:
        return _ARG.sub(str(object_id), route)
    return None


def _admin_urls(request_user) -> tuple[list[str], list[tuple[str, str]]]:
    from django.test import RequestFactory

    urls, skipped = ["/admin/"], []
    request = RequestFactory().get("/admin/")
    request.user = request_user
    for pattern in admin.site.get_urls():
        if isinstance(pattern, URLResolver):
            continue
        route = _route(pattern)
        if pattern.name in _SITE_SKIPPED:
            skipped.append((f"/admin/{route}", "site URL that acts or needs arguments"))
        elif pattern.name == "app_list":
            urls += [f"/admin/{label}/" for label in sorted({m._meta.app_label for m in admin.site._registry})]
        elif pattern.name != "index" and _fill(route, None) is not None:
            urls.append(f"/admin/{route}")
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        prefix = f"/admin/{opts.app_label}/{opts.model_name}/"
        obj = model._default_manager.order_by("pk").first()
        actions = set()
        for kind in ("list", "row", "detail", "submit_line"):
            base = getattr(model_admin, f"_get_base_actions_{kind}", None)
            actions |= {a.action_name for a in base()} if base else set()
        for pattern in model_admin.get_urls():
            route = _route(pattern)
            if isinstance(pattern, URLResolver):
                skipped.append((prefix + route, "nested URLs"))
                continue
            if pattern.name in actions:
                skipped.append((prefix + route, "unfold action: runs on GET"))
                continue
            if pattern.name and pattern.name.endswith("_add") and not model_admin.has_add_permission(request):
                continue
            if pattern.name and pattern.name.endswith("_delete") and not model_admin.has_delete_permission(request, obj):
                continue
            filled = _fill(route, obj.pk if obj is not None else None)
            if filled is None:
                reason = "no row to open" if obj is None else "needs arguments"
                skipped.append((prefix + route, reason))
                continue
            urls.append(prefix + filled)
    return urls, skipped


def _other_console_urls() -> tuple[list[str], list[tuple[str, str]]]:
    """Pages under /admin/ mounted outside the admin site (e.g. /admin/campaign-reports/)."""
    urls, skipped = [], []

    def visit(patterns, prefix: str):
        for pattern in patterns:
            route = prefix + _route(pattern)
            if isinstance(pattern, URLResolver):
                if getattr(pattern, "app_name", None) == "admin" or not ("admin/".startswith(route[:6]) or route.startswith("admin/")):
                    continue
                visit(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("admin/"):
                filled = _fill(route, None)
                if filled is None:
                    skipped.append(("/" + route, "needs arguments"))
                else:
                    urls.append("/" + filled)

    visit(get_resolver().url_patterns, "")
    return urls, skipped


def walk(client, user, *, language: str = ZH) -> Walk:
    untranslated = untranslated_msgids() if language == ZH else set()
    result = Walk()
    site_urls, site_skipped = _admin_urls(user)
    other_urls, other_skipped = _other_console_urls()
    result.skipped = site_skipped + other_skipped
    for url in dict.fromkeys(site_urls + other_urls):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        page = Page(url=url, status=response.status_code, content_type=response.get("Content-Type", ""))
        if response.status_code == 200 and "text/html" in page.content_type:
            html = response.content.decode()
            page.untranslated = untranslated_on_page(html, untranslated)
            if language == ZH:
                page.english = english_labels(html)
        result.pages.append(page)
    return result


def console_sample_data() -> list[str]:
    """One row for every registered model that has none; returns the models still without one."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django_celery_beat.models import (
        ClockedSchedule,
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        SolarSchedule,
    )

    from accounts.models import ChannelAccount
    from audit.services import audit_record
    from campaigns.models import Campaign, OperatorIdentity, Suppression
    from customers.models import ChannelIdentity, ConsentCredit, Customer, CustomerMerge, CustomerTag, EngagementEvent
    from customers.segments.models import Segment, SegmentSnapshot
    from messaging.callbacks.models import AutoReplyRule, InboundMessage
    from tests import factories

    def first_or(model, make):
        return model._default_manager.order_by("pk").first() or make()

    user = get_user_model().objects.filter(is_superuser=True).order_by("pk").first()
    account = first_or(ChannelAccount, lambda: factories.ChannelAccountFactory(name="演示服务号"))
    # Names in Chinese: a page heading showing an object's name must not read as an English label.
    customer = first_or(Customer, lambda: factories.CustomerFactory(display_name="王小明"))
    identity = first_or(ChannelIdentity, lambda: factories.ChannelIdentityFactory(account=account, customer=customer))
    tag = first_or(factories.Tag, lambda: factories.TagFactory(name="咖啡", group=factories.TagGroupFactory(name="兴趣")))
    first_or(CustomerTag, lambda: CustomerTag.objects.create(customer=customer, tag=tag))
    first_or(ConsentCredit, lambda: ConsentCredit.objects.create(customer=customer, account=account, template_id="TPL-1", remaining=1))
    first_or(CustomerMerge, lambda: CustomerMerge.objects.create(
        survivor=customer, merged_customer_id=customer.pk + 100000, merged_snapshot={"display_name": "x"}, reason="unionid"))
    first_or(EngagementEvent, lambda: EngagementEvent.objects.create(customer=customer, account=account, event_type="link.click"))
    segment = first_or(Segment, lambda: factories.SegmentFactory(name="咖啡爱好者", members=[customer]))
    try:
        from customers.segments.services import segment_snapshot_create

        first_or(SegmentSnapshot, lambda: segment_snapshot_create(segment=segment))
    except Exception:
        pass
    campaign = first_or(Campaign, lambda: factories.CampaignFactory(name="新品上市", account=account, segment=segment))
    first_or(factories.Delivery, lambda: factories.DeliveryFactory(campaign=campaign, customer=customer))
    first_or(Suppression, lambda: Suppression.objects.create(campaign=campaign, customer=customer, reason="frequency_day"))
    first_or(factories.ContactPolicy, factories.ContactPolicyFactory)
    if user is not None:
        first_or(OperatorIdentity, lambda: OperatorIdentity.objects.create(user=user, identity=identity))
        audit_record(user=user, action="change", obj=campaign, changes={"name": {"before": "a", "after": "b"}})
    first_or(AutoReplyRule, lambda: AutoReplyRule.objects.create(account=account, keyword="hi", reply_text="hello"))
    first_or(InboundMessage, lambda: InboundMessage.objects.create(account=account, dedupe_key="walk-1", raw_payload="<xml/>"))
    from messaging.channels.moment_models import WeComMoment

    first_or(WeComMoment, lambda: WeComMoment.objects.create(account=account, text="新品上市，欢迎到店咨询"))
    try:
        from messaging.template_library.models import MessageTemplate

        first_or(MessageTemplate, lambda: MessageTemplate.objects.create(
            account=account, kind="template", template_id="TPL-1", title="Order shipped", synced_at=timezone.now()))
    except ImportError:
        pass
    try:
        from messaging.content.models import Article, Material

        first_or(Material, lambda: Material.objects.create(
            account=account, kind="image", name="cover.png", media_id="M-1", content_type="image/png", size=8,
            data=b"\x89PNG\r\n\x1a\n", uploaded_at=timezone.now()))
        first_or(Article, lambda: Article.objects.create(
            account=account, media_id="D-1", items=[{"title": "春季新品", "content": "<p>x</p>", "thumb_media_id": "M-1"}]))
    except ImportError:
        pass
    from menus.models import Menu, MenuVersion

    menu = first_or(Menu, lambda: Menu.objects.create(account=account, name="默认菜单"))
    first_or(MenuVersion, lambda: MenuVersion.objects.create(menu=menu, number=1, buttons=[
        {"type": "click", "name": "今日推荐", "key": "TODAY", "action": {"type": "reply_text", "text": "你好"}}]))
    from messaging.inbox.models import (
        Conversation,
        ConversationMessage,
        InboxOperator,
        InboxSettings,
        KfAccount,
        QuickReply,
    )

    conversation = first_or(Conversation, lambda: Conversation.objects.create(
        account=account, customer=customer, identity=identity, opened_at=timezone.now(), last_message_at=timezone.now(), last_preview="在吗"))
    first_or(ConversationMessage, lambda: ConversationMessage.objects.create(
        conversation=conversation, inbound=True, msg_type="text", body={"Content": "在吗"}, status="received", created_at=timezone.now(), dedupe_key="walk-1"))
    first_or(QuickReply, lambda: QuickReply.objects.create(title="问候", text="您好，请问有什么可以帮您？"))
    first_or(InboxSettings, lambda: InboxSettings.objects.create(account=account))
    first_or(KfAccount, lambda: KfAccount.objects.create(account=account, kf_account="kefu1@gh_brand", nickname="小美", kf_wx="xiaomei"))
    if user is not None:
        first_or(InboxOperator, lambda: InboxOperator.objects.create(user=user, online=True))
    first_or(Group, lambda: Group.objects.create(name="walk"))
    interval = first_or(IntervalSchedule, lambda: IntervalSchedule.objects.create(every=10, period="seconds"))
    first_or(CrontabSchedule, lambda: CrontabSchedule.objects.create(minute="0", hour="9"))
    first_or(SolarSchedule, lambda: SolarSchedule.objects.create(event="sunrise", latitude=31.23, longitude=121.47))
    first_or(ClockedSchedule, lambda: ClockedSchedule.objects.create(clocked_time=timezone.now() + timedelta(days=1)))
    first_or(PeriodicTask, lambda: PeriodicTask.objects.create(name="walk", task="celery.backend_cleanup", interval=interval))
    return sorted(m._meta.label for m in admin.site._registry if not m._default_manager.exists())
