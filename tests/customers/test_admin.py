import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from accounts.models import ChannelAccount
from customers.models import CustomerMerge, CustomerTag
from customers.services import customer_merge, customer_set_phone
from tests.factories import ChannelAccountFactory, ChannelIdentityFactory, CustomerFactory, TagFactory

pytestmark = pytest.mark.django_db

SECRET = "admin-secret-0123456789abcdefghijklmn"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.fixture
def admin_client_(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def _staff(*perms: str) -> Client:
    user = get_user_model().objects.create_user("staff", password="pw-staff-123", is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    client = Client()
    client.force_login(user)
    return client


def _customer_with_phone(phone: str, **kwargs):
    customer = CustomerFactory(**kwargs)
    customer_set_phone(customer=customer, phone=phone)
    customer.save()
    return customer


def test_admin_customer_search_finds_by_openid_unionid_and_exact_phone(admin_client_):
    identity = ChannelIdentityFactory(external_id="oADMIN-openid", unionid="uADMIN", customer=CustomerFactory(display_name="Target"))
    _customer_with_phone("13700001111", display_name="PhoneOwner")
    CustomerFactory(display_name="Bystander")

    for term, expected in (("oADMIN-openid", "Target"), ("uADMIN", "Target"), ("13700001111", "PhoneOwner")):
        page = admin_client_.get("/admin/customers/customer/", {"q": term}).content.decode()
        assert expected in page, term
        assert "Bystander" not in page
    # The openid's row links to its own customer's page (the console's Customer 360).
    page = admin_client_.get("/admin/customers/customer/", {"q": "oADMIN-openid"}).content.decode()
    assert f"/admin/customers/customer/{identity.customer_id}/360/" in page


def test_admin_masks_phone_for_staff_without_personal_data_permission():
    customer = _customer_with_phone("13812345678", display_name="Masked")
    staff = _staff("customers.view_customer")

    listing = staff.get("/admin/customers/customer/").content.decode()
    detail = staff.get(f"/admin/customers/customer/{customer.pk}/change/").content.decode()

    assert "138****5678" in listing and "13812345678" not in listing
    assert "13812345678" not in detail


def test_admin_shows_phone_to_staff_with_personal_data_permission():
    customer = _customer_with_phone("13812345678")
    staff = _staff("customers.view_customer", "customers.view_personal_data")
    assert "13812345678" in staff.get(f"/admin/customers/customer/{customer.pk}/change/").content.decode()


def test_admin_filters_customers_by_follow_state(admin_client_):
    ChannelIdentityFactory(follow_state="following", customer=CustomerFactory(display_name="Stays"))
    ChannelIdentityFactory(follow_state="unfollowed", customer=CustomerFactory(display_name="Left"))
    page = admin_client_.get("/admin/customers/customer/", {"follow_state": "unfollowed"}).content.decode()
    assert "Left" in page and "Stays" not in page


def test_admin_filters_customers_by_a_tag_chosen_by_typing_not_from_a_list_of_every_tag(admin_client_):
    vip, others = TagFactory(name="VIP"), [TagFactory(name=f"Interest {n}") for n in range(30)]
    CustomerTag.objects.create(customer=CustomerFactory(display_name="Tagged"), tag=vip)
    CustomerFactory(display_name="Untagged")

    page = admin_client_.get("/admin/customers/customer/", {"tag": vip.pk}).content.decode()
    assert "Tagged" in page and "Untagged" not in page
    # The chosen tag is shown selected in the autocomplete; the other tags are not written into the page.
    assert f'<option value="{vip.pk}" selected>' in page
    assert all(tag.name not in page for tag in others)
    assert 'data-ajax--url="/admin/autocomplete/"' in page
    # What the autocomplete answers while the operator types.
    found = admin_client_.get(
        "/admin/autocomplete/", {"term": "VI", "app_label": "customers", "model_name": "customertag", "field_name": "tag"}
    ).json()
    assert [row["id"] for row in found["results"]] == [str(vip.pk)]


def test_admin_customer_filters_refuse_nonsense_values_without_an_error_page(admin_client_):
    CustomerFactory(display_name="Anyone")
    for params in ({"tag": "abc"}, {"gender": "x"}, {"account": "1; drop"}, {"follow_state": "sideways"}):
        response = admin_client_.get("/admin/customers/customer/", params)
        assert response.status_code in (200, 302), params


def test_merge_history_is_listed_and_read_only(admin_client_):
    survivor, merged = CustomerFactory(), CustomerFactory()
    record = customer_merge(survivor=survivor, merged=merged, reason="unionid u-1 shared")
    assert "unionid u-1 shared" in admin_client_.get("/admin/customers/customermerge/").content.decode()
    assert admin_client_.get("/admin/customers/customermerge/add/").status_code == 403
    assert admin_client_.post(f"/admin/customers/customermerge/{record.pk}/delete/", {"post": "yes"}).status_code == 403
    assert CustomerMerge.objects.filter(pk=record.pk).exists()


def test_account_admin_never_renders_secrets_and_keeps_them_when_left_empty(admin_client_):
    account = ChannelAccountFactory(app_secret=SECRET, token="TokenAdmin1", encoding_aes_key=AES_KEY, name="Before")
    url = f"/admin/accounts/channelaccount/{account.pk}/change/"

    page = admin_client_.get(url).content.decode()
    assert SECRET not in page and "TokenAdmin1" not in page and AES_KEY not in page
    assert SECRET[-4:] in page  # the hint that a secret is set

    response = admin_client_.post(
        url,
        {
            "kind": "oa",
            "name": "After",
            "app_id": account.app_id,
            "agent_id": "",
            "is_active": "on",
            "app_secret": "",
            "token": "",
            "encoding_aes_key": "",
            "encrypt_mode": "safe",
            "api_base_url": "",
            "timezone": "Asia/Shanghai",
            "rate_limit_per_second": 50,
            "daily_quota": 1000,
            "template_daily_quota": 100000,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    account = ChannelAccount.objects.get(pk=account.pk)
    assert (account.name, account.app_secret, account.token, account.encoding_aes_key) == ("After", SECRET, "TokenAdmin1", AES_KEY)
