// The result page: links into folded sections open them, the code panel shows the likely line.
// No inline scripts (the CSP forbids them); without JS every link still goes to its anchor.
(function () {
  "use strict";

  // A link to a card inside a folded <details> (an inherited tensor) opened nothing: open
  // every enclosing <details>, then scroll to the target.
  function reveal(id, smooth) {
    if (!id) return;
    const target = document.getElementById(id);
    if (!target) return;
    for (let el = target.parentElement; el; el = el.parentElement) {
      if (el.tagName === "DETAILS" && !el.open) el.open = true;
    }
    target.scrollIntoView({ block: target.closest("ol.code") ? "center" : "start",
                            behavior: smooth ? "smooth" : "auto" });
  }

  function hashId() {
    try { return decodeURIComponent(location.hash.slice(1)); } catch (e) { return ""; }
  }

  // Only links into a folded section need help; every other one (the skip link, which
  // moves the focus) keeps the browser's own behaviour, and hashchange below still runs.
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest('a[href^="#"]');
    if (!link) return;
    let id;
    try { id = decodeURIComponent(link.getAttribute("href").slice(1)); } catch (e) { return; }
    const target = id && document.getElementById(id);
    if (!target || !target.parentElement.closest("details:not([open])")) return;
    event.preventDefault(); // the same hash clicked twice fires no hashchange
    if (location.hash !== link.getAttribute("href")) history.pushState(null, "", link.getAttribute("href"));
    reveal(id, true);
  });
  window.addEventListener("hashchange", () => reveal(hashId(), false));
  if (location.hash) reveal(hashId(), false);

  // Scroll the code panel (not the page) to the first highlighted line.
  const code = document.querySelector("ol.code");
  const first = code && code.querySelector("li.hl");
  if (first && !location.hash) {
    code.scrollTop = Math.max(0, first.offsetTop - code.offsetTop - code.clientHeight / 3);
  }
})();
