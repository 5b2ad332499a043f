"""The batch CSV: one row per graded file, the same whether a local ``backprop batch`` graded
it or the service did (SPEC §5 and §8). Pure stdlib: the web service writes it too."""

from __future__ import annotations

from grader.result import ERROR, GradeResult


def header(tensor_names: list[str]) -> list[str]:
    """Return the header row: the summary columns, then one ``d<name>`` per graded tensor."""
    return ["student", "score", "carry_forward_score", "max_score", "status", "runtime_ms",
            "message", "root_causes", "fingerprints", *[f"d{n}" for n in tensor_names],
            "review_flags"]


def row(student: str, r: GradeResult, tensor_names: list[str]) -> list:
    """Return the CSV row of one graded file (the caller's writer escapes the cells)."""
    points = {t.name: t.points for t in r.tensors}
    roots = [t for t in r.tensors if t.root_cause]
    return [student, r.score, r.carry_forward_score, r.max_score, r.status, r.runtime_ms,
            r.message.splitlines()[0][:300] if r.message else "",
            " ".join(t.name for t in roots),
            " ".join(sorted({t.fingerprint for t in r.tensors if t.fingerprint})),
            *[points.get(n, 0) for n in tensor_names],
            " ".join(str(f.get("code")) for f in r.review_flags if isinstance(f, dict))]


def error_row(student: str, message: str, max_score: float, tensor_names: list[str]) -> list:
    """Return the row of a file that could not be graded at all (unreadable, too large)."""
    return [student, 0, 0, max_score, ERROR, 0, message, "", "", *[0] * len(tensor_names), ""]
