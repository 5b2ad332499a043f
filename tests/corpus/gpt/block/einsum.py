# corpus: correct
# exercise: gpt/block
# title: einsum everywhere: heads split and merged through the weights' (C, n_head, hs) views, GELU's derivative with sech², LayerNorm through the centred input and the variance

import math

import torch


def backward(t):
    B, T, C, nh, hs, H = t.B, t.T, t.C, t.n_head, t.hs, t.H

    dm = t.dout.clone()
    dW2 = torch.einsum("bth,btc->hc", t.gelu, dm)
    db2 = torch.einsum("btc->c", dm)
    dgelu = torch.einsum("btc,hc->bth", dm, t.W2)
    a = math.sqrt(2 / math.pi)
    u = a * (t.h + 0.044715 * t.h**3)
    sech2 = 1 / torch.cosh(u) ** 2
    dh = dgelu * (0.5 * (1 + torch.tanh(u)) + 0.5 * t.h * sech2 * a * (1 + 3 * 0.044715 * t.h**2))
    dW1 = torch.einsum("btc,bth->ch", t.ln2, dh)
    db1 = torch.einsum("bth->h", dh)
    dln2 = torch.einsum("bth,ch->btc", dh, t.W1)
    dln2_gain = torch.einsum("btc,btc->c", dln2, t.xhat2)
    dln2_bias = torch.einsum("btc->c", dln2)
    dxhat2 = torch.einsum("btc,c->btc", dln2, t.ln2_gain)

    def ln_back(dxhat, x, mu, var):
        xc = x - mu
        rstd = (var + 1e-5) ** -0.5
        dvar = torch.einsum("btc,btc->bt", dxhat, xc)[..., None] * -0.5 * rstd**3
        dxc = dxhat * rstd + dvar * 2 * xc / C
        return dxc - dxc.mean(-1, keepdim=True)

    dx1 = dm + ln_back(dxhat2, t.x1, t.mu2, t.var2)
    dattn_out = dx1.clone()
    dWo = torch.einsum("btc,btd->cd", t.ycat, dattn_out)
    dycat = torch.einsum("btd,cd->btc", dattn_out, t.Wo)
    dyh = torch.einsum("bthd->bhtd", dycat.view(B, T, nh, hs))
    datt = torch.einsum("bhtd,bhsd->bhts", dyh, t.v)
    dv = torch.einsum("bhts,bhtd->bhsd", t.att, dyh)
    inner = torch.einsum("bhts,bhts->bht", t.att, datt)
    dscores = t.att * (datt - inner[..., None])
    dq = torch.einsum("bhts,bhsd->bhtd", dscores, t.k) / math.sqrt(hs)
    dk = torch.einsum("bhts,bhtd->bhsd", dscores, t.q) / math.sqrt(hs)
    dWq = torch.einsum("btc,bhtd->chd", t.ln1, dq).reshape(C, C)
    dWk = torch.einsum("btc,bhtd->chd", t.ln1, dk).reshape(C, C)
    dWv = torch.einsum("btc,bhtd->chd", t.ln1, dv).reshape(C, C)
    dln1 = (torch.einsum("bhtd,chd->btc", dq, t.Wq.view(C, nh, hs))
            + torch.einsum("bhtd,chd->btc", dk, t.Wk.view(C, nh, hs))
            + torch.einsum("bhtd,chd->btc", dv, t.Wv.view(C, nh, hs)))
    dln1_gain = torch.einsum("btc,btc->c", dln1, t.xhat1)
    dln1_bias = torch.einsum("btc->c", dln1)
    dxhat1 = torch.einsum("btc,c->btc", dln1, t.ln1_gain)
    dx = dx1 + ln_back(dxhat1, t.x, t.mu1, t.var1)

    return {
        "m": dm, "W2": dW2, "b2": db2, "gelu": dgelu, "h": dh, "W1": dW1, "b1": db1,
        "ln2": dln2, "ln2_gain": dln2_gain, "ln2_bias": dln2_bias, "xhat2": dxhat2,
        "x1": dx1, "attn_out": dattn_out, "Wo": dWo, "ycat": dycat, "yh": dyh, "att": datt,
        "v": dv, "scores": dscores, "q": dq, "k": dk, "Wq": dWq, "Wk": dWk, "Wv": dWv,
        "ln1": dln1, "ln1_gain": dln1_gain, "ln1_bias": dln1_bias, "xhat1": dxhat1, "x": dx,
    }
