"""What the drill measured, from the receiving side (the sandbox's request counts and sent messages)
and from the deliveries: throughput per phase, the busiest second against the limit, per-host shares,
duplicates and losses."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from campaigns.models import Delivery
from messaging.sandbox.control import SandboxControl

SEND_PATH = "message/template/send"


@dataclass
class Window:
    """Template sends the sandbox received from `since` to `until` (epoch seconds)."""

    name: str
    since: float
    until: float
    sends: int = 0
    by_client: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.sends / max(self.until - self.since, 1e-9)

    def by_client_share(self, host: str) -> str:
        """`host`'s sends in the window and their share ("12,000 (48%)"); by_client is keyed by host name."""
        n = self.by_client.get(host, 0)
        return f"{n:,} ({100 * n / self.sends:.0f}%)" if self.sends else "0"


def window_measure(control: SandboxControl, app_id: str, *, name: str, since: float, until: float) -> Window:
    # Whole 100 ms buckets: `until` is exclusive.
    rates = control.request_rates(app_id, path_contains=SEND_PATH, since=since, until=until - 0.05)
    return Window(name=name, since=since, until=until, sends=rates["total"], by_client=rates["by_client"])


@dataclass
class Accounting:
    recipients: int
    delivered: int  # distinct recipients the sandbox delivered a message to
    duplicates: int  # messages delivered beyond the first to a recipient
    repeated_requests: int  # send requests the sandbox de-duplicated by client_msg_id (same msgid back)
    lost: int  # recipients who never got the message
    states: dict[str, int]
    sent_without_message: int  # deliveries recorded sent whose msgid the sandbox never issued to that user


def accounting(control: SandboxControl, app_id: str, *, campaign_id: int, openids: list[str]) -> Accounting:
    messages = control.sent_messages(app_id, api="template")
    per_user = Counter(m["touser"] for m in messages)
    issued = {(m["touser"], str(m["msgid"])) for m in messages}
    requests = control.request_rates(app_id, path_contains=SEND_PATH)["total"]
    states = Counter(Delivery.objects.filter(campaign_id=campaign_id).values_list("state", flat=True))
    recorded = Delivery.objects.filter(campaign_id=campaign_id, state="sent").values_list("identity__external_id", "msgid")
    return Accounting(
        recipients=len(openids),
        delivered=len(per_user),
        duplicates=sum(n - 1 for n in per_user.values() if n > 1),
        repeated_requests=requests - len(messages),
        lost=len(set(openids) - set(per_user)),
        states=dict(sorted(states.items())),
        sent_without_message=sum(1 for pair in recorded if pair not in issued),
    )
