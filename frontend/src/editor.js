// The exercise page's editor, as progressive enhancement of a plain form (it works without JS):
// - each <textarea data-editor="python"> becomes a CodeMirror 6 editor; the textarea stays
//   the form field;
// - a draft in localStorage per user and assignment, restored on load ("draft restored ·
//   discard"), so a reload or a closed tab loses nothing; a warning before leaving with
//   unsubmitted changes;
// - an upload asks before it replaces the editor's text, and loads the file into the editor
//   (what is posted is what is seen); "Reset to the starter" asks first;
// - the rate limit counts down and re-enables the submit button when allowed.
// No inline scripts anywhere (the CSP forbids them).
import { EditorView, basicSetup } from "codemirror";
import { keymap } from "@codemirror/view";
import { indentWithTab } from "@codemirror/commands";
import { indentUnit } from "@codemirror/language";
import { python } from "@codemirror/lang-python";

const MAX_BYTES = 256 * 1024;

function storage() {
  try { return window.localStorage; } catch (e) { return null; } // disabled: no drafts
}

function readDraft(key) {
  const store = storage();
  if (!store || !key) return null;
  try {
    const draft = JSON.parse(store.getItem(key) || "null");
    return draft && typeof draft.code === "string" ? draft : null;
  } catch (e) { return null; }
}

function writeDraft(key, code, baseline) {
  const store = storage();
  if (!store || !key) return;
  try {
    // Nothing worth keeping: what the server already has, or an empty editor.
    if (code === baseline || !code.trim()) store.removeItem(key);
    else store.setItem(key, JSON.stringify({ code, saved: Date.now() }));
  } catch (e) { /* quota exceeded or storage off: the warning before leaving still works */ }
}

// A one-line note above the editor with a button ("draft restored · discard").
function note(anchor, text, action, onAction) {
  const p = document.createElement("p");
  p.className = "editor-note";
  p.setAttribute("role", "status");
  p.append(document.createTextNode(text + " · "));
  const button = document.createElement("button");
  button.type = "button";
  button.className = "link";
  button.textContent = action;
  button.addEventListener("click", () => { onAction(); p.remove(); });
  p.append(button);
  anchor.insertAdjacentElement("beforebegin", p);
  return p;
}

function enhance(textarea) {
  const form = textarea.form;
  const key = form && form.dataset.draftKey;
  const baseline = textarea.value; // what the server put there: last submission or starter
  let submitting = false;
  let timer = null;

  const view = new EditorView({
    doc: textarea.value,
    extensions: [
      basicSetup,
      python(),
      indentUnit.of("    "),
      // Tab indents; Escape then Tab leaves the editor (keyboard users are never trapped).
      keymap.of([indentWithTab]),
      EditorView.lineWrapping,
      EditorView.updateListener.of((update) => {
        if (!update.docChanged) return;
        textarea.value = update.state.doc.toString();
        clearTimeout(timer);
        timer = setTimeout(() => writeDraft(key, textarea.value, baseline), 250);
      }),
      EditorView.contentAttributes.of({ "aria-label": textarea.getAttribute("aria-label") || "code editor" }),
    ],
  });
  textarea.style.display = "none";
  textarea.insertAdjacentElement("afterend", view.dom);
  view.dom.classList.add("code-editor");
  window.backpropEditor = view;

  const text = () => view.state.doc.toString();
  const replace = (code) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: code } });
  const flush = () => { clearTimeout(timer); writeDraft(key, text(), baseline); };

  // Restore the draft, unless the page was opened to edit one submission's code ("?from=").
  const draft = readDraft(key);
  if (draft && draft.code === baseline) storage().removeItem(key);
  else if (draft && form.dataset.loaded) {
    note(view.dom, `Showing submission #${form.dataset.loaded}; your unsubmitted draft is kept`,
         "open the draft instead", () => replace(draft.code));
  } else if (draft) {
    replace(draft.code);
    const when = new Date(draft.saved || Date.now());
    note(view.dom, `Draft restored (unsubmitted edits from ${when.toLocaleString()})`, "discard",
         () => { replace(baseline); storage().removeItem(key); });
  }

  form?.addEventListener("submit", () => { submitting = true; textarea.value = text(); flush(); });
  window.addEventListener("pagehide", flush);
  window.addEventListener("beforeunload", (event) => {
    if (submitting || text() === baseline) return;
    flush();
    event.preventDefault();
    event.returnValue = ""; // older browsers need it set to show the prompt
  });

  // An upload replaces the editor's text only when the student says so; the file is read into
  // the editor and the file field cleared, so the form posts exactly what is on screen.
  const upload = form && form.querySelector('input[type="file"]');
  upload?.addEventListener("change", async () => {
    const file = upload.files && upload.files[0];
    if (!file) return;
    if (file.size > MAX_BYTES) {
      window.alert(`${file.name} is larger than 256 KiB: it cannot be submitted.`);
      upload.value = "";
      return;
    }
    if (text().trim() && !window.confirm(`Replace the code in the editor with ${file.name}?`)) {
      upload.value = "";
      return;
    }
    try {
      const code = new TextDecoder("utf-8", { fatal: true }).decode(await file.arrayBuffer());
      replace(code.replace(/\r\n/g, "\n"));
      upload.value = "";
      view.focus();
    } catch (e) {
      window.alert(`${file.name} is not UTF-8 text.`);
      upload.value = "";
    }
  });

  // "Reset to the starter": asks, then loads the starter file.
  const reset = document.getElementById("reset-starter");
  if (reset && form.dataset.starterUrl) {
    reset.closest("[hidden]")?.removeAttribute("hidden");
    reset.addEventListener("click", async () => {
      if (!window.confirm("Replace the code in the editor with the starter file? " +
                          "What you have not submitted is lost.")) return;
      try {
        const response = await fetch(form.dataset.starterUrl, { credentials: "same-origin" });
        if (!response.ok) throw new Error(String(response.status));
        replace(await response.text());
        view.focus();
      } catch (e) {
        window.alert("The starter file could not be loaded; try again.");
      }
    });
  }
}

// The rate limit: count down and re-enable the submit button when the wait is over (the
// server disabled it for the wait alone: it renders data-wait only then).
function countdown() {
  const quota = document.getElementById("quota");
  const wait = quota && Number(quota.dataset.wait);
  if (!wait) return;
  const button = document.querySelector('#submit-form button[type="submit"]');
  const until = Date.now() + wait * 1000;
  const original = quota.textContent;
  function tick() {
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left > 0) {
      quota.textContent = original.replace(/next in \d+ s/, `next in ${left} s`);
      setTimeout(tick, Math.min(1000, until - Date.now() - (left - 1) * 1000 + 20));
      return;
    }
    quota.textContent = original.replace(/; next in \d+ s/, "; you can submit now");
    quota.classList.remove("blocked");
    if (button) button.disabled = false;
  }
  tick();
}

document.querySelectorAll('textarea[data-editor="python"]').forEach(enhance);
countdown();
