"""The ``groups`` section: GroupAgents and GroupPlaces, each a name → member ids."""

from __future__ import annotations

from typing import Any

from pipeline.stats.config.shapes import Shapes, _kind
from pipeline.stats.model import Groups


class GroupSection(Shapes):
    def groups(self, section: Any) -> Groups:
        section = self.mapping(section, "groups")
        self.known_keys(section, ("GroupAgents", "GroupPlaces"), "groups")
        tables: dict[str, dict[str, frozenset[str]]] = {"GroupAgents": {}, "GroupPlaces": {}}
        for kind, table in tables.items():
            for key, members in self.mapping(section.get(kind), f"groups.{kind}").items():
                where = f"groups.{kind}.{key}"
                group = self.name(key, where)
                if members is None:
                    members = []
                if not isinstance(members, list):
                    self.fail(where, f"expected a list of ids, found {_kind(members)}")
                table[group] = frozenset(self.name(m, f"{where}[{i}]") for i, m in enumerate(members))
        return Groups(agents=tables["GroupAgents"], places=tables["GroupPlaces"])
