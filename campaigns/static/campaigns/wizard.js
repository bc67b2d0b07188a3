// The campaign wizard's editor on the admin add/change page: type rules, template keys, attachments,
// variables, live audience count, live preview and the contact-policy check. The form posts plain
// fields; the server builds the campaign's content JSON (campaigns/wizard/forms.py).
(function () {
  "use strict";
  const config = document.getElementById("wizard-config");
  if (!config) return;
  const t = config.dataset;
  const form = document.getElementById("campaign_form");
  const rules = JSON.parse(document.getElementById("wizard-type-rules-data").textContent);
  const state = JSON.parse(document.getElementById("wizard-editor-state").textContent);
  const $ = (id) => document.getElementById(id);
  const fmt = (template, values) => template.replace(/\{(\w+)\}/g, (_, k) => values[k]);
  const esc = (s) => String(s === undefined || s === null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const row = (name) => document.querySelector(".field-" + name);
  const limits = { thing: 20, number: 32, character_string: 32, letter: 32, symbol: 5, phrase: 5, name: 10 };

  function placeAfter(node, anchor) {
    if (node && anchor) anchor.insertAdjacentElement("afterend", node);
  }
  placeAfter($("wizard-type-rules"), row("message_type"));
  placeAfter($("wizard-template-keys"), row("message_template"));
  placeAfter($("wizard-attachments"), row("text"));
  placeAfter($("wizard-audience"), row("segment"));
  const contentRows = row("message_template") && row("message_template").parentElement;
  if (contentRows) contentRows.insertAdjacentElement("afterbegin", $("wizard-variables"));

  const messageType = () => (form.querySelector("input[name=message_type]:checked") || {}).value || "";
  const accountSelect = $("id_account");
  const accountKind = () => {
    const option = accountSelect && accountSelect.selectedOptions[0];
    return option ? option.dataset.kind || "" : "";
  };
  const account = () => (accountSelect ? accountSelect.value : "");
  const templateSelect = $("id_message_template");

  // --- message type: rules, and the types the account can send -------------------------------
  function updateType() {
    const type = messageType();
    const box = $("wizard-type-rules");
    box.hidden = !type;
    box.textContent = rules[type] || "";
    const kind = accountKind();
    form.querySelectorAll("input[name=message_type]").forEach((radio) => {
      const ok = !kind || state.account_kinds[radio.value] === kind;
      const label = radio.closest("label") || radio.parentElement;
      if (label) {
        label.classList.toggle("wizard-type-disabled", !ok);
        label.title = ok ? rules[radio.value] || "" : t.tTypeWrongAccount;
      }
    });
    const libraryKind = state.library_kinds[type];
    $("wizard-template-keys").hidden = !libraryKind;
    $("wizard-attachments").hidden = type !== "wecom_group";
    // Mass sends and WeCom tasks are one list call: one text for everyone, no variables.
    $("wizard-variables").hidden = !t.editable || !type || type === "mass" || type === "wecom_group";
    $("wizard-attachment-add").hidden = !t.editable;
    if (templateSelect) {
      Array.from(templateSelect.options).forEach((option) => {
        if (!option.value) return;
        option.hidden = option.dataset.account !== account() || option.dataset.kind !== libraryKind;
      });
      if (templateSelect.selectedOptions[0] && templateSelect.selectedOptions[0].hidden) templateSelect.value = "";
    }
    renderKeys();
  }

  // --- template keys: one input per key of the chosen template --------------------------------
  function renderKeys() {
    const holder = $("wizard-template-key-inputs");
    const body = $("wizard-template-body");
    const option = templateSelect && templateSelect.selectedOptions[0];
    const current = {};
    holder.querySelectorAll("input[data-key]").forEach((input) => { current[input.dataset.key] = input.value; });
    holder.innerHTML = "";
    if (!option || !option.value) {
      body.textContent = t.tNoKeys;
      return;
    }
    body.textContent = option.dataset.content || option.dataset.title || "";
    JSON.parse(option.dataset.keys || "[]").forEach((key) => {
      const rule = key.rule || String(key.key).replace(/\d+$/, "");
      const limit = limits[rule];
      const value = current[key.key] !== undefined ? current[key.key] : state.keys[key.key] || "";
      const wrap = document.createElement("div");
      wrap.innerHTML =
        '<label class="block text-sm font-medium mb-1" for="id_key__' + esc(key.key) + '">' + esc(key.label || key.key) +
        ' <span class="text-xs text-font-subtle-light">' + esc(key.key) + (limit && messageType() !== "template" ? " · " + esc(fmt(t.tKeyLimit, { n: limit })) : "") + "</span></label>" +
        '<input type="text" class="border border-base-200 bg-white rounded-default px-3 py-2 w-full text-sm dark:bg-base-900 dark:border-base-700" ' +
        'name="key__' + esc(key.key) + '" id="id_key__' + esc(key.key) + '" data-testid="wizard-key-' + esc(key.key) + '" data-key="' + esc(key.key) + '" value="' + esc(value) + '">';
      if (!t.editable) wrap.querySelector("input").disabled = true;
      holder.appendChild(wrap);
    });
  }

  // --- WeCom attachments ------------------------------------------------------------------------
  let attachmentCount = 0;
  function addAttachment(item) {
    if (attachmentCount >= 9) return;
    const i = attachmentCount++;
    const div = document.createElement("div");
    div.className = "flex flex-row gap-2 items-center";
    div.dataset.testid = "wizard-attachment-" + i;
    const cls = "border border-base-200 bg-white rounded-default px-2 py-1.5 text-sm dark:bg-base-900 dark:border-base-700";
    div.innerHTML =
      '<select name="attachment_kind_' + i + '" id="id_attachment_kind_' + i + '" class="' + cls + '">' +
      '<option value="link">' + esc(t.tAttLink) + '</option><option value="image">' + esc(t.tAttImage) + "</option></select>" +
      '<input name="attachment_title_' + i + '" id="id_attachment_title_' + i + '" placeholder="' + esc(t.tAttTitle) + '" class="' + cls + '" value="' + esc(item.title) + '">' +
      '<input name="attachment_url_' + i + '" id="id_attachment_url_' + i + '" placeholder="' + esc(t.tAttUrl) + '" class="' + cls + ' grow" value="' + esc(item.url) + '">' +
      '<button type="button" class="wizard-link-button text-sm">' + esc(t.tRemove) + "</button>";
    div.querySelector("select").value = item.kind || "link";
    div.querySelector("button").addEventListener("click", () => { div.querySelectorAll("input").forEach((el) => { el.value = ""; }); div.hidden = true; schedulePreview(); });
    if (!t.editable) div.querySelectorAll("input, select, button").forEach((el) => { el.disabled = true; });
    $("wizard-attachment-rows").appendChild(div);
  }
  (state.attachments || []).forEach(addAttachment);
  $("wizard-attachment-add").addEventListener("click", () => addAttachment({ kind: "link", title: "", url: "" }));

  // --- variables: inserted where the cursor was -------------------------------------------------
  let lastText = $("id_text");
  form.addEventListener("focusin", (ev) => {
    const el = ev.target;
    if ((el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && el.type === "text")) && (el.name === "text" || el.name.startsWith("key__") || el.name.startsWith("inbox_"))) lastText = el;
  });
  document.querySelectorAll("#wizard-variables [data-code]").forEach((button) => {
    button.addEventListener("click", () => {
      const target = lastText || $("id_text");
      if (!target) return;
      const start = target.selectionStart !== null ? target.selectionStart : target.value.length;
      const end = target.selectionEnd !== null ? target.selectionEnd : start;
      target.value = target.value.slice(0, start) + button.dataset.code + target.value.slice(end);
      target.focus();
      target.selectionStart = target.selectionEnd = start + button.dataset.code.length;
      target.dispatchEvent(new Event("input", { bubbles: true }));
    });
  });

  // --- audience: live count and the sample customers ---------------------------------------------
  const segmentSelect = $("id_segment");
  async function updateAudience() {
    const box = $("wizard-audience");
    const id = segmentSelect ? segmentSelect.value : "";
    box.hidden = !id;
    if (!id) return;
    $("wizard-audience-count").textContent = t.tCounting;
    try {
      const response = await fetch(t.audienceUrl + "?segment=" + encodeURIComponent(id), { credentials: "same-origin" });
      const data = await response.json();
      if (!response.ok) { $("wizard-audience-count").textContent = data.message || "—"; return; }
      $("wizard-audience-count").textContent = fmt(t.tCustomers, { n: data.count.toLocaleString() });
      const sample = $("wizard-sample-customer");
      const keep = sample.value;
      sample.querySelectorAll("option[value]:not([value=''])").forEach((o) => o.remove());
      data.sample.forEach((c) => {
        const option = document.createElement("option");
        option.value = c.id;
        option.textContent = c.name + (c.city ? " · " + c.city : "");
        sample.appendChild(option);
      });
      if (keep) sample.value = keep;
      schedulePreview();
    } catch (e) {
      $("wizard-audience-count").textContent = "—";
    }
  }

  // --- live preview -------------------------------------------------------------------------------
  function formData() {
    const data = new FormData(form);
    data.set("sample_customer", $("wizard-sample-customer").value);
    if (t.campaignId) data.set("campaign_id", t.campaignId);
    return data;
  }
  let timer = null;
  function schedulePreview() {
    clearTimeout(timer);
    timer = setTimeout(refreshPreview, 400);
  }
  async function refreshPreview() {
    let data;
    try {
      const response = await fetch(t.previewUrl, { method: "POST", body: formData(), credentials: "same-origin" });
      data = await response.json();
    } catch (e) { return; }
    const errors = Object.values(data.errors || {}).flat();
    const errorBox = $("wizard-preview-errors");
    errorBox.hidden = !errors.length;
    errorBox.innerHTML = errors.map((e) => "<div>" + esc(e) + "</div>").join("");
    const p = data.preview;
    if (!p) {
      $("wizard-preview-body").textContent = t.tNoPreview;
      $("wizard-title-preview").textContent = "";
      $("wizard-title-note").textContent = "";
      $("wizard-link-check").innerHTML = "";
      return;
    }
    $("wizard-preview-for").textContent = t.tSample + " " + (p.customer.name || "");
    const title = p.title;
    $("wizard-title-preview").innerHTML = esc(title.preview) + (title.truncated ? '<span class="wizard-cut">' + esc(title.full.slice(title.limit)) + "</span>" : "");
    $("wizard-title-note").textContent = title.chars + " / " + title.limit + " · " + (title.truncated ? t.tTitleCut : t.tTitleFits) + (title.warnings.length ? " · " + title.warnings.join(" ") : "");
    $("wizard-title-note").className = "text-xs mb-3 " + (title.warnings.length || title.truncated ? "text-orange-700" : "");
    const variants = p.variants || [];
    $("wizard-variant-previews").hidden = !variants.length;
    $("wizard-variant-previews").innerHTML = variants.map((v) =>
      '<div data-variant="' + esc(v.label) + '"><span class="font-semibold">' + esc(v.label) + "</span> " + esc(v.preview) + (v.truncated ? "…" : "") + "</div>"
    ).join("");
    refreshPrediction();
    $("wizard-preview-body").innerHTML = p.parts.map((part) =>
      p.parts.length > 1 ? '<div><span class="font-semibold">' + esc(part.label) + "：</span>" + esc(part.value) + "</div>" : esc(part.value)
    ).join("");
    $("wizard-preview-warnings").innerHTML = (p.warnings || []).map((w) => "<div>" + esc(w) + "</div>").join("");
    const links = p.links || [];
    $("wizard-link-check").innerHTML = links.length ? links.map((l) =>
      '<li data-testid="wizard-link" data-ok="' + l.ok + '"><span class="font-semibold ' + (l.ok ? "text-green-700" : "text-red-700") + '">' + (l.ok ? "✓ " + esc(t.tLinkOk) : "✗ " + esc(t.tLinkBad)) + "</span> " +
      '<span class="wizard-mono text-xs">' + esc(l.url) + "</span>" +
      l.problems.map((x) => '<div class="text-red-700 text-xs">' + esc(x) + "</div>").join("") +
      l.notes.map((x) => '<div class="text-xs text-font-subtle-light">' + esc(x) + "</div>").join("") + "</li>"
    ).join("") : "<li>" + esc(t.tLinksNone) + "</li>";
  }

  // --- the title model's prediction ---------------------------------------------------------------
  const pct = (x) => (100 * x).toFixed(1) + "%";
  let predictionSeq = 0;
  async function refreshPrediction() {
    const box = $("wizard-title-prediction");
    const seq = ++predictionSeq;
    let data;
    try {
      const response = await fetch(t.titlesUrl, { method: "POST", body: formData(), credentials: "same-origin" });
      data = await response.json();
    } catch (e) { return; }
    if (seq !== predictionSeq) return; // an older answer arriving after a newer one
    box.hidden = false;
    if (!data.available) {
      box.innerHTML = '<div class="text-xs text-font-subtle-light" data-testid="wizard-prediction-note">' + esc(data.note || "") + "</div>";
      return;
    }
    const line = (label, x, testid) =>
      '<div data-testid="' + testid + '"><span class="font-semibold">' + esc(label) + "</span> " + pct(x.rate) +
      ' <span class="text-xs">± ' + pct(1.96 * x.sd) + " (" + pct(x.low) + "–" + pct(x.high) + ")</span></div>";
    let html = '<div class="text-xs text-font-subtle-light dark:text-font-subtle-dark mb-1">' + esc(t.tPredicted) + "</div>";
    if (data.variants.length) {
      html += data.variants.map((v) => line(v.label, v, "wizard-prediction-" + v.label)).join("");
    } else {
      html += line(t.tTitleLabel, data.title, "wizard-prediction-title");
    }
    html += '<div class="text-xs text-font-subtle-light dark:text-font-subtle-dark mt-1" data-testid="wizard-prediction-note">' + esc(data.note) + "</div>";
    box.innerHTML = html;
  }

  // --- contact-policy check -------------------------------------------------------------------------
  $("wizard-policy-check").addEventListener("click", async () => {
    const result = $("wizard-policy-result");
    const warning = $("wizard-zero-reach");
    result.textContent = t.tChecking;
    warning.hidden = true;
    let data;
    try {
      const response = await fetch(t.policyUrl, { method: "POST", body: formData(), credentials: "same-origin" });
      data = await response.json();
    } catch (e) { result.textContent = "—"; return; }
    if (!data.ok) {
      const errors = data.errors ? Object.values(data.errors).flat() : [data.message];
      result.innerHTML = '<div class="bg-red-100 text-red-700 rounded-default px-3 py-2">' + errors.map(esc).join("<br>") + "</div>";
      return;
    }
    const max = Math.max(data.audience, 1);
    const line = (label, n, cut, testid) =>
      '<div class="mb-2"' + (testid ? ' data-testid="' + testid + '"' : "") + '><div class="flex flex-row"><span>' + esc(label) + '</span><span class="ml-auto font-semibold">' + n.toLocaleString() + "</span></div>" +
      '<div class="wizard-funnel-bar' + (cut ? " cut" : "") + '" style="width:' + Math.max(1, (100 * n) / max) + '%"></div></div>';
    let html = line(t.tAudience, data.audience, false, "wizard-policy-audience");
    data.suppressed.forEach((r) => { html += line("− " + r.label, r.count, true); });
    if (data.held_out) html += line("− " + t.tHeldOut, data.held_out, true);
    html += line(t.tReach, data.predicted_reach, false, "wizard-policy-reach");
    html += '<div class="text-xs mt-2">' + esc(fmt(t.tTook, { ms: data.duration_ms })) + "</div>";
    result.innerHTML = html;
    warning.hidden = !data.zero_reach;
    warning.textContent = data.warning || "";
  });

  // --- wiring -------------------------------------------------------------------------------------
  form.addEventListener("change", (ev) => {
    if (ev.target.name === "message_type" || ev.target === accountSelect) updateType();
    if (ev.target === templateSelect) renderKeys();
    if (ev.target === segmentSelect) updateAudience();
    schedulePreview();
  });
  form.addEventListener("input", schedulePreview);
  $("wizard-sample-customer").addEventListener("change", refreshPreview);
  $("wizard-preview-refresh").addEventListener("click", refreshPreview);
  if (window.django && window.django.jQuery && segmentSelect) {
    // Select2 announces its choice through jQuery only.
    window.django.jQuery(segmentSelect).on("change", () => { updateAudience(); });
  }
  updateType();
  updateAudience();
  if (t.editable) schedulePreview();
})();
