from django.core.management.base import BaseCommand

from devtools.benchmarks.callbacks import DEFAULT_CONCURRENCY, DEPLOYED_THREADS, bench_callbacks


class Command(BaseCommand):
    help = "Benchmark the WeChat callback endpoint under gunicorn against an empty view (loopback only)."

    def add_arguments(self, parser):
        parser.add_argument("--requests", type=int, default=10_000, help="callbacks to post (5,000–20,000 is typical)")
        parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
        parser.add_argument("--threads", type=int, default=DEPLOYED_THREADS, help="gunicorn threads per worker (2 workers)")

    def handle(self, *args, requests: int, concurrency: int, threads: int, **options):
        bench_callbacks(requests=requests, concurrency=concurrency, threads=threads, stdout=self.stdout)
