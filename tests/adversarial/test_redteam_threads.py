"""Red team: get autograd through a second thread or process (where grad mode starts on and
no Python guard watches), torch's own thread pools, TorchScript forks, futures, RPC agents and
distributed autograd, reached through the public modules, sys.modules tricks, re-executing the
module files, object.__subclasses__() and the globals of torch.distributed's own functions.

Every attack runs *before* the correct formula, uncaught: if it were silently allowed the
submission would earn full marks. Expected: score 0, status ``error`` (a refusal) or
``violation``; the marker an attack prints when it gets through is absent; the zygote is the
same process afterwards (no restart) and grades the correct answer to full marks.
"""

from __future__ import annotations

import textwrap

import pytest

from tests.adversarial.attack_helpers import assert_survives, ex2, grade_quick, zygote_pids

HEADER = "import os, sys, types, importlib, importlib.util\n"

#: Autograd run where a thread would run it (grad mode on by default in a new thread).
WORK = """
def autograd_work(logits, Yb, box):
    x = logits.clone()
    torch._C.TensorBase.requires_grad_(x, True)
    with torch.enable_grad():
        F.cross_entropy(x, Yb).backward()
    box["g"] = x.grad
    print("AUTOGRAD_OK", flush=True)
"""

#: Walk every class (object.__subclasses__(), transitively).
ALL_CLASSES = """
def all_classes():
    seen, todo = set(), [object]
    while todo:
        c = todo.pop()
        if c in seen:
            continue
        seen.add(c)
        try:
            todo.extend(type.__subclasses__(c))
        except TypeError:
            pass
    return seen

def module_of(c):
    m = c.__dict__.get("__module__", "")
    return m if isinstance(m, str) else ""

def distributed_globals():
    out = {}
    for c in all_classes():
        if module_of(c).startswith("torch.distributed"):
            for v in list(vars(c).values()):
                g = getattr(getattr(v, "__func__", v), "__globals__", None)
                if isinstance(g, dict):
                    out[g.get("__name__")] = g
    return out
"""

def body(text: str) -> str:
    """Return ``text`` (a dedented block) indented as the top of ``backward``."""
    return textwrap.indent(textwrap.dedent(text).strip("\n") + "\n", "    ")


THREAD = WORK + "import threading, time, _thread, concurrent.futures as cf\n"

