"""One drill's outcome: what was tried, lost, duplicated, the recovery time, and whether it met its goal."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DrillResult:
    name: str
    tried: str
    lost: int | None = None
    duplicated: int | None = None
    recovery_seconds: list[float] = field(default_factory=list)
    goal: str = ""
    passed: bool = False
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        recovery = ", ".join(f"{s:.1f} s" for s in self.recovery_seconds) or "—"
        return [
            f"[{'PASS' if self.passed else 'FAIL'}] {self.name}",
            f"    tried:      {self.tried}",
            f"    lost:       {'—' if self.lost is None else self.lost}",
            f"    duplicated: {'—' if self.duplicated is None else self.duplicated}",
            f"    recovery:   {recovery}",
            f"    goal:       {self.goal}",
            *(f"    note:       {note}" for note in self.notes),
        ]
