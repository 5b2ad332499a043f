"""``backprop starter ID --notebook``: the starter as a Jupyter notebook (nbformat 4).

Laid out like the lecture's notebook: what to do (markdown), a setup cell with the imports,
a cell that builds the public case's forward pass (``t``) to poke at, the starter's own cells
— every top-level statement of the starter file with the comments above it, so the
``backward`` to fill is a cell of its own — and a last cell ``check(backward, ID)`` that
grades it in place. Cell ids are fixed, so the same starter always prints the same notebook.
"""

from __future__ import annotations

import ast
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

SETUP = ("import torch\nimport torch.nn.functional as F\n\n"
         "from backprop_grader import check, public_case")


def notebook_from_starter(exercise: Any) -> str:
    """Return the ``.ipynb`` text (nbformat 4) of ``exercise``'s starter.

    :param exercise: an :class:`~grader.exercise.Exercise` or its catalog entry
        (:class:`~grader.registry.ExerciseInfo`): only ``id``, ``title``, ``max_score``,
        ``description`` and ``starter`` are read, so printing needs no torch.
    """
    docstring, imports, cells = _split(exercise.starter)
    imports = [line for line in imports if line not in SETUP.splitlines()]
    setup = SETUP + ("\n" + "\n".join(imports) if imports else "")
    out = [
        new_markdown_cell(f"# {exercise.title}\n\n`{exercise.id}` · "
                          f"{exercise.max_score:g} point{'' if exercise.max_score == 1 else 's'}"
                          f"\n\n{exercise.description.strip()}"),
    ]
    if docstring:
        out.append(new_markdown_cell(_as_markdown(docstring)))
    out += [
        new_code_cell(setup),
        new_markdown_cell("## Your public case\n\n`t` is what your `backward` receives: the "
                          "forward pass of your public case, built here with autograd so you "
                          "can look at shapes and values (`t.n`, `t.logits`, …). The grader "
                          "also runs hidden cases with other sizes."),
        new_code_cell(f"t = public_case({exercise.id!r})\n"
                      "{name: tuple(value.shape) if hasattr(value, 'shape') else value\n"
                      " for name, value in vars(t).items()}"),
        new_markdown_cell("## Your backward pass\n\nFill in the gradients below."),
        *[new_code_cell(cell) for cell in cells],
        new_markdown_cell("## Check\n\nGrades `backward` in the local sandbox, exactly as "
                          "`backprop check` does (your helpers and imports are sent with "
                          "it; the report's *code sent* section shows what)."),
        new_code_cell(f"check(backward, {exercise.id!r})"),
    ]
    for i, cell in enumerate(out):
        cell["id"] = f"{exercise.id.replace('/', '-')}-{i}"
    nb = new_notebook(cells=out, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def _split(source: str) -> tuple[str, list[str], list[str]]:
    """Return (module docstring, import lines, one text per other top-level statement).

    Each statement keeps the comment lines written above it, so a starter's explanations
    stay with their code.
    """
    tree = ast.parse(source)
    lines = source.splitlines()
    body = list(tree.body)
    docstring = ""
    start = 0
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        docstring = ast.get_docstring(tree, clean=True) or ""
        start = body[0].end_lineno or 0
        body = body[1:]
    imports: list[str] = []
    cells: list[str] = []
    for node in body:
        end = node.end_lineno or node.lineno
        chunk = "\n".join(lines[start:end]).strip("\n")
        start = end
        if isinstance(node, ast.Import | ast.ImportFrom):
            imports.append(chunk.strip())
        else:
            cells.append(chunk)
    tail = "\n".join(lines[start:]).strip()
    if tail and cells:
        cells[-1] += "\n" + tail
    return docstring, imports, cells


def _as_markdown(docstring: str) -> str:
    """Return the starter's docstring as markdown: a title line, then its paragraphs."""
    first, _, rest = docstring.strip().partition("\n")
    rest = rest.strip("\n").rstrip()  # keep the indent of a leading code block
    return f"### {first.strip()}\n\n{rest}" if rest else f"### {first.strip()}"
