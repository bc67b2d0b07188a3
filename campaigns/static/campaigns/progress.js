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
    set("progress-updated", t.tUpdated + " " + new Date().toLocaleTimeString());
    const state = document.getElementById("progress-state");
    if (state) { state.textContent = p.state_label; state.dataset.state = p.state; }
    const bar = document.getElementById("progress-bar");
    if (bar) bar.style.width = p.percent + "%";
    const nobody = document.getElementById("progress-nobody");
    if (nobody) nobody.hidden = !p.nobody_reached;
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
