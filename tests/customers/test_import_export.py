import csv
import io

import pytest

from customers.imports import customers_import_csv
from customers.models import ChannelIdentity, Customer, CustomerTag, CustomerUnionId
from customers.services import customer_set_phone
from scrm.fields import lookup_hash
from tests.factories import ChannelAccountFactory, ChannelIdentityFactory, CustomerFactory, TagFactory

pytestmark = pytest.mark.django_db


def _csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def test_import_keeps_valid_rows_and_reports_bad_rows_by_number(api_client):
    account = ChannelAccountFactory(app_id="wxIMPORT")
    tag = TagFactory(name="coffee")
    body = _csv(
        "account,openid,unionid,phone,display_name,gender,tags,attr.level",
        f"wxIMPORT,o-1,u-1,13800000001,Ann,female,{tag.group.name}/coffee,gold",  # row 2: ok
        "wxNOPE,o-2,,,Bob,,,",  # row 3: unknown account
        ",,,,Nobody,,,",  # row 4: no key at all
        "wxIMPORT,o-4,,12,Cat,,,",  # row 5: bad phone
        "wxIMPORT,o-5,,,Dan,robot,,",  # row 6: bad gender
        "wxIMPORT,o-6,,,Eve,,no-such-tag,",  # row 7: unknown tag
        f"{account.id},o-7,,,Fay,1,,",  # row 8: ok (account by id)
    )

    response = api_client.post("/api/v1/customers/import/", body, content_type="text/csv")

    assert response.status_code == 200, response.content
    result = response.json()
    assert result["rows"] == 7 and result["created"] == 2 and result["failed"] == 5
    assert [(e["row"], e["column"]) for e in result["errors"]] == [
        (3, "account"),
        (4, "openid"),
        (5, "phone"),
        (6, "gender"),
        (7, "tags"),
    ]
    ann = ChannelIdentity.objects.get(account=account, external_id="o-1").customer
    assert (ann.display_name, ann.gender, ann.phone, ann.attributes) == ("Ann", 2, "13800000001", {"level": "gold"})
    assert CustomerUnionId.objects.get(unionid="u-1").customer_id == ann.id
    assert CustomerTag.objects.get(customer=ann, tag=tag).source == "import"
    assert ChannelIdentity.objects.get(account=account, external_id="o-7").customer.display_name == "Fay"
    assert not ChannelIdentity.objects.filter(external_id__in=["o-2", "o-4", "o-5", "o-6"]).exists()


def test_import_upserts_by_openid_then_unionid_then_phone():
    account = ChannelAccountFactory(app_id="wxUP")
    by_openid = ChannelIdentityFactory(account=account, external_id="o-known").customer
    by_unionid = ChannelIdentityFactory(account=account, external_id="o-other", unionid="u-known").customer
    CustomerUnionId.objects.create(unionid="u-known", customer=by_unionid)
    by_phone = CustomerFactory()
    customer_set_phone(customer=by_phone, phone="13900000009")
    by_phone.save()
    before = Customer.objects.count()

    result = customers_import_csv(
        stream=io.BytesIO(
            _csv(
                "account,openid,unionid,phone,city",
                "wxUP,o-known,,,Beijing",
                ",,u-known,,Shanghai",
                ",,,+86 139 0000 0009,Hangzhou",
            )
        )
    )

    assert (result.created, result.updated, result.errors) == (0, 3, [])
    assert Customer.objects.count() == before
    assert [Customer.objects.get(pk=c.pk).city for c in (by_openid, by_unionid, by_phone)] == ["Beijing", "Shanghai", "Hangzhou"]


def test_import_rows_of_one_person_in_one_file_make_one_customer():
    oa = ChannelAccountFactory(kind="oa", app_id="wxOA")
    mp = ChannelAccountFactory(kind="miniprogram", app_id="wxMP")
    result = customers_import_csv(
        stream=io.BytesIO(_csv("account,openid,unionid,display_name", "wxOA,o-a,u-same,Gao", "wxMP,m-a,u-same,"))
    )
    assert result.created == 1
    oa_identity = ChannelIdentity.objects.get(account=oa, external_id="o-a")
    mp_identity = ChannelIdentity.objects.get(account=mp, external_id="m-a")
    assert oa_identity.customer_id == mp_identity.customer_id
    assert mp_identity.kind == "mp_openid"


def test_import_reads_gb18030_files_from_chinese_excel(api_client):
    ChannelAccountFactory(app_id="wxGB")
    body = "account,openid,display_name,city\nwxGB,o-gb,张三,广州\n".encode("gb18030")
    response = api_client.post("/api/v1/customers/import/", {"file": io.BytesIO(body)}, format="multipart")
    assert response.status_code == 200, response.content
    assert ChannelIdentity.objects.get(external_id="o-gb").customer.display_name == "张三"


