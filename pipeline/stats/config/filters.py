"""The ``filters`` section: named filter expressions, parsed once here."""

from __future__ import annotations

from typing import Any

from pipeline.stats.config.shapes import Shapes, _kind
from pipeline.stats.filters import FilterSyntaxError, parse_filter
from pipeline.stats.model import Filter


class FilterSection(Shapes):
    def filters(self, section: Any) -> dict[str, Filter]:
        filters: dict[str, Filter] = {}
        for key, value in self.mapping(section, "filters").items():
            where = f"filters.{key}"
            name = self.name(key, where)
            if not isinstance(value, str):
                self.fail(
                    where,
                    f"expected a filter expression string such as 'KeyExists(\"VIP\")', found {_kind(value)}",
                )
            try:
                expr = parse_filter(value)
            except FilterSyntaxError as exc:
                self.fail(where, str(exc))
            filters[name] = Filter(name=name, text=value.strip(), expr=expr)
        return filters
