"""The `search_runs` filter grammar: MLflow's, plus OR and parentheses.

    filter     := or_expr
    or_expr    := and_expr ("OR" and_expr)*
    and_expr   := atom ("AND" atom)*
    atom       := "(" or_expr ")" | comparison
    comparison := identifier ("=" | "!=" | "<" | "<=" | ">" | ">=") value
                | identifier ["NOT"] ("LIKE" | "ILIKE") string
                | identifier ["NOT"] "IN" "(" string ("," string)* ")"
                | identifier "IS" ["NOT"] "NULL"
    identifier := entity "." key | attribute
    entity     := metrics | metric | params | param | tags | tag | attributes | attribute
                | attr | run | datasets | dataset
    key        := bare characters (dots allowed), or quoted with `backticks` or "double quotes"

Keywords and entity names are case-insensitive. A bare attribute name (`status`) is an
attribute, as in MLflow. Metrics and start_time/end_time compare with numbers; params, tags and
the other attributes with strings. LIKE uses SQL's % and _ (case-sensitive); ILIKE ignores case.

Datasets (`datasets.name`, `datasets.digest`, `datasets.context`) are MLflow's: a run has any
number of them, and a comparison holds if it holds for one of them (`datasets.name != 'x'`:
the run used a dataset not named x; `datasets.context` looks at the datasets that have a
context). Their column holds a sequence of strings per row; IS NULL and order_by do not apply.

Missing values follow SQL: an absent value matches no comparison, only IS NULL; a column the
frame does not have is absent in every row. A logged NaN metric matches no comparison either
(not even !=), but it is not absent: IS NOT NULL holds. A plain float64 column cannot tell a
logged NaN from an absent value, so there NaN reads as absent; columns of a nullable dtype
(Float64, double[pyarrow]) keep them apart (<NA> absent, NaN logged). In a row dict given to
`matches`, None, pd.NA or a missing key is absent, and NaN is absent except in metrics.

`matches` is the reference semantics on one row; `evaluate` is the vectorised form.
"""

from __future__ import annotations

import functools
import math
import numbers
import operator
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from reporter.core.errors import InvalidFilterError
from reporter.core.system_tags import LEGACY_NAMES

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

__all__ = [
    "DATASET_KEYS",
    "EXPERIMENTS",
    "RUNS",
    "And",
    "Comparison",
    "Grammar",
    "Node",
    "Or",
    "column_for",
    "entities_of",
    "evaluate",
    "filter_frame",
    "like_pattern",
    "matches",
    "parse_filter",
    "parse_order_by",
    "sort_frame",
    "tokenize",
]

ENTITIES = {
    "metrics": "metrics",
    "metric": "metrics",
    "params": "params",
    "param": "params",
    "parameters": "params",
    "parameter": "params",
    "tags": "tags",
    "tag": "tags",
    "attributes": "attributes",
    "attribute": "attributes",
    "attr": "attributes",
    "run": "attributes",
    "datasets": "datasets",
    "dataset": "datasets",
}
ENTITY_NAMES = (
    "metrics, params, tags, attributes, datasets "
    "(or metric, param, tag, attribute, attr, run, dataset)"
)
DATASET_KEYS = ("name", "digest", "context")  # MLflow's; a run has any number of datasets
STRING_ATTRIBUTES = (
    "run_id",
    "run_name",
    "status",
    "user_id",
    "artifact_uri",
    "lifecycle_stage",
    "experiment_id",
    "parent_run_id",
)
NUMERIC_ATTRIBUTES = ("start_time", "end_time")
ATTRIBUTE_ALIASES = {
    "run_uuid": "run_id",
    "created": "start_time",
    "Created": "start_time",
    "run name": "run_name",
    "Run name": "run_name",
    "Run Name": "run_name",
}


@dataclass(frozen=True)
class Grammar:
    """The identifiers one kind of search accepts: its entities and attributes, by table
    (never by rewriting the filter's text, which would also hit keys and quoted values)."""

    entities: Mapping[str, str]  # prefix (lower case) -> entity
    entity_names: str  # for messages
    string_attributes: tuple[str, ...]
    numeric_attributes: tuple[str, ...]
    attribute_aliases: Mapping[str, str]
    tag_aliases: Mapping[str, str]  # an older name of a tag -> the one stored
    example: str  # identifiers for messages
    closed_keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # entity -> keys

    @property
    def attributes(self) -> tuple[str, ...]:
        return self.string_attributes + self.numeric_attributes

    def attribute(self, name: str) -> str | None:
        """Return the attribute a name (or alias) means, or None."""
        name = self.attribute_aliases.get(name, name)
        return name if name in self.attributes else None