def test_import_with_unknown_columns_is_refused_whole(api_client):
    response = api_client.post("/api/v1/customers/import/", _csv("openid,shoe_size", "o,42"), content_type="text/csv")
    assert response.status_code == 400
    assert response.json()["detail"]["unknown"] == ["shoe_size"]


def test_import_default_account_comes_from_the_request(api_client):
    account = ChannelAccountFactory()
    response = api_client.post(f"/api/v1/customers/import/?account={account.id}", _csv("openid", "o-default"), content_type="text/csv")
    assert response.json()["created"] == 1
    assert ChannelIdentity.objects.filter(account=account, external_id="o-default").exists()


def test_import_needs_add_and_change_permissions(make_operator):
    reader = make_operator("customers.view_customer")
    assert reader.post("/api/v1/customers/import/", _csv("openid", "o"), content_type="text/csv").status_code == 403


def test_export_streams_filtered_customers_with_masked_phones(make_operator):
    account = ChannelAccountFactory(app_id="wxEXP")
    tag = TagFactory(name="tea")
    wanted = ChannelIdentityFactory(account=account, external_id="o-exp", unionid="u-exp").customer
    customer_set_phone(customer=wanted, phone="13812345678")
    wanted.display_name = "=HYPERLINK(evil)"
    wanted.save()
    CustomerTag.objects.create(customer=wanted, tag=tag)
    CustomerFactory(display_name="not tagged")
    reader = make_operator("customers.view_customer")

    response = reader.get("/api/v1/customers/export/", {"tag": tag.id})

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1
    row = rows[0]
    assert row["phone"] == "138****5678"
    assert row["openids"] == "wxEXP:o-exp"
    assert row["unionid"] == "u-exp"
    assert row["tags"] == f"{tag.group.name}/tea"
    assert row["display_name"] == "'=HYPERLINK(evil)"  # no formula injection in spreadsheets


def test_export_shows_full_phone_to_operators_allowed_personal_data(make_operator):
    customer = CustomerFactory()
    customer_set_phone(customer=customer, phone="13812345678")
    customer.save()
    trusted = make_operator("customers.view_customer", "customers.view_personal_data")
    text = b"".join(trusted.get("/api/v1/customers/export/").streaming_content).decode("utf-8-sig")
    assert "13812345678" in text
    assert Customer.objects.get(phone_hash=lookup_hash("13812345678")).pk == customer.pk


def test_import_of_a_unionid_for_existing_followers_links_it_and_merges_when_another_customer_owns_it():
    oa = ChannelAccountFactory(kind="oa", app_id="wxLINK")
    mp = ChannelAccountFactory(kind="miniprogram", app_id="wxLINKMP")
    lonely = ChannelIdentityFactory(account=oa, external_id="o-lonely")
    follower = ChannelIdentityFactory(account=oa, external_id="o-follower")
    mp_user = ChannelIdentityFactory(account=mp, external_id="m-user", unionid="u-shared")
    CustomerUnionId.objects.create(unionid="u-shared", customer=mp_user.customer)
    follower_customer_id = follower.customer_id

    result = customers_import_csv(
        stream=io.BytesIO(_csv("account,openid,unionid", "wxLINK,o-lonely,u-new", "wxLINK,o-follower,u-shared"))
    )

    assert result.errors == []
    lonely.refresh_from_db()
    assert lonely.unionid == "u-new"
    assert CustomerUnionId.objects.get(unionid="u-new").customer_id == lonely.customer_id
    follower.refresh_from_db()
    assert follower.customer_id == mp_user.customer_id
    assert not Customer.objects.filter(pk=follower_customer_id).exists()


def test_raw_csv_body_over_the_memory_limit_is_413_pointing_to_multipart(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = _csv("openid", *[f"o-{i:06d}" for i in range(200)])
    response = api_client.post("/api/v1/customers/import/", body, content_type="text/csv")
    assert response.status_code == 413
    assert response.json()["code"] == "import_too_large"


def test_import_of_bytes_that_are_no_csv_text_is_a_400_that_says_so(api_client):
    # Neither UTF-8 nor GB18030 in the header: nothing is imported, the operator is told why.
    response = api_client.post("/api/v1/customers/import/", {"file": io.BytesIO(b"\xff\xfe\x80\x80openid\n")}, format="multipart")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "csv_unreadable"
    assert ChannelIdentity.objects.count() == 0
