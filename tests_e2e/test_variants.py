"""A variant test in the console: created in the campaign wizard (two versions, test cells first)
with the title model's predicted click rate of each version shown as they are typed, scheduled, its cells sent to the sandbox as one mass-send list per version, and its report read:
each version with its 16-character preview, confidence interval and the decision's state."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from playwright.sync_api import Page, expect

from tests_e2e.stack import ROOT

OA_NAME = "Demo 咖啡 服务号"
OA_APP_ID = "wxdemo0000000001"
VERSIONS = ["周末新品 第二杯半价 今天开抢", "你的周末咖啡 少了这一杯？"]


def test_01_login(logged_in: Page):
    expect(logged_in).to_have_url(re.compile(r"/admin/$"))


def seed_title_history(stack) -> None:
    """The demo account's history of completed campaigns, so the title model has something to learn from."""
    env = {**os.environ, "DATABASE_URL": stack.database_url, "REDIS_URL": stack.redis_url, "DEBUG": "true"}
    env.pop("SCRM_TESTING", None)
    done = subprocess.run([sys.executable, "manage.py", "seed_title_history", "--account", OA_APP_ID],  # noqa: S603 - our own command
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_02_variant_test_in_the_wizard(page: Page, journey, api, shoot, stack):
    seed_title_history(stack)
    segment = api.post(f"{api.base}/api/v1/segments/", json={"name": f"E2E variants {time.time():.0f}", "kind": "dynamic", "rule": {"all": []}})
    assert segment.status_code == 201, segment.text
    page.goto("/admin/campaigns/campaign/add/")
    page.fill("#id_name", "E2E 周末新品 多版本测试")
    page.locator("#id_account").select_option(page.locator("#id_account option", has_text=OA_NAME).get_attribute("value"))
    page.locator("input[name=message_type][value=mass]").check()
    expect(page.locator("#id_mass_msgtype")).to_be_visible()
    page.locator("#id_variant_mode").select_option("cells")
    expect(page.locator("#id_variant_texts")).to_be_visible()
    page.fill("#id_variant_texts", f"{VERSIONS[0]}\n---\n{VERSIONS[1]}")
    page.fill("#id_variant_cell_percent", "20")
    page.fill("#id_variant_wait_hours", "24")
    page.fill("#id_variant_min_sample", "5")
    page.evaluate(
        "(id) => { const s = document.querySelector('#id_segment');"
        " if (![...s.options].some(o => o.value == id)) s.add(new Option('E2E variants', id));"
        " s.value = String(id); s.dispatchEvent(new Event('change', {bubbles: true})); }",
        segment.json()["id"],
    )
    # The title model's prediction of each version, live as they were typed.
    prediction = page.get_by_test_id("wizard-title-prediction")
    expect(prediction).to_contain_text("预测点击率", timeout=20_000)
    for label in "AB":
        expect(page.get_by_test_id(f"wizard-prediction-{label}")).to_have_text(re.compile(rf"^{label} \d+\.\d% ± \d+\.\d% \(\d+\.\d%–\d+\.\d%\)$"))
    # The 40 seeded campaigns, and any the other browser tests of this session completed before.
    note = page.get_by_test_id("wizard-prediction-note")
    expect(note).to_contain_text(re.compile(r"根据本账号过去 \d+ 个活动预测"))
    assert int(re.search(r"过去 (\d+) 个活动", note.inner_text()).group(1)) >= 40
    prediction.scroll_into_view_if_needed()
    shoot("prediction", full_page=False)
    shoot("form", full_page=True)
    page.click("button[name=_continue], input[name=_continue]")
    expect(page).to_have_url(re.compile(r"/admin/campaigns/campaign/\d+/change/"))
    campaign_id = int(re.search(r"/campaign/(\d+)/change/", page.url).group(1))
    content = api.get(f"{api.base}/api/v1/campaigns/{campaign_id}/").json()["content"]
    assert [v["text"] for v in content["variants"]] == VERSIONS
    assert content["variant_test"]["mode"] == "cells"
    journey["variant_campaign"] = campaign_id


def test_03_schedule_and_the_cells_go_out(page: Page, journey, sandbox):
    campaign_id = journey.need("variant_campaign", "step 02")
    page.goto(f"/admin/campaigns/campaign/{campaign_id}/change/")
    page.get_by_test_id("campaign-action-schedule").click()
    expect(page.get_by_test_id("action-question")).to_be_visible()
    page.get_by_test_id("action-confirm-submit").click()
    expect(page).to_have_url(re.compile(rf"/admin/campaigns/campaign/{campaign_id}/progress/"))
    deadline = time.monotonic() + 90
    texts: set[str] = set()
    while time.monotonic() < deadline and len(texts) < 2:
        sent = sandbox("sent_messages", app_id=OA_APP_ID, api="mass")["messages"]
        texts = {m["payload"]["text"]["content"] for m in sent if m["payload"].get("msgtype") == "text"}
        time.sleep(1)
    # One list per version; the rest waits for the decision.
    assert texts == set(VERSIONS)


def test_04_read_the_report(page: Page, journey, shoot):
    campaign_id = journey.need("variant_campaign", "step 02")
    page.goto(f"/admin/campaign-reports/?campaign={campaign_id}")
    table = page.get_by_test_id("report-variants")
    expect(table).to_be_visible()
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(VERSIONS[0][:16])
    expect(rows.nth(1)).to_contain_text(VERSIONS[1][:16])
    for row in range(2):
        expect(rows.nth(row).locator("td").nth(5)).to_have_text(re.compile(r"^\[0\.\d{4}, [01]\.\d{4}\]$"))
    expect(page.get_by_test_id("report-variant-decision")).to_contain_text("测试中")
    table.scroll_into_view_if_needed()
    shoot("report", full_page=False)
