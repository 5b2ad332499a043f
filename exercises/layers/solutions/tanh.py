"""Reference solution of layers/tanh."""


def backward(t):
    dhpre = t.dh * (1 - t.h**2)      # (n, d_out)
    dx = dhpre @ t.W.T               # (n, d_in)
    dW = t.x.T @ dhpre               # (d_in, d_out)
    db = dhpre.sum(0)                # (d_out,)
    return {"hpre": dhpre, "x": dx, "W": dW, "b": db}
