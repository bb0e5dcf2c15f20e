"""The epoch ticker and the engines it advances: a host dropped while the ticker runs frees its
engine only after the ticker has let go of it. (A ticker that kept finding a dying engine
advanced it while wasmtime freed it, and the process died with SIGSEGV about once in 400
runs of `python -m iam_host run`.)"""

from __future__ import annotations

import gc
import threading
import time

import wasmtime

from iam_host import Host

#: How long a patched engine deletion waits before freeing: several epoch ticks (10 ms each),
#: so a ticker that could still see a dying engine would see it.
DELETION_WAIT_SECONDS = 0.05


def test_no_engine_is_advanced_while_it_is_freed(component, monkeypatch):
    dying: set[int] = set()
    advanced_while_dying: list[int] = []
    deleted: list[int] = []
    real_delete, real_increment = wasmtime.Engine._delete, wasmtime.Engine.increment_epoch

    def slow_delete(self, ptr):
        if not getattr(self, "_this_test", False):  # another test's engine, freed meanwhile
            return real_delete(self, ptr)
        dying.add(id(self))
        time.sleep(DELETION_WAIT_SECONDS)  # the GIL released, as wasmtime's own deletion does
        real_delete(self, ptr)
        dying.discard(id(self))  # the object is freed next, and its id may name a new engine
        deleted.append(id(self))

    def watched_increment(self):
        if id(self) in dying:
            advanced_while_dying.append(id(self))
        real_increment(self)

    monkeypatch.setattr(wasmtime.Engine, "_delete", slow_delete)
    monkeypatch.setattr(wasmtime.Engine, "increment_epoch", watched_increment)
    wasm = component.read_bytes()
    for _ in range(5):
        host = Host(wasm)
        host.runtime.engine._this_test = True
        time.sleep(0.03)  # the ticker has been round at least once with this engine
        del host
    deadline = time.monotonic() + 5
    while len(deleted) < 5 and time.monotonic() < deadline:
        gc.collect()  # a host held in a reference cycle is freed by the collector
        time.sleep(0.01)
    assert not advanced_while_dying, f"the ticker advanced {len(advanced_while_dying)} engine(s) while they were freed"
    assert len(deleted) == 5, f"only {len(deleted)} of 5 dropped hosts' engines were freed"
    assert any(thread.name == "iam-host-epoch" for thread in threading.enumerate()), "the ticker ran throughout"
