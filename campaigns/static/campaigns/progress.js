// The progress page: polls the campaign's progress JSON every second (no page reload).
(function () {
  "use strict";
  const config = document.getElementById("progress-config");
  if (!config) return;
  const t = config.dataset;
  const set = (id, value) => { const el = document.getElementById(id); if (el) el.textContent = value; };
  const fmt = (template, values) => template.replace(/\{(\w+)\}/g, (_, k) => values[k]);

  function eta(p) {
    if (p.state === "completed" || p.state === "cancelled" || (p.total && !p.remaining)) return t.tDone;
    if (p.state === "paused") return t.tPaused;
    if (p.eta_seconds === null || p.eta_seconds === undefined) return t.tUnknown;
    const s = p.eta_seconds;
    return s < 60 ? fmt(t.tSeconds, { n: s }) : fmt(t.tMinutes, { m: Math.floor(s / 60), s: s % 60 });
  }

  function render(p) {
    set("progress-sent", p.sent);
    set("progress-total", p.total);
    set("progress-percent", p.percent);
    set("progress-rate", p.rate_per_second);
    set("progress-remaining", p.remaining);
    set("progress-failed", p.counts.failed);
    set("progress-eta", eta(p));
    // The server's time in the operator's zone (TIME_ZONE), not the browser's.
    set("progress-updated", t.tUpdated + " " + String(p.as_of).slice(11, 19));
    const state = document.getElementById("progress-state");
    if (state) { state.textContent = p.state_label; state.dataset.state = p.state; }
    const bar = document.getElementById("progress-bar");
    if (bar) bar.style.width = p.percent + "%";
    const nobody = document.getElementById("progress-nobody");
    if (nobody) nobody.hidden = !p.nobody_reached;
    const waiting = document.getElementById("progress-waiting");
    if (waiting) { waiting.hidden = !p.waiting_note; waiting.textContent = p.waiting_note; }
    const deferred = document.getElementById("progress-deferred");
    if (deferred) { deferred.hidden = !p.deferred_note; deferred.textContent = p.deferred_note; }
    renderFunnel(p);
    renderBar(p);
  }

  const esc = (v) => String(v).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

  function renderFunnel(p) {
    const rows = document.getElementById("progress-funnel-rows");
    if (!rows) return;
    const line = (label, n, strong) => '<tr><td class="py-1' + (strong ? " font-semibold" : "") + '">' + esc(label) + '</td><td class="text-right' + (strong ? " font-semibold" : "") + '">' + n + "</td></tr>";
    let html = line(t.tAudience, p.audience, true);
    p.funnel.forEach((r) => { html += line("− " + r.label, r.count, false); });
    if (p.held_out) html += line("− " + t.tHeldOut, p.held_out, false);
    html += line(t.tPlanned, p.total, true).replace("<tr>", '<tr class="border-t border-base-200 dark:border-base-800">');
    rows.innerHTML = html;
  }

  // The campaign bar: its state and the buttons the new state allows.
  let shownState = null;
  function renderBar(p) {
    const state = document.getElementById("campaign-state");
    if (state) { state.textContent = p.state_label; state.dataset.state = p.state; }
    if (shownState === p.state || !p.buttons) return;
    shownState = p.state;
    const holder = document.querySelector("#campaign-bar .ml-auto");
    if (!holder) return;
    holder.innerHTML = p.buttons.map((b) => {
      const look = b.variant === "primary" ? "bg-primary-600 text-white" : b.variant === "danger" ? "bg-red-600 text-white" : "border border-base-200 text-important dark:border-base-700";
      return '<a id="campaign-action-' + esc(b.name) + '" data-testid="campaign-action-' + esc(b.name) + '" href="' + esc(b.url) +
        '" class="inline-flex items-center gap-1 rounded-default px-3 py-1.5 text-sm font-medium ' + look + '"><span class="material-symbols-outlined text-base">' +
        esc(b.icon) + "</span>" + esc(b.label) + "</a>";
    }).join("");
  }

  let stopped = false;
  async function poll() {
    try {
      const response = await fetch(t.jsonUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) {
        const p = await response.json();
        render(p);
        if (["completed", "cancelled"].includes(p.state)) stopped = true;
      }
    } catch (e) { /* the next poll tries again */ }
    if (!stopped) setTimeout(poll, 1000);
  }
  poll();
})();
