"""messaging's error codes: those its APIs answer with, and those recorded on rows — a delivery's
`error_code` (SendErrorCode) and a tag-sync report's errors (TagSyncErrorCode). Values are a contract
(clients, reports and filters match on them): never rename one."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import status

from scrm.errors import ErrorCatalogue, RecordedErrorCatalogue


class MessagingError(ErrorCatalogue):
    # Channel accounts
    ACCOUNT_IN_USE = "account_in_use", _("The account has customer identities; deactivate it (is_active=false) instead."), status.HTTP_409_CONFLICT
    # Channel codes (QR codes and contact-me ways)
    CHANNEL_CODE_BAD_ACCOUNT = "channel_code_bad_account", _("Channel codes exist for service accounts and WeCom corps.")
    CHANNEL_CODE_NO_STAFF = "channel_code_no_staff", _("A contact-me way needs at least one staff member.")
    CHANNEL_CODE_BAD_SCENE = "channel_code_bad_scene", _("The scene is empty or too long.")
    CHANNEL_CODE_UNKNOWN_TAGS = "channel_code_unknown_tags", _("Unknown tags.")
    CHANNEL_CODE_SCENE_TAKEN = "channel_code_scene_taken", _("This account already has a channel code with that scene."), status.HTTP_409_CONFLICT
    CHANNEL_CODE_REMOTE_FAILED = "channel_code_remote_failed", _("WeChat did not create the code."), status.HTTP_502_BAD_GATEWAY
    # WeCom media and attachments (welcome messages, group messages, moments)
    MEDIA_INVALID = "media_invalid", _("The media file or attachment does not meet WeCom's rules.")
    # WeCom group welcome templates (入群欢迎语素材)
    GROUP_WELCOME_INVALID = "group_welcome_invalid", _("The group welcome template does not meet WeCom's rules (text at most 3000 bytes, at most one attachment, not empty).")
    GROUP_WELCOME_LIBRARY_FULL = "group_welcome_library_full", _("The corp's group welcome library holds 100 templates; delete one first."), status.HTTP_409_CONFLICT
    GROUP_WELCOME_REMOTE_FAILED = "group_welcome_remote_failed", _("WeCom refused the group welcome template."), status.HTTP_502_BAD_GATEWAY
    # Sync jobs
    SYNC_BAD_KIND = "sync_bad_kind", _("Unknown sync job kind.")
    SYNC_BAD_ACCOUNT = "sync_bad_account", _("This sync job does not apply to this account.")
    # WeCom hand-over of customers
    HANDOVER_INVALID = "wecom_handover_invalid", _("This hand-over cannot be made as asked.")
    # WeCom customer moments (客户朋友圈)
    MOMENT_INVALID = "wecom_moment_invalid", _("This moment cannot be published as asked.")
    # The template library (template messages and subscribe templates mirrored from WeChat)
    TEMPLATE_SYNC_UNSUPPORTED = "template_sync_unsupported", _("Only service accounts and mini-programs have a template library.")
    TEMPLATE_SYNC_FAILED = "template_sync_failed", _("WeChat did not give the template library."), status.HTTP_502_BAD_GATEWAY, status.HTTP_503_SERVICE_UNAVAILABLE
    TEMPLATE_NOT_FOUND = "message_template_not_found", _("The account has no such template; sync its template library from WeChat."), status.HTTP_404_NOT_FOUND
    TEMPLATE_REMOVED = "message_template_removed", _("The template was deleted on WeChat; choose another one."), status.HTTP_409_CONFLICT
    # Content: materials, drafts, publishing
    CONTENT_NEEDS_SERVICE_ACCOUNT = "content_needs_service_account", _("Materials and articles belong to a service account.")
    MATERIAL_BAD_KIND = "material_bad_kind", _("Unknown material kind.")
    MATERIAL_BAD_FILE = "material_bad_file", _("WeChat does not take this file type for this kind of material.")
    MATERIAL_TOO_LARGE = "material_too_large", _("The file is larger than WeChat allows for this kind of material.")
    MATERIAL_VIDEO_NEEDS_TITLE = "material_video_needs_title", _("A video material needs a title and an introduction.")
    ARTICLE_INVALID = "article_invalid", _("The article is not complete or breaks one of WeChat's limits.")
    ARTICLE_NOT_EDITABLE = "article_not_editable", _("Only a draft can be changed or published."), status.HTTP_409_CONFLICT
    CONTENT_REMOTE_FAILED = "content_remote_failed", _("WeChat refused the request."), status.HTTP_502_BAD_GATEWAY, status.HTTP_503_SERVICE_UNAVAILABLE
    # Mini-program API
    UNKNOWN_APPID = "unknown_appid", _("No active mini-program with this appid.")
    MP_LOGIN_FAILED = "mp_login_failed", _("WeChat login failed."), status.HTTP_400_BAD_REQUEST, status.HTTP_503_SERVICE_UNAVAILABLE
    TOKEN_EXPIRED = "token_expired", _("Token expired; refresh it."), status.HTTP_401_UNAUTHORIZED
    INVALID_REFRESH_TOKEN = "invalid_refresh_token", _("Refresh token is invalid or expired; log in again."), status.HTTP_401_UNAUTHORIZED
    BODY_TOO_LARGE = "body_too_large", _("The request body is too large."), status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    UNKNOWN_QUERY_PARAMETER = "unknown_query_parameter", _("Unknown query parameters.")
    UNKNOWN_TOPIC = "unknown_topic", _("Unknown topic ids.")
    # The customer-service inbox
    INBOX_REPLY_HELD = "inbox_reply_held", _("The reply is held back: the customer's customer-service window has no message left (WeChat allows 5 in the 48 hours after the customer's message, 3 in the minute after a follow, scan or menu click). It can be sent when the customer writes again."), status.HTTP_409_CONFLICT
    INBOX_REPLY_REFUSED = "inbox_reply_refused", _("The reply is refused: the customer has not written in the last 48 hours (or no longer follows the account), and WeChat refuses customer-service messages outside that window."), status.HTTP_409_CONFLICT
    INBOX_REPLY_FAILED = "inbox_reply_failed", _("WeChat did not take the reply."), status.HTTP_502_BAD_GATEWAY
    INBOX_BAD_OPERATOR = "inbox_bad_operator", _("The conversation can only be transferred to an active operator who may reply in the inbox.")
    # WeChat's own customer-service (kf) accounts and sessions
    KF_BAD_ACCOUNT = "kf_bad_account", _("WeChat's customer-service accounts exist for service accounts only.")
    KF_INVALID = "kf_invalid", _("The kf account does not meet WeChat's rules (prefix@WeChat ID, the prefix at most 10 letters, digits or underscores; a nickname of at most 16 characters; a jpg avatar).")
    KF_EXISTS = "kf_exists", _("This kf account exists already."), status.HTTP_409_CONFLICT
    KF_UNKNOWN = "kf_unknown", _("No such kf account on this service account (sync the kf accounts from WeChat first).")
    KF_NO_SESSION = "kf_no_session", _("No kf account holds this conversation."), status.HTTP_409_CONFLICT
    KF_REFUSED = "kf_refused", _("WeChat refused the customer-service call."), status.HTTP_409_CONFLICT
    KF_UNAVAILABLE = "kf_unavailable", _("WeChat could not be reached or failed."), status.HTTP_502_BAD_GATEWAY


class SendErrorCode(RecordedErrorCatalogue):
    """Why a send failed or was put off, as recorded on a delivery. Besides these, `error_code` holds
    WeChat's own errcode as text (e.g. "43004") or `http_<status>` when WeChat answered an HTTP error."""

    # The network or our own infrastructure
    TIMEOUT = "timeout", _("WeChat did not answer in time.")
    CONNECTION_ERROR = "connection_error", _("Could not connect to WeChat.")
    HTTP_ERROR = "http_error", _("The HTTP request to WeChat failed.")
    HTTP_429 = "http_429", _("WeChat answered: too many requests.")
    API_HOST_REFUSED = "api_host_refused", _("The account's API base URL is neither WeChat's nor a listed sandbox; nothing was sent.")
    BAD_RESPONSE = "bad_response", _("WeChat's answer could not be read.")
    REDIS_ERROR = "redis_error", _("The token store or rate limiter was unreachable; nothing was sent.")
    RATE_LIMITED = "rate_limited", _("The account's send rate limit put the send off.")
    DEFERRED = "deferred", _("Put off (quiet hours or the account's rate limit); it will be sent later.")
    # WeChat's quotas: the send waits for the quota to turn (messaging/channels/quota.py)
    QUOTA_DEFERRED = "quota_deferred", _("Put off by WeChat's quota for this kind of message; it is sent when the quota turns, not failed.")
    TEMPLATE_DAILY_QUOTA = "template_daily_quota", _("The account's daily quota of template messages is used up; the rest wait for the next quota day (midnight Beijing time).")
    MASS_DAILY_LIMIT = "mass_daily_limit", _("WeChat allows 100 mass sends a day; the rest wait for the next quota day (midnight Beijing time).")
    MASS_MINUTE_LIMIT = "mass_minute_limit", _("WeChat allows 60 mass sends a minute; the rest wait for the next minute.")
    API_QUOTA_USED = "api_quota_used", _("WeChat refused this kind of message for the rest of the quota day; the rest wait for midnight Beijing time.")
    # The message or the recipient
    RENDER_FAILED = "render_failed", _("The message could not be rendered for this customer.")
    MISSING_SENDER = "missing_sender", _("A WeCom group message needs a sender (staff userid).")
    NOT_CONTACT = "not_contact", _("Not an external contact of the sender.")
    LIMIT_REACHED = "limit_reached", _("WeCom's limit of group messages to this customer was reached.")
    INBOX_HAS_NO_PUSH = "inbox_has_no_push", _("An inbox message has no push to test.")
    WELCOME_WINDOW_PASSED = "welcome_window_passed", _("WeCom's 20 seconds for the welcome message had passed; nothing was sent.")
    # Our own dispatch
    EXCEPTION = "exception", _("An unexpected error occurred while sending.")
    MISSING_OUTCOME = "missing_outcome", _("The channel returned no outcome for this recipient.")
    # Delivery reports from WeChat (WeCom group-message results report not_contact and limit_reached)
    USER_BLOCK = "user_block", _("The customer refused this kind of message.")
    SYSTEM_FAILED = "system_failed", _("WeChat reported the delivery failed.")


class TagSyncErrorCode(RecordedErrorCatalogue):
    """Errors listed in a tag-push sync job's report (besides WeChat's own errcodes as text)."""

    TAG_MIRROR_UNSUPPORTED = "tag_mirror_unsupported", _("Mini-programs have no tags.")
    WECHAT_TAG_LIMIT = "wechat_tag_limit", _("The account reached WeChat's limit of tags.")
    WECHAT_USER_TAG_LIMIT = "wechat_user_tag_limit", _("Some followers reached WeChat's limit of tags per user.")
    WECOM_NO_STAFF = "wecom_no_staff", _("Some contacts have no known staff member to tag them through.")
