# corpus: correct
# exercise: conv/conv1d
# title: torch.nn.functional only: dx is a transposed convolution of dout, dw a dilated convolution of x by dout

import torch
import torch.nn.functional as F


def backward(t):
    x, w, dout = t.x, t.w, t.dout
    s, p = t.stride, t.padding
    L, K, L_out = x.shape[2], w.shape[2], dout.shape[2]
    db = dout.sum(0).sum(-1)
    # the transposed convolution undoes the strided window layout; output_padding adds the
    # inputs beyond the last window (their gradient is 0)
    extra = L - ((L_out - 1) * s - 2 * p + K)
    dx = F.conv_transpose1d(dout, w, stride=s, padding=p, output_padding=extra)
    # dw[o, c, k] = sum_n sum_l dout[n, o, l] * xp[n, c, l*s + k]: a convolution over the
    # batch as channels, with dout as the kernel dilated by the stride
    xp = F.pad(x, (p, p)).transpose(0, 1)                   # (C_in, N, Lp)
    kern = dout.transpose(0, 1)                             # (C_out, N, L_out)
    dw = F.conv1d(xp, kern, dilation=s)[:, :, :K].transpose(0, 1)
    return {"b": db, "w": dw.contiguous(), "x": dx}
