"""`manage.py drill_2hosts`: the two-host drill (devtools/two_hosts); run it through `make drill-2hosts`."""

from __future__ import annotations

import os
import shutil
import signal

from django.core.management.base import BaseCommand, CommandError

from devtools.two_hosts.drill import DrillConfig, DrillResult, drill_run


def _fmt_rate(window) -> str:
    return f"{window.rate:,.0f}/s" if window is not None else "not measured"


def report_lines(result: DrillResult) -> list[str]:
    c, rec, acc = result.config, result.recovery, result.accounting
    one, two = result.one_host, result.two_hosts
    gain = f" ({two.rate / one.rate:.2f}x one host)" if one and two and one.rate else ""
    lines = [
        "two-host drill — results",
        f"  load average before / after: {result.load_before} / {result.load_after}",
        f"  campaign: {result.planned:,} deliveries planned (template messages), rate limit {c.rate_limit}/s per account",
        f"  throughput, one host: {_fmt_rate(one)}",
        f"  throughput, two hosts: {_fmt_rate(two)}{gain}"
        + (f"; host A {two.by_client_share('a')}, host B {two.by_client_share('b')}" if two else ""),
        f"  busiest second: {result.max_per_second} sends (calendar seconds), {result.max_in_any_second} in any "
        f"sliding second — limit {c.rate_limit}" + (f"; it fell while {result.busiest_during} sent" if result.busiest_during else ""),
        f"  sends per host over the whole campaign: {result.per_host}",
        f"  kill -9 of host A: {rec.killed_processes} processes, {rec.left_to_send:,} deliveries left to send, "
        f"{rec.stranded} stranded (claimed by A, never recorded)",
        "  host B sent again "
        + (f"{rec.resumed_after:.1f} s after the kill" if rec.resumed_after is not None else "— never"),
        f"  throughput, host B alone after the kill: {_fmt_rate(rec.survivor)}",
        "  stranded deliveries no longer claimed (sent, or handed back to be sent) "
        + (f"{rec.stranded_sent_after:.0f} s after the kill" if rec.stranded_sent_after is not None else "— not within the timeout"),
        "  campaign completed "
        + (f"{rec.completed_after:.0f} s after the kill" if rec.completed_after is not None else f"— not within {c.finish_timeout:.0f} s"),
    ]
    if acc is not None:
        lines += [
            f"  recipients {acc.recipients:,}: delivered {acc.delivered:,}, duplicates {acc.duplicates}, lost {acc.lost}, "
            f"repeated requests de-duplicated by client_msg_id {acc.repeated_requests}, "
            f"recorded sent without the message {acc.sent_without_message}",
            f"  deliveries by state: {acc.states}",
        ]
    if result.failure:
        lines.append(f"  failure: {result.failure}")
    lines.append(f"  outcome: {'PASSED' if result.passed else 'FAILED'}")
    return lines


class Command(BaseCommand):
    help = "Two hosts (network namespaces) dispatch one campaign under one rate limit; one is killed, the other finishes."

    def add_arguments(self, parser):
        defaults = DrillConfig()
        parser.add_argument("--recipients", type=int, default=defaults.recipients)
        parser.add_argument("--rate-limit", type=int, default=defaults.rate_limit, help="the account's sends per second")
        parser.add_argument("--window", type=float, default=defaults.window_seconds, help="seconds each throughput is measured over")
        parser.add_argument("--finish-timeout", type=float, default=defaults.finish_timeout,
                            help="seconds after the kill the other host has to finish the campaign")
        parser.add_argument("--port-base", type=int, default=defaults.port_base)
        parser.add_argument("--no-pin", action="store_true", help="do not give each host its own CPU (taskset)")

    def handle(self, *args, recipients, rate_limit, window, finish_timeout, port_base, no_pin, **options):
        if os.geteuid() != 0:
            raise CommandError("the drill creates network namespaces: run it as root")
        if shutil.which("ip") is None:
            raise CommandError("the drill needs iproute2's `ip` (apt-get install -y iproute2)")
        if recipients < 1000 or rate_limit < 1 or window <= 0:
            raise CommandError("--recipients must be at least 1000, --rate-limit and --window positive")
        config = DrillConfig(recipients=recipients, rate_limit=rate_limit, window_seconds=window,
                             finish_timeout=finish_timeout, port_base=port_base, pin_cpus=not no_pin)

        def log(text: str) -> None:
            self.stdout.write(text)
            self.stdout.flush()

        def interrupted(signum, frame):
            # SIGTERM (make or the shell stopping us) unwinds like Ctrl-C: the drill tears its hosts down.
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, interrupted)
        result = drill_run(config, log=log)
        for line in report_lines(result):
            log(line)
        if not result.passed:
            raise CommandError("the two-host drill failed (see above)")