#: name: (header, attack in backward). The attack must not catch its own failure.
ATTACKS = {
    "threading-thread": (THREAD, body("""
        box = {}
        th = threading.Thread(target=autograd_work, args=(t.logits, t.Yb, box))
        th.start(); th.join()
        return {'logits': box['g']}
    """)),
    "threading-daemon-timer": (THREAD, body("""
        box = {}
        threading.Timer(0.0, autograd_work, (t.logits, t.Yb, box)).start()
        time.sleep(0.3)
        return {'logits': box['g']}
    """)),
    "_thread-start_new_thread": (THREAD, body("""
        box = {}
        _thread.start_new_thread(autograd_work, (t.logits, t.Yb, box))
        time.sleep(0.3)
        return {'logits': box['g']}
    """)),
    "threading-private-alias": (THREAD, body("""
        box = {}
        threading._start_new_thread(autograd_work, (t.logits, t.Yb, box))
        time.sleep(0.3)
        return {'logits': box['g']}
    """)),
    "thread-pool-executor": (THREAD, body("""
        box = {}
        with cf.ThreadPoolExecutor(2) as ex:
            ex.submit(autograd_work, t.logits, t.Yb, box).result()
        return {'logits': box['g']}
    """)),
    "process-pool-executor": (THREAD, body("""
        with cf.ProcessPoolExecutor(1) as ex:
            ex.submit(print, 'CHILD_PROCESS_OK').result()
    """)),
    "set-num-threads-matmul": ("", body("""
        torch.set_num_threads(4)
        a = torch.randn(512, 512)
        for _ in range(4):
            a = a @ a
        print('THREADS_OK', torch.get_num_threads())
    """)),
    "c-set-num-threads": ("", body("""
        torch._C.set_num_threads(4)
        (torch.randn(512, 512) @ torch.randn(512, 512)).sum()
        print('THREADS_OK')
    """)),
    "set-num-interop-threads": ("", body("""
        torch.set_num_interop_threads(4)
        print('THREADS_OK')
    """)),
    "jit-fork": ("", body("""
        fut = torch.jit.fork(F.softmax, t.logits, 1)
        torch.jit.wait(fut)
        print('FORK_OK')
    """)),
    "jit-private-fork": ("", body("torch.jit._fork(lambda: print('FORK_OK'))")),
    "c-fork": ("", body("torch._C.fork(lambda: print('FORK_OK'))")),
    "futures-then-callback": (WORK, body("""
        box = {}
        f = torch.futures.Future()
        f2 = f.then(lambda _: autograd_work(t.logits, t.Yb, box))
        f.set_result(None)
        f2.wait()
        return {'logits': box['g']}
    """)),
    "os-fork": (WORK, body("""
        pid = os.fork()
        if pid == 0:
            autograd_work(t.logits, t.Yb, {})
            os._exit(0)
        os.waitpid(pid, 0)
    """)),
    "os-forkpty": ("", body("""
        pid, fd = os.forkpty()
        if pid == 0:
            print('CHILD_PROCESS_OK'); os._exit(0)
    """)),
    "os-posix-spawn": ("", body("""
        os.posix_spawn(sys.executable, [sys.executable, '-c', 'print("CHILD_PROCESS_OK")'], {})
    """)),
    "os-spawnv": ("", body("os.spawnv(os.P_WAIT, '/bin/echo', ['echo', 'CHILD_PROCESS_OK'])")),
    "os-system": ("", body("assert os.system('echo CHILD_PROCESS_OK') == 0")),
    "subprocess": ("import subprocess\n", body("""
        subprocess.run([sys.executable, '-c', 'print("CHILD_PROCESS_OK")'])
    """)),
    "multiprocessing-fork": (WORK + "import multiprocessing as mp\n", body("""
        ctx = mp.get_context('fork')
        p = ctx.Process(target=autograd_work, args=(t.logits, t.Yb, {}))
        p.start(); p.join()
    """)),
    "multiprocessing-spawn": ("import multiprocessing as mp\n", body("""
        p = mp.get_context('spawn').Process(target=print, args=('CHILD_PROCESS_OK',))
        p.start(); p.join()
    """)),
    "rpc-init-via-module": ("", body("""
        import torch.distributed.rpc as rpc
        os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT='29517')
        rpc.init_rpc('w', rank=0, world_size=1)
        print('RPC_OK')
    """)),
    "dist-init-process-group": ("", body("""
        import torch.distributed as dist
        dist.init_process_group('gloo', init_method='tcp://127.0.0.1:29518', rank=0,
                                world_size=1)
        print('RPC_OK')
    """)),
    "rpc-sys-modules-reimport": ("", body("""
        for k in [k for k in sys.modules if k.startswith('torch.distributed')]:
            del sys.modules[k]
        import torch.distributed.rpc as rpc
        rpc.init_rpc('w', rank=0, world_size=1)
        print('RPC_OK')
    """)),
    "rpc-import-new-submodule": ("", body("""
        importlib.import_module('torch.distributed.rpc._testing')
        print('RPC_OK')
    """)),
    "rpc-exec-module-file": ("", body("""
        path = os.path.join(os.path.dirname(torch.__file__), 'distributed', 'rpc',
                            '__init__.py')
        spec = importlib.util.spec_from_file_location('myrpc', path)
        m = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(m)
        m.init_rpc('w', rank=0, world_size=1)
        print('RPC_OK')
    """)),
    "rpc-exec-source-text": ("", body("""
        path = os.path.join(os.path.dirname(torch.__file__), 'distributed', 'rpc', 'api.py')
        ns = {'__name__': 'myapi'}
        exec(compile(open(path).read(), 'api.py', 'exec'), ns)
        ns['_init_rpc_states'](None)
        print('RPC_OK')
    """)),
    "tensorpipe-agent-subclasses": (ALL_CLASSES, body("""
        A = [c for c in all_classes() if c.__name__ == 'TensorPipeAgent'][0]
        A(None, 'w', 0, 1, None, {}, {}, [], None)
        print('RPC_OK')
    """)),
    "tensorpipe-agent-new-only": (ALL_CLASSES, body("""
        A = [c for c in all_classes() if c.__name__ == 'TensorPipeAgent'][0]
        a = A.__new__(A)
        a.join()
        print('RPC_OK')
    """)),
    "dist-autograd-context-subclasses": (ALL_CLASSES, body("""
        C = [c for c in all_classes() if c.__name__ == 'DistAutogradContext'][0]
        C()
        print('RPC_OK')
    """)),
    "real-module-globals-init-backend": (ALL_CLASSES, body("""
        g = distributed_globals()['torch.distributed.rpc.backend_registry']
        g['init_backend'](g['BackendType'].TENSORPIPE, store=None, name='w', rank=0,
                          world_size=1, rpc_backend_options=None)
        print('RPC_OK')
    """)),
    "real-module-globals-rpc-agent": (ALL_CLASSES, body("""
        g = distributed_globals()['torch.distributed.rpc.api']
        g['_get_current_rpc_agent']()
        print('RPC_OK')
    """)),
    "real-module-globals-dist-backward": (ALL_CLASSES, body("""
        g = distributed_globals()['torch.distributed.autograd']
        g['backward'](1, [torch.zeros(())])
        print('RPC_OK')
    """)),
    "real-module-globals-process-group": (ALL_CLASSES, body("""
        g = distributed_globals()['torch.distributed.distributed_c10d']
        g['init_process_group']('gloo', init_method='tcp://127.0.0.1:29519', rank=0,
                                world_size=1)
        print('RPC_OK')
    """)),
    "c-distributed-module": ("", body("""
        torch._C._distributed_autograd.backward(1, [])
        print('RPC_OK')
    """)),
    # The graph sensor swapped for a fake, then a graph from the raw C requires_grad_ and an
    # engine instance found through __subclasses__: grad mode is still off, so no graph.
    "fake-sensor-then-engine": (ALL_CLASSES, body("""
        fake = types.ModuleType('torch.fx.traceback')
        fake.format_stack = lambda: []
        sys.modules['torch.fx.traceback'] = fake
        E = [c for c in all_classes() if c.__name__ == '_EngineBase'][0]
        x = t.logits.clone()
        torch._C.TensorBase.requires_grad_(x, True)
        loss = F.cross_entropy(x, t.Yb)
        (g,) = E().run_backward((loss,), (torch.ones(()),), False, False, (x,), True, False)
        print('AUTOGRAD_OK')
        return {'logits': g}
    """)),
    # ... and the same through a tensor hook run by the engine with create_graph=True (where
    # grad mode is on): no graph is recorded, or it is seen after the call.
    "fake-sensor-then-engine-hook": (ALL_CLASSES, body("""
        fake = types.ModuleType('torch.fx.traceback')
        fake.format_stack = lambda: []
        sys.modules['torch.fx.traceback'] = fake
        E = [c for c in all_classes() if c.__name__ == '_EngineBase'][0]
        box = {}
        leaf = torch.zeros(())
        torch._C.TensorBase.requires_grad_(leaf, True)
        def hook(g):
            x = t.logits.clone()
            torch._C.TensorBase.requires_grad_(x, True)
            loss = F.cross_entropy(x, t.Yb)
            box['g'], = E().run_backward((loss,), (torch.ones(()),), False, False, (x,),
                                         True, False)
            return g
        leaf.register_hook(hook)
        E().run_backward((leaf,), (torch.ones(()),), False, True, (leaf,), True, False)
        return {'logits': box['g'].detach()}
    """)),
}

