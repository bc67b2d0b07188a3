"""A marketer's day in the console, in one browser against a live stack (see conftest.py).

The steps run in order and hand state on through `journey`; a step whose console page is missing
fails with what is missing (a feature probe), and the steps needing its result skip after it.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests_e2e.conftest import admin_login


def _lacks(page: Page, path: str, marker: str) -> bool:
    """Feature probe: the page is missing (404), or it is an old page without `marker`."""
    response = page.request.get(path)
    return response.status == 404 or marker not in response.text()


def _require(page: Page, path: str, marker: str, feature: str) -> None:
    if _lacks(page, path, marker):
        pytest.fail(f"{feature} is missing ({path} has no {marker})")


def test_00_the_guards_work(page: Page, recorder):
    """The journey's guards are live: a request to another host is aborted and recorded, and a
    JavaScript error is caught (then forgotten, so this step itself passes)."""
    mark = recorder.counts()
    page.goto("/healthz")
    page.evaluate("() => fetch('https://cdn.jsdelivr.net/npm/e2e-guard.js').catch(() => null)")
    page.evaluate("() => setTimeout(() => { throw new Error('e2e guard check') }, 0)")
    page.wait_for_timeout(300)  # the error is thrown after the evaluate returns
    assert recorder.blocked[mark[0]:] == ["https://cdn.jsdelivr.net/npm/e2e-guard.js"]
    assert any("e2e guard check" in e for e in recorder.page_errors[mark[1]:])
    recorder.forget(mark)


def test_01_login(page: Page):
    page.context.clear_cookies()  # the browser is shared by the whole session: start logged out
    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/"))
    admin_login(page)


def test_02_navigation(page: Page):
    """The sidebar is grouped by the operator's jobs, in Chinese."""
    page.goto("/admin/")
    sidebar = page.locator("#nav-sidebar-inner")
    for group in ("客户", "人群", "营销活动", "互动与报表", "消息通道", "设置"):
        expect(sidebar.locator("h2", has_text=re.compile(rf"^\s*{group}(?!\S)"))).to_be_visible()


def _charts_drawn(page: Page, selector: str) -> int:
    """How many canvases under `selector` hold a Chart.js chart (drawn, not just placed)."""
    return page.evaluate(
        "s => [...document.querySelectorAll(s + ' canvas')].filter(c => window.Chart && Chart.getChart(c)).length", selector
    )


def test_03_dashboard(page: Page):
    """The admin index is the dashboard: key figures and charts, not tables of numbers."""
    _require(page, "/admin/", 'id="console-dashboard"', "the dashboard")
    page.goto("/admin/")
    dashboard = page.locator("#console-dashboard")
    expect(dashboard).to_be_visible()
    expect(dashboard.locator("#dash-kpi-followers")).to_be_visible()
    for chart in ("#dash-chart-follows", "#dash-chart-pushes", "#dash-chart-disturbance"):
        expect(page.locator(f"{chart} canvas")).to_be_visible()
        page.wait_for_function("s => window.Chart && Chart.getChart(document.querySelector(s + ' canvas'))", arg=chart)
    assert _charts_drawn(page, "#console-dashboard") >= 3
    expect(page.locator("#dash-health")).to_have_attribute("data-status", re.compile(r"\w+"))


def test_04_contact_policy(page: Page):
    """The contact policy without quiet hours, so the journey's campaign sends now at any hour
    (the default quiet hours, 21:00–08:30 in the customer's time zone, would defer it)."""
    page.goto("/admin/campaigns/contactpolicy/")
    existing = page.locator("#result_list tbody a").first
    if existing.count():
        existing.click()
    else:
        page.goto("/admin/campaigns/contactpolicy/add/")
    page.fill("#id_quiet_start", "")
    page.fill("#id_quiet_end", "")
    page.click("button[name=_save], input[name=_save]")
    expect(page).to_have_url(re.compile(r"/admin/campaigns/contactpolicy/$"))
    expect(page.locator("#result_list")).to_be_visible()


