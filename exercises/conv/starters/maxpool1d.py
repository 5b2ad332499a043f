"""conv/maxpool1d — backprop through a linear layer over channels and a 1-D max-pool.

The forward pass (every tensor is available as t.<name>):

    h = W @ x + b[:, None]                  # (N, C, L)   W: (C, C_in), x: (N, C_in, L)
    out = F.max_pool1d(h, kernel, stride)   # (N, C, L_out)

    # that is: out[n, c, l] = max(h[n, c, l*stride : l*stride + kernel])
    # L_out = (L - kernel) // stride + 1

You get the upstream gradient t.dout = dloss/dout. Fill in every `None`. Each output's
gradient goes to the single largest element of its window (no window has a tie); windows
can overlap, so add (+=), never overwrite. A loop over the output positions, Tensor.unfold
with argmax, or F.max_pool1d(..., return_indices=True) all work. Check your work with

    backprop check maxpool1d.py -e conv/maxpool1d

Rules: no autograd (.backward(), torch.autograd, torch.func are detected and score 0); read
the kernel, the stride and every size from t and the shapes (hidden cases change them all).
"""

import torch
import torch.nn.functional as F


def backward(t):
    x, W, h, dout = t.x, t.W, t.h, t.dout   # (N, C_in, L), (C, C_in), (N, C, L), (N, C, L_out)
    kernel, stride = t.kernel, t.stride      # 3 and 2 in the public case
    L_out = dout.shape[2]

    dh = None   # (N, C, L)     zero except at each window's max
    dW = None   # (C, C_in)     summed over the batch and the positions
    db = None   # (C,)
    dx = None   # (N, C_in, L)

    return {"h": dh, "W": dW, "b": db, "x": dx}
