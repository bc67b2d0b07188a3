import re
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def _bad_account(api_client, language: str):
    return api_client.post(
        "/api/v1/accounts/",
        {"kind": "oa", "name": "x", "app_id": "wxI18N", "app_secret": "s" * 32, "encoding_aes_key": "short"},
        format="json",
        HTTP_ACCEPT_LANGUAGE=language,
    )


def test_api_messages_are_simplified_chinese_for_zh_hans(api_client):
    detail = _bad_account(api_client, "zh-hans").json()["detail"]["encoding_aes_key"]
    assert detail == ["EncodingAESKey 为 43 位 base64 字符（32 字节密钥）。"]


def test_api_messages_are_english_for_en(api_client):
    detail = _bad_account(api_client, "en").json()["detail"]["encoding_aes_key"]
    assert detail == ["The EncodingAESKey is 43 characters of base64 (a 32-byte key)."]


def test_admin_model_names_are_translated(admin_user, client):
    client.force_login(admin_user)
    assert "渠道账号" in client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "Channel accounts" in client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_every_entry_of_the_simplified_chinese_catalogue_is_translated():
    po = (Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    entries = [block for block in po.split("\n\n") if "\nmsgid " in f"\n{block}" and 'msgid ""\nmsgstr ""\n"' not in block]
    untranslated = [block for block in entries if re.search(r'^msgstr ""\s*\Z', block, re.M) or "fuzzy" in block]
    assert entries and not untranslated, untranslated[:3]
