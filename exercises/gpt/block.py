"""The capstone: backprop through one whole pre-norm transformer block, by hand.

Everything the earlier packs took apart comes back in one forward pass: two LayerNorms,
multi-head causal self-attention with separate query, key and value projections, a GELU
MLP and two residual connections. The gradient of ``x`` sums the residual path and the
branch through the first LayerNorm, the classic place to write ``=`` for ``+=``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from grader import kit

#: LayerNorm's epsilon (as ``nn.LayerNorm``).
EPS = 1e-5

#: Parameters, in the order the forward pass first uses them.
PARAMETERS = ("ln1_gain", "ln1_bias", "Wq", "Wk", "Wv", "Wo", "ln2_gain", "ln2_bias",
              "W1", "b1", "W2", "b2")

#: Every named forward tensor, in forward order (LayerNorm statistics included: ungraded,
#: but readable from ``t`` and named so diagnosis can point inside the fused lines).
FORWARD_NAMES = (
    "mu1", "var1", "rstd1", "xhat1", "ln1", "q", "k", "v", "scores", "att", "yh", "ycat",
    "attn_out", "x1", "mu2", "var2", "rstd2", "xhat2", "ln2", "h", "gelu", "m", "y",
)

#: The graded tensors in backward order: the MLP branch from the output down to ``x1``, the
#: attention branch down to ``ln1``, then the first LayerNorm and ``x`` itself.
GRADED = (
    "m", "W2", "b2", "gelu", "h", "W1", "b1", "ln2", "ln2_gain", "ln2_bias", "xhat2", "x1",
    "attn_out", "Wo", "ycat", "yh", "att", "v", "scores", "q", "k", "Wq", "Wk", "Wv", "ln1",
    "ln1_gain", "ln1_bias", "xhat1", "x",
)

#: Public case first. ``n`` is the batch size B. Every size a submission might hard-code
#: differs from the public case in some hidden case: B (3, 1), T (6, 4), C (16, 9), n_head
#: (2, 3, 6), head_size = C // n_head (8, 2) and the MLP width (40, 32). Hidden case 3 keeps
#: C = 12 but changes n_head, so a head size computed from a hard-coded n_head fails there.
#: No head size is 4: a missing ``hs**-0.5`` would then be a plain factor of 2 and read as
#: a power rule's 2.
CASE_SPECS = (
    kit.CaseSpec(n=2, params={"T": 5, "C": 12, "n_head": 4, "n_hidden": 48}),
    kit.CaseSpec(n=3, params={"T": 6, "C": 16, "n_head": 2, "n_hidden": 40}),
    kit.CaseSpec(n=3, params={"T": 4, "C": 9, "n_head": 3, "n_hidden": 32}),
    kit.CaseSpec(n=1, params={"T": 5, "C": 12, "n_head": 6, "n_hidden": 48}),
)

FORWARD_TEXT = """\
hs = C // n_head                                            # head size
mu1 = x.mean(-1, keepdim=True)                              # (B, T, 1)
var1 = ((x - mu1)**2).mean(-1, keepdim=True)                # (B, T, 1)  biased: 1/C
rstd1 = (var1 + 1e-5)**-0.5                                 # (B, T, 1)
xhat1 = (x - mu1) * rstd1                                   # (B, T, C)
ln1 = xhat1 * ln1_gain + ln1_bias                           # (B, T, C)
q = (ln1 @ Wq).view(B, T, n_head, hs).transpose(1, 2)       # (B, nh, T, hs)
k = (ln1 @ Wk).view(B, T, n_head, hs).transpose(1, 2)       # (B, nh, T, hs)
v = (ln1 @ Wv).view(B, T, n_head, hs).transpose(1, 2)       # (B, nh, T, hs)
scores = q @ k.transpose(-2, -1) * hs**-0.5                 # (B, nh, T, T)
att = scores.masked_fill(~mask, float("-inf")).softmax(-1)  # (B, nh, T, T)  causal
yh = att @ v                                                # (B, nh, T, hs)
ycat = yh.transpose(1, 2).reshape(B, T, C)                  # (B, T, C)  heads side by side
attn_out = ycat @ Wo                                        # (B, T, C)
x1 = x + attn_out                                           # (B, T, C)  residual
mu2 = x1.mean(-1, keepdim=True)                             # (B, T, 1)
var2 = ((x1 - mu2)**2).mean(-1, keepdim=True)               # (B, T, 1)
rstd2 = (var2 + 1e-5)**-0.5                                 # (B, T, 1)
xhat2 = (x1 - mu2) * rstd2                                  # (B, T, C)
ln2 = xhat2 * ln2_gain + ln2_bias                           # (B, T, C)
h = ln2 @ W1 + b1                                           # (B, T, H)
gelu = F.gelu(h, approximate="tanh")                        # (B, T, H)
m = gelu @ W2 + b2                                          # (B, T, C)
y = x1 + m                                                  # (B, T, C)  residual
loss = (y * dout).sum()                                     # dout: (B, T, C), given"""


