"""conv/conv1d — backprop through a 1-D convolution with stride and padding.

The forward pass (every tensor is available as t.<name>):

    out = F.conv1d(x, w, b, stride=stride, padding=padding)   # (N, C_out, L_out)

    # that is, with xp = F.pad(x, (padding, padding)) of length L + 2*padding:
    # out[n, o, l] = b[o] + sum_c sum_k w[o, c, k] * xp[n, c, l * stride + k]
    # L_out = (L + 2*padding - K) // stride + 1

You get the upstream gradient t.dout = dloss/dout. Fill in every `None`. One way: a loop
over the output positions l, each reading the window xp[:, :, l*stride : l*stride + K] and
adding its part to dw and to a gradient of xp; then cut the padding off. Tensor.unfold
(xp.unfold(2, K, stride) gives every window at once) or torch.nn.functional work too.
Check your work with

    backprop check conv1d.py -e conv/conv1d

Rules: no autograd (.backward(), torch.autograd, torch.func are detected and score 0); read
the stride, the padding and every size from t and the shapes (hidden cases change them all).
"""

import torch
import torch.nn.functional as F


def backward(t):
    x, w, dout = t.x, t.w, t.dout       # (N, C_in, L), (C_out, C_in, K), (N, C_out, L_out)
    stride, padding = t.stride, t.padding  # 2 and 1 in the public case
    N, C_in, L = x.shape
    C_out, _, K = w.shape
    L_out = dout.shape[2]

    db = None   # (C_out,)
    dw = None   # (C_out, C_in, K)
    dx = None   # (N, C_in, L)      hint: inputs outside every window get 0

    return {"b": db, "w": dw, "x": dx}