def test_05_segment_builder(page: Page, journey, shoot):
    """A rule-based segment built with the menus: customers in 上海, with the live count."""
    _require(page, "/admin/customers/segment/add/", 'data-testid="segment-builder"', "the segment builder (Add works, in Chinese)")
    page.goto("/admin/customers/segment/add/")
    name = f"E2E 上海的客户{journey.suffix}"
    page.fill("#id_name", name)
    builder = page.get_by_test_id("segment-builder")
    builder.locator("select[data-testid=builder-add-condition]").select_option("field")
    condition = builder.get_by_test_id("builder-condition").last
    condition.locator("select[data-testid=builder-field]").select_option("city")
    # The live count follows the rule: wait for the count of this rule, not of the empty one before.
    with page.expect_response(lambda r: r.url.endswith("/segment/preview/") and "上海" in (r.request.post_data or "")):
        condition.get_by_test_id("builder-value").fill("上海")
    count = builder.locator("[data-testid=builder-count][data-count]")
    expect(count).to_be_visible()
    members = int(count.get_attribute("data-count"))
    assert 5 <= members <= 60, f"the demo data should put a few dozen customers in 上海, the builder counted {members}"
    expect(builder.get_by_test_id("builder-sample-link").first).to_be_visible()
    shoot("count")
    page.click("button[name=_continue], input[name=_continue]")
    expect(page).to_have_url(re.compile(r"/admin/customers/segment/\d+/change/"))
    segment_id = int(re.search(r"/segment/(\d+)/change/", page.url).group(1))
    # The saved rule comes back into the builder on Change, with the same count.
    expect(page.get_by_test_id("segment-builder").locator(f"[data-testid=builder-count][data-count='{members}']")).to_be_visible()
    journey.update(segment_id=segment_id, segment_name=name, segment_members=members)


OA_NAME = "Demo 咖啡 服务号"  # seed_demo's service account
OA_APP_ID = "wxdemo0000000001"
# The template the journey sends (seed_demo's library has it) and plausible values for its keys.
PREFERRED_TEMPLATE = "活动报名成功通知"
KEY_VALUES = {"活动名称": "上海新品品鉴会", "活动时间": "2026-12-20 14:00", "活动地点": "上海静安门店"}


def test_06_campaign_wizard(page: Page, journey, shoot):
    """A template-message campaign built in the wizard: account by name, a template from the
    library with one field per key, the customer's name from the variable list, the segment by name
    with its live count, the preview rendered for a sample customer, the reach predicted."""
    _require(page, "/admin/campaigns/campaign/add/", 'id="wizard-preview"', "the campaign wizard")
    segment_name = journey.need("segment_name", "step 05 (segment builder)")
    page.goto("/admin/campaigns/campaign/add/")
    name = f"E2E 上海新品品鉴会报名通知{journey.suffix}"
    page.fill("#id_name", name)
    page.locator("#id_account").select_option(page.locator("#id_account option", has_text=OA_NAME).get_attribute("value"))
    page.locator("input[name=message_type][value=template]").check()
    expect(page.get_by_test_id("wizard-type-rules")).to_be_visible()
    templates = page.locator("#id_message_template option:not([value='']):not([hidden])")
    if templates.count() == 0:
        pytest.fail(f"{OA_NAME} has no template in its library: seed_demo's template sync did not fill it")
    preferred = templates.filter(has_text=PREFERRED_TEMPLATE)
    template = preferred.first if preferred.count() else templates.first
    page.locator("#id_message_template").select_option(template.get_attribute("value"))
    keys = json.loads(template.get_attribute("data-keys") or "[]")
    assert keys, "the template names no keys"
    inputs = page.locator("#wizard-template-key-inputs input[data-key]")
    expect(inputs).to_have_count(len(keys))
    # One field per key; the customer's name comes from the variable list, in the name key.
    name_key = next((k["key"] for k in keys if k.get("rule") == "name"), keys[0]["key"])
    for key in keys:
        field = page.locator(f"#wizard-template-key-inputs input[data-key='{key['key']}']")
        if key["key"] == name_key:
            field.fill("")
            field.click()
            page.locator("#wizard-variables [data-code*='customer.display_name']").click()
            expect(field).to_have_value(re.compile(r"^\{\{ ?customer\.display_name ?\}\}$"))
        else:
            field.fill(KEY_VALUES.get(key.get("label", ""), f"E2E {key.get('label') or key['key']}"))

    # The audience: the segment picked by name (Select2), its live count.
    page.locator(".field-segment .select2-selection").click()
    page.locator(".select2-container--open .select2-search__field").fill(segment_name)
    page.locator(".select2-container--open .select2-results__option", has_text=segment_name).first.click()
    expect(page.get_by_test_id("wizard-audience-count")).to_contain_text(str(journey["segment_members"]))

    # The preview for a chosen sample customer shows that customer's name in place of the variable.
    sample = page.get_by_test_id("wizard-sample-customer")
    expect(sample.locator("option:not([value=''])").first).to_be_attached()
    sample_option = sample.locator("option:not([value=''])").first
    sample_name = sample_option.inner_text().split(" · ")[0]
    sample.select_option(sample_option.get_attribute("value"))
    body = page.get_by_test_id("wizard-preview-body")
    expect(body).to_contain_text(sample_name)
    expect(body).not_to_contain_text("{{")
    expect(page.get_by_test_id("wizard-preview-errors")).to_be_hidden()
    expect(page.get_by_test_id("wizard-title-preview")).not_to_be_empty()

    # The contact policy's prediction before scheduling: somebody is reached.
    page.get_by_test_id("wizard-policy-check").click()
    reach = page.get_by_test_id("wizard-policy-reach")
    expect(reach).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("wizard-zero-reach-warning")).to_be_hidden()
    page.get_by_test_id("wizard-preview").scroll_into_view_if_needed()
    shoot("preview", full_page=False)

    page.click("button[name=_continue], input[name=_continue]")
    expect(page).to_have_url(re.compile(r"/admin/campaigns/campaign/\d+/change/"))
    expect(page.get_by_test_id("campaign-state")).to_have_attribute("data-state", "draft")
    journey.update(campaign_id=int(re.search(r"/campaign/(\d+)/change/", page.url).group(1)), campaign_name=name, name_key=name_key)


