"""Registering the product's channel accounts with the sandbox their API base URL points at.

Registration sends the account's app secret, token and EncodingAESKey in clear: only to a sandbox the
deployment lists (settings.WECHAT_SANDBOX_URLS, messaging/channels/hosts.py), never to any other URL.
"""

from __future__ import annotations

from messaging.channels.hosts import ApiHostRefused, is_sandbox_url
from messaging.sandbox.control import SandboxControl


def account_points_at_sandbox(account) -> bool:
    """True when the account's own API base URL is a sandbox the deployment lists."""
    return bool(account.api_base_url) and is_sandbox_url(account.api_base_url)


def sandbox_register_account(account) -> dict:
    """Register the account's app id, secret and callback settings with its sandbox (idempotent)."""
    if not account_points_at_sandbox(account):
        raise ApiHostRefused(f"account {account.pk}: its API base URL is not a listed sandbox; not registered")
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
