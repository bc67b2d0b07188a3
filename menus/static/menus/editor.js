// The menu editor on the admin change page: a phone-shaped preview of the menu bar (tap a top item
// to open its sub-items), a form for the selected item (type, key / link, and what a click does),
// live checks against WeChat's limits (the server's menus.validation), save as a new version, and
// what one customer sees (menu/trymatch in WeChat or the sandbox).
(function () {
  "use strict";
  const config = document.getElementById("menu-editor-config");
  if (!config) return;
  // data-t-add-top → t.addTop, data-validate-url → t.validateUrl
  const t = {};
  Object.entries(config.dataset).forEach(([key, value]) => {
    t[/^t[A-Z]/.test(key) ? key.charAt(1).toLowerCase() + key.slice(2) : key] = value;
  });
  const data = JSON.parse(document.getElementById("menu-editor-data").textContent);
  const editable = !!t.editable;
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s === undefined || s === null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const fmt = (template, values) => template.replace(/\{(\w+)\}/g, (m, k) => (k in values ? values[k] : m));
  const bytes = (s) => new TextEncoder().encode(s || "").length;
  const csrf = (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";
  const KEY_TYPES = ["click", "scancode_push", "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album", "pic_weixin", "location_select"];
  const TYPE_FIELDS = { view: ["url"], miniprogram: ["url", "appid", "pagepath"], media_id: ["media_id"], article_id: ["article_id"] };
  const ACTION_FIELDS = {
    reply_text: ["text"], reply_image: ["media_id"], reply_article: ["title", "description", "url", "picurl"],
    reply_miniprogram: ["title", "appid", "pagepath", "thumb_media_id"], open_conversation: ["greeting"],
    tag_customer: ["tag_ids"], record_topics: ["topic_ids"],
  };

  let buttons = Array.isArray(data.buttons) ? data.buttons : [];
  let selected = buttons.length ? [0, null] : null; // [top index, sub index or null]
  let openTop = null;
  let problems = [];

  $("menu-phone-title").textContent = data.account_name;
  $("menu-add-top").textContent = t.addTop;
  $("menu-add-sub").textContent = t.addSub;
  $("menu-remove").textContent = t.remove;

  const item = (sel) => (sel === null ? null : sel[1] === null ? buttons[sel[0]] : (buttons[sel[0]].sub_button || [])[sel[1]]);
  const pathOf = (sel) => (sel[1] === null ? `button[${sel[0]}]` : `button[${sel[0]}].sub_button[${sel[1]}]`);
  const problemsAt = (sel) => problems.filter((p) => p.path === pathOf(sel) || p.path.startsWith(pathOf(sel) + "."));

  function renderPhone() {
    const bar = $("menu-phone-bar");
    const popups = $("menu-phone-popups");
    bar.innerHTML = "";
    popups.innerHTML = "";
    buttons.forEach((top, i) => {
      const cell = document.createElement("button");
      cell.type = "button";
      cell.className = "menu-phone__item" + (selected && selected[0] === i && selected[1] === null ? " is-selected" : "") + (problemsAt([i, null]).length ? " has-problem" : "");
      cell.dataset.testid = "menu-phone-item";
      cell.setAttribute("data-testid", "menu-phone-item");
      cell.innerHTML = (top.sub_button && top.sub_button.length ? "<span class=\"menu-phone__lines\">≡</span> " : "") + esc(top.name);
      cell.addEventListener("click", () => { selected = [i, null]; openTop = openTop === i ? null : i; render(); });
      bar.appendChild(cell);
      if (openTop === i && top.sub_button && top.sub_button.length) {
        const popup = document.createElement("div");
        popup.className = "menu-phone__popup";
        popup.style.left = `${(100 / buttons.length) * i}%`;
        popup.style.width = `${100 / buttons.length}%`;
        top.sub_button.forEach((sub, j) => {
          const entry = document.createElement("button");
          entry.type = "button";
          entry.className = "menu-phone__sub" + (selected && selected[0] === i && selected[1] === j ? " is-selected" : "") + (problemsAt([i, j]).length ? " has-problem" : "");
          entry.setAttribute("data-testid", "menu-phone-sub");
          entry.textContent = sub.name;
          entry.addEventListener("click", () => { selected = [i, j]; render(); });
          popup.appendChild(entry);
        });
        popups.appendChild(popup);
      }
    });
    const chosen = item(selected);
    $("menu-phone-chat").innerHTML = chosen && chosen.action && chosen.action.type === "reply_text" && chosen.action.text
      ? `<div class="menu-phone__bubble">${esc(chosen.action.text)}</div>` : "";
  }

  function input(label, value, onInput, attrs) {
    const wrap = document.createElement("label");
    wrap.className = "menu-field";
    wrap.innerHTML = `<span>${esc(label)}</span>`;
    const field = document.createElement(attrs && attrs.textarea ? "textarea" : "input");
    field.value = value === undefined || value === null ? "" : value;
    if (attrs && attrs.name) field.name = "menu-" + attrs.name;
    field.disabled = !editable;
    field.addEventListener("input", () => { onInput(field.value); renderPhone(); schedule(); if (attrs && attrs.after) attrs.after(field.value); });
    wrap.appendChild(field);
    return wrap;
  }

  function select(label, value, options, onChange, name) {
    const wrap = document.createElement("label");
    wrap.className = "menu-field";
    wrap.innerHTML = `<span>${esc(label)}</span>`;
    const field = document.createElement("select");
    field.name = "menu-" + name;
    field.disabled = !editable;
    options.forEach(([key, text]) => {
      const option = document.createElement("option");
      option.value = key;
      option.textContent = text;
      option.selected = key === value;
      field.appendChild(option);
    });
    field.addEventListener("change", () => { onChange(field.value); render(); schedule(); });
    wrap.appendChild(field);
    return wrap;
  }

  const ids = (text) => text.split(/[,，\s]+/).filter(Boolean).map(Number).filter((n) => Number.isInteger(n) && n > 0);

  function renderForm() {
    const box = $("menu-item-form");
    box.innerHTML = "";
    const chosen = item(selected);
    if (!chosen) { box.innerHTML = `<p class="menu-editor__help">${esc(t.select)}</p>`; return; }
    const isTop = selected[1] === null;
    const limit = isTop ? data.top_name_bytes : data.sub_name_bytes;
    const counter = document.createElement("small");
    const count = () => { counter.textContent = fmt(t.bytes, { n: bytes(chosen.name), limit }); counter.className = bytes(chosen.name) > limit ? "menu-over" : ""; };
    box.appendChild(input(t.name, chosen.name, (v) => { chosen.name = v; }, { name: "name", after: count }));
    count();
    box.appendChild(counter);
    const types = Object.entries(data.item_types);
    if (isTop) types.unshift(["submenu", t.submenu]);
    const current = isTop && chosen.sub_button && chosen.sub_button.length ? "submenu" : chosen.type || "click";
    box.appendChild(select(t.type, current, types, (v) => {
      if (v === "submenu") {
        Object.keys(chosen).forEach((k) => { if (k !== "name") delete chosen[k]; });
        chosen.sub_button = [{ type: "click", name: t.newItem, key: `KEY_${Date.now()}`, action: { type: "reply_text", text: "" } }];
        openTop = selected[0];
      } else {
        delete chosen.sub_button;
        chosen.type = v;
        // Keep only what the new type uses: a link item has no key or action, a click no url.
        ["key", "action", "url", "appid", "pagepath", "media_id", "article_id"].forEach((f) => {
          const keyField = KEY_TYPES.includes(v) && (f === "key" || f === "action");
          if (!keyField && !(TYPE_FIELDS[v] || []).includes(f)) delete chosen[f];
        });
        if (KEY_TYPES.includes(v) && !chosen.key) chosen.key = `KEY_${Date.now()}`;
        if (v === "click" && !chosen.action) chosen.action = { type: "reply_text", text: "" };
      }
    }, "type"));
    if (current === "submenu") return;
    if (KEY_TYPES.includes(chosen.type)) box.appendChild(input("key", chosen.key, (v) => { chosen.key = v; }, { name: "key" }));
    (TYPE_FIELDS[chosen.type] || []).forEach((f) => box.appendChild(input(f, chosen[f], (v) => { chosen[f] = v; }, { name: f })));
    box.appendChild(input(t.topics, (chosen.topics || []).join(","), (v) => { const list = ids(v); if (list.length) chosen.topics = list; else delete chosen.topics; }, { name: "topics" }));
    if (!KEY_TYPES.includes(chosen.type)) return;
    const action = chosen.action || (chosen.action = { type: "reply_text", text: "" });
    box.appendChild(select(t.action, action.type, Object.entries(data.actions), (v) => { chosen.action = { type: v }; }, "action"));
    (ACTION_FIELDS[action.type] || []).forEach((f) => {
      if (f.endsWith("_ids")) {
        box.appendChild(input(t.tagIds, (action[f] || []).join(","), (v) => { action[f] = ids(v); }, { name: f }));
      } else {
        const label = t["field" + f.charAt(0).toUpperCase() + f.slice(1)] || f;
        box.appendChild(input(label, action[f], (v) => { action[f] = v; }, { name: "action-" + f, textarea: f === "text" }));
      }
    });
  }

  function renderProblems() {
    const list = $("menu-problems");
    list.innerHTML = problems.length
      ? problems.map((p) => `<li class="menu-problem" data-testid="menu-problem"><code>${esc(p.path)}</code> ${esc(p.message)}</li>`).join("")
      : `<li class="menu-ok" data-testid="menu-ok">${esc(t.valid)}</li>`;
    $("menu-add-top").disabled = !editable || buttons.length >= 3;
    const top = selected ? buttons[selected[0]] : null;
    $("menu-add-sub").disabled = !editable || !top || (top.sub_button || []).length >= 5;
    $("menu-remove").disabled = !editable || !selected;
  }

  function render() { renderPhone(); renderForm(); renderProblems(); }

  let timer = null;
  function schedule() { clearTimeout(timer); timer = setTimeout(validate, 300); }
  async function post(url, body) {
    const response = await fetch(url, { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json", "X-CSRFToken": csrf }, body: JSON.stringify(body) });
    return response.json();
  }
  async function validate() {
    if (!editable) return;
    const answer = await post(t.validateUrl, { buttons });
    problems = answer.problems || [];
    renderPhone();
    renderProblems();
  }

  $("menu-add-top").addEventListener("click", () => {
    buttons.push({ type: "click", name: t.newItem, key: `KEY_${Date.now()}`, action: { type: "reply_text", text: "" } });
    selected = [buttons.length - 1, null];
    render(); schedule();
  });
  $("menu-add-sub").addEventListener("click", () => {
    const top = buttons[selected[0]];
    if (!top.sub_button || !top.sub_button.length) {
      Object.keys(top).forEach((k) => { if (k !== "name") delete top[k]; });
      top.sub_button = [];
    }
    top.sub_button.push({ type: "click", name: t.newItem, key: `KEY_${Date.now()}`, action: { type: "reply_text", text: "" } });
    selected = [selected[0], top.sub_button.length - 1];
    openTop = selected[0];
    render(); schedule();
  });
  $("menu-remove").addEventListener("click", () => {
    if (selected[1] === null) buttons.splice(selected[0], 1); else buttons[selected[0]].sub_button.splice(selected[1], 1);
    selected = buttons.length ? [0, null] : null;
    render(); schedule();
  });
  const save = $("menu-save");
  if (save) save.addEventListener("click", async () => {
    $("menu-save-result").textContent = t.saving;
    const answer = await post(t.saveUrl, { buttons, note: $("menu-version-note").value });
    $("menu-save-result").textContent = answer.message;
    if (answer.problems) { problems = answer.problems; renderPhone(); renderProblems(); }
  });
  $("menu-try").addEventListener("click", async () => {
    const response = await fetch(`${t.previewUrl}?customer=${encodeURIComponent($("menu-try-customer").value)}`, { credentials: "same-origin" });
    const answer = await response.json();
    $("menu-try-result").textContent = answer.ok
      ? `${t.previewFor}: ${answer.menu_name || t.previewDefault} — ${(answer.button || []).map((b) => b.name).join(" | ")}`
      : answer.message;
  });
  render();
  schedule();
})();
