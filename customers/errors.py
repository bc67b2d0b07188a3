"""The error codes customers' APIs and services answer with (values are an API contract: never rename)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import status

from scrm.errors import ErrorCatalogue


class CustomerError(ErrorCatalogue):
    # Customers and identities
    CUSTOMER_NOT_FOUND = "customer_not_found", _("No customer matches."), status.HTTP_404_NOT_FOUND
    CUSTOMER_ERASED = "customer_erased", _("This customer's data was erased."), status.HTTP_410_GONE
    CUSTOMER_INVALID = "customer_invalid", _("Unknown customer fields.")
    IDENTITY_MISSING_ID = "identity_missing_id", _("An identity needs an openid / external_userid.")
    MERGE_SELF = "merge_self", _("A customer cannot be merged into itself.")
    MERGE_MISSING = "merge_missing", _("Customer to merge no longer exists.")
    INVALID_FILTER = "invalid_filter", _("The customer filter is invalid.")
    # No longer raised (the customer search is always installed); kept so the value is never reused.
    CUSTOMER_SEARCH_UNAVAILABLE = "customer_search_unavailable", _("Customer search is not available.")
    TAG_GROUP_NOT_EMPTY = "tag_group_not_empty", _("The tag group still has tags; delete or move them first."), status.HTTP_409_CONFLICT
    # Engagement events and conversions
    EVENT_INVALID = "event_invalid", _("Unknown event fields.")
    TOO_MANY = "too_many", _("Too many items in one request.")
    # CSV import
    IMPORT_NO_FILE = "import_no_file", _("Send the CSV as a multipart field 'file' or as a text/csv body.")
    IMPORT_TOO_LARGE = "import_too_large", _("The CSV body is too large; upload it as a multipart field 'file'."), status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    IMPORT_EMPTY = "import_empty", _("The CSV file is empty.")
    IMPORT_NO_KEY_COLUMN = "import_no_key_column", _("The CSV needs at least one of the columns openid, unionid, phone.")
    IMPORT_UNKNOWN_COLUMNS = "import_unknown_columns", _("Unknown CSV columns.")
    CSV_UNREADABLE = "csv_unreadable", _("The file could not be read as CSV text (UTF-8 or GB18030).")
    # Segments
    SEGMENT_RULE_INVALID = "segment_rule_invalid", _("The segment rule is invalid.")
    SEGMENT_KIND_INVALID = "segment_kind_invalid", _("Unknown segment kind.")
    SEGMENT_CYCLE = "segment_cycle", _("Segment references form a cycle.")
    SEGMENT_NAME_TAKEN = "segment_name_taken", _("A segment with this name exists."), status.HTTP_409_CONFLICT
    SEGMENT_IN_USE = "segment_in_use", _("Other segments use this segment."), status.HTTP_409_CONFLICT
    SEGMENT_HAS_SNAPSHOTS = "segment_has_snapshots", _("The segment has snapshots (campaign audiences); it cannot be deleted."), status.HTTP_409_CONFLICT
    SEGMENT_NOT_STATIC = "segment_not_static", _("Only a static segment has a member list.")
    SEGMENT_UPLOAD_TOO_LARGE = "segment_upload_too_large", _("The file has too many rows.")
    SEGMENT_UPLOAD_ID_KIND = "segment_upload_id_kind", _("Unknown id_kind.")
