"""`python manage.py seed_demo`: a demo operator, demo WeChat accounts on the sandbox, tag groups and
a few thousand customers with identities and tags. Idempotent: a second run changes nothing but the
accounts' sandbox URL (the sandbox port may differ between runs).

The seeder spans the apps (customers need accounts), so it reaches messaging's model through the
app registry and its services lazily; customers' domain code itself stays free of messaging.
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import ChannelAccount
from customers.models import (
    ChannelIdentity,
    Customer,
    FollowState,
    Tag,
    TagSource,
)
from customers.services.bulk import CustomerUpsert, IdentityUpsert, customers_upsert_bulk
from customers.services.events import event_record
from customers.services.tags import tag_ensure, tag_links_add_bulk
from messaging.sandbox.control import SandboxControl
from messaging.services import account_register_with_sandbox
from messaging.template_library.services import message_templates_sync
from scrm.errors import ApplicationError
from scrm.fields import lookup_hash

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-scrm-2024"
# The demo accounts' credentials: public on purpose, they only ever talk to the local sandbox.
DEMO_ACCOUNTS = [
    {
        "kind": "oa",
        "name": "Demo 咖啡 服务号",
        "app_id": "wxdemo0000000001",
        "app_secret": "demo-oa-secret-0123456789abcdef0",
        "token": "demotoken2024",
        "encoding_aes_key": "DemoAESKeyDemoAESKeyDemoAESKeyDemoAESKey012",
    },
    {
        "kind": "wecom",
        "name": "Demo 企业微信 客户联系",
        "app_id": "wwdemo0000000001",
        "agent_id": "1000002",
        "app_secret": "demo-wecom-secret-0123456789abcd",
        "token": "demowecomtoken",
        "encoding_aes_key": "WeComDemoKeyWeComDemoKeyWeComDemoKeyWeCom01",
    },
    {
        "kind": "miniprogram",
        "name": "Demo 小程序 商城",
        "app_id": "wxdemo0000000mp1",
        "app_secret": "demo-mp-secret-0123456789abcdef01",
        "token": "demomptoken2024",
        "encoding_aes_key": "MiniProgramDemoKeyMiniProgramDemoKeyMiniPr1",
    },
]
TAG_GROUPS = {
    "兴趣圈层": ["咖啡", "茶饮", "烘焙", "轻食", "户外", "宠物"],
    "消费偏好": ["高客单", "价格敏感", "会员日活跃", "新品尝鲜"],
    "生命周期": ["新客", "活跃", "沉睡", "流失预警"],
}
# The demo accounts' template libraries, seeded into the sandbox (as the account's owner would pick
# them in WeChat's console) and then synced into the product like any account's.
DEMO_TEMPLATES = {
    "oa": [
        ("template", "订单发货通知",
         "订单编号：{{character_string1.DATA}}\n商品名称：{{thing2.DATA}}\n快递公司：{{thing3.DATA}}\n快递单号：{{character_string4.DATA}}\n发货时间：{{time5.DATA}}",
         "订单编号：20261206001\n商品名称：冷萃咖啡礼盒\n快递公司：顺丰速运\n快递单号：SF1234567890\n发货时间：2026-12-06 10:30"),
        ("template", "会员积分变动提醒",
         "会员卡号：{{character_string1.DATA}}\n变动积分：{{number2.DATA}}\n当前积分：{{number3.DATA}}\n变动原因：{{thing4.DATA}}\n变动时间：{{time5.DATA}}",
         "会员卡号：VIP0008812\n变动积分：20\n当前积分：1520\n变动原因：门店消费\n变动时间：2026-12-06 10:30"),
        ("template", "活动报名成功通知",
         "活动名称：{{thing1.DATA}}\n活动时间：{{time2.DATA}}\n活动地点：{{thing3.DATA}}\n报名人：{{name4.DATA}}",
         "活动名称：周末手冲咖啡课\n活动时间：2026-12-12 14:00\n活动地点：静安店二楼\n报名人：王芳"),
        ("subscribe", "新品上架提醒",
         "商品名称：{{thing1.DATA}}\n上架时间：{{time2.DATA}}\n温馨提示：{{thing3.DATA}}",
         "商品名称：圣诞限定拿铁\n上架时间：2026-12-20 09:00\n温馨提示：门店与小程序同步发售"),
    ],
    "miniprogram": [
        ("subscribe", "订单发货通知",
         "订单号：{{character_string1.DATA}}\n商品名称：{{thing2.DATA}}\n发货时间：{{date3.DATA}}",
         "订单号：20261206001\n商品名称：冷萃咖啡礼盒\n发货时间：2026年12月6日"),
        ("subscribe", "优惠券到账提醒",
         "优惠券名称：{{thing1.DATA}}\n优惠金额：{{amount2.DATA}}\n有效期至：{{date3.DATA}}",
         "优惠券名称：会员日满减券\n优惠金额：¥20.00\n有效期至：2026年12月31日"),
        ("subscribe", "活动报名成功通知",
         "活动名称：{{thing1.DATA}}\n活动时间：{{time2.DATA}}\n报名人：{{name3.DATA}}",
         "活动名称：周末手冲咖啡课\n活动时间：2026-12-12 14:00\n报名人：王芳"),
    ],
}
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红"
_CITIES = [("上海", "上海"), ("北京", "北京"), ("广州", "广东"), ("深圳", "广东"), ("杭州", "浙江"), ("成都", "四川"), ("南京", "江苏"), ("武汉", "湖北")]


HISTORY_DAYS = 30


def _template_id(app_id: str, kind: str, title: str) -> str:
    # 43 URL-safe characters, like WeChat's template ids.
    digest = hashlib.sha256(f"{app_id}/{kind}/{title}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:43]


def _fake_openid(prefix: str, n: int) -> str:
    # 28 characters like a real openid, stable across runs (idempotent seeding).
    return prefix + hashlib.sha256(f"{prefix}-{n}".encode()).hexdigest()[: 28 - len(prefix)]


class Command(BaseCommand):
    help = "Create the demo operator, demo accounts (on the sandbox), tag groups and demo customers."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=3000, help="number of demo customers (default 3000)")

    def handle(self, *args, customers: int, **options):
        accounts = self._accounts()
        self._operator()
        tags = self._tags()
        created = self._customers(n=customers, accounts=accounts, tags=tags)
        registered = self._sandbox(accounts)
        self._report(accounts=accounts, created=created, registered=registered)

    # --- pieces ----------------------------------------------------------------------------

    def _operator(self) -> None:
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(username=DEMO_USERNAME, defaults={"email": "demo@example.com"})
        if created or not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
        user.is_staff = user.is_superuser = True
        user.save()

    def _accounts(self) -> list:
        accounts = []
        for spec in DEMO_ACCOUNTS:
            account, created = ChannelAccount.objects.get_or_create(
                kind=spec["kind"], app_id=spec["app_id"], defaults={**spec, "api_base_url": settings.SANDBOX_BASE_URL}
            )
            if not created and account.api_base_url != settings.SANDBOX_BASE_URL:
                account.api_base_url = settings.SANDBOX_BASE_URL
                account.save(update_fields=["api_base_url", "updated_at"])
            accounts.append(account)
        return accounts

    def _tags(self) -> dict[str, list[Tag]]:
        result: dict[str, list[Tag]] = {}
        for group_name, names in TAG_GROUPS.items():
            result[group_name] = [tag_ensure(group_name=group_name, name=name) for name in names]
        return result

    @transaction.atomic
    def _customers(self, *, n: int, accounts: list, tags: dict[str, list[Tag]]) -> int:
        oa, wecom, mp = accounts
        if ChannelIdentity.objects.filter(account=oa, external_id=_fake_openid("oDemo", 0)).exists():
            return 0  # already seeded
        rng = random.Random(20240601)
        now = timezone.now()
        rows: list[CustomerUpsert] = []
        chosen_tags: list[list[tuple[Tag, str]]] = []
        account_by_channel = {"oa": oa, "mp": mp, "wecom": wecom}
        prefix = {"oa": "oDemo", "mp": "oMpDemo", "wecom": "wmDemo"}
        interest, preference, lifecycle = tags["兴趣圈层"], tags["消费偏好"], tags["生命周期"]
        for i in range(n):
            city, province = rng.choice(_CITIES)
            first_seen_at = now - timedelta(days=rng.randint(1, 720))
            values = {
                "display_name": rng.choice(_SURNAMES) + "".join(rng.choices(_GIVEN, k=rng.choice((1, 2)))),
                "gender": rng.choice((0, 1, 2, 2)),
                "city": city,
                "province": province,
                "country": "中国",
                "language": "zh_CN",
                "first_seen_at": first_seen_at,
                "last_engaged_at": now - timedelta(hours=rng.randint(1, 24 * 120)) if rng.random() < 0.8 else None,
                "attributes": {"member_level": rng.choice(["普通", "银卡", "金卡"])} if rng.random() < 0.5 else {},
                "source": rng.choice(["", "qr:store", "qr:event", "wecom:contact_way"]),
            }
            if rng.random() < 0.3:
                phone = "1" + rng.choice("3456789") + "".join(rng.choices("0123456789", k=9))
                values.update(phone=phone, phone_hash=lookup_hash(phone))
            channels = [c for c, p in (("oa", 0.9), ("mp", 0.4), ("wecom", 0.15)) if rng.random() < p] or ["oa"]
            # Everyone on two or more channels has a unionid (that is how WeChat links them).
            unionid = _fake_openid("uDemo", i) if len(channels) > 1 or rng.random() < 0.5 else ""
            identities = []
            for channel in channels:
                account = account_by_channel[channel]
                following = rng.random() < (0.85 if channel == "oa" else 0.95)
                followed_at = min(first_seen_at + timedelta(hours=rng.randint(0, 48)), now)
                identities.append(
                    IdentityUpsert(
                        account_id=account.pk,
                        kind=account.identity_kind,
                        external_id=_fake_openid(prefix[channel], i),
                        unionid=unionid,
                        follow_state=FollowState.FOLLOWING if following else FollowState.UNFOLLOWED,
                        followed_at=followed_at,
                        unfollowed_at=None if following else followed_at + (now - followed_at) * rng.random(),
                        subscribe_scene=rng.choice(["ADD_SCENE_QR_CODE", "ADD_SCENE_SEARCH", "ADD_SCENE_PROFILE_CARD"]) if channel == "oa" else "",
                        owner_staff_id="demo.staff" if channel == "wecom" else "",
                    )
                )
            rows.append(CustomerUpsert(values=values, identities=identities))
            chosen = rng.sample(interest, rng.randint(1, 3)) + [rng.choice(lifecycle)]
            if rng.random() < 0.6:
                chosen.append(rng.choice(preference))
            chosen_tags.append(
                [(tag, rng.choice([TagSource.MANUAL, TagSource.BEHAVIOUR, TagSource.IMPORT, TagSource.RULE])) for tag in chosen]
            )
        result = customers_upsert_bulk(rows)
        links_by_source: dict[str, set[tuple[int, int]]] = defaultdict(set)
        for customer_id, chosen in zip(result.customer_ids, chosen_tags, strict=True):
            for tag, source in chosen:
                links_by_source[source].add((customer_id, tag.pk))
        for source, links in links_by_source.items():
            tag_links_add_bulk(links=links, source=source)
        self._follow_history(rows, result.customer_ids, accounts=(oa, wecom), since=now - timedelta(days=HISTORY_DAYS))
        return n

    def _follow_history(self, rows: list[CustomerUpsert], customer_ids: list[int], *, accounts, since) -> None:
        """The follows and unfollows of the last HISTORY_DAYS days as engagement events, recorded by
        customers' service like a callback would: the dashboard's charts start from real history."""
        kinds = {
            accounts[0].pk: ("wechat.subscribe", "wechat.unsubscribe"),
            accounts[1].pk: ("wecom.add_contact", "wecom.del_contact"),
        }
        for row, customer_id in zip(rows, customer_ids, strict=True):
            for identity in row.identities:
                if identity.account_id not in kinds:
                    continue  # a mini-program has no follow
                follow, unfollow = kinds[identity.account_id]
                for event_type, at in ((follow, identity.followed_at), (unfollow, identity.unfollowed_at)):
                    if at and at >= since:
                        event_record(customer_id=customer_id, event_type=event_type, occurred_at=at,
                                     account_id=identity.account_id)

    def _sandbox(self, accounts: list) -> bool:
        """Register the demo accounts and their followers with the sandbox, when it runs."""
        registered = [account_register_with_sandbox(account_id=a.pk) for a in accounts]
        if not all(registered):
            self.stdout.write(f"sandbox: not reachable at {settings.SANDBOX_BASE_URL}; start it and run seed_demo again")
            return False
        control = SandboxControl(settings.SANDBOX_BASE_URL)
        for account in accounts:
            followers = [
                {"openid": external_id, "unionid": unionid, "name": name}
                for external_id, unionid, name in ChannelIdentity.objects.filter(
                    account=account, follow_state=FollowState.FOLLOWING
                ).values_list("external_id", "unionid", "customer__display_name")
            ]
            try:
                # The sandbox keeps users by openid: adding the same ones again replaces them.
                control.add_followers(
                    account.app_id, followers, staff_userid="demo.staff" if account.kind == "wecom" else None
                )
            except Exception as exc:  # the sandbox is a development aid: report, do not fail seeding
                self.stdout.write(f"sandbox: adding followers of {account.app_id} failed ({exc.__class__.__name__})")
                return False
        self.stdout.write(f"sandbox: demo accounts and their followers registered at {settings.SANDBOX_BASE_URL}")
        self._templates(control, accounts)
        return True

    def _templates(self, control: SandboxControl, accounts: list) -> None:
        """Seed the demo accounts' template libraries in the sandbox and sync them in (the picker)."""
        for account in accounts:
            specs = DEMO_TEMPLATES.get(account.kind)
            if not specs:
                continue
            for kind, title, content, example in specs:
                # A stable id per account and title, so seeding again replaces rather than adds.
                template_id = _template_id(account.app_id, kind, title)
                control.add_template(account.app_id, title, content, kind=kind, example=example, template_id=template_id)
            try:
                result = message_templates_sync(account)
            except ApplicationError as exc:
                self.stdout.write(f"templates of {account.app_id}: sync failed: {exc.message}")
                continue
            self.stdout.write(
                f"templates of {account.app_id}: {result.added} added, {result.updated} updated, {result.unchanged} unchanged"
            )

    def _report(self, *, accounts: list, created: int, registered: bool) -> None:
        oa = accounts[0]
        base = settings.PUBLIC_BASE_URL
        total = Customer.objects.count()
        write = self.stdout.write
        write(self.style.SUCCESS(f"demo data ready: {total} customers ({created} created now)"))
        write(f"  admin:        {base}/admin/   login: {DEMO_USERNAME} / {DEMO_PASSWORD}")
        write(f"  API docs:     {base}/api/docs/")
        write("  demo service account (act as WeChat against it):")
        write(f"    app id:          {oa.app_id}")
        write(f"    token:           {oa.token}")
        write(f"    EncodingAESKey:  {oa.encoding_aes_key}")
        write(f"    callback URL:    {oa.callback_url}")
        write(f"    API base URL:    {oa.resolved_api_base_url}  (sandbox {'registered' if registered else 'not registered'})")
        for account in accounts[1:]:
            write(f"  {account.get_kind_display()}: {account.app_id}  callback {account.callback_url}")
