"""Reference solution of layers/gelu."""
import math


def backward(t):
    dgate = 0.5 * t.x * t.dout                  # (n, d)
    dth = dgate.clone()                         # (n, d)
    dscaled = (1 - t.th**2) * dth               # (n, d)
    dinner = math.sqrt(2 / math.pi) * dscaled   # (n, d)
    dx3 = 0.044715 * dinner                     # (n, d)
    dx = 0.5 * t.gate * t.dout                  # (n, d) through out
    dx += dinner                                # through inner
    dx += 3 * t.x**2 * dx3                      # through x3
    return {"gate": dgate, "th": dth, "scaled": dscaled, "inner": dinner, "x3": dx3,
            "x": dx}
