"""The error-code catalogues: a contract with clients (codes never change), Chinese for every code, and
docs/errors.md listing every one."""

import importlib
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.utils import translation

from customers.errors import CustomerError
from devtools.error_codes import all_catalogues, error_codes_markdown
from scrm.errors import ApplicationError, ErrorCatalogue, RecordedErrorCatalogue

pytestmark = pytest.mark.django_db

# Today's codes. Clients match on these strings: a code may be added here, never renamed or removed.
CONTRACT_CODES = {
    # scrm.errors.CommonError (the last seven are DRF's own)
    "invalid",
    "not_found",
    "conflict",
    "permission_denied",
    "not_authenticated",
    "authentication_failed",
    "parse_error",
    "method_not_allowed",
    "not_acceptable",
    "unsupported_media_type",
    "throttled",
    # customers.errors.CustomerError
    "customer_not_found",
    "customer_erased",
    "customer_invalid",
    "identity_missing_id",
    "merge_self",
    "merge_missing",
    "invalid_filter",
    "customer_search_unavailable",
    "tag_group_not_empty",
    "event_invalid",
    "too_many",
    "import_no_file",
    "import_too_large",
    "import_empty",
    "import_no_key_column",
    "import_unknown_columns",
    "csv_unreadable",
    "segment_rule_invalid",
    "segment_kind_invalid",
    "segment_cycle",
    "segment_name_taken",
    "segment_in_use",
    "segment_has_snapshots",
    "segment_not_static",
    "segment_upload_too_large",
    "segment_upload_id_kind",
    # campaigns.errors.CampaignError
    "invalid_campaign",
    "invalid_template",
    "invalid_policy",
    "segment_missing",
    "needs_postgresql",
    "no_test_identity",
    "campaign_not_editable",
    "campaign_not_deletable",
    "campaign_not_schedulable",
    "campaign_not_pending",
    "campaign_not_pausable",
    "campaign_not_paused",
    "campaign_finished",
    # messaging.errors.MessagingError
    "account_in_use",
    "channel_code_bad_account",
    "channel_code_no_staff",
    "channel_code_bad_scene",
    "channel_code_unknown_tags",
    "channel_code_scene_taken",
    "channel_code_remote_failed",
    "sync_bad_kind",
    "sync_bad_account",
    "unknown_appid",
    "mp_login_failed",
    "token_expired",
    "invalid_refresh_token",
    "body_too_large",
    "unknown_query_parameter",
    "unknown_topic",
    "inbox_reply_held",
    "inbox_reply_refused",
    "inbox_reply_failed",
    "inbox_bad_operator",
    "kf_bad_account",
    "kf_invalid",
    "kf_exists",
    "kf_unknown",
    "kf_no_session",
    "kf_refused",
    "kf_unavailable",
    "template_sync_unsupported",
    "template_sync_failed",
    "message_template_not_found",
    "message_template_removed",
    "media_invalid",
    "group_welcome_invalid",
    "group_welcome_library_full",
    "group_welcome_remote_failed",
    "content_needs_service_account",
    "material_bad_kind",
    "material_bad_file",
    "material_too_large",
    "material_video_needs_title",
    "article_invalid",
    "article_not_editable",
    "content_remote_failed",
    "wecom_handover_invalid",
    "wecom_moment_invalid",
    # messaging.errors.SendErrorCode (recorded on deliveries)
    "timeout",
    "connection_error",
    "http_error",
    "http_429",
    "api_host_refused",
    "bad_response",
    "redis_error",
    "rate_limited",
    "deferred",
    "quota_deferred",
    "template_daily_quota",
    "mass_daily_limit",
    "mass_minute_limit",
    "api_quota_used",
    "render_failed",
    "missing_sender",
    "not_contact",
    "limit_reached",
    "inbox_has_no_push",
    "exception",
    "missing_outcome",
    "user_block",
    "system_failed",
    "welcome_window_passed",
    # menus.errors.MenuError
    "menu_invalid",
    "menu_bad_account",
    "menu_exists",
    "menu_no_version",
    "menu_no_default",
    "menu_tag_sync_failed",
    "menu_wechat_refused",
    "menu_published",
    "menu_customer_not_follower",
    "menu_analytics_needs_postgresql",
    # messaging.errors.TagSyncErrorCode (recorded in tag-sync reports)
    "tag_mirror_unsupported",
    "wechat_tag_limit",
    "wechat_user_tag_limit",
    "wecom_no_staff",
}

