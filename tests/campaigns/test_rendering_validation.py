import pytest

from campaigns.rendering import compile_template, customer_context, render
from campaigns.validation import campaign_validate, title_check
from scrm.errors import ApplicationError
from tests.factories import CampaignFactory


class Person:
    display_name = "Li Lei"
    city = "Hangzhou"
    province = "Zhejiang"
    country = "China"
    gender = 2
    phone = "13800000000"


def test_whitelisted_variables_render_per_customer():
    text = render("Hi {{ customer.display_name }} from {{ customer.city|upper }}{% if customer.gender %} {{ customer.gender }}{% endif %}", customer_context(Person()))
    assert text == "Hi Li Lei from HANGZHOU 女士"


@pytest.mark.parametrize(
    "source",
    [
        "{{ customer.phone }}",
        "{{ customer.attributes.vip }}",
        "{% load static %}",
        "{% include 'x.html' %}",
        "{% for x in customer %}{% endfor %}",
        "{{ customer.display_name|safe }}",
        "{% debug %}",
        "{{ settings.SECRET_KEY }}",
        "{% if customer.phone %}x{% endif %}",
    ],
)
def test_templates_reaching_beyond_the_whitelist_are_refused(source):
    with pytest.raises(ApplicationError) as exc:
        compile_template(source)
    assert exc.value.code == "invalid_template"


def test_title_check_shows_the_first_16_characters_and_warns_on_hidden_key_words():
    result = title_check(title="春季新品上市全场八折起限时三天只在本周末抢购", key_words=["八折", "周末"])
    assert result["preview"] == "春季新品上市全场八折起限时三天只"
    assert result["hidden_key_words"] == ["周末"]
    assert result["truncated"]
    assert title_check(title="Short", key_words=["Short"])["warnings"] == []


@pytest.mark.django_db
def test_marketing_template_messages_and_undeclared_fields_are_refused(plan_account):
    campaign = CampaignFactory.build(
        account=plan_account, message_type="template", priority_class="marketing", segment_id=1,
        content={"template_id": "T", "template_keys": ["first", "remark"], "fields": {"first": "Hi", "extra": "x"}},
    )
    with pytest.raises(ApplicationError) as exc:
        campaign_validate(campaign=campaign)
    detail = exc.value.detail
    assert "priority_class" in detail
    assert detail["fields"] == {"unknown": ["extra"], "missing": ["remark"]}


@pytest.mark.django_db
def test_mass_send_content_cannot_have_per_customer_variables(plan_account):
    campaign = CampaignFactory.build(account=plan_account, message_type="mass", segment_id=1, content={"text": "Hi {{ customer.display_name }}"})
    with pytest.raises(ApplicationError) as exc:
        campaign_validate(campaign=campaign)
    assert "templates" in exc.value.detail


@pytest.mark.django_db
def test_a_valid_campaign_returns_a_rendered_sample_and_title_preview(plan_account):
    campaign = CampaignFactory.build(
        account=plan_account, message_type="customer_service", segment_id=1,
        content={"text": "Hi {{ customer.display_name }}", "title": "Spring sale starts today for members", "key_words": ["members"]},
    )
    result = campaign_validate(campaign=campaign)
    assert result["sample"]["Hi {{ customer.display_name }}"] == "Hi 张三"
    assert result["title"]["hidden_key_words"] == ["members"]
