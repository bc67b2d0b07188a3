"""The title model in the wizard: an endpoint the editor calls as the operator types answers the
predicted click rate with its 95% interval for the title and each variant, from the account's own
history; without enough history it says so (in Chinese); bad requests are 4xx."""

from __future__ import annotations

import pytest

from devtools.title_history import title_history_seed
from tests.campaigns.test_wizard import EDITOR, form, operator

URL = "/admin/campaigns/campaign/wizard/title-prediction/"
VERSIONS = "会员专享福利\n---\n会员专享 第2杯半价，你来吗？"


@pytest.fixture
def audience(plan_account, make_audience, static_segment):
    people = make_audience(plan_account, 2)
    return static_segment([c for c, _ in people]), people


@pytest.mark.django_db
def test_the_prediction_follows_the_history_and_is_shown_per_variant(plan_account, audience):
    segment, _ = audience
    client = operator(*EDITOR)
    data = form(plan_account, segment, message_type="mass", variant_mode="cells", variant_texts=VERSIONS,
                variant_cell_percent=10, variant_wait_hours=2, variant_min_sample=50)
    before = client.post(URL, data).json()
    assert not before["available"] and "暂无预测" in before["note"] and before["campaigns"] == 0

    # 40 completed campaigns: 3% base, +2 points with a number, +1.5 with a question.
    assert title_history_seed(account=plan_account, campaigns=40) == 40
    answer = client.post(URL, data).json()
    assert answer["available"] and answer["campaigns"] == 40 and "40" in answer["note"]
    plain, strong = answer["variants"]
    assert (plain["label"], plain["text"], strong["label"]) == ("A", "会员专享福利", "B")
    for v in (plain, strong, answer["title"]):
        assert v["low"] <= v["rate"] <= v["high"] and v["sd"] > 0
        assert v["high"] - v["low"] == pytest.approx(2 * 1.96 * v["sd"], abs=5e-4) or v["low"] == 0
    assert strong["rate"] - plain["rate"] > 0.02  # what the history teaches: numbers and questions earn clicks
    assert answer["title"]["text"] == "会员专享福利"

    # As the operator types: a single title, predicted without variants.
    single = client.post(URL, form(plan_account, segment, message_type="mass", text="周末咖啡时光 第3杯半价")).json()
    assert single["variants"] == [] and single["title"]["text"] == "周末咖啡时光 第3杯半价"


@pytest.mark.django_db
def test_bad_requests_are_clear_4xx_or_an_empty_answer(plan_account, audience):
    client = operator(*EDITOR)
    assert client.get(URL).status_code == 405
    empty = client.post(URL, {"name": ""})
    assert empty.status_code == 200 and not empty.json()["available"]
    assert operator().post(URL, form(plan_account, audience[0], text="x")).status_code in (302, 403)
