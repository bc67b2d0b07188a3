"""Browser check of the segment builder and the Customer 360 page against a running server (not part
of `make test`): no JavaScript error on any path, the live count appears, a segment saves, the 360
timeline shows entries. Requests to any other host are blocked. Screenshots go to var/e2e/c360/.

    DEBUG=1 DATABASE_URL=... manage.py runserver 127.0.0.1:8113   # with seed_demo data and a superuser
    .venv/bin/python scripts/browser_check_c360.py http://127.0.0.1:8113 admin admin
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parent.parent / "var" / "e2e" / "c360"


def main(base: str, username: str, password: str) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    host = urlparse(base).netloc
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN",
                                      extra_http_headers={"Accept-Language": "zh-Hans"})
        context.route("**/*", lambda route: route.continue_() if urlparse(route.request.url).netloc == host else route.abort())
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))

        def shot(name: str) -> None:
            page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)

        page.goto(f"{base}/admin/login/?next=/admin/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")

        # Builder on Add: add a tag condition, pick a tag, see the count, save.
        page.goto(f"{base}/admin/customers/segment/add/")
        page.wait_for_selector("[data-testid=builder-count][data-count]")
        page.select_option("[data-testid=builder-add-condition]", "tag")
        tags = page.locator("[data-testid=builder-tag-select] option:not([value=''])")
        page.select_option("[data-testid=builder-tag-select]", tags.nth(tags.count() - 1).get_attribute("value"))
        page.wait_for_timeout(600)
        page.wait_for_selector("[data-testid=builder-count][data-count]")
        count = page.get_attribute("[data-testid=builder-count]", "data-count")
        shot("1-builder-add")
        name = f"浏览器检查 {int(time.time())}"
        page.fill("#id_name", name)
        page.click("button[name=_continue]")
        page.wait_for_load_state("networkidle")
        assert "/change/" in page.url, page.url
        page.wait_for_selector("[data-testid=builder-count][data-count]")
        shot("2-builder-change")
        print(f"builder: {count} customers match; saved {page.url}")

        # Static kind and an invalid rule: no error, the note / the hint shows.
        page.goto(f"{base}/admin/customers/segment/add/")
        page.select_option("#id_kind", "static")
        page.wait_for_selector("[data-testid=builder-static-note]:not(.hidden)")
        page.select_option("#id_kind", "dynamic")
        page.click("[data-testid=builder-json] summary")
        page.fill("textarea.segment-rule-json", '{"all": [{"type": "tag", "op": "has"}]}')
        page.wait_for_selector("[data-testid=builder-node-error]:not(:empty)", timeout=5000)
        shot("3-builder-invalid")

        # Customer 360 from the changelist: the first row opens it; the timeline has entries or says it is empty.
        page.goto(f"{base}/admin/customers/customer/")
        page.locator("#result_list tbody tr a[href*='/360/']").first.click()
        page.wait_for_selector("[data-testid=customer-360]")
        entries = page.locator("[data-testid=timeline-entry]").count()
        shot("4-customer-360")
        if page.locator("[data-testid=c360-timeline-older]").count():
            page.click("[data-testid=c360-timeline-older]")
            page.wait_for_selector("[data-testid=customer-360]")
        print(f"360: {entries} timeline entries on the first page ({page.url})")
        browser.close()
    for error in errors:
        print("JS error:", error)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(*(sys.argv[1:4] if len(sys.argv) >= 4 else ["http://127.0.0.1:8113", "admin", "admin"])))
