from django.core.management.base import BaseCommand, CommandError

from devtools.population import population_generate


class Command(BaseCommand):
    help = "Write a synthetic population (customers, identities, tags, events, pushes) with PostgreSQL COPY."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=1_000_000)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--force", action="store_true", help="regenerate even if a population of this size exists")

    def handle(self, *args, customers: int, seed: int, force: bool, **options):
        if customers < 1:
            raise CommandError("--customers must be at least 1")
        try:
            population_generate(customers=customers, seed=seed, reuse=not force, log=self.stdout.write)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