#: Printed by an attack that got through; never in a result's output.
MARKERS = ("THREADS_OK", "FORK_OK", "CHILD_PROCESS_OK", "RPC_OK")


@pytest.mark.parametrize("name", list(ATTACKS))
def test_threads_and_processes_give_nothing(sandbox, name: str) -> None:
    header, attack = ATTACKS[name]
    trusted, restarts = zygote_pids(sandbox), sandbox.restarts
    result = grade_quick(sandbox, ex2(header=HEADER + header, before=attack))
    assert result.score == 0, (result.status, result.message, result.stdout[-300:])
    assert result.status in ("error", "violation"), (result.status, result.message)
    assert all(t.points == 0 for t in result.tensors)
    for marker in MARKERS:
        assert marker not in result.stdout, (marker, result.stdout[-300:])
    assert "AUTOGRAD_OK" not in result.stdout
    assert sandbox.restarts == restarts
    assert_survives(sandbox, trusted)
    assert sandbox.restarts == restarts


def test_autograd_in_a_thread_is_not_graded_even_when_caught(sandbox) -> None:
    """Catching the refusal changes nothing: the thread never ran (no AUTOGRAD_OK)."""
    header, _ = ATTACKS["threading-thread"]
    attack = ("    box = {}\n"
              "    try:\n"
              "        th = threading.Thread(target=autograd_work, args=(t.logits, t.Yb, box))\n"
              "        th.start(); th.join()\n"
              "    except Exception as e:\n"
              "        print('REFUSED', e)\n")
    result = grade_quick(sandbox, ex2(header=HEADER + header, before=attack))
    assert "AUTOGRAD_OK" not in result.stdout
    assert "not available in the grading sandbox" in result.stdout, result.stdout[-300:]
    # the correct formula after the caught refusal is graded normally
    assert (result.status, result.score) == ("graded", 1.0), result.message


def test_harmless_thread_apis_are_graded(sandbox) -> None:
    """Positive control: locks, queues, current_thread() and set_num_threads(1) are fine."""
    header = "import threading, queue\nLOCK = threading.Lock()\n"
    attack = ("    torch.set_num_threads(1)\n"
              "    with LOCK:\n"
              "        q = queue.Queue(); q.put(1); q.get()\n"
              "    print('MAIN', threading.current_thread().name, torch.get_num_threads())\n")
    result = grade_quick(sandbox, ex2(header=header, before=attack))
    assert (result.status, result.score) == ("graded", 1.0), result.message
    assert "MAIN MainThread 1" in result.stdout
