"""Backtest the title model on an account's past campaigns and print its error beside the naive
baseline (the account's average click rate)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from campaigns.titles.backtest import account_history, backtest
from campaigns.titles.model import TitleModel


class Command(BaseCommand):
    help = "Backtest the title model (train on earlier campaigns, test on later ones) against the account's average."

    def add_arguments(self, parser):
        parser.add_argument("--account", type=int, required=True, help="channel account id")
        parser.add_argument("--train-share", type=float, default=0.7)

    def handle(self, *args, account: int, train_share: float, **options):
        examples = account_history(account_id=account)
        if len(examples) < 5:
            raise CommandError(f"account {account} has {len(examples)} completed campaigns with enough sends; the backtest needs at least 5")
        result = backtest(examples, train_share=train_share)
        out = self.stdout
        out.write(f"campaigns: {result.train} to train (earlier), {result.test} to test (later)")
        out.write(f"mean absolute error of the click rate: model {result.model_mae:.4f}, naive baseline {result.baseline_mae:.4f}")
        change = (result.baseline_mae - result.model_mae) / result.baseline_mae if result.baseline_mae else 0.0
        out.write(f"the model's error is {change:+.1%} lower than the baseline's; 95% intervals cover {result.coverage:.0%} of the test campaigns")
        out.write("weights (click rate per unit, all campaigns):")
        for name, weight in TitleModel(examples).explain():
            out.write(f"  {name:<32} {weight:+.4f}")
