# corpus: correct
# exercise: attention/multihead
# title: einsum for every product, permute/contiguous for the heads, softmax through its full Jacobian diag(att) - att att^T

import torch


def backward(t):
    B, T, C, nh, hs = t.B, t.T, t.C, t.n_head, t.hs
    dout = t.dout
    dy = torch.einsum("btj,ij->bti", dout, t.Wo)
    dWo = torch.einsum("bti,btj->ij", t.y, dout)
    dheads = dy.view(B, T, nh, hs).permute(0, 2, 1, 3).contiguous()
    datt = torch.einsum("bhtd,bhsd->bhts", dheads, t.vh)
    dvh = torch.einsum("bhts,bhtd->bhsd", t.att, dheads)
    jac = torch.diag_embed(t.att) - t.att.unsqueeze(-1) * t.att.unsqueeze(-2)
    dmasked = torch.einsum("bhtij,bhtj->bhti", jac, datt)
    dscores = torch.where(t.tril == 1, dmasked, torch.zeros_like(dmasked))
    dqh = torch.einsum("bhts,bhsd->bhtd", dscores, t.kh) / hs**0.5
    dkh = torch.einsum("bhts,bhtd->bhsd", dscores, t.qh) / hs**0.5
    dq = dqh.permute(0, 2, 1, 3).contiguous().view(B, T, C)
    dk = dkh.permute(0, 2, 1, 3).contiguous().view(B, T, C)
    dv = dvh.permute(0, 2, 1, 3).contiguous().view(B, T, C)
    dWq = torch.einsum("btc,btd->cd", t.x, dq)
    dWk = torch.einsum("btc,btd->cd", t.x, dk)
    dWv = torch.einsum("btc,btd->cd", t.x, dv)
    dx = (torch.einsum("btd,cd->btc", dq, t.Wq) + torch.einsum("btd,cd->btc", dk, t.Wk)
          + torch.einsum("btd,cd->btc", dv, t.Wv))
    return {
        "y": dy, "Wo": dWo, "heads": dheads, "att": datt, "vh": dvh, "masked": dmasked,
        "scores": dscores, "qh": dqh, "kh": dkh, "q": dq, "k": dk, "v": dv,
        "Wq": dWq, "Wk": dWk, "Wv": dWv, "x": dx,
    }
