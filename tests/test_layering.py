"""The packages of ``pipeline`` depend on each other without cycles.

A cycle between packages (``stats`` importing a module that imports ``stats``) works only while the
import order happens to suit it, and hides which side is the foundation. This reads every import
statement (also those inside functions) and checks the graph of packages is a DAG.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "pipeline"


def part_of(module: str) -> str | None:
    """``pipeline.stats.config.parser`` → ``stats``; ``pipeline.replay`` → ``replay``."""
    parts = module.split(".")
    return parts[1] if parts[0] == "pipeline" and len(parts) > 1 else None


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        module = "pipeline." + ".".join(path.relative_to(ROOT).with_suffix("").parts)
        source = part_of(module.removesuffix(".__init__"))
        if source is None:
            continue
        deps = graph.setdefault(source, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                target = part_of(name)
                known = target is not None and ((ROOT / target).is_dir() or (ROOT / f"{target}.py").is_file())
                if known and target != source:
                    deps.add(target)
    return graph


def test_packages_import_each_other_without_cycles() -> None:
    graph = package_graph()
    assert {"core", "records", "stats", "stream", "kafka"} <= graph.keys()
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle between packages: {' → '.join(exc.args[1])}") from None
    assert order.index("stats") < order.index("stream")


def test_the_statistics_core_imports_no_kafka_side() -> None:
    assert not package_graph()["stats"] & {"stream", "kafka", "replay", "cli"}
