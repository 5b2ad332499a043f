"""Source snippets shared by the attack files: pieces of hostile submissions, not helpers
of the tests themselves (they run inside the sandbox, as the submission's own code)."""

#: ``find(name)``: any class by name, through ``object.__subclasses__()`` (transitively) —
#: how a submission reaches a class no module namespace hands out (the engine's, a stand-in's).
FIND_CLASS = """
def find(name, root=object):
    seen, todo = set(), [root]
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        if cls.__name__ == name:
            return cls
        try:
            todo.extend(type.__subclasses__(cls))
        except TypeError:
            pass
"""

#: ``swap_sensor()``: replace the anomaly sensor's module in ``sys.modules`` with a fake
#: whose ``format_stack`` reports nothing (needs ``sys`` and ``types`` imported).
SWAP_SENSOR = """
def swap_sensor():
    fake = types.ModuleType("torch.fx.traceback")
    fake.format_stack = lambda: []
    sys.modules["torch.fx.traceback"] = fake
"""

#: ``harness_frame()``: the harness's frame (the one holding ``check``), walked up to from
#: inside ``backward`` (needs ``sys``).
HARNESS_FRAME = """
def harness_frame():
    f = sys._getframe(1)
    while f is not None and "check" not in f.f_locals:
        f = f.f_back
    assert f is not None, "no harness frame"
    return f
"""

#: ``serve_from_here(t, answer)``: the harness takeover — answer this case and every later
#: one from inside ``backward`` with the harness's own reader and socket, so the after-call
#: check never runs again (needs ``os``, ``sys`` and HARNESS_FRAME).
TAKEOVER = """
import grader.sandbox.child as harness_module

def serve_from_here(t, answer):
    f = harness_frame()
    reader, sock, request = f.f_locals["reader"], f.f_locals["sock"], f.f_locals["request"]
    while True:
        header, payloads = harness_module.encode_return(answer(t), request["expect"])
        header["cpu_ms"] = 0.0
        harness_module._send_reply(sock, header, payloads)
        request, tensors = reader.trusted_frame()
        if request.get("type") != "case":
            os._exit(0)
        t = harness_module.Namespace({**tensors, **request.get("scalars", {})})
"""
