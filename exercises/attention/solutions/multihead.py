def backward(t):
    B, T, C, hs = t.B, t.T, t.C, t.hs
    dout = t.dout
    # out = y @ Wo
    dy = dout @ t.Wo.T
    dWo = (t.y.transpose(-2, -1) @ dout).sum(0)
    # y = heads.transpose(1, 2).reshape(B, T, C)
    dheads = dy.view(B, T, -1, hs).transpose(1, 2)
    # heads = att @ vh
    datt = dheads @ t.vh.transpose(-2, -1)
    dvh = t.att.transpose(-2, -1) @ dheads
    # att = softmax(masked)
    dmasked = t.att * (datt - (t.att * datt).sum(-1, keepdim=True))
    # masked = scores.masked_fill(tril == 0, -inf)
    dscores = dmasked.masked_fill(t.tril == 0, 0.0)
    # scores = qh @ kh^T * hs**-0.5
    dqh = dscores @ t.kh * hs**-0.5
    dkh = dscores.transpose(-2, -1) @ t.qh * hs**-0.5
    # qh = q.view(B, T, n_head, hs).transpose(1, 2), and so for k and v
    dq = dqh.transpose(1, 2).reshape(B, T, C)
    dk = dkh.transpose(1, 2).reshape(B, T, C)
    dv = dvh.transpose(1, 2).reshape(B, T, C)
    # q = x @ Wq, k = x @ Wk, v = x @ Wv
    dWq = (t.x.transpose(-2, -1) @ dq).sum(0)
    dWk = (t.x.transpose(-2, -1) @ dk).sum(0)
    dWv = (t.x.transpose(-2, -1) @ dv).sum(0)
    dx = dq @ t.Wq.T
    dx += dk @ t.Wk.T
    dx += dv @ t.Wv.T
    return {
        "y": dy, "Wo": dWo, "heads": dheads, "att": datt, "vh": dvh, "masked": dmasked,
        "scores": dscores, "qh": dqh, "kh": dkh, "q": dq, "k": dk, "v": dv,
        "Wq": dWq, "Wk": dWk, "Wv": dWv, "x": dx,
    }
