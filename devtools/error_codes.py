"""Every error-code catalogue of the product in one list, and docs/errors.md rendered from them
(`manage.py error_codes --write`; a test keeps the page equal to what the catalogues render)."""

from __future__ import annotations

from enum import StrEnum

from django.utils import translation

from campaigns.errors import CampaignError
from customers.errors import CustomerError
from menus.errors import MenuError
from messaging.errors import MessagingError, SendErrorCode, TagSyncErrorCode
from scrm.errors import CommonError, ErrorCatalogue, RecordedErrorCatalogue

# (title, catalogue): the codes the API answers with, in the order the page lists them.
API_CATALOGUES: list[tuple[str, type[ErrorCatalogue]]] = [
    ("Shared by every API (`scrm.errors.CommonError`)", CommonError),
    ("Customers, tags, import, segments (`customers.errors.CustomerError`)", CustomerError),
    ("Campaigns (`campaigns.errors.CampaignError`)", CampaignError),
    (
        "Channel accounts, channel codes, sync jobs, mini-program API (`messaging.errors.MessagingError`)",
        MessagingError,
    ),
    ("Custom menus (`menus.errors.MenuError`)", MenuError),
]
# The codes recorded on rows, not answered by the API.
RECORDED_CATALOGUES: list[tuple[str, str, type[RecordedErrorCatalogue]]] = [
    (
        "A delivery's `error_code` (`messaging.errors.SendErrorCode`)",
        "Besides these, `error_code` holds WeChat's own errcode as text (e.g. `43004` not following, "
        "`43101` refused by the user, `45009` quota reached) or `http_<status>` when WeChat answered an HTTP error.",
        SendErrorCode,
    ),
    (
        "A tag-push sync job's report (`messaging.errors.TagSyncErrorCode`)",
        "Besides these, a report error's `code` may be WeChat's own errcode as text.",
        TagSyncErrorCode,
    ),
]

HEADER = """# Error codes

<!-- Generated from the catalogues (customers/errors.py, campaigns/errors.py, messaging/errors.py, menus/errors.py,
scrm/errors.py) by `manage.py error_codes --write`; edit those, not this page. -->

Every API error answers `{"code": "...", "message": "...", "detail": ...}` with a 4xx (or 5xx) status.
`code` is a contract: clients match on it, and a code is never renamed. `message` is for people, in
the language of the request's `Accept-Language` (Simplified Chinese by default, or English); it may
be more specific than the meaning listed here (it can name the value that was wrong). `detail`, when
present, says what was wrong in a machine-readable form (the invalid fields, the unknown keys…).

Each app keeps its codes in its own `errors.py` as an enum; a raise site names a member
(`raise ApplicationError(code=CustomerError.MERGE_SELF)`) and the default message is the member's
label, translated in `locale/`.
"""


def all_catalogues() -> list[type[StrEnum]]:
    return [c for _, c in API_CATALOGUES] + [c for _, _, c in RECORDED_CATALOGUES]


def _meaning(label, language: str) -> str:
    with translation.override(language):
        return str(label)


def error_codes_markdown() -> str:
    """docs/errors.md, rendered from the catalogues."""
    parts = [HEADER, "## Errors the API answers with\n"]
    for title, catalogue in API_CATALOGUES:
        parts.append(f"### {title}\n\n| code | HTTP | meaning | 中文 |\n|---|---|---|---|")
        for member in catalogue:
            statuses = ", ".join(str(s) for s in member.statuses)
            parts.append(
                f"| `{member.value}` | {statuses} | {_meaning(member.label, 'en')} | {_meaning(member.label, 'zh-hans')} |"
            )
        parts.append("")
    parts.append("## Error codes recorded on rows\n")
    for title, note, catalogue in RECORDED_CATALOGUES:
        parts.append(f"### {title}\n\n{note}\n\n| code | meaning | 中文 |\n|---|---|---|")
        for member in catalogue:
            parts.append(f"| `{member.value}` | {_meaning(member.label, 'en')} | {_meaning(member.label, 'zh-hans')} |")
        parts.append("")
    return "\n".join(parts)
