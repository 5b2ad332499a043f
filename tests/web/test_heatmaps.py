"""Heatmaps: the ratio detection that names a scale bug, and the panels' colour bars."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from web import heatmaps
from web.arrays import pack

RNG = np.random.default_rng(0)
REF = RNG.standard_normal((32, 27)).astype(np.float32)


@pytest.mark.parametrize(("student", "expected"), [
    (32 * REF, 32.0),  # a forgotten 1/n, n = 32
    (0.5 * REF * (1 + 1e-3 * RNG.standard_normal(REF.shape)), 0.5),  # noisy ×0.5
    (-REF, -1.0),  # a sign error
    (REF * 31 / 32, 31 / 32),  # Bessel's n−1 where n belongs: not snapped to 1
])
def test_multiple_of_finds_the_factor(student, expected):
    assert heatmaps.multiple_of(student.astype(np.float32), REF) == pytest.approx(expected)


def test_multiple_of_snaps_to_nice_numbers_within_float16():
    stored = (32 * REF).astype(np.float16).astype(np.float32)
    assert heatmaps.multiple_of(stored, REF) == 32.0
    assert heatmaps.describe_multiple(32.0) == "yours ≈ 32 × autograd's"
    assert heatmaps.describe_multiple(0.5) == "yours ≈ 1/2 × autograd's"
    assert heatmaps.describe_multiple(-1.0) == "yours ≈ −1 × autograd's"


@pytest.mark.parametrize("student", [
    RNG.standard_normal(REF.shape),  # unrelated
    REF.T.copy().reshape(REF.shape),  # same values, wrong places
    REF + 0.1 * np.abs(REF).max(),  # an offset, not a factor
    np.zeros_like(REF),  # zeros
    REF * 1.0,  # equal: a pass, not a multiple
    np.where(np.arange(REF.size).reshape(REF.shape) == 3, np.nan, 32 * REF),  # NaN
    np.where(np.arange(REF.size).reshape(REF.shape) == 3, np.inf, 32 * REF),  # inf
    REF[:4],  # another shape
], ids=["unrelated", "scrambled", "offset", "zeros", "equal", "nan", "inf", "shape"])
def test_multiple_of_refuses_what_is_no_multiple(student):
    assert heatmaps.multiple_of(student.astype(np.float32), REF) is None


def test_multiple_of_of_a_zero_reference_is_none():
    assert heatmaps.multiple_of(REF, np.zeros_like(REF)) is None


def _png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _has_colour_bar(img: np.ndarray) -> bool:
    """A row that runs from blue through white to red, left to right: the colour bar."""
    for row in img:
        r, b = row[:, 0].astype(int), row[:, 2].astype(int)
        blue = np.flatnonzero((b - r) > 150)
        red = np.flatnonzero((r - b) > 150)
        if blue.size > 20 and red.size > 20 and blue.max() < red.min():
            return True
    return False


def test_panels_have_colour_bars_and_the_ratio_panel_shows_only_for_a_multiple():
    ref = torch.from_numpy(REF)
    scaled = pack(32 * ref, ref)
    names = list(heatmaps.panels(scaled))
    assert names == ["yours", "autograd", "difference", "ratio"]
    for name in names:
        assert _has_colour_bar(_png(heatmaps.render_panel(scaled, name))), name
    # the shared scale covers yours, so autograd's 32× smaller values are pale, not saturated
    autograd = _png(heatmaps.render_panel(scaled, "autograd"))
    yours = _png(heatmaps.render_panel(scaled, "yours"))
    cells = slice(heatmaps.LABEL_H, heatmaps.LABEL_H + 32 * 11)
    assert (autograd[cells] < 100).sum() < (yours[cells] < 100).sum() / 10

    unrelated = pack(torch.from_numpy(RNG.standard_normal(REF.shape).astype(np.float32)), ref)
    assert "ratio" not in heatmaps.panels(unrelated)
    assert heatmaps.render_panel(unrelated, "ratio") is None
    # the strip of all panels (the notebook report's) still renders, wider with the ratio
    assert _png(heatmaps.render(scaled)).shape[1] > _png(heatmaps.render(unrelated)).shape[1]


def test_missing_tensor_and_non_finite_values_render():
    ref = torch.from_numpy(REF)
    missing = pack(None, ref)
    assert set(heatmaps.panels(missing)) == {"yours", "autograd"}
    bad = ref.clone()
    bad[0, 0], bad[1, 1] = float("nan"), float("inf")
    assert heatmaps.render(pack(bad, ref))[:8] == b"\x89PNG\r\n\x1a\n"
    assert heatmaps.render(pack(torch.zeros(3), torch.zeros(3)))[:8] == b"\x89PNG\r\n\x1a\n"


def test_cached_renders_once_and_keys_panels_apart(tmp_path):
    ref = torch.from_numpy(REF)
    blob = pack(32 * ref, ref)
    one = heatmaps.cached(tmp_path, "k", blob, "ratio")
    assert one == heatmaps.cached(tmp_path, "k", b"not read again", "ratio")
    assert heatmaps.cached(tmp_path, "k", blob) != one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k-ratio.png", "k.png"]


def test_the_difference_panel_shows_a_float64_slip_not_float16_rounding() -> None:
    """A float64 exercise's slip of 1e-5 relative: the stored difference is the real one."""
    import torch

    from web.arrays import pack, unpack, unpack_difference

    g = torch.Generator().manual_seed(3)
    reference = torch.randn(6, 8, generator=g, dtype=torch.float64)
    pattern = torch.zeros(6, 8, dtype=torch.float64)
    pattern[2] = 1.0  # the slip is in one row
    student = reference + 1e-5 * pattern
    blob = pack(student, reference)
    diff = unpack_difference(blob)
    assert diff is not None
    assert np.allclose(diff, 1e-5 * pattern.numpy(), atol=1e-8)
    # The float16 copies cannot see it: their difference is rounding everywhere.
    stu16, ref16 = unpack(blob)
    assert not np.allclose(stu16 - ref16, 1e-5 * pattern.numpy(), atol=1e-7)
    # No difference is stored when the shapes differ, or for a missing side.
    assert unpack_difference(pack(student.T, reference)) is None
    assert unpack_difference(pack(None, reference)) is None
    assert "difference" in heatmaps.panels(blob)