class Block(kit.Exercise):
    id = "gpt/block"
    title = "Backprop through a whole transformer block"
    version = 1
    description = f"""\
The capstone: the backward pass of one pre-norm transformer block (as in nanoGPT), by hand.
`x` has shape `(B, T, C)`; attention has `n_head` causal heads of size `hs = C // n_head`
with separate query, key and value projections; the MLP has width `H`. The block's output
`y` reaches the loss through a given upstream gradient `t.dout`.

```python
{FORWARD_TEXT}
```

`F.gelu(h, approximate="tanh")` is `0.5 * h * (1 + tanh(sqrt(2/pi) * (h + 0.044715 * h**3)))`.
`mask` is `torch.tril(torch.ones(T, T, dtype=torch.bool))`.

`t` holds `x`, `mask`, `dout`, every parameter (`ln1_gain`, `ln1_bias`, `Wq`, `Wk`, `Wv`,
`Wo`, `ln2_gain`, `ln2_bias`, `W1`, `b1`, `W2`, `b2`), every named tensor of the forward
pass above, and the sizes `B`, `T`, `C`, `n_head`, `hs`, `H`. Return a dict from forward
names to gradients, each of exactly its tensor's shape — 29 tensors, one point each:
`m W2 b2 gelu h W1 b1 ln2 ln2_gain ln2_bias xhat2 x1 attn_out Wo ycat yh att v scores q k
Wq Wk Wv ln1 ln1_gain ln1_bias xhat1 x`. The LayerNorm statistics (`mu`, `var`, `rstd`) and
the masked scores are not graded: go through them step by step or use the one-line
LayerNorm and softmax backward formulas, as you like. Two tensors feed two others:
`x1` (the residual into `y`, and the second LayerNorm) and `x` (the residual into `x1`, and
the first LayerNorm) — their gradients add both contributions.

**float64.** `t`'s tensors are float64 and so must your gradients be (`dtype=t.x.dtype` for
new tensors). The gradient of `x` runs through two LayerNorms, a softmax and a dozen matmuls:
in float32 their rounding noise reaches ~1e-6 of a gradient's scale, as large as the trace a
subtle mistake leaves in a small branch, so right and wrong would blur. In float64 a correct
formula written any way lands within ~1e-15 (relative) of autograd, and the tolerance can be
tight: a gradient passes when `max|yours − autograd| ≤ 1e-9 + 1e-7 · max|autograd|`.

Hidden cases use other seeds and other sizes (B, T, C, n_head, head size and H all change):
read the sizes from `t`, never hard-code them.
"""
    starter = kit.pack_text(__package__, "starters", "block.py")
    graded = kit.graded(*GRADED)
    inputs = ("x", "mask", "dout", *PARAMETERS, *FORWARD_NAMES, "B", "T", "C", "n_head",
              "hs", "H")
    case_specs = CASE_SPECS
    dtype = torch.float64
    rtol = 1e-7
    atol = 1e-9

    def forward(self, case: kit.Case) -> dict[str, Any]:
        """Build the block's forward pass for ``case`` in float64, every named tensor kept."""
        g = kit.generator(case.seed)
        B, T = case.n, case.params["T"]
        C, n_head, H = case.params["C"], case.params["n_head"], case.params["n_hidden"]
        hs = C // n_head
        p = init_params(g, C, H)
        x = torch.randn((B, T, C), generator=g, dtype=torch.float64).requires_grad_()
        mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
        ln1_gain, ln1_bias, Wq, Wk, Wv, Wo, ln2_gain, ln2_bias, W1, b1, W2, b2 = (
            p[name] for name in PARAMETERS)

        mu1 = x.mean(-1, keepdim=True)
        var1 = ((x - mu1) ** 2).mean(-1, keepdim=True)
        rstd1 = (var1 + EPS) ** -0.5
        xhat1 = (x - mu1) * rstd1
        ln1 = xhat1 * ln1_gain + ln1_bias
        q = (ln1 @ Wq).view(B, T, n_head, hs).transpose(1, 2)
        k = (ln1 @ Wk).view(B, T, n_head, hs).transpose(1, 2)
        v = (ln1 @ Wv).view(B, T, n_head, hs).transpose(1, 2)
        scores = q @ k.transpose(-2, -1) * hs**-0.5
        att = scores.masked_fill(~mask, float("-inf")).softmax(-1)
        yh = att @ v
        ycat = yh.transpose(1, 2).reshape(B, T, C)
        attn_out = ycat @ Wo
        x1 = x + attn_out
        mu2 = x1.mean(-1, keepdim=True)
        var2 = ((x1 - mu2) ** 2).mean(-1, keepdim=True)
        rstd2 = (var2 + EPS) ** -0.5
        xhat2 = (x1 - mu2) * rstd2
        ln2 = xhat2 * ln2_gain + ln2_bias
        h = ln2 @ W1 + b1
        gelu = F.gelu(h, approximate="tanh")
        m = gelu @ W2 + b2
        y = x1 + m
        loss, dout = kit.upstream_loss(y, g)

        out = kit.keep(locals(), ("x", *FORWARD_NAMES))
        out.update(p, mask=mask, dout=dout, loss=loss, B=B, T=T, C=C, n_head=n_head, hs=hs,
                   H=H)
        return out


