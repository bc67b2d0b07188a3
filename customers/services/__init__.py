"""customers' services: the only writers of customers' tables, one module per concern.

`customers.services.<name>` keeps working for one release; new code imports from the module
(`customers.services.consent`, `.identity`, `.tags`, `.events`, `.profile`, `.merge`).
"""

from customers.services.consent import (
    consent_credit_add,
    consent_credit_consume,
    consent_credit_revoke,
    consent_credits_refund,
    consent_credits_revoke,
    consent_credits_spend,
)
from customers.services.cs_window import cs_window_refund, cs_window_take
from customers.services.events import ENGAGEMENT_EVENT_PREFIXES, event_record, events_record_bulk
from customers.services.identity import (
    Refusal,
    identity_link_unionid,
    identity_record_refusal,
    identity_resolve,
    identity_set_follow_state,
    identity_set_owner_staff,
    identity_touch_interaction,
)
from customers.services.merge import customer_merge
from customers.services.profile import (
    PROFILE_FIELDS,
    customer_fill_profile,
    customer_set_phone,
    customer_set_source_if_empty,
    customer_update,
    normalize_phone,
)
from customers.services.tags import tag_members_replace, tags_assign_bulk, tags_unassign_bulk

__all__ = [
    "ENGAGEMENT_EVENT_PREFIXES",
    "PROFILE_FIELDS",
    "Refusal",
    "consent_credit_add",
    "consent_credit_consume",
    "consent_credit_revoke",
    "consent_credits_refund",
    "consent_credits_revoke",
    "consent_credits_spend",
    "customer_fill_profile",
    "customer_merge",
    "customer_set_phone",
    "customer_set_source_if_empty",
    "customer_update",
    "cs_window_refund",
    "cs_window_take",
    "event_record",
    "events_record_bulk",
    "identity_link_unionid",
    "identity_record_refusal",
    "identity_resolve",
    "identity_set_follow_state",
    "identity_set_owner_staff",
    "identity_touch_interaction",
    "normalize_phone",
    "tag_members_replace",
    "tags_assign_bulk",
    "tags_unassign_bulk",
]
