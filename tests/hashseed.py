"""Run a function in another interpreter whose ``PYTHONHASHSEED`` differs from this one's.

Two runs in one interpreter share the string hash seed, so iteration over a ``set`` of strings (or
anything ordered by ``hash``) comes out the same both times and a determinism check comparing them
cannot see it. The results the pipeline promises (action records, ids, statistics, their order)
must not depend on the seed: replay and every worker restart run with a new one. So each
determinism check computes one side here and the other in :class:`OtherInterpreter`, and compares
the JSON texts (values, order of records and order of keys).

The child is one long-lived process (started once per test session) so property tests can send
many examples cheaply. Protocol: one JSON line in, ``{"fn": "module:function", "args": [...]}``;
one JSON line out, the function's result.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PROBE = "mediastat hash probe"


#: Seeds of the children. Two, so a hash-order dependence shows even when this process happens to
#: share an order with one of them; 1 and 2 iterate ``{"chat", "email"}`` (the media names of most
#: tests) in opposite orders, so an order of media taken from a set is always caught. For other
#: small sets one pair of seeds misses a dependence with some probability (two elements: 1 in 4,
#: with this process's random seed as the third), larger sets almost never.
SEEDS = ("1", "2")


def other_seeds() -> list[str]:
    """Child seeds other than this interpreter's (``0`` would turn randomisation off)."""
    current = os.environ.get("PYTHONHASHSEED", "random")
    return [s for s in SEEDS if s != current] or ["3"]


def probe_hash() -> int:
    """``hash`` of a fixed string: equal in two interpreters only if their seeds are equal."""
    return hash(PROBE)


class _Child:
    def __init__(self, seed: str) -> None:
        self.seed = seed
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.hashseed"],
            cwd=REPO,
            env={**os.environ, "PYTHONHASHSEED": seed},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def send(self, fn: str, args: tuple) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"fn": fn, "args": list(args)}) + "\n")
        self.proc.stdin.flush()

    def receive(self, fn: str) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the child with PYTHONHASHSEED={self.seed} died (exit {self.proc.wait()})")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"{fn} failed with PYTHONHASHSEED={self.seed}:\n{reply['error']}")
        return reply["result"]

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(30)


class OtherInterpreter:
    """Python children with other hash seeds that run functions of this repository on request."""

    def __init__(self) -> None:
        self.children = [_Child(seed) for seed in other_seeds()]

    def call_texts(self, fn: str, *args: Any) -> dict[str, str]:
        """The JSON text of ``fn(*args)`` computed in every child (in parallel), by seed."""
        for child in self.children:
            child.send(fn, args)
        return {child.seed: child.receive(fn) for child in self.children}

    def assert_same_as_here(self, fn: str, *args: Any) -> str:
        """``fn(*args)`` gives the same JSON text here and under every other seed; returns it."""
        here = call_here_text(fn, *args)
        for seed, there in self.call_texts(fn, *args).items():
            assert there == here, f"{fn} differs with PYTHONHASHSEED={seed}: {_first_difference(here, there)}"
        return here

    def close(self) -> None:
        for child in self.children:
            child.close()


def _first_difference(a: str, b: str) -> str:
    at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return f"at character {at}: here …{a[max(0, at - 80) : at + 80]}… there …{b[max(0, at - 80) : at + 80]}…"


def call_here_text(fn: str, *args: Any) -> str:
    """The JSON text of ``fn(*args)`` computed in this interpreter (the other side of a check)."""
    return json.dumps(_resolve(fn)(*args))


def _resolve(fn: str):
    module, _, name = fn.partition(":")
    return getattr(importlib.import_module(module), name)


def _serve() -> None:
    import traceback

    for line in sys.stdin:
        request = json.loads(line)
        try:
            reply = {"result": call_here_text(request["fn"], *request["args"])}
        except Exception:  # reported to the test, which fails with the child's traceback
            reply = {"error": traceback.format_exc()}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _serve()
