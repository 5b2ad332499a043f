"""The lecture's network (makemore part 4), built with autograd for one seeded case.

Shared by the four exercises: same parameters, same synthetic data, same forward pass, line by
line as in the lecture (spec §2), so students recognise every name they are graded on.
"""

from __future__ import annotations

import bisect
from typing import Any

import torch

from grader.kit import Case, CaseSpec, Graded

VOCAB = 27
BLOCK = 3
N_EMBD = 10
N_HIDDEN = 64

#: Public case first (n=32, the lecture's sizes), then hidden cases that change the seed, the
#: batch size (n=7 breaks a hard-coded 32) and the hidden width (40 breaks a hard-coded 64).
CASE_SPECS = (
    CaseSpec(n=32, params={"n_hidden": N_HIDDEN}),
    CaseSpec(n=32, params={"n_hidden": N_HIDDEN}),
    CaseSpec(n=7, params={"n_hidden": N_HIDDEN}),
    CaseSpec(n=24, params={"n_hidden": 40}),
)

#: Parameter names, in the lecture's order.
PARAMETERS = ("C", "W1", "b1", "W2", "b2", "bngain", "bnbias")

#: Every named forward tensor, in forward order (the graded 26 of ex1 are these reversed,
#: minus the parameters' positions — see ex1).
FORWARD_NAMES = (
    "emb", "embcat", "hprebn", "bnmeani", "bndiff", "bndiff2", "bnvar", "bnvar_inv", "bnraw",
    "hpreact", "h", "logits", "logit_maxes", "norm_logits", "counts", "counts_sum",
    "counts_sum_inv", "probs", "logprobs", "loss",
)


def generator(seed: int) -> torch.Generator:
    """Return a CPU generator seeded with ``seed`` (private: global RNG state is untouched)."""
    return torch.Generator().manual_seed(seed & 0x7FFF_FFFF_FFFF_FFFF)


def init_params(g: torch.Generator, n_hidden: int = N_HIDDEN) -> dict[str, torch.Tensor]:
    """Return the lecture's deliberately non-standard init, so ~0 gradients hide no bugs."""
    fan_in = N_EMBD * BLOCK
    return {
        "C": torch.randn((VOCAB, N_EMBD), generator=g),
        "W1": torch.randn((fan_in, n_hidden), generator=g) * (5 / 3) / fan_in**0.5,
        "b1": torch.randn(n_hidden, generator=g) * 0.1,
        "W2": torch.randn((n_hidden, VOCAB), generator=g) * 0.1,
        "b2": torch.randn(VOCAB, generator=g) * 0.1,
        "bngain": torch.randn((1, n_hidden), generator=g) * 0.1 + 1.0,
        "bnbias": torch.randn((1, n_hidden), generator=g) * 0.1,
    }


def make_dataset(g: torch.Generator, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``size`` (context, next-token) pairs from a seeded random bigram language.

    Synthetic but learnable (each token strongly prefers a few successors), so a training
    run shows a falling loss curve, and no data set is downloaded.
    """
    transitions = torch.softmax(torch.randn((VOCAB, VOCAB), generator=g) * 3.0, dim=1)
    cumulative = transitions.cumsum(1).tolist()
    draws = torch.rand(size + BLOCK, generator=g).tolist()
    # The chain is sequential: walk it with plain floats (35 tensor ops would cost ~2 ms).
    stream = [int(draws[0] * VOCAB)]
    for u in draws[1:]:
        row = cumulative[stream[-1]]
        stream.append(min(bisect.bisect_right(row, u * row[-1]), VOCAB - 1))
    tokens = torch.tensor(stream, dtype=torch.long)
    X = tokens.unfold(0, BLOCK, 1)[:size].contiguous()
    Y = tokens[BLOCK: BLOCK + size].clone()
    return X, Y


#: A batch needs this share of distinct contexts (at least 2). The bigram chain can get stuck
#: on a token that follows itself, giving a batch of identical rows: batchnorm's variance is
#: then 0, every true gradient below it is 0 and the reference is float noise, so a correct
#: solution failed dW1, db1, dC there (~0.3 % of seeds). Such a batch is drawn again.
MIN_DISTINCT = 0.25


def make_batch(g: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return a batch of ``n`` examples (token indices, as in the lecture), never degenerate.

    Deterministic for a generator's state: a batch with enough distinct contexts is the
    first draw, as before; only degenerate draws are replaced.
    """
    need = max(2, int(n * MIN_DISTINCT))
    for _ in range(100):
        X, Y = make_dataset(g, n)
        if len({tuple(row) for row in X.tolist()}) >= need:
            break
    return X, Y


def forward(params: dict[str, torch.Tensor], Xb: torch.Tensor, Yb: torch.Tensor,
            track: bool = True) -> dict[str, Any]:
    """Run the lecture's forward pass; with ``track``, retain every intermediate's grad.

    :return: the parameters, ``Xb``, ``Yb``, ``n`` and every named tensor of spec §2.
    """
    p = {k: v.detach().clone().requires_grad_(track) for k, v in params.items()}
    C, W1, b1, W2, b2, bngain, bnbias = (p[k] for k in PARAMETERS)
    n = Xb.shape[0]
    with torch.set_grad_enabled(track):
        emb = C[Xb]                                                # (n, 3, 10)
        embcat = emb.view(emb.shape[0], -1)                        # (n, 30)
        hprebn = embcat @ W1 + b1                                  # (n, H)
        bnmeani = 1 / n * hprebn.sum(0, keepdim=True)              # (1, H)
        bndiff = hprebn - bnmeani                                  # (n, H)
        bndiff2 = bndiff**2                                        # (n, H)
        bnvar = 1 / (n - 1) * bndiff2.sum(0, keepdim=True)         # (1, H), Bessel
        bnvar_inv = (bnvar + 1e-5) ** -0.5                         # (1, H)
        bnraw = bndiff * bnvar_inv                                 # (n, H)
        hpreact = bngain * bnraw + bnbias                          # (n, H)
        h = torch.tanh(hpreact)                                    # (n, H)
        logits = h @ W2 + b2                                       # (n, 27)
        logit_maxes = logits.max(1, keepdim=True).values           # (n, 1)
        norm_logits = logits - logit_maxes                         # (n, 27)
        counts = norm_logits.exp()                                 # (n, 27)
        counts_sum = counts.sum(1, keepdim=True)                   # (n, 1)
        counts_sum_inv = counts_sum**-1                            # (n, 1)
        probs = counts * counts_sum_inv                            # (n, 27)
        logprobs = probs.log()                                     # (n, 27)
        loss = -logprobs[range(n), Yb].mean()                      # ()
    out: dict[str, Any] = dict(p)
    out.update(Xb=Xb, Yb=Yb, n=n)
    local = locals()
    for name in FORWARD_NAMES:
        out[name] = local[name]
        if track and name != "loss":
            out[name].retain_grad()
    return out


def forward_case(case: Case) -> dict[str, Any]:
    """Build the forward pass of one case: its own parameters and batch from its seed."""
    g = generator(case.seed)
    params = init_params(g, case.params.get("n_hidden", N_HIDDEN))
    Xb, Yb = make_batch(g, case.n)
    return forward(params, Xb, Yb)


def graded(*names: str) -> tuple[Graded, ...]:
    """Return one-point :class:`Graded` entries for ``names``."""
    return tuple(Graded(n) for n in names)
