# corpus: bug
# exercise: layers/softmax
# title: exp's derivative written with its input: shifted * dcounts instead of counts * dcounts
# bug-class: derivative_wrong_tensor
# root-cause: shifted
# expect-wrong: shifted x

def backward(t):
    dcounts_sum = (-t.counts / t.counts_sum**2 * t.dprobs).sum(1, keepdim=True)
    dcounts = t.dprobs / t.counts_sum
    dcounts += dcounts_sum
    dshifted = t.shifted * dcounts
    dx = dshifted.clone()
    return {"counts_sum": dcounts_sum, "counts": dcounts, "shifted": dshifted, "x": dx}
