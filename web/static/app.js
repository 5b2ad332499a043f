// Live status on the submission page: poll until graded, then reload to show the result.
// No inline scripts anywhere (the CSP forbids them); without JS the page says to reload.
(function () {
  const live = document.getElementById("live-status");
  if (!live) return;
  const url = live.dataset.statusUrl;
  const badge = live.querySelector(".badge");
  // The server paces the polls (poll_ms: soon while the grading runs or is next, slower
  // further back in the queue); a grading that runs long is asked less and less often.
  const opened = performance.now();
  let delay = 100;
  async function poll() {
    let hint = 1000;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
      if (response.ok) {
        const state = await response.json();
        badge.textContent = state.status;
        badge.className = "badge " + state.status;
        const place = live.querySelector(".position");
        if (place) place.textContent = state.position ? `number ${state.position} in the queue; ` : "";
        if (state.status === "done") { window.location.reload(); return; }
        if (state.poll_ms) hint = state.poll_ms;
      }
    } catch (e) { /* network hiccup: keep polling */ }
    delay = performance.now() - opened < 2000 ? hint : Math.min(Math.max(hint, delay * 1.3), 3000);
    setTimeout(poll, delay);
  }
  setTimeout(poll, delay);
})();

// Times: the server prints UTC; show them in the viewer's own time zone, and tell forms
// which zone their datetime fields are typed in.
(function () {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  for (const t of document.querySelectorAll("time[data-local]")) {
    const d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) { t.title = t.textContent; t.textContent = fmt.format(d); }
  }
  for (const input of document.querySelectorAll("input[name=tz]")) {
    if (!input.value) input.value = zone;
  }
  for (const span of document.querySelectorAll("[data-zone-name]")) span.textContent = zone;
  // datetime-local fields arrive in UTC (data-utc); show them in local time, as typed.
  const pad = (n) => String(n).padStart(2, "0");
  for (const input of document.querySelectorAll("input[data-utc]")) {
    const d = new Date(input.dataset.utc);
    if (input.dataset.utc && !isNaN(d)) {
      input.value = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T` +
        `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    }
  }
})();

// Live progress bars (batches, regrades): poll the JSON, update the bar, reload when done.
(function () {
  for (const box of document.querySelectorAll("[data-progress-url]")) {
    if (box.hasAttribute("data-finished")) continue;
    const url = box.dataset.progressUrl;
    const bar = box.querySelector("progress");
    let delay = 1000;
    async function poll() {
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" } });
        if (response.ok) {
          const p = await response.json();
          bar.max = Math.max(p.total, 1);
          bar.value = p.done;
          box.querySelector(".p-done").textContent = p.done;
          box.querySelector(".p-total").textContent = p.total;
          const failed = box.querySelector(".p-failed");
          if (p.failed) { failed.textContent = `${p.failed} failed to grade`; failed.classList.add("error"); }
          const eta = box.querySelector(".p-eta");
          eta.textContent = p.eta_seconds != null && !p.finished ? `about ${p.eta_seconds} s left` : "";
          if (p.finished) { window.location.reload(); return; }
        }
      } catch (e) { /* network hiccup: keep polling */ }
      delay = Math.min(delay * 1.2, 5000);
      setTimeout(poll, delay);
    }
    setTimeout(poll, delay);
  }
})();

// Copy buttons (account/_copy.html): revealed only with JavaScript; without it the read-only
// field is there to select and copy. The clipboard API needs a secure context (HTTPS or
// localhost): elsewhere the field's selection is copied the old way.
(function () {
  for (const button of document.querySelectorAll("button[data-copy-target]")) {
    const field = document.getElementById(button.dataset.copyTarget);
    if (!field) continue;
    const status = button.closest(".copyable")?.querySelector(".copy-status");
    button.hidden = false;
    button.addEventListener("click", async () => {
      let ok = false;
      try {
        if (navigator.clipboard && window.isSecureContext) {
          await navigator.clipboard.writeText(field.value);
          ok = true;
        }
      } catch (e) { /* refused: fall back to the selection */ }
      if (!ok) {
        field.focus();
        field.select();
        try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      }
      if (status) status.textContent = ok ? "Copied." : "Select the text and copy it (Ctrl+C).";
    });
  }
})();