def test_07_schedule(page: Page, journey):
    """Schedule with the button; the confirmation shows the predicted reach first."""
    campaign_id = journey.need("campaign_id", "step 06 (campaign wizard)")
    page.goto(f"/admin/campaigns/campaign/{campaign_id}/change/")
    page.get_by_test_id("campaign-action-schedule").click()
    expect(page.get_by_test_id("action-question")).to_be_visible()
    reach = int(page.get_by_test_id("action-predicted-reach").inner_text().replace(",", ""))
    assert reach > 0, "the confirmation predicts nobody is reached"
    journey["predicted_reach"] = reach
    page.get_by_test_id("action-confirm-submit").click()
    expect(page).to_have_url(re.compile(rf"/admin/campaigns/campaign/{campaign_id}/progress/"))


def test_08_progress_to_completed(page: Page, journey, sandbox, api):
    """The progress page counts up to completed while the sandbox (WeChat) receives the pushes."""
    campaign_id = journey.need("campaign_id", "step 06 (campaign wizard)")
    if not page.url.endswith(f"/campaign/{campaign_id}/progress/"):
        page.goto(f"/admin/campaigns/campaign/{campaign_id}/progress/")
    expect(page.get_by_test_id("progress-state")).to_have_attribute("data-state", "completed", timeout=90_000)
    total = int(page.get_by_test_id("progress-total").inner_text().replace(",", ""))
    expect(page.get_by_test_id("progress-sent")).to_have_text(str(total))
    expect(page.get_by_test_id("progress-percent")).to_have_text("100")
    assert 0 < total <= journey["segment_members"]
    # Loaded afresh, the whole page agrees: the campaign is completed.
    page.reload()
    expect(page.get_by_test_id("campaign-state")).to_have_attribute("data-state", "completed")
    expect(page.get_by_test_id("progress-sent")).to_have_text(str(total))

    deliveries = api.get(f"{api.base}/api/v1/deliveries/", params={"campaign": campaign_id, "page_size": 500}).json()["results"]
    assert len(deliveries) == total
    # WeChat (the sandbox) received every push: one template message per delivery, to its openid.
    received = sandbox("sent_messages", app_id=OA_APP_ID, api="template")["messages"]
    got = {(m["touser"], str(m["msgid"])) for m in received}
    missing = {(d["external_id"], str(d["msgid"])) for d in deliveries} - got
    assert not missing, f"deliveries the sandbox never received: {sorted(missing)[:5]}"
    # The variable was filled per customer at send time: the first recipient's own name.
    first = deliveries[0]
    message = next(m for m in received if m["touser"] == first["external_id"] and str(m["msgid"]) == str(first["msgid"]))
    customer = api.get(f"{api.base}/api/v1/customers/{first['customer']}/").json()
    assert message["payload"]["data"][journey["name_key"]]["value"] == customer["display_name"]
    journey.update(sent_total=total, delivered_customer=deliveries[0]["customer"], delivered_openid=deliveries[0]["external_id"])