def init_params(g: torch.Generator, C: int, H: int) -> dict[str, torch.Tensor]:
    """Return the block's parameters (float64 leaves that require grad).

    Scaled so every pre-activation is O(1): attention scores have a standard deviation of
    about 1 (the softmax is neither uniform nor saturated), the MLP's pre-activation takes
    both signs around GELU's bend, and the gains and biases are near but not at 1 and 0 (a
    gain of exactly 1 would hide a missing gain factor).
    """
    def randn(*shape: int, scale: float = 1.0, shift: float = 0.0) -> torch.Tensor:
        value = torch.randn(shape, generator=g, dtype=torch.float64) * scale + shift
        return value.requires_grad_()

    return {
        "ln1_gain": randn(C, scale=0.2, shift=1.0),
        "ln1_bias": randn(C, scale=0.2),
        "Wq": randn(C, C, scale=1 / math.sqrt(C)),
        "Wk": randn(C, C, scale=1 / math.sqrt(C)),
        "Wv": randn(C, C, scale=1 / math.sqrt(C)),
        "Wo": randn(C, C, scale=1 / math.sqrt(C)),
        "ln2_gain": randn(C, scale=0.2, shift=1.0),
        "ln2_bias": randn(C, scale=0.2),
        "W1": randn(C, H, scale=1 / math.sqrt(C)),
        "b1": randn(H, scale=0.2),
        "W2": randn(H, C, scale=1 / math.sqrt(H)),
        "b2": randn(C, scale=0.2),
    }


EXERCISE = Block
