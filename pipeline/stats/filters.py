"""Stat Server filter expressions: ``PairExists("k","v")``, ``KeyExists("k")``, ``!``, ``&``, ``|``, ``( )``.

A filter restricts a statistic to actions whose attributes (the action's ``UserData`` merged with its
``Reason``, see :func:`attributes`) match. The parsed form is the small tuple AST documented on
:data:`pipeline.stats.model.FilterExpr`, so the engine needs nothing but :func:`evaluate`.

Grammar (precedence ``!`` > ``&`` > ``|``; ``&`` and ``|`` associate to the left)::

    or      := and ("|" and)*
    and     := unary ("&" unary)*
    unary   := "!" unary | primary
    primary := "(" or ")" | PairExists "(" string "," string ")" | KeyExists "(" string ")"
    string  := '"' … '"' | "'" … "'"       (backslash escapes the quote and itself)

Function names are matched case-insensitively because Stat Server option files are written by hand
in every casing; the canonical spelling is what :func:`format_filter` writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.stats.model import FilterExpr

__all__ = ["FilterSyntaxError", "attributes", "evaluate", "format_filter", "parse_filter"]

_FUNCTIONS = {"pairexists": ("pair", 2), "keyexists": ("key", 1)}
_CANONICAL = {"pair": "PairExists", "key": "KeyExists"}


class FilterSyntaxError(ValueError):
    """A filter that cannot be parsed. ``position`` is the 1-based column of the problem."""

    def __init__(self, problem: str, text: str, position: int) -> None:
        self.problem = problem
        self.text = text
        self.position = position
        super().__init__(f"{problem} at column {position} in {text!r}")


# --------------------------------------------------------------------------------------------- lexer
# Tokens are (kind, value, start-offset); kinds: "name", "str", and the punctuation itself.


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()!&|,":
            tokens.append((c, c, i))
            i += 1
        elif c in "\"'":
            start, quote, i = i, c, i + 1
            chars: list[str] = []
            while True:
                if i >= n:
                    raise FilterSyntaxError("unterminated string", text, start + 1)
                c = text[i]
                if c == "\\" and i + 1 < n and text[i + 1] in (quote, "\\"):
                    chars.append(text[i + 1])
                    i += 2
                elif c == quote:
                    i += 1
                    break
                else:
                    chars.append(c)
                    i += 1
            tokens.append(("str", "".join(chars), start))
        elif c.isalpha() or c == "_":
            start = i
            while i < n and (text[i].isalnum() or text[i] == "_"):
                i += 1
            tokens.append(("name", text[start:i], start))
        else:
            raise FilterSyntaxError(f"unexpected character {c!r}", text, i + 1)
    tokens.append(("end", "", n))
    return tokens


# -------------------------------------------------------------------------------------------- parser


class _Parser:
    """Recursive descent over the token list; one method per grammar rule."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.i]

    def fail(self, problem: str, token: tuple[str, str, int] | None = None) -> FilterSyntaxError:
        token = token or self.peek()
        return FilterSyntaxError(problem, self.text, token[2] + 1)

    def expect(self, kind: str, what: str) -> tuple[str, str, int]:
        token = self.peek()
        if token[0] != kind:
            found = "end of filter" if token[0] == "end" else repr(token[1])
            raise self.fail(f"expected {what}, found {found}")
        self.i += 1
        return token

    def parse(self) -> FilterExpr:
        if self.peek()[0] == "end":
            raise self.fail("empty filter")
        expr = self.parse_or()
        token = self.peek()
        if token[0] != "end":
            raise self.fail(f"expected '&', '|' or end of filter, found {token[1]!r}")
        return expr

    def parse_or(self) -> FilterExpr:
        expr = self.parse_and()
        while self.peek()[0] == "|":
            self.i += 1
            expr = ("or", expr, self.parse_and())
        return expr

    def parse_and(self) -> FilterExpr:
        expr = self.parse_unary()
        while self.peek()[0] == "&":
            self.i += 1
            expr = ("and", expr, self.parse_unary())
        return expr

    def parse_unary(self) -> FilterExpr:
        if self.peek()[0] == "!":
            self.i += 1
            return ("not", self.parse_unary())
        return self.parse_primary()

    def parse_primary(self) -> FilterExpr:
        token = self.peek()
        if token[0] == "(":
            self.i += 1
            expr = self.parse_or()
            self.expect(")", "')'")
            return expr
        if token[0] == "name":
            function = _FUNCTIONS.get(token[1].lower())
            if function is None:
                raise self.fail(f"unknown function {token[1]!r} (use PairExists or KeyExists)")
            self.i += 1
            kind, arity = function
            self.expect("(", f"'(' after {_CANONICAL[kind]}")
            args = [self.expect("str", "a quoted string")[1]]
            for _ in range(arity - 1):
                self.expect(",", f"',' ({_CANONICAL[kind]} takes {arity} strings)")
                args.append(self.expect("str", "a quoted string")[1])
            self.expect(")", f"')' ({_CANONICAL[kind]} takes {arity} string{'s' if arity > 1 else ''})")
            return (kind, *args)
        if token[0] == "end":
            raise self.fail("expected PairExists, KeyExists, '!' or '(', found end of filter")
        raise self.fail(f"expected PairExists, KeyExists, '!' or '(', found {token[1]!r}")


