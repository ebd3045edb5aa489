"""Filter expressions: parsing (precedence, parentheses, errors with their column) and evaluation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.stats.filters import FilterSyntaxError, attributes, evaluate, format_filter, parse_filter

A = ("pair", "Language", "Spanish")
B = ("key", "VIP")
C = ("pair", "Segment", "Gold")


def test_atoms() -> None:
    assert parse_filter('PairExists("Language","Spanish")') == A
    assert parse_filter(' KeyExists( "VIP" ) ') == B
    assert parse_filter("pairexists('Language', 'Spanish')") == A  # case-insensitive names, single quotes


def test_escaped_quotes_in_strings() -> None:
    assert parse_filter(r'PairExists("Say","a \"b\" \\ c")') == ("pair", "Say", 'a "b" \\ c')


@pytest.mark.parametrize(
    "text, expected",
    [
        # ! binds tighter than &, & tighter than |
        ('!KeyExists("VIP") & PairExists("Language","Spanish")', ("and", ("not", B), A)),
        (
            'PairExists("Language","Spanish") | KeyExists("VIP") & PairExists("Segment","Gold")',
            ("or", A, ("and", B, C)),
        ),
        (
            'PairExists("Language","Spanish") & KeyExists("VIP") | PairExists("Segment","Gold")',
            ("or", ("and", A, B), C),
        ),
        # parentheses override precedence
        (
            '(PairExists("Language","Spanish") | KeyExists("VIP")) & PairExists("Segment","Gold")',
            ("and", ("or", A, B), C),
        ),
        ('!(KeyExists("VIP") | PairExists("Segment","Gold"))', ("not", ("or", B, C))),
        # left associativity
        (
            'KeyExists("VIP") & PairExists("Segment","Gold") & PairExists("Language","Spanish")',
            ("and", ("and", B, C), A),
        ),
        ('!!KeyExists("VIP")', ("not", ("not", B))),
        ('((KeyExists("VIP")))', B),
    ],
)
def test_precedence_and_parentheses(text: str, expected: tuple) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    "text, problem, column",
    [
        ("", "empty filter", 1),
        ("   ", "empty filter", 4),
        ('PairExists("a")', "expected ','", 15),
        ('PairExists("a","b"', "expected ')'", 19),
        ('KeyExists("a","b")', "expected ')'", 14),
        ('KeyExist("a")', "unknown function 'KeyExist'", 1),
        ("KeyExists(a)", "expected a quoted string, found 'a'", 11),
        ('KeyExists("a) & KeyExists("b")', "unterminated string", 29),
        ('KeyExists("a', "unterminated string", 11),
        ('KeyExists("a") KeyExists("b")', "expected '&', '|' or end of filter, found 'KeyExists'", 16),
        ('KeyExists("a") &', "found end of filter", 17),
        ('(KeyExists("a")', "expected ')', found end of filter", 16),
        ('KeyExists("a") && KeyExists("b")', "found '&'", 17),
        ('KeyExists("a") = 1', "unexpected character '='", 16),
    ],
)
def test_errors_name_the_problem_and_column(text: str, problem: str, column: int) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter(text)
    assert problem in str(info.value)
    assert info.value.position == column
    assert f"at column {column} in {text!r}" in str(info.value)


def test_evaluate() -> None:
    expr = parse_filter('PairExists("Language","Spanish") & !KeyExists("VIP") | PairExists("Segment","Gold")')
    assert evaluate(expr, {"Language": "Spanish"})
    assert not evaluate(expr, {"Language": "Spanish", "VIP": "1"})
    assert evaluate(expr, {"Language": "English", "VIP": "", "Segment": "Gold"})
    assert not evaluate(expr, {})
    assert evaluate(parse_filter('KeyExists("VIP")'), {"VIP": ""})  # an empty value still exists
    assert not evaluate(parse_filter('PairExists("Language","spanish")'), {"Language": "Spanish"})


def test_attributes_merge_user_data_and_reason() -> None:
    attrs = attributes(
        {"Language": "Spanish", "ReasonCode": "old", "Priority": 5, "VIP": True, "Gone": None},
        {"ReasonCode": "Lunch"},
    )
    assert attrs == {"Language": "Spanish", "ReasonCode": "Lunch", "Priority": "5", "VIP": "true"}
    assert attributes(None, None) == {}
    assert evaluate(parse_filter('PairExists("Priority","5")'), attrs)
    assert not evaluate(parse_filter('KeyExists("Gone")'), attrs)


# ---- round trip: format_filter writes text that parses back to the same tree

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)
_atoms = st.one_of(st.tuples(st.just("pair"), _text, _text), st.tuples(st.just("key"), _text))
_exprs = st.recursive(
    _atoms,
    lambda sub: st.one_of(
        st.tuples(st.just("not"), sub),
        st.tuples(st.just("and"), sub, sub),
        st.tuples(st.just("or"), sub, sub),
    ),
    max_leaves=12,
)


@given(_exprs)
def test_format_then_parse_round_trips(expr: tuple) -> None:
    assert parse_filter(format_filter(expr)) == expr


@given(_exprs, st.dictionaries(st.sampled_from(["a", "b", ""]), st.sampled_from(["a", "b", ""])))
def test_evaluate_matches_boolean_semantics(expr: tuple, attrs: dict[str, str]) -> None:
    def reference(e: tuple) -> bool:
        if e[0] == "pair":
            return e[1] in attrs and attrs[e[1]] == e[2]
        if e[0] == "key":
            return e[1] in attrs
        if e[0] == "not":
            return not reference(e[1])
        left, right = reference(e[1]), reference(e[2])
        return (left and right) if e[0] == "and" else (left or right)

    assert evaluate(expr, attrs) is reference(expr)