# search_runs: tags.reporter.parentRunId (an older store's name) means tags.mlflow.parentRunId
RUNS = Grammar(
    ENTITIES,
    ENTITY_NAMES,
    STRING_ATTRIBUTES,
    NUMERIC_ATTRIBUTES,
    ATTRIBUTE_ALIASES,
    LEGACY_NAMES,
    "metrics.rmse, params.depth, tags.team or status",
    {"datasets": DATASET_KEYS},
)
# search_experiments: MLflow's name, creation_time, last_update_time and tags.<key>
EXPERIMENTS = Grammar(
    {"tags": "tags", "tag": "tags", "attributes": "attributes", "attribute": "attributes"},
    "tags, attributes (or tag, attribute)",
    ("name", "experiment_id"),
    ("creation_time", "last_update_time"),
    {},
    {},
    "name, tags.team or creation_time",
)
NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")
STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE", "IN", "NOT IN")
NULL_OPS = ("IS NULL", "IS NOT NULL")
NEGATED_OPS = ("!=", "NOT LIKE", "NOT ILIKE", "NOT IN")
COMPARATORS = "=, !=, <, <=, >, >=, LIKE, ILIKE, NOT LIKE, NOT ILIKE, IN, NOT IN, IS NULL"
_NUMERIC_FUNCS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


# nodes --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    """`entity.key op value`; value is a float, a str, a tuple of str, or None (IS [NOT] NULL)."""

    entity: str
    key: str
    op: str
    value: float | str | tuple[str, ...] | None
    position: int

    @property
    def column(self) -> str:
        """Return the frame column this comparison reads."""
        return column_for(self.entity, self.key)

    def matches(self, row: Mapping[str, Any]) -> bool:
        """Return True if one row satisfies this comparison."""
        return matches(self, row)


@dataclass(frozen=True)
class And:
    """All children hold."""

    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """Any child holds."""

    children: tuple[Node, ...]


Node: TypeAlias = Comparison | And | Or


def column_for(entity: str, key: str) -> str:
    """Return an identifier's frame column: ('metrics', 'rmse') -> 'metrics.rmse'."""
    canonical = ENTITIES.get(entity.lower())
    if canonical is None:
        raise InvalidFilterError(f"Unknown entity {entity!r}; valid: {ENTITY_NAMES}")
    if canonical == "attributes":
        return ATTRIBUTE_ALIASES.get(key, key)
    return f"{canonical}.{key}"


# tokens -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Token:
    """A lexical token: kind is ident, word, number, string, op, (, ), comma or end."""

    kind: str
    text: str
    position: int
    value: str = ""
    key_position: int = 0


_NUMBER_RE = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_WORD_RE = re.compile(r"[^\W\d]\w*")
_BARE_KEY_RE = re.compile(r"""[^\s()<>=!,'"`]+""")
_OP_RE = re.compile(r"<=|>=|!=|<>|==|=|<|>")
_PUNCTUATION = {"(": "(", ")": ")", ",": "comma"}
_QUOTES = "'\"`"


def _fail(text: str, position: int, message: str, label: str = "filter") -> InvalidFilterError:
    """Build an error naming the position, with the text and a caret under it."""
    shown = re.sub(r"\s", " ", text)
    return InvalidFilterError(
        f"Invalid {label} at position {position}: {message}\n  {shown}\n  {' ' * position}^",
        text=text,
        position=position,
    )


def _read_quoted(text: str, start: int, label: str) -> tuple[str, int]:
    """Read a quoted run at start ('' or a backslash escapes the quote); return (value, end)."""
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if ch == "\\" and nxt in (quote, "\\"):
            out.append(nxt)
            i += 2
        elif ch == quote and nxt == quote:
            out.append(quote)
            i += 2
        elif ch == quote:
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise _fail(text, start, f"unterminated {quote}-quoted text", label)


