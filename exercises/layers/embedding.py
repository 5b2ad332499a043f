"""An embedding lookup with repeated indices, followed by a linear layer."""

from __future__ import annotations

from typing import Any

import torch

from exercises.layers import _norms
from grader import kit

NAMES = ("idx", "C", "W", "b", "emb", "out")


def draw_indices(g: torch.Generator, n: int, T: int, vocab: int) -> torch.Tensor:
    """Return ``(n, T)`` token indices in which one token occurs at least three times.

    Repeated indices are the point of the exercise: ``dC[idx] = demb`` keeps one write per
    row and drops the others, so every case must repeat a token — within a sequence
    (``idx[0, 1]``) and across sequences (``idx[1, 0]``), on top of the repeats that drawing
    ``n * T`` tokens from a small vocabulary makes anyway.
    """
    idx = torch.randint(0, vocab, (n, T), generator=g)
    idx[0, 1] = idx[0, 0]
    idx[1, 0] = idx[0, 0]
    return idx


class Embedding(kit.Exercise):
    id = "layers/embedding"
    title = "Embedding lookup with repeated tokens"
    version = 1
    description = """\
Backprop through an embedding table: each of the `n` sequences of `T` token indices looks
up its rows of `C`, and the concatenated embeddings feed a linear layer.

```python
emb = C[idx]                                # (n, T, d)  idx: (n, T) ints in [0, V)
out = emb.view(n, T * d) @ W + b            # (n, H)
```

`t` holds `t.idx` `(n, T)` (int64), `t.C` `(V, d)`, `t.W` `(T*d, H)`, `t.b` `(H,)`,
`t.emb`, `t.out`, the upstream gradient `t.dout` of shape `(n, H)` and the ints `t.n`,
`t.T`. Return `{"emb": demb, "C": dC}`, each of its tensor's shape.

Tokens repeat (in every case, also within one sequence): a row of `C` used k times gets the
**sum** of its k gradients. Hidden cases use other seeds and other `n`, `T`, `V`, `d` and
`H`: read sizes from `t`, never hard-code them.
"""
    starter = kit.pack_text(__package__, "starters", "embedding.py")
    graded = kit.graded("emb", "C")
    inputs = (*NAMES, "dout", "n", "T")
    #: Public first; hidden cases change the seed, then n (6, 12), T (4, 2), V (9, 14),
    #: d (6, 3) and H (10, 5). n·T ≥ 2V: most tokens repeat.
    case_specs = (
        kit.CaseSpec(n=8, params={"T": 3, "V": 10, "d": 4, "H": 6}),
        kit.CaseSpec(n=8, params={"T": 3, "V": 10, "d": 4, "H": 6}),
        kit.CaseSpec(n=6, params={"T": 4, "V": 9, "d": 6, "H": 10}),
        kit.CaseSpec(n=12, params={"T": 2, "V": 14, "d": 3, "H": 5}),
    )

    def forward(self, case: kit.Case) -> dict[str, Any]:
        """Build the lookup and the linear layer of one case with autograd."""
        g = kit.generator(case.seed)
        n = case.n
        T, V, d, H = (case.params[k] for k in ("T", "V", "d", "H"))
        idx = draw_indices(g, n, T, V)
        C = torch.randn((V, d), generator=g).requires_grad_()
        W, b = (v.requires_grad_() for v in _norms.linear(g, T * d, H))
        emb = C[idx]
        out = emb.view(n, T * d) @ W + b
        loss, dout = kit.upstream_loss(out, g)
        return {**kit.keep(locals(), NAMES), "dout": dout, "loss": loss, "n": n, "T": T}


EXERCISE = Embedding
