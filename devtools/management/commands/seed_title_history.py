"""`python manage.py seed_title_history --account <id or app_id>`: a synthetic history of completed
mass campaigns (devtools.title_history), so the wizard's title prediction has something to learn from."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from accounts.models import ChannelAccount
from devtools.title_history import title_history_seed


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="the account's id or app_id")
        parser.add_argument("--campaigns", type=int, default=40)
        parser.add_argument("--sends", type=int, default=1000)
        parser.add_argument("--seed", type=int, default=11)

    def handle(self, *args, account: str, campaigns: int, sends: int, seed: int, **options):
        found = ChannelAccount.objects.filter(Q(app_id=account) | Q(pk=int(account) if account.isdigit() else None)).first()
        if found is None:
            raise CommandError(f"no account {account!r}")
        created = title_history_seed(account=found, campaigns=campaigns, sends=sends, seed=seed)
        self.stdout.write(f"{created} completed campaigns created for {found.name}" if created else f"{found.name} already has its title history")
