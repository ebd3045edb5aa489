"""The ``capacity`` section: capacity rules (per-media limits, blocks) and who they apply to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.core.capacity import Block, CapacityConfig, CapacityRule
from pipeline.stats.config.shapes import Shapes, _kind


class CapacitySection(Shapes):
    def capacity(self, section: Any) -> CapacityConfig:
        section = self.mapping(section, "capacity")
        self.known_keys(section, ("rules", "assign"), "capacity")
        rules: dict[str, CapacityRule] = {}
        for key, value in self.mapping(section.get("rules"), "capacity.rules").items():
            where = f"capacity.rules.{key}"
            name = self.name(key, where)
            rules[name] = self.capacity_rule(name, self.mapping(value, where), where)
        assign = self.mapping(section.get("assign"), "capacity.assign")
        self.known_keys(assign, ("agents", "places", "tenants"), "capacity.assign")
        tables: dict[str, dict[str, str]] = {}
        for kind in ("agents", "places", "tenants"):
            table: dict[str, str] = {}
            for key, rule in self.mapping(assign.get(kind), f"capacity.assign.{kind}").items():
                where = f"capacity.assign.{kind}.{key}"
                table[self.name(key, where)] = self.reference(rule, rules, "capacity rule", where).name
            tables[kind] = table
        return CapacityConfig(
            rules=rules, agents=tables["agents"], places=tables["places"], tenants=tables["tenants"]
        )

    def capacity_rule(self, name: str, value: Mapping, where: str) -> CapacityRule:
        self.known_keys(value, ("max", "max_total", "block"), where)
        limits = None
        if "max" in value:
            limits = {
                self.media(k, f"{where}.max.{k}"): self.count(n, f"{where}.max.{k}")
                for k, n in self.mapping(value["max"], f"{where}.max").items()
            }
        max_total = None
        if value.get("max_total") is not None:
            max_total = self.count(value["max_total"], f"{where}.max_total")
        blocks: list[Block] = []
        raw_blocks = value.get("block") or []
        if not isinstance(raw_blocks, list):
            self.fail(
                f"{where}.block",
                f"expected a list of {{media: m, when: {{k: n}}}}, found {_kind(raw_blocks)}",
            )
        for i, raw in enumerate(raw_blocks):
            bw = f"{where}.block[{i}]"
            raw = self.mapping(raw, bw)
            self.known_keys(raw, ("media", "when"), bw)
            if "media" not in raw or "when" not in raw:
                self.fail(bw, "a block needs 'media' and 'when' (e.g. {media: email, when: {chat: 1}})")
            when = {
                self.media(k, f"{bw}.when.{k}"): self.count(n, f"{bw}.when.{k}")
                for k, n in self.mapping(raw["when"], f"{bw}.when").items()
            }
            if not when:
                self.fail(
                    f"{bw}.when", "needs at least one media: count (an empty condition would always block)"
                )
            blocks.append(Block(media=self.media(raw["media"], f"{bw}.media"), when=when))
        return CapacityRule(name=name, max=limits, max_total=max_total, block=tuple(blocks))

    def media(self, value: Any, where: str) -> str:
        """Media type names are compared lower-case everywhere (stat types do the same)."""
        if not isinstance(value, str) or not value.strip():
            self.fail(where, f"expected a media type name such as 'email', found {value!r}")
        return value.strip().lower()