def _read_number(text: str, start: int, label: str) -> Token:
    """Read a number such as 3, -0.5, .5 or 1e-3."""
    match = _NUMBER_RE.match(text, start)
    end = match.end() if match else start
    if match is None or (end < len(text) and (text[end].isalnum() or text[end] in "._")):
        raise _fail(text, start, "malformed number", label)
    return Token("number", match.group(), start, match.group())


def _read_word(text: str, start: int, label: str) -> Token:
    """Read a keyword or bare attribute, or an identifier `entity.key`."""
    match = _WORD_RE.match(text, start)
    assert match is not None
    end = match.end()
    if end >= len(text) or text[end] != ".":
        return Token("word", match.group(), start, match.group())
    key_start = end + 1
    if key_start < len(text) and text[key_start] in _QUOTES:
        key, key_end = _read_quoted(text, key_start, label)
    else:
        bare = _BARE_KEY_RE.match(text, key_start)
        if bare is None:
            raise _fail(text, key_start, f"expected a key after '{match.group()}.'", label)
        key, key_end = bare.group(), bare.end()
    if not key:
        raise _fail(text, key_start, "empty key", label)
    return Token("ident", text[start:key_end], start, key, key_start)


def _next_token(text: str, pos: int, label: str) -> Token:
    """Read the token that starts at pos (not whitespace)."""
    ch = text[pos]
    nxt = text[pos + 1] if pos + 1 < len(text) else ""
    if ch in "'\"":
        value, end = _read_quoted(text, pos, label)
        return Token("string", text[pos:end], pos, value)
    if ch in _PUNCTUATION:
        return Token(_PUNCTUATION[ch], ch, pos, ch)
    op = _OP_RE.match(text, pos)
    if op is not None:
        return Token("op", op.group(), pos, {"==": "=", "<>": "!="}.get(op.group(), op.group()))
    if ch.isdigit() or (ch in "-+." and (nxt.isdigit() or (nxt == "." and ch != "."))):
        return _read_number(text, pos, label)
    if _WORD_RE.match(ch):
        return _read_word(text, pos, label)
    if ch == "`":
        raise _fail(text, pos, "a backtick-quoted key must follow its entity: metrics.`a b`", label)
    raise _fail(text, pos, f"unexpected character {ch!r}", label)


