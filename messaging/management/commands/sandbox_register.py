"""Register every channel account whose API base URL points at a sandbox with that sandbox."""

from __future__ import annotations

import requests
from django.core.management.base import BaseCommand, CommandError

from accounts.models import ChannelAccount
from messaging.sandbox.control import SandboxControlError
from messaging.sandbox.registration import account_points_at_sandbox, sandbox_register_account


class Command(BaseCommand):
    help = "Register channel accounts (app id, secret, callback URL/token/key) with the sandbox they point at."

    def handle(self, *args, **options) -> None:
        failed = 0
        registered = 0
        for account in ChannelAccount.objects.filter(is_active=True).exclude(api_base_url="").order_by("pk"):
            if not account_points_at_sandbox(account):
                continue
            try:
                sandbox_register_account(account)
            except (requests.RequestException, SandboxControlError) as exc:
                failed += 1
                self.stderr.write(f"{account} ({account.app_id}) → {account.resolved_api_base_url}: {exc}")
                continue
            registered += 1
            self.stdout.write(f"registered {account} ({account.app_id}) with {account.resolved_api_base_url}")
        self.stdout.write(f"{registered} account(s) registered with a sandbox")
        if failed:
            raise CommandError(f"{failed} account(s) could not be registered")
