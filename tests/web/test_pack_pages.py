"""Result pages and heatmaps for the new packs' tensors: 3-D and 4-D shapes, float64.

Each file is a corpus bug graded for real through the sandbox; its page must render the
root cause, and the heatmap of a wrong 3-D/4-D float64 tensor must be a PNG with every panel.
"""

from __future__ import annotations

import pytest

from grader import get_exercise, grade
from tests.corpus_files import CORPUS
from tests.web.helpers import login, submission, text, user

FILES = {
    "gpt/block": "bug_residual_x_overwrite.py",
    "attention/multihead": "bug_overwrite_x.py",
    "conv/maxpool1d": "bug_transpose_dW.py",
    "layers/batchnorm1d": "bug_sign_bnmean.py",
}


@pytest.fixture(scope="module")
def results(sandbox):
    return {ex: grade(get_exercise(ex), (CORPUS / ex / name).read_text(), sandbox=sandbox,
                      student="s") for ex, name in FILES.items()}


@pytest.mark.parametrize("exercise_id", sorted(FILES))
def test_pack_result_page_and_heatmap(app, results, exercise_id: str) -> None:
    result = results[exercise_id]
    assert result.status == "graded", result.message
    wrong = [t for t in result.tensors if not t.passed]
    roots = [t for t in wrong if t.root_cause]
    assert wrong and roots, exercise_id
    uid = user(app, "alice@example.org", "student", "COURSE-A")
    source = (CORPUS / exercise_id / FILES[exercise_id]).read_text()
    sid = submission(app, uid, None, source, exercise_id, result)
    client = app.test_client()
    login(client, "alice@example.org")
    response = client.get(f"/submissions/{sid}")
    assert response.status_code == 200
    html = text(response)
    assert f"d{roots[0].name}" in html and "root cause" in html
    # The most dimensions among the wrong tensors: heatmaps fold them into rows.
    widest = max(wrong, key=lambda t: len(t.expected_shape))
    png = client.get(f"/submissions/{sid}/heatmap/{widest.name}.png")
    assert png.status_code == 200 and png.data.startswith(b"\x89PNG"), widest.name
    panel = client.get(f"/submissions/{sid}/heatmap/{widest.name}.png?panel=difference")
    if widest.got_shape == widest.expected_shape:
        assert panel.status_code == 200 and panel.data.startswith(b"\x89PNG")
    else:  # a transposed gradient: no elementwise difference to draw
        assert panel.status_code == 404
