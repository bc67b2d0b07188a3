"""Registering the product's channel accounts with the sandbox their API base URL points at."""

from __future__ import annotations

from urllib.parse import urlsplit

from messaging.sandbox.control import SandboxControl

REAL_HOSTS = {"api.weixin.qq.com", "qyapi.weixin.qq.com", "api2.weixin.qq.com", "sh.api.weixin.qq.com"}


def account_points_at_sandbox(account) -> bool:
    """True when the account has its own API base URL that is not one of WeChat's real hosts."""
    return bool(account.api_base_url) and urlsplit(account.api_base_url).hostname not in REAL_HOSTS


def sandbox_register_account(account) -> dict:
    """Register the account's app id, secret and callback settings with its sandbox (idempotent)."""
    control = SandboxControl(account.resolved_api_base_url)
    return control.register_app(
        kind=account.kind,
        app_id=account.app_id,
        secret=account.app_secret,
        callback_url=account.callback_url,
        token=account.token,
        encoding_aes_key=account.encoding_aes_key,
        agent_id=account.agent_id or None,
        callback_encrypted=account.encrypt_mode != "plain",
    )
