from django.core.management.base import BaseCommand

from messaging.callbacks.benchmarks import DEFAULT_CONCURRENCY, bench_callbacks


class Command(BaseCommand):
    help = "Benchmark the WeChat callback endpoint under gunicorn against an empty view (loopback only)."

    def add_arguments(self, parser):
        parser.add_argument("--requests", type=int, default=10_000, help="callbacks to post (5,000–20,000 is typical)")
        parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)

    def handle(self, *args, requests: int, concurrency: int, **options):
        bench_callbacks(requests=requests, concurrency=concurrency, stdout=self.stdout)