def tokenize(text: str, label: str = "filter") -> list[Token]:
    """Split a filter (or order_by clause) into tokens, ending with an `end` token."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        tok = _next_token(text, pos, label)
        tokens.append(tok)
        pos = tok.position + len(tok.text)
    tokens.append(Token("end", "", len(text)))
    return tokens


def _describe(tok: Token) -> str:
    """Describe a token for an error message."""
    if tok.kind == "end":
        return "end of text"
    if tok.kind == "string":
        return f"string {tok.value!r}"
    if tok.kind == "number":
        return f"number {tok.text}"
    return repr(tok.text)


# parser -------------------------------------------------------------------------------------
def _allowed_ops(grammar: Grammar, entity: str, key: str) -> tuple[str, ...]:
    """Return the comparators an identifier supports."""
    if _is_numeric(grammar, entity, key):
        return NUMERIC_OPS + NULL_OPS
    if entity == "datasets":  # a run has any number: no single value to be NULL
        return STRING_OPS
    return STRING_OPS + NULL_OPS


def _is_numeric(grammar: Grammar, entity: str, key: str) -> bool:
    """Return True for identifiers compared with numbers (metrics, start_time, end_time)."""
    return entity == "metrics" or (entity == "attributes" and key in grammar.numeric_attributes)


MAX_DEPTH = 100  # nested parentheses (the page's filter.js has the same limit)


class _Parser:
    """Recursive descent over the token list."""

    def __init__(self, text: str, label: str = "filter", grammar: Grammar = RUNS) -> None:
        self.text = text
        self.label = label
        self.grammar = grammar
        self.tokens = tokenize(text, label)
        self.i = 0
        self.depth = 0

    def peek(self, offset: int = 0) -> Token:
        """Return a token ahead without consuming it."""
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def take(self) -> Token:
        """Consume and return the next token."""
        tok = self.peek()
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return tok

    def is_keyword(self, word: str, offset: int = 0) -> bool:
        """Return True if the token ahead is this keyword (any case)."""
        tok = self.peek(offset)
        return tok.kind == "word" and tok.text.upper() == word

    def fail(self, position: int, message: str) -> InvalidFilterError:
        """Build an error at a position of this text."""
        return _fail(self.text, position, message, self.label)

    def expected(self, tok: Token, what: str) -> InvalidFilterError:
        """Build an 'expected X, got Y' error at a token."""
        return self.fail(tok.position, f"expected {what}, got {_describe(tok)}")

    def parse(self) -> Node:
        """Parse a whole filter."""
        node = self.or_expr()
        if self.peek().kind != "end":
            raise self.expected(self.peek(), "AND, OR or the end of the filter")
        return node

    def or_expr(self) -> Node:
        """Parse and_expr (OR and_expr)*."""
        children = [self.and_expr()]
        while self.is_keyword("OR"):
            self.take()
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self) -> Node:
        """Parse atom (AND atom)*."""
        children = [self.atom()]
        while self.is_keyword("AND"):
            self.take()
            children.append(self.atom())
        return children[0] if len(children) == 1 else And(tuple(children))

    def atom(self) -> Node:
        """Parse a parenthesised expression or a comparison."""
        if self.peek().kind != "(":
            return self.comparison()
        opening = self.take()
        self.depth += 1
        if self.depth > MAX_DEPTH:  # deeper would exhaust Python's stack, not the user's intent
            raise self.fail(opening.position, f"parentheses are nested more than {MAX_DEPTH} deep")
        node = self.or_expr()
        if self.peek().kind != ")":
            raise self.expected(self.peek(), "AND, OR or ')'")
        self.take()
        self.depth -= 1
        return node

    def identifier(self) -> tuple[str, str, Token]:
        """Parse entity.key (or a bare attribute); return (entity, key, token)."""
        grammar = self.grammar
        tok = self.take()
        bare = grammar.attribute(tok.text) if tok.kind == "word" else None
        if bare is not None:
            return "attributes", bare, tok
        if tok.kind != "ident":
            raise self.expected(tok, f"an identifier such as {grammar.example}")
        prefix = tok.text.split(".", 1)[0]
        entity = grammar.entities.get(prefix.lower())
        if entity is None:
            raise self.fail(
                tok.position, f"unknown entity {prefix!r}; valid: {grammar.entity_names}"
            )
        key = tok.value
        if entity == "attributes":
            found = grammar.attribute(key)
            if found is None:
                valid = ", ".join(grammar.attributes)
                raise self.fail(tok.key_position, f"unknown attribute {key!r}; valid: {valid}")
            key = found
        elif entity == "tags":
            key = grammar.tag_aliases.get(key, key)
        elif entity in grammar.closed_keys and key not in grammar.closed_keys[entity]:
            valid = ", ".join(grammar.closed_keys[entity])
            raise self.fail(tok.key_position, f"unknown {entity[:-1]} key {key!r}; valid: {valid}")
        return entity, key, tok

    def comparator(self) -> tuple[str, Token]:
        """Parse a comparator, including the two- and three-word ones."""
        tok = self.peek()
        word = tok.text.upper() if tok.kind == "word" else ""
        if tok.kind == "op":
            self.take()
            return tok.value, tok
        if word in ("LIKE", "ILIKE", "IN"):
            self.take()
            return word, tok
        if word == "NOT" and any(self.is_keyword(w, 1) for w in ("LIKE", "ILIKE", "IN")):
            self.take()
            return f"NOT {self.take().text.upper()}", tok
        if word == "IS":
            self.take()
            negated = self.is_keyword("NOT")
            if negated:
                self.take()
            if not self.is_keyword("NULL"):
                raise self.expected(self.peek(), "NULL" if negated else "NULL or NOT NULL")
            self.take()
            return ("IS NOT NULL" if negated else "IS NULL"), tok
        raise self.expected(tok, f"a comparator ({COMPARATORS})")

    def comparison(self) -> Comparison:
        """Parse identifier comparator value."""
        entity, key, ident = self.identifier()
        op, op_tok = self.comparator()
        allowed = _allowed_ops(self.grammar, entity, key)
        if op not in allowed:
            message = f"{ident.text} does not support {op}; valid: {', '.join(allowed)}"
            raise self.fail(op_tok.position, message)
        value: float | str | tuple[str, ...] | None = None
        if op in ("IN", "NOT IN"):
            value = self.string_list()
        elif op not in NULL_OPS:
            value = self.scalar(ident.text, _is_numeric(self.grammar, entity, key))
        return Comparison(entity, key, op, value, ident.position)

    def scalar(self, name: str, numeric: bool) -> float | str:
        """Parse the value of a comparison: a number, or a quoted string."""
        tok = self.take()
        if numeric and tok.kind == "number":
            return float(tok.value)
        if not numeric and tok.kind == "string":
            return tok.value
        what = "a number" if numeric else "a quoted string such as '8'"
        raise self.fail(tok.position, f"{name} expects {what}, got {_describe(tok)}")

    def string_list(self) -> tuple[str, ...]:
        """Parse ('a', 'b', ...)."""
        tok = self.take()
        if tok.kind != "(":
            raise self.expected(tok, "'(' to start a list of quoted strings")
        values: list[str] = []
        while True:
            item = self.take()
            if item.kind != "string":
                raise self.expected(item, "a quoted string")
            values.append(item.value)
            sep = self.take()
            if sep.kind == ")":
                return tuple(values)
            if sep.kind != "comma":
                raise self.expected(sep, "',' or ')'")


def parse_filter(text: str | None, grammar: Grammar = RUNS) -> Node | None:
    """Parse a filter string (of `search_runs`, or of another search by its grammar); None or
    a blank string means no filter."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise InvalidFilterError(f"filter_string must be a string, got {type(text).__name__}")
    if not text.strip():
        return None
    return _Parser(text, grammar=grammar).parse()


