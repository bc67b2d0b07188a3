import os
import subprocess
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devtools.chaos import postgres_terminate, quota, redis_outage, worker_kill
from devtools.chaos.population import earlier_runs_forget
from devtools.chaos.stack import Stack, StackError

DRILLS = {"1": redis_outage, "2": worker_kill, "3": postgres_terminate, "4": quota}


class Command(BaseCommand):
    help = "Break a real stack (own database, redis-server and ports) in four drills and print what was lost, duplicated and the recovery times."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8810)
        parser.add_argument("--sandbox-port", type=int, default=8811)
        parser.add_argument("--redis-port", type=int, default=6391, help="the drills' own redis-server (started and stopped by them)")
        parser.add_argument("--drills", default="1,2,3,4", help="which drills, e.g. 2,4")

    def handle(self, *args, port: int, sandbox_port: int, redis_port: int, drills: str, **options):
        if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
            raise CommandError("the drills need PostgreSQL: set DATABASE_URL")
        if os.environ.get("REDIS_URL") != f"redis://127.0.0.1:{redis_port}/0":
            raise CommandError(f"REDIS_URL must be the drills' own redis-server: redis://127.0.0.1:{redis_port}/0")
        chosen = [d.strip() for d in drills.split(",") if d.strip()]
        if unknown := [d for d in chosen if d not in DRILLS]:
            raise CommandError(f"unknown drills {unknown}; choose from {sorted(DRILLS)}")

        def log(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        log(f"chaos drills {','.join(chosen)} on database {settings.DATABASES['default']['NAME']}, redis :{redis_port}, "
            f"web :{port}, sandbox :{sandbox_port}")
        log("uptime: " + subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())  # noqa: S607
        forgotten = earlier_runs_forget()
        if forgotten:
            log(f"drill data of {forgotten} accounts of earlier runs put out of the way")
        stack = Stack(port=port, sandbox_port=sandbox_port, redis_port=redis_port, log_dir=Path(settings.BASE_DIR) / "var" / "chaos")
        results = []
        started = time.monotonic()
        try:
            log("starting the stack (redis-server, sandbox, web, 3 workers, beat) …")
            stack.start()
            log(f"stack ready in {time.monotonic() - started:.0f} s; logs in {stack.log_dir}")
            for drill in chosen:
                module = DRILLS[drill]
                log(f"\ndrill {drill}: {module.__doc__.splitlines()[0]}")
                drill_started, drill_started_at = time.monotonic(), time.time()
                result = module.run(stack, log=log)
                results.append(result)
                restarts = [r for r in stack.restarts if r[0] >= drill_started_at]
                if restarts:
                    result.notes.append(
                        "the supervisor restarted " + ", ".join(f"{name} (exit {code})" for _at, name, code in restarts)
                        + " (see var/chaos/*.log)"
                    )
                for line in result.lines():
                    log(line)
                log(f"    took:       {time.monotonic() - drill_started:.0f} s")
        except StackError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            stack.stop()
        log(f"\n{sum(r.passed for r in results)}/{len(results)} drills passed in {time.monotonic() - started:.0f} s")
        log("uptime: " + subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())  # noqa: S607
        if not all(r.passed for r in results):
            raise CommandError("some drills failed")
