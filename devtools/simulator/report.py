"""Many runs (presets × seeds) summarised: per arm the means, and the steered/blast ratios with their spread."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence

from devtools.simulator.params import SimResult


def _mean_sd(values: Sequence[float]) -> str:
    if not values:
        return "–"
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.2f} ± {sd:.2f}"


def _ratios(results: Sequence[SimResult], attr: str, a: str = "steered", b: str = "blast") -> list[float]:
    out = []
    for r in results:
        x, y = r.arm(a), r.arm(b)
        if x is not None and y is not None and getattr(y, attr):
            out.append(getattr(x, attr) / getattr(y, attr))
    return out


def verdict(result: SimResult) -> str:
    """'met', 'oracle-bound' (the oracle cannot meet it either and steered ≥ 0.8 of its clicks/push) or 'NOT met'."""
    if result.goal_met:
        return "met"
    if result.oracle_goal_met is False and (result.vs_oracle or 0) >= 0.8:
        return "oracle-bound"
    return "NOT met"


def markdown(results_by_audience: dict[str, list[SimResult]]) -> str:
    """The table of docs/engagement.md: one block per audience, means over its seeds."""
    lines = [
        "| audience | arm | pushes | clicks | clicks/push | unfollows | mutes | suppressed (all campaigns) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for audience, results in results_by_audience.items():
        names = list(results[0].arms)
        for name in names:
            tallies = [r.arms[name] for r in results]
            reasons: Counter = Counter()
            for t in tallies:
                reasons.update(t.suppressed)
            n = len(tallies)
            reason_text = ", ".join(f"{k} {v / n:.0f}" for k, v in reasons.most_common()) or "–"
            lines.append(
                f"| {audience} | {name} | {statistics.fmean(t.pushes for t in tallies):.0f} | {statistics.fmean(t.clicks for t in tallies):.1f} "
                f"| {statistics.fmean(t.clicks_per_push for t in tallies):.3f} | {statistics.fmean(t.unfollows for t in tallies):.1f} "
                f"| {statistics.fmean(t.mutes for t in tallies):.1f} | {reason_text} |"
            )
    lines += [
        "",
        "| audience | seeds | steered/blast pushes | clicks | unfollows | clicks/push | oracle/blast clicks | steered/oracle clicks/push | verdict per seed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for audience, results in results_by_audience.items():
        verdicts = Counter(verdict(r) for r in results)
        lines.append(
            f"| {audience} | {', '.join(str(r.seed) for r in results)} | {_mean_sd(_ratios(results, 'pushes'))} | {_mean_sd(_ratios(results, 'clicks'))} "
            f"| {_mean_sd(_ratios(results, 'unfollows'))} | {_mean_sd(_ratios(results, 'clicks_per_push'))} "
            f"| {_mean_sd(_ratios(results, 'clicks', 'oracle', 'blast'))} | {_mean_sd([r.vs_oracle for r in results if r.vs_oracle is not None])} "
            f"| {', '.join(f'{k} {v}' for k, v in sorted(verdicts.items()))} |"
        )
    misses = [
        (audience, r) for audience, results in results_by_audience.items() for r in results if verdict(r) != "met"
    ]
    if misses:
        lines += [
            "",
            "| run that misses | blast pushes / clicks / unfollows | steered | oracle | steered/oracle clicks/push | clickable pairs: steered pushed (read, clicked) | left out | blast's clicks in steered |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for audience, r in misses:
            b, s, o = r.arm("blast"), r.arm("steered"), r.arm("oracle")
            d = r.diagnosis.get("steered")
            cells = [f"{audience} seed {r.seed} ({verdict(r)})"]
            cells += [f"{t.pushes} / {t.clicks} / {t.unfollows}" if t else "–" for t in (b, s, o)]
            cells.append(f"{r.vs_oracle:.2f}" if r.vs_oracle is not None else "–")
            if d is not None:
                cells.append(
                    f"{d.pushed_clickable} of {d.clickable} ({d.read_clickable}, {d.clicked_clickable}), hour off {d.hour_error:.1f} h"
                )
                cells.append(", ".join(f"{k} {v}" for k, v in sorted(d.left_out.items(), key=lambda kv: -kv[1])) or "–")
                cells.append(
                    ", ".join(f"{k} {v}" for k, v in sorted(d.blast_clicks.items(), key=lambda kv: -kv[1])) or "–"
                )
            else:
                cells += ["–"] * 3
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
