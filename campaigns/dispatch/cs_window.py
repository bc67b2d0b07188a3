"""Customer-service messages spend one message of the customer's window per send (customers' cs_window
services own the windows): a customer without an open window, or whose window's messages are used
up, is held with that reason before any call, not sent and failed by WeChat (45015 / 45047)."""

from __future__ import annotations

from campaigns.dispatch.claim import Claimed
from campaigns.dispatch.record import Outcome
from campaigns.models import Delivery, DeliveryState
from customers.services.cs_window import cs_window_refund, cs_window_take


def cs_window_spend(*, rows: list[Claimed]) -> tuple[list[Claimed], dict[str, list[Claimed]]]:
    """Take one message from each row's window: (rows that may be sent, {reason: rows held})."""
    refused = cs_window_take(identity_ids=[r.identity_id for r in rows if r.identity_id])
    allowed: list[Claimed] = []
    held: dict[str, list[Claimed]] = {}
    for row in rows:
        reason = refused.get(row.identity_id) if row.identity_id else "outside_cs_window"
        if reason:
            held.setdefault(reason, []).append(row)
        else:
            allowed.append(row)
    return allowed, held


def cs_window_refund_unsent(*, outcomes: list[Outcome]) -> None:
    """A message taken for a send that did not leave (busy, deferred, stopped) goes back to the window.
    A send WeChat refused as outside the window or over it (held as suppressed) gives nothing back."""
    ids = [o.delivery_id for o in outcomes if o.state not in (DeliveryState.SENT, DeliveryState.SUPPRESSED)]
    if not ids:
        return
    # The rows' recorded state decides: one recorded as sent meanwhile keeps its message spent.
    identities = Delivery.objects.filter(pk__in=ids).exclude(state=DeliveryState.SENT).exclude(identity_id=None).values_list("identity_id", flat=True)
    cs_window_refund(identity_ids=list(identities))
