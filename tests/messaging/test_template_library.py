"""The template library mirrored from WeChat (the sandbox in-process, real PostgreSQL and Redis):
parsing keys, sync (add, update, mark removed, come back), errors an operator understands, the
selectors the campaign wizard reads, the tasks, and the admin's "sync now"."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client
from wechatpy.exceptions import WeChatClientException

from accounts.models import ChannelAccount
from messaging.channels.errors import errcode_meaning
from messaging.template_library.admin import sync_summary
from messaging.template_library.models import MessageTemplate
from messaging.template_library.parsing import key_rule, template_keys_parse
from messaging.template_library.selectors import template_get, templates_for_account
from messaging.template_library.services import message_templates_sync
from messaging.template_library.tasks import message_templates_sync_all_task, message_templates_sync_task
from scrm.errors import ApplicationError
from tests.factories import ChannelAccountFactory

SHIPPED = "订单编号：{{character_string1.DATA}}\n物流公司：{{thing2.DATA}}\n发货时间：{{time3.DATA}}\n金额：{{amount4.DATA}}"
POINTS = "{{first.DATA}}\n变动积分：{{keyword1.DATA}}\n当前积分：{{keyword2.DATA}}\n{{remark.DATA}}"
SIGNUP = "活动名称：{{thing1.DATA}}\n活动时间：{{date2.DATA}}\n联系电话：{{phone_number3.DATA}}"


# --- parsing ---------------------------------------------------------------------------------------


def test_keys_carry_the_label_before_them_and_the_rule_of_their_prefix():
    assert template_keys_parse(SHIPPED) == [
        {"key": "character_string1", "label": "订单编号", "rule": "character_string"},
        {"key": "thing2", "label": "物流公司", "rule": "thing"},
        {"key": "time3", "label": "发货时间", "rule": "time"},
        {"key": "amount4", "label": "金额", "rule": "amount"},
    ]


def test_old_template_message_keys_have_no_rule_and_first_and_remark_no_label():
    assert template_keys_parse(POINTS) == [
        {"key": "first", "label": "", "rule": ""},
        {"key": "keyword1", "label": "变动积分", "rule": ""},
        {"key": "keyword2", "label": "当前积分", "rule": ""},
        {"key": "remark", "label": "", "rule": ""},
    ]


def test_parsing_tolerates_spaced_braces_ascii_colons_two_keys_on_a_line_and_repeats():
    content = "时间: { {date1.DATA} } 至 {{date2.DATA}}\n车牌号 {{car_number3.DATA}}\n再次：{{date1.DATA}}"
    assert template_keys_parse(content) == [
        {"key": "date1", "label": "时间", "rule": "date"},
        {"key": "date2", "label": "至", "rule": "date"},
        {"key": "car_number3", "label": "车牌号", "rule": "car_number"},
    ]
    assert template_keys_parse("") == [] and template_keys_parse("no placeholders") == []


@pytest.mark.parametrize(
    ("key", "rule"),
    [("thing12", "thing"), ("number01", "number"), ("phone_number5", "phone_number"), ("character_string10", "character_string"),
     ("letter3", "letter"), ("symbol4", "symbol"), ("name2", "name"), ("phrase7", "phrase"), ("keyword1", ""), ("first", ""),
     ("remark", ""), ("Remark", ""), ("thing", "")],
)
def test_key_rule(key, rule):
    assert key_rule(key) == rule


# --- sync ------------------------------------------------------------------------------------------


def _seed_oa(sandbox, account):
    control = sandbox.control
    control.add_template(account.app_id, "订单发货通知", SHIPPED, example="订单编号：A1", template_id="tpl-shipped")
    control.add_template(account.app_id, "会员积分变动提醒", POINTS, template_id="tpl-points")
    control.add_template(account.app_id, "活动报名成功通知", SIGNUP, kind="subscribe", template_id="sub-signup")


def _library(account) -> dict[tuple[str, str], MessageTemplate]:
    return {(t.kind, t.template_id): t for t in MessageTemplate.objects.filter(account=account)}


def test_sync_mirrors_both_lists_of_a_service_account(sandbox, oa_account):
    _seed_oa(sandbox, oa_account)
    result = message_templates_sync(oa_account)
    assert (result.added, result.updated, result.removed, result.unchanged) == (3, 0, 0, 0)
    library = _library(oa_account)
    assert set(library) == {("template", "tpl-shipped"), ("template", "tpl-points"), ("subscribe", "sub-signup")}
    shipped = library[("template", "tpl-shipped")]
    assert (shipped.title, shipped.content, shipped.example) == ("订单发货通知", SHIPPED, "订单编号：A1")
    assert (shipped.primary_industry, shipped.deputy_industry) == ("IT科技", "互联网|电子商务")
    assert shipped.keys[3] == {"key": "amount4", "label": "金额", "rule": "amount"}
    assert library[("subscribe", "sub-signup")].keys[2]["rule"] == "phone_number"


def test_sync_is_idempotent(sandbox, oa_account):
    _seed_oa(sandbox, oa_account)
    message_templates_sync(oa_account)
    before = {key: (t.pk, t.keys) for key, t in _library(oa_account).items()}
    again = message_templates_sync(oa_account)
    assert (again.added, again.updated, again.removed, again.unchanged) == (0, 0, 0, 3)
    assert {key: (t.pk, t.keys) for key, t in _library(oa_account).items()} == before


def test_sync_updates_changed_templates_marks_deleted_ones_and_restores_returning_ones(sandbox, oa_account):
    _seed_oa(sandbox, oa_account)
    message_templates_sync(oa_account)
    control = sandbox.control
    control.remove_template(oa_account.app_id, "tpl-points")
    control.add_template(oa_account.app_id, "订单发货提醒", SHIPPED.replace("物流公司", "快递公司"), template_id="tpl-shipped")
    result = message_templates_sync(oa_account)
    assert (result.added, result.updated, result.removed) == (0, 1, 1)
    library = _library(oa_account)
    assert library[("template", "tpl-points")].removed_at is not None
    assert library[("template", "tpl-shipped")].title == "订单发货提醒"
    assert library[("template", "tpl-shipped")].keys[1]["label"] == "快递公司"
    assert [t.template_id for t in templates_for_account(account_id=oa_account.pk, kind="template")] == ["tpl-shipped"]
    # Marked once: a second sync does not count it again.
    assert message_templates_sync(oa_account).removed == 0
    control.add_template(oa_account.app_id, "会员积分变动提醒", POINTS, template_id="tpl-points")
    back = message_templates_sync(oa_account)
    assert (back.added, back.updated, back.removed) == (0, 1, 0)
    assert _library(oa_account)[("template", "tpl-points")].removed_at is None


def test_a_mini_program_syncs_its_subscribe_templates(sandbox, mp_account):
    sandbox.control.add_template(mp_account.app_id, "预约成功通知", "预约项目：{{thing1.DATA}}\n预约时间：{{time2.DATA}}",
                                 kind="subscribe", template_id="mp-sub")
    result = message_templates_sync(mp_account)
    assert result.added == 1
    template = template_get(account_id=mp_account.pk, kind="subscribe", template_id="mp-sub")
    assert template.keys == [{"key": "thing1", "label": "预约项目", "rule": "thing"}, {"key": "time2", "label": "预约时间", "rule": "time"}]


def test_a_wecom_corp_has_no_template_library(wecom_account):
    with pytest.raises(ApplicationError) as refused:
        message_templates_sync(wecom_account)
    assert refused.value.code == "template_sync_unsupported" and refused.value.status_code == 400


def test_a_refused_sync_says_what_the_errcode_means_and_changes_nothing(sandbox, oa_account):
    _seed_oa(sandbox, oa_account)
    message_templates_sync(oa_account)
    # The secret was reset in WeChat's console; the token we hold expires.
    sandbox.control.register_app("oa", oa_account.app_id, "a-secret-reset-in-the-console-000")
    sandbox.control.advance_clock(7201)
    with pytest.raises(ApplicationError) as refused:
        message_templates_sync(oa_account)
    error = refused.value
    assert error.code == "template_sync_failed" and error.status_code == 502
    assert error.detail["errcode"] == 40125 and errcode_meaning(40125) in str(error.message) and oa_account.name in str(error.message)
    assert "40125" in str(error.message)
    assert all(t.removed_at is None for t in _library(oa_account).values())


def test_a_busy_wechat_is_a_retryable_failure(sandbox, oa_account):
    sandbox.control.set_faults(rate_busy=1.0, paths=["template"])
    with pytest.raises(ApplicationError) as busy:
        message_templates_sync(oa_account)
    assert busy.value.status_code == 503 and busy.value.detail["retryable"] is True and busy.value.detail["errcode"] == -1


def test_an_unreachable_wechat_is_a_clear_failure(db, settings):
    settings.WECHAT_SANDBOX_URLS = ["http://127.0.0.1:9/"]  # a listed sandbox that is down
    account = ChannelAccountFactory(kind="oa", api_base_url="http://127.0.0.1:9/")
    with pytest.raises(ApplicationError) as unreachable:
        message_templates_sync(account)
    error = unreachable.value
    assert error.code == "template_sync_failed" and error.status_code == 503 and error.detail["retryable"] is True
    assert "connection_error" in str(error.message) and account.name in str(error.message)


def test_an_api_base_url_that_is_not_wechat_is_refused_clearly(db):
    account = ChannelAccountFactory(kind="oa", api_base_url="http://127.0.0.1:9/")
    with pytest.raises(ApplicationError) as refused:
        message_templates_sync(account)
    assert refused.value.status_code == 502 and refused.value.detail["retryable"] is False
    assert "api_host_refused" in str(refused.value.message)


def test_a_service_account_without_subscribe_messages_still_syncs_its_templates(sandbox, oa_account, monkeypatch):
    from messaging.template_library import services

    def unauthorized(account):
        raise WeChatClientException(48001, "api unauthorized")

    sandbox.control.add_template(oa_account.app_id, "订单发货通知", SHIPPED, template_id="tpl-shipped")
    monkeypatch.setattr(services, "subscribe_templates_get", unauthorized)
    result = message_templates_sync(oa_account)
    assert result.added == 1 and result.skipped == ["subscribe"]
    assert "48001" in sync_summary(oa_account, result)


# --- selectors -------------------------------------------------------------------------------------


def test_selectors_order_by_title_filter_by_kind_and_explain_missing_or_removed(sandbox, oa_account):
    _seed_oa(sandbox, oa_account)
    message_templates_sync(oa_account)
    titles = [t.title for t in templates_for_account(account_id=oa_account.pk)]
    assert titles == sorted(titles) and len(titles) == 3
    assert [t.template_id for t in templates_for_account(account_id=oa_account.pk, kind="subscribe")] == ["sub-signup"]
    with pytest.raises(ApplicationError) as missing:
        template_get(account_id=oa_account.pk, kind="template", template_id="sub-signup")
    assert missing.value.code == "message_template_not_found" and missing.value.status_code == 404
    sandbox.control.remove_template(oa_account.app_id, "tpl-points")
    message_templates_sync(oa_account)
    with pytest.raises(ApplicationError) as removed:
        template_get(account_id=oa_account.pk, kind="template", template_id="tpl-points")
    assert removed.value.code == "message_template_removed"
    assert template_get(account_id=oa_account.pk, kind="template", template_id="tpl-points", include_removed=True).title == "会员积分变动提醒"


# --- tasks -----------------------------------------------------------------------------------------


def test_sync_task_runs_twice_without_changes_and_skips_inactive_or_wecom_accounts(sandbox, oa_account, wecom_account, celery_eager):
    _seed_oa(sandbox, oa_account)
    assert message_templates_sync_task.delay(oa_account.pk).get()["added"] == 3
    assert message_templates_sync_task.delay(oa_account.pk).get()["unchanged"] == 3
    assert message_templates_sync_task.delay(wecom_account.pk).get() == {"skipped": True}
    assert message_templates_sync_all_task.delay().get() == {"accounts": 1, "synced": 1, "failed": 0}


def test_sync_task_records_a_refusal_without_raising(sandbox, oa_account, celery_eager):
    oa_account.app_secret = "a-wrong-secret-000000000000000000"
    oa_account.save()
    answer = message_templates_sync_task.delay(oa_account.pk).get()
    assert answer["error"] == "template_sync_failed" and "40125" in answer["message"]


def test_beat_syncs_every_six_hours_on_the_planning_queue():
    from scrm.celery import app

    entry = app.conf.beat_schedule["message-templates-sync"]
    assert entry["task"] == "messaging.template_library.tasks.message_templates_sync_all_task" and entry["schedule"] == 6 * 3600
    route = app.amqp.router.route({}, "messaging.template_library.tasks.message_templates_sync_task")
    assert route["queue"].name == "planning"


# --- admin -----------------------------------------------------------------------------------------

LIST = "/admin/messaging/messagetemplate/"
SYNC = LIST + "sync-from-wechat/"


@pytest.fixture
def admin_client(admin_user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(admin_user)
    return client


def test_admin_sync_now_fills_the_list_and_says_what_changed(sandbox, oa_account, admin_client):
    _seed_oa(sandbox, oa_account)
    dialog = admin_client.get(SYNC)
    assert dialog.status_code == 200 and oa_account.name in dialog.content.decode()
    answer = admin_client.post(SYNC, {"_form_submitted": "on", "account": oa_account.pk}, HTTP_HX_REQUEST="true")
    assert answer.status_code == 204 and answer["HX-Redirect"] == f"{LIST}?account__id__exact={oa_account.pk}"
    page = admin_client.get(answer["HX-Redirect"]).content.decode()
    assert "订单发货通知" in page and "会员积分变动提醒" in page and "活动报名成功通知" in page
    assert "3" in page and oa_account.name in page
    detail = admin_client.get(f"{LIST}{MessageTemplate.objects.get(template_id='tpl-shipped').pk}/change/")
    assert detail.status_code == 200 and "character_string1" in detail.content.decode()


def test_admin_sync_failure_shows_the_errcode_meaning_not_a_500(sandbox, oa_account, admin_client):
    oa_account.app_secret = "a-wrong-secret-000000000000000000"
    oa_account.save()
    answer = admin_client.post(SYNC, {"_form_submitted": "on", "account": oa_account.pk}, follow=True)
    assert answer.status_code == 200
    page = answer.content.decode()
    assert "40125" in page and ("AppSecret 错误" in page or "app secret is wrong" in page)
    assert oa_account.app_secret not in page
    assert MessageTemplate.objects.count() == 0


def test_admin_list_is_read_only_and_searchable(sandbox, oa_account, admin_client):
    _seed_oa(sandbox, oa_account)
    message_templates_sync(oa_account)
    assert admin_client.get(LIST + "add/").status_code == 403
    found = admin_client.get(LIST, {"q": "积分"}).content.decode()
    assert "会员积分变动提醒" in found and "订单发货通知" not in found
    assert "订单发货通知" in admin_client.get(LIST, {"kind__exact": "template", "account__id__exact": oa_account.pk}).content.decode()


def test_a_viewer_may_not_sync(sandbox, oa_account):
    viewer = get_user_model().objects.create_user("viewer", password="pw-viewer-123", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_messagetemplate"))
    client = Client()
    client.force_login(viewer)
    assert client.get(LIST).status_code == 200
    assert client.post(SYNC, {"_form_submitted": "on", "account": oa_account.pk}).status_code == 403


def test_channel_account_admin_action_syncs_the_selected_accounts(sandbox, oa_account, admin_client):
    _seed_oa(sandbox, oa_account)
    answer = admin_client.post(
        "/admin/accounts/channelaccount/", {"action": "sync_message_templates", "_selected_action": [oa_account.pk]}, follow=True
    )
    assert answer.status_code == 200
    assert MessageTemplate.objects.filter(account=oa_account).count() == 3


# --- the demo --------------------------------------------------------------------------------------


def test_seed_demo_fills_the_demo_libraries_and_syncs_them_idempotently(sandbox, settings, db):
    settings.SANDBOX_BASE_URL = sandbox.base_url
    out = io.StringIO()
    call_command("seed_demo", customers=20, stdout=out)
    oa = ChannelAccount.objects.get(kind="oa")
    mp = ChannelAccount.objects.get(kind="miniprogram")
    titles = [t.title for t in templates_for_account(account_id=oa.pk, kind="template")]
    assert titles == sorted(["订单发货通知", "会员积分变动提醒", "活动报名成功通知"])
    assert templates_for_account(account_id=oa.pk, kind="subscribe").count() == 1
    assert templates_for_account(account_id=mp.pk, kind="subscribe").count() == 3
    assert "templates of" in out.getvalue()
    call_command("seed_demo", customers=20, stdout=io.StringIO())
    assert MessageTemplate.objects.count() == 7
    # The demo's library is strict: a made-up template id is refused as WeChat would.
    openid = sandbox.control.add_followers(oa.app_id, 1)[0]
    client = sandbox.wechat_client(oa.app_id, oa.app_secret)
    shipped = templates_for_account(account_id=oa.pk, kind="template").get(title="订单发货通知")
    assert client.post("message/template/send", data={"touser": openid, "template_id": shipped.template_id, "data": {}})["msgid"]
    with pytest.raises(WeChatClientException) as refused:
        client.post("message/template/send", data={"touser": openid, "template_id": "made-up", "data": {}})
    assert refused.value.errcode == 40037
