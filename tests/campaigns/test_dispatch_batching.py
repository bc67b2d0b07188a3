"""The adapter's send_each (used by dispatch): per-chunk bookkeeping, still once per message."""

from messaging.channels import get_adapter
from messaging.channels.base import OutboundMessage, Recipient


def _items(people):
    return [
        (
            Recipient(key=str(index), external_id=identity.external_id),
            OutboundMessage(
                message_type="template",
                payload={"template_id": "TPL-ORDER", "data": {"first": {"value": f"Hi {customer.display_name}"}}},
                idempotency_key=f"batching-{index}",
            ),
        )
        for index, (customer, identity) in enumerate(people)
    ]


def test_send_each_sends_each_message_once_and_a_repeat_answers_from_the_memo(sandbox, sandbox_oa, sandbox_followers):
    people = sandbox_followers(sandbox_oa, 3)
    adapter = get_adapter(sandbox_oa)
    items = _items(people)

    first = adapter.send_each(items)
    again = adapter.send_each(items)

    assert [o.status for o in first] == ["sent"] * 3
    assert [o.msgid for o in again] == [o.msgid for o in first]
    sent = sandbox.control.sent_messages(app_id=sandbox_oa.app_id, api="template")
    assert sorted(m["client_msg_id"] for m in sent) == ["batching-0", "batching-1", "batching-2"]
    assert {m["touser"]: m["payload"]["data"]["first"]["value"] for m in sent} == {
        identity.external_id: f"Hi {customer.display_name}" for customer, identity in people
    }


def test_send_each_under_a_real_rate_limit_takes_the_per_send_path(sandbox, sandbox_oa, sandbox_followers):
    sandbox_oa.rate_limit_per_second = 50
    people = sandbox_followers(sandbox_oa, 2)
    outcomes = get_adapter(sandbox_oa).send_each(_items(people))
    assert [o.status for o in outcomes] == ["sent", "sent"]
    assert len(sandbox.control.sent_messages(app_id=sandbox_oa.app_id, api="template")) == 2