# row-wise reference semantics ---------------------------------------------------------------
class LikePattern:
    """A SQL LIKE pattern (% any run, _ one character), matched without backtracking.

    The pattern is split at `%` into segments; the first must match at the start, the last at
    the end, and each one between is taken at its leftmost place, which is always safe for
    wildcard patterns. Matching costs at most (text length x pattern length) steps, whatever
    the pattern: `'%a%a%a%a%a%a%b'` cannot blow up the way a regex `.*a.*a...` does.
    """

    def __init__(self, pattern: str, ignore_case: bool = False) -> None:
        self.ignore_case = ignore_case
        self.segments = pattern.split("%")
        self._same = _same_ignoring_case if ignore_case else str.__eq__

    def _at(self, segment: str, text: str, start: int) -> bool:
        """Return True if the segment (with `_` wildcards) matches text at start."""
        if start + len(segment) > len(text):
            return False
        same = self._same
        return all(c == "_" or same(c, text[start + i]) for i, c in enumerate(segment))

    def _find(self, segment: str, text: str, start: int) -> int:
        """Return the leftmost place at or after start where the segment matches, or -1."""
        if "_" not in segment and not self.ignore_case:
            return text.find(segment, start)
        for place in range(start, len(text) - len(segment) + 1):
            if self._at(segment, text, place):
                return place
        return -1

    def matches(self, value: str) -> bool:
        """Return True if the whole value matches the pattern."""
        text = value
        first, *rest = self.segments
        if not rest:  # no %: the text is exactly the one segment
            return len(text) == len(first) and self._at(first, text, 0)
        *middle, last = rest
        if len(text) < len(first) + len(last) or not self._at(first, text, 0):
            return False
        end = len(text) - len(last)
        if not self._at(last, text, end):
            return False
        place = len(first)
        for segment in middle:
            found = self._find(segment, text[:end], place)
            if found < 0:
                return False
            place = found + len(segment)
        return True


@functools.lru_cache(maxsize=65536)
def _same_ignoring_case(a: str, b: str) -> bool:
    """Return True if two characters match as regex IGNORECASE (and the page's /i) says."""
    return a == b or re.fullmatch(re.escape(a), b, re.IGNORECASE) is not None


@functools.lru_cache(maxsize=256)
def like_pattern(pattern: str, ignore_case: bool = False) -> LikePattern:
    """Return the compiled LIKE (or, ignoring case, ILIKE) pattern."""
    return LikePattern(pattern, ignore_case)


