"""WeChat / WeCom callbacks: the inbound loop.

views (verify signature and replay window, decrypt, hardened parse) → services.inbound_store (an
INSERT … ON CONFLICT DO NOTHING into the InboundMessage outbox, keyed per account by MsgId or
FromUserName+CreateTime+Event(+EventKey/ChangeType); concurrent requests of a web process share one
multi-row INSERT and commit, groupcommit.py) → after commit, enqueue.publish_inbound hands
the row id to `inbound_process_task` on the `callbacks` queue → services.inbound_process claims the
row (received → processing) and applies processing.process_fields in the same transaction that marks
it processed. `inbound_sweep_task` (beat, every 30 s) re-enqueues rows that never got processed.
"""