def test_09_report(page: Page, journey):
    """From the progress page to the campaign's report: its funnel counts the pushes sent."""
    campaign_id = journey.need("campaign_id", "step 06 (campaign wizard)")
    journey.need("sent_total", "step 08 (progress)")
    page.goto(f"/admin/campaigns/campaign/{campaign_id}/progress/")
    page.get_by_test_id("progress-report-link").click()
    expect(page).to_have_url(re.compile(rf"/admin/campaign-reports/\?campaign={campaign_id}"))
    report = page.locator("#campaign-report")
    expect(report).to_contain_text(journey["campaign_name"])
    expect(page.get_by_test_id("report-sent")).to_have_text(str(journey["sent_total"]))
    expect(page.locator("#report-chart-funnel canvas")).to_be_visible()
    expect(page.locator("#report-chart-trends canvas")).to_be_visible()
    csv = page.request.get(f"/api/v1/campaigns/{campaign_id}/report/csv/")
    assert csv.ok, f"the report's CSV answered {csv.status}"


def test_10_customer_360(page: Page, journey):
    """A customer who received the push, found by their openid in the customers list: their 360
    page shows the push in the timeline, with the campaign."""
    customer_id = journey.need("delivered_customer", "step 08 (progress)")
    _require(page, f"/admin/customers/customer/{customer_id}/360/", 'data-testid="customer-360"', "the customer 360 page")
    page.goto(f"/admin/customers/customer/?q={journey['delivered_openid']}")
    page.locator(f"#result_list a[href*='/customer/{customer_id}/360/']").first.click()
    expect(page.get_by_test_id("customer-360")).to_have_attribute("data-customer-id", str(customer_id))
    timeline = page.get_by_test_id("c360-timeline")
    push = timeline.locator("[data-testid=timeline-entry][data-kind=push]", has_text=journey["campaign_name"])
    expect(push).to_have_count(1)
    expect(push.get_by_test_id("timeline-campaign")).to_have_text(journey["campaign_name"])
    # Only the pushes: the filter keeps it.
    timeline.get_by_test_id("c360-timeline-filter").locator("[data-kind=pushes]").click()
    expect(page.get_by_test_id("c360-timeline").locator("[data-testid=timeline-entry][data-kind=push]", has_text=journey["campaign_name"])).to_have_count(1)


def test_11_dashboard_after_the_campaign(page: Page, journey):
    """Back on the dashboard, the campaign is among the last campaigns' funnels."""
    journey.need("sent_total", "step 08 (progress)")
    _require(page, "/admin/", 'id="console-dashboard"', "the dashboard")
    page.goto("/admin/")
    funnels = page.locator("#dash-chart-funnels")
    expect(funnels.locator("canvas")).to_be_visible()
    expect(page.locator("#console-dashboard")).to_contain_text(journey["campaign_name"])
    # The newest campaign is the rightmost group of bars: planned and sent are what was sent.
    bars = page.evaluate(
        """() => Chart.getChart(document.querySelector('#dash-chart-funnels canvas')).data.datasets
                 .map(d => d.data[d.data.length - 1])"""
    )
    assert bars[:2] == [journey["sent_total"]] * 2, f"funnel bars (planned, sent, …) {bars}, sent {journey['sent_total']}"
    # The pushes of the last 28 days count them too.
    expect(page.locator("#dash-kpi-pushes")).to_contain_text(re.compile(rf"(?<!\d){journey['sent_total']}(?!\d)"))


def test_12_no_request_left_the_server(recorder):
    """Across the whole journey the browser asked no other host for anything."""
    assert recorder.blocked == [], f"requests to other hosts: {recorder.blocked}"


def test_13_the_stack_logged_no_error(stack):
    """No process of the stack (web, worker, beat, sandbox) logged an error or a traceback during the
    journey: a failure the browser cannot see (a task that crashed after the page looked fine)."""
    if not stack.log_path.exists():
        pytest.skip("attached to a running stack (E2E_REUSE_STACK): its log is not here")
    lines = stack.log_path.read_text(errors="replace").splitlines()
    bad = [i for i, line in enumerate(lines) if "Traceback (most recent call last)" in line or re.search(r"\bERROR\b|\bCRITICAL\b", line)]
    excerpt = "\n".join(lines[i][:300] for i in bad[:10])
    assert not bad, f"{len(bad)} error line(s) in {stack.log_path}:\n{excerpt}"