def parse_filter(text: str) -> FilterExpr:
    """Parse a filter; raise :class:`FilterSyntaxError` naming the column of the problem."""
    if not isinstance(text, str):
        raise FilterSyntaxError(f"a filter must be a string, not {type(text).__name__}", str(text), 1)
    return _Parser(text).parse()


# ------------------------------------------------------------------------------------ format / eval

_PRECEDENCE = {"or": 1, "and": 2, "not": 3, "pair": 4, "key": 4}


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_filter(expr: FilterExpr, _min_precedence: int = 0) -> str:
    """The canonical text of ``expr``, with only the parentheses it needs (``parse`` inverts it).

    The right operand of ``&``/``|`` is written one precedence level higher so that a right-nested
    tree keeps its parentheses and left associativity round-trips exactly.
    """
    op = expr[0]
    if op == "pair":
        text = f"PairExists({_quote(expr[1])},{_quote(expr[2])})"
    elif op == "key":
        text = f"KeyExists({_quote(expr[1])})"
    elif op == "not":
        text = "!" + format_filter(expr[1], _PRECEDENCE["not"])
    elif op in ("and", "or"):
        p = _PRECEDENCE[op]
        symbol = " & " if op == "and" else " | "
        text = format_filter(expr[1], p) + symbol + format_filter(expr[2], p + 1)
    else:
        raise ValueError(f"not a filter expression: {expr!r}")
    return f"({text})" if _PRECEDENCE[op] < _min_precedence else text


def evaluate(expr: FilterExpr, attrs: Mapping[str, str]) -> bool:
    """Whether attributes ``attrs`` (see :func:`attributes`) pass the filter."""
    op = expr[0]
    if op == "pair":
        return attrs.get(expr[1]) == expr[2]
    if op == "key":
        return expr[1] in attrs
    if op == "not":
        return not evaluate(expr[1], attrs)
    if op == "and":
        return evaluate(expr[1], attrs) and evaluate(expr[2], attrs)
    if op == "or":
        return evaluate(expr[1], attrs) or evaluate(expr[2], attrs)
    raise ValueError(f"not a filter expression: {expr!r}")


def attributes(user_data: Mapping[str, Any] | None, reason: Mapping[str, Any] | None) -> dict[str, str]:
    """The attributes a filter sees: ``UserData`` overlaid with ``Reason``.

    Reason wins on a shared key because it describes the action itself (e.g. a not-ready reason
    code), while user data describes the interaction. Values are compared as strings (user data
    may carry numbers); a null value is skipped, so its key counts as absent unless the
    other source has it.
    """
    merged: dict[str, str] = {}
    for source in (user_data or {}, reason or {}):
        for key, value in source.items():
            if value is not None:
                merged[str(key)] = value if isinstance(value, str) else _scalar_text(value)
    return merged


def _scalar_text(value: Any) -> str:
    # JSON booleans arrive as Python bools; Genesys writes them lower-case in user data.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
