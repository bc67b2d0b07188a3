"""MASSSENDJOBFINISH carries only aggregate counts: the inbound loop hands them to the registered
aggregate-report handlers (messaging does not know campaigns)."""

import pytest

from tests.plugins.callbacks import wechat_payload


@pytest.mark.django_db
def test_mass_send_finish_dispatches_its_counts_as_an_aggregate_report(callback_oa_account, deliver, aggregate_reports):
    deliver(callback_oa_account, wechat_payload("mass_finish.xml", openid="mphelper", msg_id="1000001625"))
    [report] = aggregate_reports
    assert (report.account_id, report.msgid, report.kind, report.status) == (callback_oa_account.pk, "1000001625", "mass_send", "send success")
    assert (report.total_count, report.filter_count, report.sent_count, report.error_count) == (100, 80, 75, 5)


@pytest.mark.django_db
def test_mass_send_finish_without_a_msgid_is_ignored(callback_oa_account, deliver, aggregate_reports):
    xml = wechat_payload("mass_finish.xml", openid="mphelper", msg_id="").replace("<MsgID></MsgID>", "")
    deliver(callback_oa_account, xml)
    assert aggregate_reports == []
