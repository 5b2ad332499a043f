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
