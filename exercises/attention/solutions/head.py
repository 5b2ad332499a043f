def backward(t):
    hs = t.hs
    dout = t.dout
    # out = att @ v
    datt = dout @ t.v.transpose(-2, -1)
    dv = t.att.transpose(-2, -1) @ dout
    # att = att_exp * att_sum_inv
    datt_sum_inv = (t.att_exp * datt).sum(-1, keepdim=True)
    # att_sum_inv = att_sum**-1
    datt_sum = -t.att_sum**-2 * datt_sum_inv
    # att_sum = att_exp.sum(-1, keepdim=True), plus the att branch
    datt_exp = t.att_sum_inv * datt
    datt_exp += datt_sum
    # att_exp = masked.exp()
    dmasked = t.att_exp * datt_exp
    # masked = scores.masked_fill(tril == 0, -inf): no gradient where the mask filled
    dscores = dmasked.masked_fill(t.tril == 0, 0.0)
    # scores = q @ k^T * hs**-0.5
    dq = dscores @ t.k * hs**-0.5
    dk = dscores.transpose(-2, -1) @ t.q * hs**-0.5
    # q = x @ Wq, k = x @ Wk, v = x @ Wv
    dWq = (t.x.transpose(-2, -1) @ dq).sum(0)
    dWk = (t.x.transpose(-2, -1) @ dk).sum(0)
    dWv = (t.x.transpose(-2, -1) @ dv).sum(0)
    dx = dq @ t.Wq.T
    dx += dk @ t.Wk.T
    dx += dv @ t.Wv.T
    return {
        "att": datt, "v": dv, "att_sum_inv": datt_sum_inv, "att_sum": datt_sum,
        "att_exp": datt_exp, "masked": dmasked, "scores": dscores, "q": dq, "k": dk,
        "Wq": dWq, "Wk": dWk, "Wv": dWv, "x": dx,
    }