def _is_nan(value: Any) -> bool:
    """Return True for a float NaN (numpy floats included)."""
    return isinstance(value, numbers.Real) and math.isnan(value)


def _is_absent(value: Any, entity: str) -> bool:
    """Return True for None, pd.NA/NaT, and NaN outside metrics (a logged NaN is a value)."""
    if value is None:
        return True
    pd = sys.modules.get("pandas")
    if pd is not None and (value is pd.NA or value is pd.NaT):
        return True
    return entity != "metrics" and _is_nan(value)


def _compare_number(op: str, value: Any, target: float) -> bool:
    """Compare a present value numerically; NaN and non-numbers never match."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return not math.isnan(number) and bool(_NUMERIC_FUNCS[op](number, target))


def _compare_text(op: str, text: str, target: str | tuple[str, ...]) -> bool:
    """Compare a present value as a string."""
    if op in ("IN", "NOT IN"):
        hit = text in target
    elif op in ("LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE"):
        hit = like_pattern(str(target), "ILIKE" in op).matches(text)
    else:
        hit = text == target
    return hit != (op in NEGATED_OPS)


def matches(node: Node, row: Mapping[str, Any]) -> bool:
    """Evaluate a filter on one row keyed like the frame's columns (the reference semantics)."""
    if isinstance(node, And):
        return all(matches(child, row) for child in node.children)
    if isinstance(node, Or):
        return any(matches(child, row) for child in node.children)
    value = row.get(node.column)
    if node.entity == "datasets":
        assert isinstance(node.value, (str, tuple))
        return any(_compare_text(node.op, str(v), node.value) for v in _sequence(value))
    absent = _is_absent(value, node.entity)
    if node.op in NULL_OPS:
        return absent == (node.op == "IS NULL")
    if absent:
        return False
    if isinstance(node.value, float):
        return _compare_number(node.op, value, node.value)
    assert node.value is not None
    return _compare_text(node.op, str(value), node.value)


def _sequence(value: Any) -> Sequence[Any]:
    """Return the values of a multi-valued cell (a run's datasets): none when absent."""
    if isinstance(value, (list, tuple)):
        return value
    return () if _is_absent(value, "datasets") else (value,)


def entities_of(node: Node | None) -> set[str]:
    """Return the entities a filter compares (to know what a frame must hold for it)."""
    if node is None:
        return set()
    if isinstance(node, Comparison):
        return {node.entity}
    return set().union(*(entities_of(child) for child in node.children))


# vectorised evaluation ----------------------------------------------------------------------
def _absent_mask(col: pd.Series, entity: str) -> npt.NDArray[np.bool_]:
    """Return where a column is absent: NA for its dtype, and NaN outside metrics."""
    import numpy as np
    import pandas as pd

    absent = col.isna().to_numpy(dtype=bool)
    if entity != "metrics" and pd.api.types.is_float_dtype(col.dtype):
        absent = absent | np.isnan(col.to_numpy(dtype="float64", na_value=np.nan))
    return absent


