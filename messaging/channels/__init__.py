"""Channel adapters: one interface (messaging.channels.base) for every WeChat channel."""

from __future__ import annotations

from accounts.models import AccountKind
from messaging.channels.miniprogram import MiniProgramAdapter
from messaging.channels.oa import OfficialAccountAdapter
from messaging.channels.wecom import WeComAdapter


def get_adapter(account):
    """The adapter for `account` (service account, WeCom corp app or mini-program)."""

    adapters = {
        AccountKind.OA: OfficialAccountAdapter,
        AccountKind.WECOM: WeComAdapter,
        AccountKind.MINIPROGRAM: MiniProgramAdapter,
    }
    try:
        return adapters[account.kind](account)
    except KeyError:
        raise ValueError(f"no adapter for account kind {account.kind!r}") from None
