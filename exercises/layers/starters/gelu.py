"""layers/gelu — GELU (the tanh approximation), one step at a time.

    x3 = x**3                                  # (n, d)
    inner = x + 0.044715 * x3                  # (n, d)
    scaled = math.sqrt(2 / math.pi) * inner    # (n, d)
    th = torch.tanh(scaled)                    # (n, d)
    gate = 1 + th                              # (n, d)
    out = 0.5 * x * gate                       # (n, d)

You get the upstream gradient t.dout (n, d). Write the gradient of every step, in backward
order. Check it with

    backprop check gelu.py -e layers/gelu
"""
import math


def backward(t):
    n = t.n             # batch size
    x = t.x             # (n, d)
    x3 = t.x3           # (n, d)
    inner = t.inner     # (n, d)
    scaled = t.scaled   # (n, d)
    th = t.th           # (n, d)
    gate = t.gate       # (n, d)
    dout = t.dout       # (n, d) upstream gradient, given

    dgate = None        # (n, d)
    dth = None          # (n, d)
    dscaled = None      # (n, d)
    dinner = None       # (n, d)
    dx3 = None          # (n, d)
    dx = None           # (n, d)  x feeds three steps: add up all three contributions

    return {"gate": dgate, "th": dth, "scaled": dscaled, "inner": dinner, "x3": dx3,
            "x": dx}