ALL_MEMBERS = [member for catalogue in all_catalogues() for member in catalogue]
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_error_codes_are_unique_across_the_product_and_unchanged():
    values = [member.value for member in ALL_MEMBERS]
    assert len(values) == len(set(values))
    assert set(values) == CONTRACT_CODES


def test_every_catalogue_in_an_apps_errors_module_is_listed():
    # A new catalogue must join devtools.error_codes, or its codes escape these tests and the docs page.
    found = set()
    for app in apps.get_app_configs():
        if Path(app.path, "errors.py").exists():
            module = importlib.import_module(f"{app.name}.errors")
            found |= {
                value
                for value in vars(module).values()
                if isinstance(value, type)
                and issubclass(value, ErrorCatalogue | RecordedErrorCatalogue)
                and value not in (ErrorCatalogue, RecordedErrorCatalogue)
                and value.__module__ == module.__name__
            }
    assert {"customers.errors", "campaigns.errors", "messaging.errors", "scrm.errors"} <= {c.__module__ for c in found}
    assert found == set(all_catalogues())


@pytest.mark.parametrize("member", ALL_MEMBERS, ids=lambda m: m.value)
def test_every_error_code_has_a_simplified_chinese_message(member):
    with translation.override("en"):
        english = str(member.label)
    with translation.override("zh-hans"):
        chinese = str(member.label)
    assert english and chinese != english and CJK.search(chinese), (member.value, chinese)


def test_an_api_error_is_answered_in_chinese_for_zh_hans_and_in_english_for_en(api_client):
    answers = {
        language: api_client.post("/api/v1/customers/import/", {}, format="multipart", HTTP_ACCEPT_LANGUAGE=language)
        for language in ("zh-hans", "en")
    }
    assert {r.status_code for r in answers.values()} == {400}
    assert answers["zh-hans"].json() == {
        "code": "import_no_file",
        "message": "请以 multipart 字段 'file' 或 text/csv 请求体上传 CSV。",
        "detail": None,
    }
    assert answers["en"].json()["message"] == "Send the CSV as a multipart field 'file' or as a text/csv body."


def test_a_message_with_a_value_in_it_is_translated_around_the_value(api_client):
    api_client.post("/api/v1/segments/", {"name": "高价值", "kind": "static"}, format="json")
    again = api_client.post(
        "/api/v1/segments/", {"name": "高价值", "kind": "static"}, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert again.status_code == 409
    assert again.json()["code"] == "segment_name_taken"
    assert again.json()["message"] == "已存在名为“高价值”的人群。"


def test_drf_validation_errors_carry_the_invalid_code_and_a_translated_message(api_client):
    response = api_client.patch("/api/v1/customers/0/", {}, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    bad = api_client.post("/api/v1/tag-groups/", {}, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid" and bad.json()["message"] == "输入无效。" and "name" in bad.json()["detail"]


def test_an_application_error_takes_its_status_and_default_message_from_the_code():
    error = ApplicationError(code=CustomerError.TAG_GROUP_NOT_EMPTY)
    assert error.status_code == 409
    with translation.override("en"):
        assert str(error.message) == "The tag group still has tags; delete or move them first."
    assert ApplicationError("x", code=CustomerError.TAG_GROUP_NOT_EMPTY, status_code=400).status_code == 400


def test_the_docs_page_is_what_the_catalogues_render_and_lists_every_code():
    page = (Path(settings.BASE_DIR) / "docs" / "errors.md").read_text(encoding="utf-8")
    assert page == error_codes_markdown(), "run `manage.py error_codes --write`"
    for member in ALL_MEMBERS:
        assert f"| `{member.value}` |" in page
