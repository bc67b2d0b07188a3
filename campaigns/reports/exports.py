"""CSV renderings of the reports (UTF-8 with BOM so spreadsheet apps read Chinese names)."""

from __future__ import annotations

import csv
import io

from campaigns.models import Campaign
from campaigns.reports.selectors import campaign_report


def _csv(rows: list[list]) -> str:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerows(rows)
    return buffer.getvalue()


def _safe(value) -> object:
    # Spreadsheet formula injection: a cell starting with = + - @ is shown as text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def campaign_report_csv(campaign: Campaign) -> str:
    report = campaign_report(campaign)
    rows: list[list] = [["section", "metric", "value"], ["campaign", "name", _safe(campaign.name)]]
    rows += [["funnel", stage, n] for stage, n in report["funnel"]["stages"]]
    rows += [["rates", k, "" if v is None else f"{v:.6f}"] for k, v in report["rates"].items()]
    for metric in ("conversion", "engagement"):
        for key, value in report["lift"][metric].items():
            rows.append([f"lift:{metric}", key, "" if value is None else value])
    rows += [["unfollows", k, "" if v is None else v] for k, v in report["unfollows"].items()]
    return _csv(rows)


def table_csv(rows: list[dict]) -> str:
    if not rows:
        return _csv([])
    header = list(rows[0])
    return _csv([header, *[[_safe(row.get(h)) if row.get(h) is not None else "" for h in header] for row in rows]])