def _numeric_hits(col: pd.Series, op: str, target: float) -> npt.NDArray[np.bool_]:
    """Compare a column numerically; NaN and non-numbers never match."""
    import numpy as np
    import pandas as pd

    numbers_ = pd.to_numeric(col, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        hits = np.asarray(_NUMERIC_FUNCS[op](numbers_, target), dtype=bool)
    valid: npt.NDArray[np.bool_] = hits & ~np.isnan(numbers_)
    return valid


def _text_hits(col: pd.Series, op: str, target: str | tuple[str, ...]) -> npt.NDArray[np.bool_]:
    """Compare a column as strings (absent rows are masked by the caller)."""
    import pandas as pd

    texts = pd.Series([str(v) for v in col.to_numpy(dtype=object)], dtype=object)
    if op in ("IN", "NOT IN"):
        hits = texts.isin(list(target))
    elif op in ("LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE"):
        hits = texts.map(like_pattern(str(target), "ILIKE" in op).matches)
    else:
        hits = texts == target
    mask = hits.to_numpy(dtype=bool, na_value=False)
    return ~mask if op in NEGATED_OPS else mask


def _mask(values: bool | npt.NDArray[np.bool_], frame: pd.DataFrame) -> pd.Series:
    """Return a boolean Series aligned to the frame's index."""
    import pandas as pd

    return cast("pd.Series", pd.Series(values, index=frame.index, dtype=bool))


def _evaluate_comparison(node: Comparison, frame: pd.DataFrame) -> pd.Series:
    """Return the mask of one comparison."""
    if node.column not in frame.columns:
        return _mask(node.op == "IS NULL", frame)
    col = frame[node.column]
    if node.entity == "datasets":
        import numpy as np

        cells = col.to_numpy(dtype=object)
        return _mask(np.array([matches(node, {node.column: v}) for v in cells], dtype=bool), frame)
    absent = _absent_mask(col, node.entity)
    if node.op in NULL_OPS:
        hits = absent if node.op == "IS NULL" else ~absent
    elif isinstance(node.value, float):
        hits = _numeric_hits(col, node.op, node.value) & ~absent
    else:
        assert node.value is not None
        hits = _text_hits(col, node.op, node.value) & ~absent
    return _mask(hits, frame)


def evaluate(node: Node | None, frame: pd.DataFrame) -> pd.Series:
    """Return a boolean mask, aligned to frame.index, of the rows that satisfy the filter."""
    if node is None:
        return _mask(True, frame)
    if isinstance(node, Comparison):
        return _evaluate_comparison(node, frame)
    masks = [evaluate(child, frame) for child in node.children]
    combine = operator.and_ if isinstance(node, And) else operator.or_
    return functools.reduce(combine, masks)


def filter_frame(frame: pd.DataFrame, text: str | None) -> pd.DataFrame:
    """Return the rows of a frame that satisfy a filter string."""
    return cast("pd.DataFrame", frame[evaluate(parse_filter(text), frame)])


# order_by -----------------------------------------------------------------------------------
def _parse_order_clause(clause: str) -> tuple[str, bool]:
    """Parse one `identifier [ASC|DESC]` clause into (column, ascending)."""
    if not isinstance(clause, str):
        raise InvalidFilterError(f"order_by clauses must be strings, got {type(clause).__name__}")
    parser = _Parser(clause, label="order_by clause")
    entity, key, ident = parser.identifier()
    if entity == "datasets":
        raise parser.fail(ident.position, "cannot order by a dataset: a run has any number")
    ascending = True
    if parser.is_keyword("ASC") or parser.is_keyword("DESC"):
        ascending = parser.take().text.upper() == "ASC"
    if parser.peek().kind != "end":
        raise parser.expected(parser.peek(), "ASC, DESC or the end of the clause")
    return column_for(entity, key), ascending


def parse_order_by(clauses: Sequence[str] | None) -> list[tuple[str, bool]]:
    """Parse MLflow order_by clauses into (column, ascending) pairs."""
    return [_parse_order_clause(clause) for clause in clauses or []]


def _sort_codes(col: pd.Series) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """Return (missing flags, dense ranks) of a column: numbers numerically, else as strings."""
    import numpy as np
    import pandas as pd

    absent = col.isna().to_numpy(dtype=bool)
    present: npt.NDArray[Any]
    if pd.api.types.is_numeric_dtype(col.dtype):
        values = pd.to_numeric(col, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        absent = absent | np.isnan(values)
        present = values[~absent]
    else:
        values = col.to_numpy(dtype=object)
        present = np.array([str(v) for v in values[~absent]], dtype=object)
    codes = np.zeros(len(col), dtype=np.int64)
    if present.size:
        codes[~absent] = np.unique(present, return_inverse=True)[1]
    return absent.astype(np.int8), codes


def sort_frame(frame: pd.DataFrame, clauses: Sequence[str] | None) -> pd.DataFrame:
    """Sort stably by the clauses (missing values last), then newest start_time, then run_id."""
    import numpy as np

    order = [*parse_order_by(clauses), ("start_time", False), ("run_id", True)]
    keys: list[npt.NDArray[Any]] = []
    for column, ascending in reversed(order):
        if column in frame.columns:
            missing, codes = _sort_codes(frame[column])
            keys += [codes if ascending else -codes, missing]
    if not keys or len(frame) < 2:
        return frame
    return cast("pd.DataFrame", frame.iloc[np.lexsort(keys)])
