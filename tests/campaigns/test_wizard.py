"""The campaign wizard in the admin: created the way a browser posts it (no JSON typed), errors as
form errors, previews, the zero-reach guard, the buttons' permissions and the progress JSON."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign
from messaging.template_library.models import MessageTemplate
from tests.campaigns.test_planning import pushed
from tests.factories import CampaignFactory, ChannelAccountFactory, TagFactory

pytestmark = pytest.mark.django_db

ADD = "/admin/campaigns/campaign/add/"
ORDER_KEYS = [
    {"key": "first", "label": "标题", "rule": ""},
    {"key": "keyword1", "label": "订单号", "rule": ""},
]


def operator(*perms: str) -> Client:
    """A logged-in staff operator whose rights are exactly these permissions (through a group)."""
    n = get_user_model().objects.count() + 1
    group = Group.objects.create(name=f"wizard-{n}")
    for perm in perms:
        app_label, codename = perm.split(".")
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    user = get_user_model().objects.create_user(f"op{n}", password="pw-operator-123", is_staff=True)
    user.groups.add(group)
    client = Client()
    client.force_login(user)
    client.user = user
    return client


EDITOR = ("campaigns.view_campaign", "campaigns.add_campaign", "campaigns.change_campaign")


def order_template(account, **fields):
    return MessageTemplate.objects.create(
        account=account, kind="template", template_id="TPL-ORDER", title="订单发货通知", keys=ORDER_KEYS,
        content="{{first.DATA}}\n订单号：{{keyword1.DATA}}", synced_at=timezone.now(), **fields,
    )


def form(account, seg, **fields):
    """The add form as the browser posts it: plain fields, empty optional inputs included."""
    data = {
        "name": "Spring sale", "account": account.pk, "message_type": "customer_service", "priority_class": "marketing",
        "segment": seg.pk if seg else "", "holdout_percent": "0", "scheduled_at_0": "", "scheduled_at_1": "", "send_window_start": "",
        "send_window_end": "", "min_predicted_engagement": "", "top_percent": "", "recurrence": "", "text": "", "url": "",
        "key_words": "", "_save": "Save",
    }
    data.update(fields)
    return data


@pytest.fixture
def audience(plan_account, make_audience, static_segment):
    people = make_audience(plan_account, 3, city="上海")
    for _, identity in people:
        identity.last_interaction_at = timezone.now()
        identity.save()
    return static_segment([c for c, _ in people]), people


def test_wizard_creates_a_template_campaign_from_the_library_without_json(plan_account, audience, api_client):
    segment, _ = audience
    template = order_template(plan_account)
    topic = TagFactory(name="新品")
    client = operator(*EDITOR)
    response = client.post(ADD, form(
        plan_account, segment, message_type="template", message_template=template.pk, priority_class="marketing",
        key__first="您好 {{ customer.display_name }}", key__keyword1="SO-1", url="https://shop.example.com/orders", topics=[topic.pk],
    ))
    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get()
    assert campaign.content == {
        "template_id": "TPL-ORDER", "template_keys": ["first", "keyword1"],
        "fields": {"first": "您好 {{ customer.display_name }}", "keyword1": "SO-1"}, "url": "https://shop.example.com/orders",
    }
    # Template messages are service notifications: the wizard sends them as transactional.
    assert campaign.priority_class == "transactional"
    assert campaign.segment_id == segment.pk and list(campaign.topics.all()) == [topic]
    assert campaign.created_by == client.user
    # The API reads the wizard's campaign like its own, and the change page reads it back.
    assert api_client.get(f"/api/v1/campaigns/{campaign.pk}/").json()["content"] == campaign.content
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert '"keyword1": "SO-1"' in page and 'value="https://shop.example.com/orders"' in page


@pytest.mark.parametrize("message_type", ["customer_service", "mass"])
def test_wizard_creates_text_campaigns(plan_account, audience, message_type):
    segment, _ = audience
    text = "周末上新，全场 8 折 https://shop.example.com/sale"
    response = operator(*EDITOR).post(ADD, form(plan_account, segment, message_type=message_type, text=text))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Campaign.objects.get().content == {"text": text}


def test_wizard_creates_wecom_group_text_with_attachments(audience):
    segment, _ = audience
    wecom = ChannelAccountFactory(kind="wecom")
    response = operator(*EDITOR).post(ADD, form(
        wecom, segment, message_type="wecom_group", text="新品到店",
        attachment_kind_0="link", attachment_title_0="新品", attachment_url_0="https://shop.example.com/new",
        attachment_kind_1="image", attachment_url_1="https://cdn.example.com/a.png",
    ))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Campaign.objects.get().content == {
        "text": "新品到店",
        "attachments": [
            {"msgtype": "link", "link": {"title": "新品", "url": "https://shop.example.com/new"}},
            {"msgtype": "image", "image": {"pic_url": "https://cdn.example.com/a.png"}},
        ],
    }


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # Mass sends are one list call: no per-customer variables.
        ({"message_type": "mass", "text": "您好 {{ customer.display_name }}"}, "不能包含变量"),
        ({"message_type": "customer_service", "text": "{{ customer.phone }}"}, "customer.phone"),
        ({"message_type": "customer_service", "text": ""}, "请填写消息正文"),
        ({"message_type": "template"}, "请从账号的模板库中选择模板"),
        ({"message_type": "wecom_group", "text": "hi"}, "不能从服务号发送"),
        ({"message_type": "inbox"}, "不能从服务号发送"),
        ({"message_type": "customer_service", "text": "hi", "segment": ""}, "该字段是必填项"),
    ],
)
def test_wizard_problems_are_form_errors_in_chinese(plan_account, audience, fields, expected):
    segment, _ = audience
    response = operator(*EDITOR).post(ADD, form(plan_account, segment, **fields), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    assert expected in response.content.decode()
    assert not Campaign.objects.exists()


def test_template_keys_must_all_be_filled_and_belong_to_the_account(plan_account, audience):
    segment, _ = audience
    template = order_template(plan_account)
    client = operator(*EDITOR)
    page = client.post(ADD, form(plan_account, segment, message_type="template", message_template=template.pk, key__first="x"),
                       HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "订单号" in page and "请填写模板的每个关键词" in page
    other = order_template(ChannelAccountFactory(kind="oa"))
    page = client.post(ADD, form(plan_account, segment, message_type="template", message_template=other.pk, key__first="x", key__keyword1="y"),
                       HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "该模板不属于所选账号和消息类型" in page
    assert not Campaign.objects.exists()


def test_preview_renders_for_a_member_of_the_segment_with_title_and_link_check(plan_account, audience, settings):
    settings.CAMPAIGN_LINK_DOMAINS = ["example.com"]
    segment, people = audience
    chosen = people[1][0]
    text = "亲爱的{{ customer.display_name }}，您的专属周末礼券已到账 http://evil.test/x https://shop.example.com/a"
    response = operator(*EDITOR).post(
        "/admin/campaigns/campaign/wizard/preview/", form(plan_account, segment, text=text, sample_customer=str(chosen.pk), key_words="礼券")
    )
    assert response.status_code == 200
    body = response.json()
    preview = body["preview"]
    assert preview["customer"] == {"id": chosen.pk, "name": chosen.display_name}
    rendered = f"亲爱的{chosen.display_name}，您的专属周末礼券已到账 http://evil.test/x https://shop.example.com/a"
    assert preview["parts"][0]["value"] == rendered
    assert preview["title"]["preview"] == rendered[:16] and preview["title"]["truncated"]
    links = {link["url"]: link for link in preview["links"]}
    assert links["https://shop.example.com/a"]["ok"]
    assert not links["http://evil.test/x"]["ok"] and len(links["http://evil.test/x"]["problems"]) == 2
    # A preview creates no tracked link and no campaign.
    assert not Campaign.objects.exists()


def test_preview_with_a_broken_template_answers_errors_not_a_500(plan_account, audience):
    segment, _ = audience
    response = operator(*EDITOR).post("/admin/campaigns/campaign/wizard/preview/", form(plan_account, segment, text="{% for x in y %}"))
    assert response.status_code == 200
    assert response.json()["ok"] is False and response.json()["errors"]


def test_audience_count_and_sample(plan_account, audience):
    segment, people = audience
    body = operator("campaigns.view_campaign").get(f"/admin/campaigns/campaign/wizard/audience/?segment={segment.pk}").json()
    assert body["count"] == 3 and {c["id"] for c in body["sample"]} == {c.pk for c, _ in people}
    assert operator("campaigns.view_campaign").get("/admin/campaigns/campaign/wizard/audience/?segment=999999").status_code == 404


@pytest.fixture
def capped_campaign(plan_account, audience, contact_policy):
    """A marketing campaign whose whole audience already had its push today (frequency_day)."""
    segment, people = audience
    for customer, _ in people:
        pushed(customer, plan_account, at=timezone.now())
    return CampaignFactory(account=plan_account, segment=segment, message_type="customer_service", content={"text": "周末上新"})


def test_zero_reach_is_warned_and_scheduling_needs_explicit_confirmation(capped_campaign, plan_account, django_capture_on_commit_callbacks):
    client = operator(*EDITOR)
    body = client.post("/admin/campaigns/campaign/wizard/policy-preview/", {
        **form(plan_account, None, segment=capped_campaign.segment_id, text="周末上新"), "campaign_id": capped_campaign.pk,
    }, HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    assert body["predicted_reach"] == 0 and body["zero_reach"]
    assert body["suppressed"] == [{"reason": "frequency_day", "count": 3, "label": "已达每日上限"}]
    assert "没有人会收到" in body["warning"]

    url = f"/admin/campaigns/campaign/{capped_campaign.pk}/do/schedule/"
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'data-testid="action-zero-reach-warning"' in page and "已达每日上限" in page
    page = client.post(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'data-testid="action-confirm-error"' in page
    capped_campaign.refresh_from_db()
    assert capped_campaign.state == "draft"

    with django_capture_on_commit_callbacks(execute=False):
        assert client.post(url, {"confirm_zero_reach": "1"}).status_code == 302
    capped_campaign.refresh_from_db()
    assert capped_campaign.state == "scheduled"
    assert LogEntry.objects.filter(object_id=str(capped_campaign.pk), change_message="Scheduled: draft → scheduled").exists()

    # Planned: nobody reached, and the list says so instead of "0.0% · 0/0".
    services.campaign_plan(campaign_id=capped_campaign.pk)
    listing = client.get("/admin/campaigns/campaign/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "无人触达" in listing and "已达每日上限" in listing
    progress = client.get(f"/admin/campaigns/campaign/{capped_campaign.pk}/progress.json").json()
    assert progress["nobody_reached"] and progress["audience"] == 3


def test_viewer_cannot_schedule_and_only_a_publisher_approves(plan_account, audience, contact_policy):
    segment, _ = audience
    campaign = CampaignFactory(account=plan_account, segment=segment, content={"text": "hi"})
    viewer = operator("campaigns.view_campaign")
    assert viewer.get(ADD).status_code == 403
    assert viewer.get(f"/admin/campaigns/campaign/{campaign.pk}/do/schedule/").status_code == 403
    assert viewer.post(f"/admin/campaigns/campaign/{campaign.pk}/do/schedule/").status_code == 403
    assert 'data-testid="campaign-action-schedule"' not in viewer.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()

    campaign.state = "pending_approval"
    campaign.save()
    editor = operator(*EDITOR)
    assert 'data-testid="campaign-action-approve"' not in editor.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert editor.post(f"/admin/campaigns/campaign/{campaign.pk}/do/approve/").status_code == 403
    publisher = operator(*EDITOR, "campaigns.approve_campaign")
    assert 'data-testid="campaign-action-approve"' in publisher.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert publisher.post(f"/admin/campaigns/campaign/{campaign.pk}/do/approve/").status_code == 302
    campaign.refresh_from_db()
    assert campaign.state == "scheduled" and campaign.approved_by == publisher.user
    assert LogEntry.objects.filter(object_id=str(campaign.pk), user=publisher.user, change_message__startswith="Approved").exists()


def test_pause_resume_cancel_buttons_follow_the_state(plan_account, audience):
    segment, _ = audience
    campaign = CampaignFactory(account=plan_account, segment=segment, state="sending", planned_at=timezone.now())
    client = operator(*EDITOR)
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert 'data-testid="campaign-action-pause"' in page and 'data-testid="campaign-action-resume"' not in page
    assert "是否暂停" in client.get(f"/admin/campaigns/campaign/{campaign.pk}/do/pause/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert client.post(f"/admin/campaigns/campaign/{campaign.pk}/do/pause/").status_code == 302
    campaign.refresh_from_db()
    assert campaign.state == "paused"
    # Resume is not offered twice: a second pause is refused with a message, not a 500.
    response = client.post(f"/admin/campaigns/campaign/{campaign.pk}/do/pause/", follow=True)
    assert response.status_code == 200 and campaign.__class__.objects.get(pk=campaign.pk).state == "paused"
    assert client.post(f"/admin/campaigns/campaign/{campaign.pk}/do/cancel/").status_code == 302
    campaign.refresh_from_db()
    assert campaign.state == "cancelled"
    assert [e.change_message for e in LogEntry.objects.filter(object_id=str(campaign.pk)).order_by("pk")] == [
        "Paused: sending → paused", "Cancelled: paused → cancelled",
    ]
    assert client.get(f"/admin/campaigns/campaign/{campaign.pk}/do/nonsense/").status_code == 404


def test_editing_a_sending_campaign_is_a_form_error(plan_account, audience):
    segment, _ = audience
    campaign = CampaignFactory(account=plan_account, segment=segment, state="sending", content={"text": "hi"})
    response = operator(*EDITOR).post(f"/admin/campaigns/campaign/{campaign.pk}/change/", form(plan_account, segment, text="changed"),
                                      HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200 and "不能编辑" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.content == {"text": "hi"}


def test_progress_json_and_page(plan_account, audience):
    segment, _ = audience
    campaign = CampaignFactory(account=plan_account, segment=segment, state="sending", planned_at=timezone.now(), audience_count=3)
    viewer = operator("campaigns.view_campaign")
    body = viewer.get(f"/admin/campaigns/campaign/{campaign.pk}/progress.json").json()
    assert body["state"] == "sending" and body["total"] == 0 and body["report_url"] == f"/admin/campaign-reports/?campaign={campaign.pk}"
    assert set(body) >= {"sent", "remaining", "percent", "rate_per_second", "eta_seconds", "counts", "nobody_reached"}
    page = viewer.get(f"/admin/campaigns/campaign/{campaign.pk}/progress/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'data-testid="progress-report-link"' in page and "campaigns/progress.js" in page
    assert operator().get(f"/admin/campaigns/campaign/{campaign.pk}/progress.json").status_code == 403


def test_test_send_button_sends_to_my_own_identity_only(sandbox, sandbox_oa, sandbox_followers, static_segment, contact_policy):
    from collections import Counter

    from campaigns.models import OperatorIdentity

    people = sandbox_followers(sandbox_oa, 3)
    client = operator(*EDITOR)
    campaign = CampaignFactory(
        account=sandbox_oa, segment=static_segment([c for c, _ in people]), message_type="template", priority_class="transactional",
        content={"template_id": "T1", "template_keys": ["first"], "fields": {"first": "Hi {{ customer.display_name }}"}},
    )
    url = f"/admin/campaigns/campaign/{campaign.pk}/do/test_send/"
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'data-testid="action-no-identity"' in page
    mine = people[0][1]
    OperatorIdentity.objects.create(user=client.user, identity=mine)
    assert 'data-testid="action-identity"' in client.get(url).content.decode()
    response = client.post(url, {"identity": str(mine.pk)}, follow=True, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "测试发送：1 个身份中有 1 个已收到" in response.content.decode()
    sent = sandbox.control.sent_messages(app_id=sandbox_oa.app_id, api="template")
    assert Counter(m["touser"] for m in sent) == Counter({mine.external_id: 1})
    assert LogEntry.objects.filter(object_id=str(campaign.pk), change_message="Test send: 1/1 sent").exists()


def test_wizard_creates_a_variant_test_in_cells_mode(plan_account, audience):
    segment, _ = audience
    response = operator(*EDITOR).post(ADD, form(
        plan_account, segment, message_type="mass", text="",
        variant_mode="cells", variant_texts="春季新品 8 折\n---\n你的衣橱少了这一件？\n---\n限量 200 件 今天开抢",
        variant_cell_percent=10, variant_wait_hours=2, variant_min_sample=50,
    ))
    assert response.status_code == 302, response.content.decode()[:3000]
    content = Campaign.objects.get().content
    assert content["variants"] == [{"text": "春季新品 8 折"}, {"text": "你的衣橱少了这一件？"}, {"text": "限量 200 件 今天开抢"}]
    assert content["variant_test"] == {"mode": "cells", "cell_percent": 10, "wait_minutes": 120, "min_sample": 50}
    assert content["text"] == "春季新品 8 折"


def test_wizard_refuses_a_variant_test_with_one_version_in_chinese(plan_account, audience):
    segment, _ = audience
    page = operator(*EDITOR).post(ADD, form(plan_account, segment, message_type="mass", text="x", variant_mode="split", variant_texts="只有一个"),
                                  HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "请写 2 到 8 个版本" in page and Campaign.objects.count() == 0


def test_wizard_creates_an_mpnews_mass_send_from_an_article(plan_account, audience):
    from messaging.content.models import Article

    segment, _ = audience
    article = Article.objects.create(account=plan_account, items=[{"title": "春季新品", "content": "x", "thumb_media_id": "t"}], media_id="MEDIA-1")
    response = operator(*EDITOR).post(ADD, form(plan_account, segment, message_type="mass", mass_msgtype="mpnews", mass_article=article.pk))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Campaign.objects.get().content == {"msgtype": "mpnews", "media_id": "MEDIA-1", "title": "春季新品"}


def test_preview_shows_every_variants_first_16_characters_and_an_mpnews_send(plan_account, audience):
    from messaging.content.models import Article

    segment, _ = audience
    client = operator(*EDITOR)
    body = client.post("/admin/campaigns/campaign/wizard/preview/", form(
        plan_account, segment, message_type="mass", variant_mode="split",
        variant_texts="春季新品 8 折 今天开抢 限量 200 件\n---\n短标题")).json()
    assert body["preview"]["variants"] == [
        {"label": "A", "preview": "春季新品 8 折 今天开抢 限量", "truncated": True}, {"label": "B", "preview": "短标题", "truncated": False}]
    article = Article.objects.create(account=plan_account, items=[{"title": "春季新品上市", "content": "x", "thumb_media_id": "t"}], media_id="MEDIA-9")
    body = client.post("/admin/campaigns/campaign/wizard/preview/", form(plan_account, segment, message_type="mass", mass_msgtype="mpnews", mass_article=article.pk)).json()
    assert [p["value"] for p in body["preview"]["parts"]] == ["mpnews", "MEDIA-9"]
    assert body["preview"]["title"]["preview"] == "春季新品上市"
