// Progressive enhancement: replace each <textarea data-editor="python"> by a CodeMirror 6
// editor, keeping the textarea as the form field (the page works as a plain form without JS).
import { EditorView, basicSetup } from "codemirror";
import { keymap } from "@codemirror/view";
import { indentWithTab } from "@codemirror/commands";
import { indentUnit } from "@codemirror/language";
import { python } from "@codemirror/lang-python";

function enhance(textarea) {
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
        if (update.docChanged) textarea.value = update.state.doc.toString();
      }),
      EditorView.contentAttributes.of({ "aria-label": textarea.getAttribute("aria-label") || "code editor" }),
    ],
  });
  textarea.style.display = "none";
  textarea.insertAdjacentElement("afterend", view.dom);
  view.dom.classList.add("code-editor");
  textarea.form?.addEventListener("submit", () => { textarea.value = view.state.doc.toString(); });
  window.backpropEditor = view;
}

document.querySelectorAll('textarea[data-editor="python"]').forEach(enhance);
