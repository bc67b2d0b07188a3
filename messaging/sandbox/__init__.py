"""The WeChat API sandbox: a local HTTP server that behaves like WeChat's and WeCom's APIs.

Run it with `manage.py wechat_sandbox --host 127.0.0.1 --port 8900 [--open] [--token-ttl S]`, or in
tests with `SandboxServer(host="127.0.0.1", port=0, open_mode=False).start()` (`.base_url`, `.stop()`)
or the `sandbox` pytest fixture (`.base_url`, `.control`). Point a wechatpy client at it by setting
`API_BASE_URL = base_url + "cgi-bin/"` and fetching the token from `base_url + "cgi-bin/token"` (or
`gettoken` for WeCom). Paths are matched from `/cgi-bin/`, `/sns/` or `/wxaapi/` on, so a prefixed base URL works.

APIs (shapes and error codes as WeChat; errors are HTTP 200 with a JSON errcode):
- tokens: GET cgi-bin/token, POST cgi-bin/stable_token, GET cgi-bin/gettoken (WeCom). Unknown app id
  40013, bad secret 40125 (WeCom 40001). A new plain token leaves the previous one valid for 5 minutes,
  then 40001; 2,000 fetches a day, then 45009; WeCom's gettoken answers the same token while it is
  valid; an expired one answers 42001; no token 41001. (Limits with their pages: limits.py.) `--open` accepts any app id/secret and registers the app
  on the fly with `auto_followers` (unknown openids become followers on first use).
- service account: message/template/send (client_msg_id + touser de-duplicated for 10 min: same msgid,
  no second send), message/mass/send (2..10000 openids, else 40130; clientmsgid repeat → 45065 with
  msg_id; at most 4 per user per calendar month, others — and unfollowed/unknown users — filtered),
  message/mass/sendall (filter.tag_id or is_to_all), message/custom/send (a user message opens 48 h
  with 5 sends, a follow / scan / click 1 minute with 3, a VIEW nothing; 45047 past the count, 45015
  outside the window or to an unfollowed user); mass sends 60 calls a minute (45011) and 100 a day
  (45009), clientmsgid remembered 24 h; template messages 100,000 a day (the app's template_quota), message/subscribe/bizsend (consumes a consent credit, 43101 without), user/info,
  user/info/batchget (≤100), user/get (pages of 10000, next_openid), user/tag/get, tags/create|get|
  update|delete, tags/members/batchtagging|batchuntagging (≤50), tags/getidlist, qrcode/create.
  43004 when the user does not follow, 40003 for an unknown openid.
- template library (handlers/templates.py): cgi-bin/template/get_all_private_template (service accounts
  only, else 48001), template/api_add_template (≤25 private templates, else 45026), template/
  del_private_template (unknown id 40037), wxaapi/newtmpl/gettemplate (service accounts and
  mini-programs). message/template/send refuses a template id not in the library with 40037 (the
  `auto_templates` app setting: see docs/channels.md "Template library").
- custom menus (handlers/menus.py): menu/create, get, delete, addconditional (tag rules only: sex,
  region, platform or language 65320; no default menu 65303; ≤ 3 link domains 65316), delconditional
  (65301), trymatch (newest conditional menu whose tag the follower has, else the default; unknown
  follower 65302); 1–3 top items (40016), 1–5 sub-items (40023), names ≤ 16 / 60 bytes (40018 /
  40025), keys ≤ 128 bytes, URLs ≤ 1024; daily call limits (45009).
- mini-program: sns/jscode2session (codes from `create_login_code`, each works once: used 40163, unknown 40029; in
  open mode any fresh code logs in a user whose openid derives from the code),
  message/subscribe/send (consent credit, 43101).
- WeCom externalcontact/: get, list, get_follow_user_list, batch/get_by_user, add_contact_way (keeps
  `state`), get_contact_way, del_contact_way, add_msg_template (msgid, fail_list = not a contact of the
  sender, or a customer whose last chat was with another staff member — set_last_chat), get_groupmsg_task, get_groupmsg_send_result (status 0 until `confirm_group_task`, then 1
  sent, 2 not a contact, 3 already got a group message that day), get_corp_tag_list, add_corp_tag,
  edit_corp_tag, del_corp_tag, mark_tag, send_welcome_msg (code once, within 20 s, else 41051; text ≤4000
  bytes; ≤9 attachments in the documented shapes, media_ids checked); add_msg_template with
  chat_type=group (sender = owner, chat_id_list ≤2000; results per chat_id: 2 not the sender's group,
  3 past the group's month limit) and groupchat/list, groupchat/get (handlers/wecom_groups.py);
  group_welcome_template/add|edit|get|del (handlers/wecom_group_welcome.py: ≤100, text ≤3000 bytes).
- WeCom batch/get_by_user (handlers/wecom_batch.py): 1–100 userids, limit default 50 (above 100 taken
  as 100), an opaque cursor, `tag_id` in follow_info.
- WeCom moments (handlers/wecom_moments.py): add_moment_task (text ≤2000 characters / 4000 bytes; ≤9
  images, or 1 video, or 1 link; jobid valid 24 h), get_moment_task_result (status 1, 2, 3 one step per
  query), get_moment_list (≤30 days, ≤20), get_moment_task, get_moment_customer_list,
  get_moment_send_result, get_moment_comments; `publish_moment` and `moment_interaction` (comment / like)
  play the staff member and the customers.
- WeCom media (handlers/media.py): media/upload (multipart; types and sizes as documented; media_id
  valid 3 days, then 40007), media/uploadimg (JPG/PNG ≤2 MB, 100 a day), media/upload_attachment
  (attachment_type 1 朋友圈 images/videos, 2 商品图册; the only media_ids add_moment_task takes).
- Every send API call counts against an optional daily quota per app (45009 beyond it) and is recorded
  in `sent_messages` with api = template | mass | mass_all | custom | bizsend | subscribe | wecom_group |
  welcome.

Callbacks: after a template send (when the app's `auto_report` is on, the default) the sandbox posts
TEMPLATESENDJOBFINISH to the app's callback URL with Status "success", "failed:user block" or
"failed: system failed" per `set_outcome`; after a mass send, MASSSENDJOBFINISH with the counts.
Events are signed and, when the app has an EncodingAESKey (or `callback_encrypted`), AES-encrypted as
WeChat does (query signature, timestamp, nonce, openid, encrypt_type=aes, msg_signature; WeCom:
msg_signature, timestamp, nonce, corp id as receive id). Posting runs on background threads; call
`flush_callbacks()` to wait for them; `callbacks()` lists what was posted and what the product answered.

Control API: POST (or GET) /_sandbox/<call> with JSON parameters; `SandboxControl(base_url)` wraps it:
- reset(); state(); apps(); register_app(kind, app_id, secret, callback_url=, token=,
  encoding_aes_key=, original_id=, agent_id=, auto_report=, callback_encrypted=, auto_followers=, auto_templates=,
  callback_retries=2, callback_timeout=5.0, template_quota=, group_msg_period="month" | "week" | "day",
  group_msg_limit= (WeCom corps' per-customer group-message rule; empty or 0: the period's default, the
  days of the month / 7 / 1; above it: the default)) — kind is oa | miniprogram | wecom; registering again
  updates; app_settings(app_id, **same).
- add_followers(app_id, n | [openid or {openid, unionid, subscribe, tags, last_interaction}],
  unionid_prefix=, openid_prefix=, subscribe=True, interaction_at=, staff_userid=) -> openids (for a
  WeCom corp: external contacts of staff_userid, default the first staff member or "sandbox-staff");
  set_following(app_id, openid, bool); set_interaction(app_id, openid, at=None means now, kind=message|event);
  grant_consent(app_id, openid, template_id, count=1) -> credits; consent(app_id, openid, template_id);
  create_login_code(app_id, openid, unionid=None) -> code; set_outcome(app_id, openid, outcome);
  user(app_id, openid) -> the sandbox's record of the user.
- add_template(app_id, title, content, kind="template"|"subscribe", example=, template_id=,
  primary_industry=, deputy_industry=, type=2) -> the template as WeChat lists it;
  remove_template(app_id, template_id, kind=); templates(app_id) -> {"template": [...], "subscribe": [...]}.
- add_wecom_staff(corp_id, userid, name=None); add_external_contact(corp_id, staff_userid,
  external_userid, unionid=None, name=None, state=None) -> welcome code; add_external_contacts(corp_id,
  staff_userid, count, unionid_prefix=) -> ids; confirm_group_task(corp_id, msgid) -> results;
  add_group_chats(corp_id, count, members=, owner=, pool=, external_prefix=) -> chat ids.
- set_faults(rate_45009=, rate_busy=, latency_ms=, token_ttl=, daily_quota={app_id: n}, paths=[...],
  seed=) — rates are drawn from a RNG seeded by `seed`; `paths` limits faults to matching API paths
  (token endpoints are never faulted); set_daily_quota(app_id, n|None); reset_faults();
  advance_clock(seconds) moves the sandbox's clock (token expiry, 48 h window, month, welcome codes).
- requests(path_contains=None, app_id=None, errcode=None, limit=None) -> [{method, path, app_id, query (secrets and
  tokens masked), body, at, errcode}] (the last 200,000 requests are kept); sent_messages(app_id=None, api=None, touser=None);
  token_fetch_count(app_id) (plain token fetches); request_rates(app_id=None, path_contains=, since=, until=)
  -> requests per calendar second, the busiest second, the busiest sliding one-second window and the
  count per client address (rates.py: drills check a shared rate limit with it).
- post_event(app_id, xml=None, encrypted=None, event=None, wait=False, repeat=1, **fields): posts raw `xml`, or
  performs a user action and posts its event: subscribe (openid, unionid, scene), unsubscribe, SCAN
  (scene), CLICK (key), VIEW (url), text (content), subscribe_msg_popup_event / _change_event
  (templates=[{template_id, status}] — accept grants a consent credit); WeCom: event =
  add_external_contact (staff_userid, external_userid, unionid, name, state; the XML carries a fresh
  WelcomeCode), del_external_contact, del_follow_user, edit_external_contact.
  `repeat` posts the same event (same XML) several times, like WeChat's retries. A post that gets no
  answer within callback_timeout is retried (callback_retries more times); a refused connection is not.
  flush_callbacks(timeout=30) -> bool; callbacks(app_id=None) -> [{app_id, url, user, xml, encrypted,
  attempts, status, body, at}].
- WeChat's own customer-service (kf) accounts (kf_control.py; the APIs in handlers/customservice.py):
  kf_setup(app_id, enabled=, wechat_id=) (the new customer service on/off — 65400 when off — and the
  account's WeChat ID, the suffix of `prefix@微信号`); kf_worker(app_id, kf_account, kf_wx=, online=)
  (the person behind the kf account binds their WeChat user, goes on- or offline); kf_wait(app_id,
  openid, latest_time=) (a customer in the queue of getwaitcase); kf_switch(app_id, openid,
  to_kf_account) and kf_end(app_id, openid) (the kf person moves or closes the session in their client:
  kf_switch_session / kf_close_session is posted); kf_state(app_id). kfsession/create and close post
  kf_create_session / kf_close_session as WeChat does.
"""
