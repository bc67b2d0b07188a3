// The customer-service inbox page: list + conversation + reply box over /api/v1/conversations/,
// refreshed by polling (the list every 5 s, the open conversation's new messages every 2 s).
(function () {
  "use strict";
  const root = document.getElementById("inbox");
  if (!root) return;
  const api = root.dataset.api;
  const t = (name) => root.dataset["t" + name.replace(/(^|-)(\w)/g, (_m, _d, c) => c.toUpperCase())] || name;
  const $ = (id) => document.getElementById(id);
  let current = null;
  let lastId = 0;

  function call(url, options) {
    const opts = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
    if (opts.body) {
      opts.headers["Content-Type"] = "application/json";
      opts.headers["X-CSRFToken"] = root.dataset.csrf;
    }
    return fetch(url, opts).then((r) => r.json().then((body) => ({ ok: r.ok, status: r.status, body })));
  }

  function text(el, value) { el.textContent = value == null ? "" : String(value); return el; }

  function loadList() {
    const params = new URLSearchParams();
    if ($("inbox-state").value) params.set("state", $("inbox-state").value);
    if ($("inbox-mine").checked) params.set("mine", "true");
    return call(api + "?" + params.toString()).then(({ ok, body }) => {
      if (!ok) return;
      const list = $("inbox-conversations");
      list.replaceChildren();
      if (!body.results.length) list.append(text(document.createElement("li"), t("none")));
      body.results.forEach((c) => {
        const li = document.createElement("li");
        li.dataset.id = c.id;
        li.dataset.testid = "inbox-conversation";
        li.setAttribute("data-testid", "inbox-conversation");
        if (c.sla.breached) li.classList.add("overdue"); else if (c.sla.at_risk) li.classList.add("at-risk");
        if (current === c.id) li.classList.add("active");
        const name = text(document.createElement("div"), c.customer_name || "#" + c.customer);
        name.className = "font-semibold";
        const flag = c.sla.breached ? t("overdue") : c.sla.at_risk ? t("at-risk") : "";
        const meta = text(document.createElement("div"), [t(c.state), c.assignee_name, flag].filter(Boolean).join(" · "));
        meta.className = "text-xs";
        li.append(name, text(document.createElement("div"), c.last_preview), meta);
        li.addEventListener("click", () => open(c.id));
        list.append(li);
      });
    });
  }

  function describe(m) {
    const b = m.body || {};
    if (m.msg_type === "event") return "[" + t("event") + "] " + (b.event || "") + (b.menu_item_name ? " · " + b.menu_item_name : "");
    if (m.inbound) return b.Content || b.Title || b.Label || b.Recognition || "[" + m.msg_type + "] " + (b.PicUrl || b.Url || b.MediaId || "");
    if (b.text) return b.text.content;
    if (b.image) return "[image] " + b.image.media_id;
    if (b.miniprogrampage) return "[mini-program] " + b.miniprogrampage.title + " · " + b.miniprogrampage.pagepath;
    return m.msg_type;
  }

  function addMessages(messages) {
    const box = $("inbox-messages");
    messages.forEach((m) => {
      lastId = Math.max(lastId, m.id);
      const div = document.createElement("div");
      div.className = "inbox-msg " + (m.inbound ? "in" : "out");
      div.setAttribute("data-testid", "inbox-message");
      div.dataset.status = m.status;
      const meta = text(document.createElement("div"), [
        new Date(m.created_at).toLocaleString(), m.operator_name, m.body && m.body.automatic ? t("auto") : "",
        ["held", "refused", "failed"].includes(m.status) ? t(m.status) + " (" + m.reason + ")" : "",
      ].filter(Boolean).join(" · "));
      meta.className = "meta";
      div.append(text(document.createElement("div"), describe(m)), meta);
      box.append(div);
    });
    if (messages.length) box.scrollTop = box.scrollHeight;
  }

  function showWindow(w) {
    const el = $("inbox-window");
    if (!w.open) { text(el, t("window-closed")); el.className = "text-xs mb-2 text-red-700"; return; }
    text(el, t("window-left").replace("{n}", w.remaining).replace("{m}", w.allowed).replace("{t}", new Date(w.closes_at).toLocaleString()));
    el.className = "text-xs mb-2 " + (w.remaining ? "" : "text-orange-700");
  }

  function open(id) {
    current = id; lastId = 0;
    $("inbox-messages").replaceChildren();
    return refresh().then(loadList);
  }

  function refresh() {
    if (current == null) return Promise.resolve();
    return call(api + current + "/?after=" + lastId).then(({ ok, body }) => {
      if (!ok) return;
      const c = body.conversation;
      text($("inbox-header"), (c.customer_name || "#" + c.customer) + " · " + t(c.state) + (c.assignee_name ? " · " + c.assignee_name : "") + (c.kf_account ? " · " + t("kf") + " " + c.kf_account : ""));
      showWindow(body.window);
      addMessages(body.messages);
    });
  }

  function send() {
    if (current == null) return;
    const kind = $("inbox-kind").value;
    const payload = { kind, idempotency_key: current + "-" + Date.now() + "-" + Math.random().toString(36).slice(2, 8) };
    if (kind === "text") payload.text = $("inbox-text").value.trim();
    if (kind === "image") payload.media_id = $("inbox-media").value.trim();
    if (kind === "miniprogrampage") Object.assign(payload, {
      title: $("inbox-title").value.trim(), appid: $("inbox-appid").value.trim(),
      pagepath: $("inbox-pagepath").value.trim(), thumb_media_id: $("inbox-media").value.trim(),
    });
    text($("inbox-error"), "");
    call(api + current + "/reply/", { method: "POST", body: JSON.stringify(payload) }).then(({ ok, body }) => {
      if (ok) $("inbox-text").value = "";
      else text($("inbox-error"), body.message || JSON.stringify(body.detail));
      return refresh();
    });
  }

  $("inbox-kind").addEventListener("change", () => {
    const kind = $("inbox-kind").value;
    $("inbox-text").hidden = kind !== "text";
    $("inbox-card").hidden = kind === "text";
    $("inbox-title").hidden = $("inbox-appid").hidden = $("inbox-pagepath").hidden = kind !== "miniprogrampage";
  });
  $("inbox-send").addEventListener("click", send);
  $("inbox-resolve").addEventListener("click", () => current != null && call(api + current + "/resolve/", { method: "POST", body: "{}" }).then(refresh).then(loadList));
  $("inbox-state").addEventListener("change", loadList);
  $("inbox-mine").addEventListener("change", loadList);
  $("inbox-online").addEventListener("change", () => call(api + "presence/", { method: "POST", body: JSON.stringify({ online: $("inbox-online").checked }) }));
  $("inbox-quick").addEventListener("change", () => { if ($("inbox-quick").value) $("inbox-text").value = $("inbox-quick").value; $("inbox-quick").value = ""; });
  call(api + "quick-replies/").then(({ ok, body }) => {
    if (!ok) return;
    body.results.forEach((q) => { const o = document.createElement("option"); o.value = q.text; o.textContent = q.title; $("inbox-quick").append(o); });
  });
  if (root.dataset.canReply !== "1") { $("inbox-send").disabled = true; $("inbox-resolve").disabled = true; }
  text($("inbox-header"), t("pick"));
  loadList();
  setInterval(loadList, 5000);
  setInterval(refresh, 2000);
})();
