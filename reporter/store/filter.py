"""The `search_runs` filter grammar: MLflow's, plus OR and parentheses.

    filter     := or_expr
    or_expr    := and_expr ("OR" and_expr)*
    and_expr   := atom ("AND" atom)*
    atom       := "(" or_expr ")" | comparison
    comparison := identifier comparator value
                | identifier ("IN" | "NOT IN") "(" string ("," string)* ")"
                | identifier "IS" ["NOT"] "NULL"
    identifier := entity "." key        entity: metrics params tags attributes (and aliases)

A key may be quoted with backticks or double quotes. Metrics compare with numbers; params and
tags with strings; attributes by their type. A comparison on a missing value is false (as in SQL),
except IS NULL. `matches` is the reference semantics; `evaluate` is the vectorised form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reporter.errors import InvalidFilterError

if TYPE_CHECKING:
    import pandas as pd

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
}
ATTRIBUTE_ALIASES = {"run_uuid": "run_id", "created": "start_time", "Created": "start_time"}
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
NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")
STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE")
LIST_OPS = ("IN", "NOT IN")
NULL_OPS = ("IS NULL", "IS NOT NULL")
ALL_OPS = "=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL"


@dataclass(frozen=True)
class Comparison:
    """`entity.key op value`; value is a float, a str, a tuple of str, or None (IS NULL)."""

    entity: str
    key: str
    op: str
    value: float | str | tuple[str, ...] | None
    position: int

    @property
    def column(self) -> str:
        """The frame column this comparison reads."""
        return column_for(self.entity, self.key)


@dataclass(frozen=True)
class And:
    """All children hold."""

    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """Any child holds."""

    children: tuple[Node, ...]


Node = Comparison | And | Or


def column_for(entity: str, key: str) -> str:
    """Return the frame column of an identifier: metrics.rmse, or status for an attribute."""
    return key if entity == "attributes" else f"{entity}.{key}"


# tokens ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Token:
    """A lexical token: kind is one of word, number, string, op, lparen, rparen, comma, end."""

    kind: str
    text: str
    position: int
    quoted: bool = False


_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
  | (?P<op><=|>=|!=|<>|==|=|<|>)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<word>[A-Za-z_][\w\-]*(?:\.(?:[\w\-]+|`[^`]*`|"[^"]*"))*(?:\.)?)
    """,
    re.VERBOSE,
)


def _fail(text: str, position: int, message: str) -> InvalidFilterError:
    """Build an error naming the position, with a caret under it."""
    caret = f"\n  {text}\n  {' ' * position}^"
    return InvalidFilterError(
        f"Invalid filter at position {position}: {message}{caret}", text=text, position=position
    )


def _read_quoted(text: str, pos: int) -> tuple[str, int]:
    """Read a quoted string starting at pos; return (value, end)."""
    quote = text[pos]
    out = []
    i = pos + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in (quote, "\\"):
            out.append(text[i + 1])
            i += 2
            continue
        if ch == quote:
            if i + 1 < len(text) and text[i + 1] == quote:
                out.append(quote)
                i += 2
                continue
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise _fail(text, pos, f"unterminated string starting with {quote}")


def tokenize(text: str) -> list[Token]:
    """Split a filter into tokens."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        ch = text[pos]
        if ch in "'\"":
            value, end = _read_quoted(text, pos)
            tokens.append(Token("string", value, pos, quoted=True))
            pos = end
            continue
        if ch == "`":
            end = text.find("`", pos + 1)
            if end < 0:
                raise _fail(text, pos, "unterminated backtick-quoted key")
            tokens.append(Token("word", text[pos : end + 1], pos))
            pos = end + 1
            continue
        match = _TOKEN_RE.match(text, pos)
        if match is None or match.end() == pos:
            raise _fail(text, pos, f"unexpected character {ch!r}")
        kind = match.lastgroup or ""
        if (
            kind == "word"
            and match.group().endswith(".")
            and match.end() < len(text)
            and (text[match.end()] in '`"')
        ):
            # entity."quoted key"
            start = match.end()
            if text[start] == "`":
                end = text.find("`", start + 1)
                if end < 0:
                    raise _fail(text, start, "unterminated backtick-quoted key")
                tokens.append(Token("word", text[pos : end + 1], pos))
                pos = end + 1
            else:
                _value, end = _read_quoted(text, start)
                tokens.append(Token("word", text[pos:end], pos))
                pos = end
            continue
        if kind != "space":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


# parser ------------------------------------------------------------------------------------
class _Parser:
    """Recursive descent over the token list."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self, offset: int = 0) -> Token:
        """Return a token ahead without consuming it."""
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def take(self) -> Token:
        """Consume and return the next token."""
        tok = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return tok

    def keyword(self, word: str, offset: int = 0) -> bool:
        """Return True if the token ahead is this keyword (any case)."""
        tok = self.peek(offset)
        return tok.kind == "word" and tok.text.upper() == word

    def error(self, tok: Token, expected: str) -> InvalidFilterError:
        """Build an 'expected X, got Y' error at a token."""
        got = "end of filter" if tok.kind == "end" else repr(tok.text)
        return _fail(self.text, tok.position, f"expected {expected}, got {got}")

    def parse(self) -> Node:
        """Parse the whole filter."""
        node = self.or_expr()
        tok = self.peek()
        if tok.kind != "end":
            raise self.error(tok, "AND, OR or the end of the filter")
        return node

    def or_expr(self) -> Node:
        """Parse and_expr (OR and_expr)*."""
        children = [self.and_expr()]
        while self.keyword("OR"):
            self.take()
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self) -> Node:
        """Parse atom (AND atom)*."""
        children = [self.atom()]
        while self.keyword("AND"):
            self.take()
            children.append(self.atom())
        return children[0] if len(children) == 1 else And(tuple(children))

    def atom(self) -> Node:
        """Parse a parenthesised expression or a comparison."""
        tok = self.peek()
        if tok.kind == "lparen":
            self.take()
            node = self.or_expr()
            close = self.peek()
            if close.kind != "rparen":
                raise self.error(close, "')'")
            self.take()
            return node
        return self.comparison()

    def identifier(self) -> tuple[str, str, Token]:
        """Parse entity.key and return (entity, key, token)."""
        tok = self.take()
        if tok.kind != "word" or "." not in tok.text or tok.text.startswith("`"):
            expected = "an identifier such as metrics.rmse, params.depth or tags.team"
            raise self.error(tok, expected)
        prefix, _, key = tok.text.partition(".")
        entity = ENTITIES.get(prefix.lower())
        if entity is None:
            raise _fail(
                self.text,
                tok.position,
                f"unknown entity {prefix!r}; valid: metrics, params, tags, attributes "
                "(or metric, param, tag, attribute, attr, run)",
            )
        if len(key) >= 2 and key[0] == key[-1] and key[0] in '`"':
            key = key[1:-1]
        if not key:
            raise _fail(self.text, tok.position + len(prefix) + 1, "expected a key after '.'")
        if entity == "attributes":
            key = ATTRIBUTE_ALIASES.get(key, key)
            if key not in STRING_ATTRIBUTES + NUMERIC_ATTRIBUTES:
                valid = ", ".join(STRING_ATTRIBUTES + NUMERIC_ATTRIBUTES)
                raise _fail(
                    self.text, tok.position, f"unknown attribute {key!r}; valid attributes: {valid}"
                )
        return entity, key, tok

    def comparator(self) -> tuple[str, Token]:
        """Parse a comparator, including two-word ones (NOT IN, IS NOT NULL)."""
        tok = self.peek()
        if tok.kind == "op":
            self.take()
            return {"==": "=", "<>": "!="}.get(tok.text, tok.text), tok
        if tok.kind == "word":
            word = tok.text.upper()
            if word in ("LIKE", "ILIKE", "IN"):
                self.take()
                return word, tok
            if word == "NOT" and self.peek(1).kind == "word":
                nxt = self.peek(1).text.upper()
                if nxt in ("LIKE", "ILIKE", "IN"):
                    self.take()
                    self.take()
                    return f"NOT {nxt}", tok
            if word == "IS":
                self.take()
                if self.keyword("NOT") and self.keyword("NULL", 1):
                    self.take()
                    self.take()
                    return "IS NOT NULL", tok
                if self.keyword("NULL"):
                    self.take()
                    return "IS NULL", tok
                raise self.error(self.peek(), "NULL or NOT NULL after IS")
        raise self.error(tok, f"a comparator ({ALL_OPS})")

    def comparison(self) -> Comparison:
        """Parse identifier comparator value."""
        entity, key, ident = self.identifier()
        op, op_tok = self.comparator()
        name = f"{ident.text}"
        if op in NULL_OPS:
            return Comparison(entity, key, op, None, ident.position)
        numeric = entity == "metrics" or (entity == "attributes" and key in NUMERIC_ATTRIBUTES)
        allowed = NUMERIC_OPS if numeric else STRING_OPS + LIST_OPS
        if numeric and entity == "attributes":
            allowed = NUMERIC_OPS
        if entity == "attributes" and key == "run_id":
            allowed = ("=", "!=", "IN", "NOT IN", "LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE")
        if op not in allowed + NULL_OPS:
            raise _fail(
                self.text,
                op_tok.position,
                f"{name} does not support {op}; valid: {', '.join(allowed + NULL_OPS)}",
            )
        if op in LIST_OPS:
            return Comparison(entity, key, op, self.string_list(), ident.position)
        tok = self.take()
        if numeric:
            if tok.kind != "number":
                got = "end of filter" if tok.kind == "end" else f"{tok.kind} {tok.text!r}"
                raise _fail(self.text, tok.position, f"{name} expects a number, got {got}")
            return Comparison(entity, key, op, float(tok.text), ident.position)
        if tok.kind != "string":
            got = "end of filter" if tok.kind == "end" else f"{tok.kind} {tok.text!r}"
            raise _fail(
                self.text, tok.position, f"{name} expects a quoted string such as '8', got {got}"
            )
        return Comparison(entity, key, op, tok.text, ident.position)

    def string_list(self) -> tuple[str, ...]:
        """Parse ('a', 'b', ...)."""
        tok = self.take()
        if tok.kind != "lparen":
            raise self.error(tok, "'(' to start a list of strings")
        values = []
        while True:
            item = self.take()
            if item.kind != "string":
                raise self.error(item, "a quoted string")
            values.append(item.text)
            sep = self.take()
            if sep.kind == "rparen":
                return tuple(values)
            if sep.kind != "comma":
                raise self.error(sep, "',' or ')'")


def parse_filter(text: str | None) -> Node | None:
    """Parse a filter string; None or blank means no filter."""
    if text is None or not text.strip():
        return None
    if not isinstance(text, str):
        raise InvalidFilterError(f"filter_string must be a string, got {type(text).__name__}")
    return _Parser(text).parse()


# evaluation -------------------------------------------------------------------------------
def like_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """Translate a SQL LIKE pattern (% and _) into an anchored regex."""
    parts = ["^"]
    for ch in pattern:
        parts.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    parts.append("$")
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _is_missing(value: Any) -> bool:
    """Return True for None and NaN (absent values)."""
    return value is None or (isinstance(value, float) and value != value)


def _compare(op: str, left: Any, right: Any) -> bool:
    """Apply a comparator to two present values."""
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    if op in ("LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE"):
        hit = like_regex(str(right), "ILIKE" in op).match(str(left)) is not None
        return hit if not op.startswith("NOT") else not hit
    if op == "IN":
        return str(left) in right
    if op == "NOT IN":
        return str(left) not in right
    raise AssertionError(op)


def matches(node: Node, row: Mapping[str, Any]) -> bool:
    """Evaluate a filter on one row (the reference semantics)."""
    if isinstance(node, And):
        return all(matches(child, row) for child in node.children)
    if isinstance(node, Or):
        return any(matches(child, row) for child in node.children)
    value = row.get(node.column)
    if node.op == "IS NULL":
        return _is_missing(value)
    if node.op == "IS NOT NULL":
        return not _is_missing(value)
    if _is_missing(value):
        return False
    if isinstance(node.value, float):
        try:
            return _compare(node.op, float(value), node.value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
    return _compare(node.op, str(value), node.value)


def evaluate(node: Node | None, frame: pd.DataFrame) -> pd.Series:
    """Return a boolean mask of the frame's rows that satisfy the filter."""
    import pandas as pd

    if node is None:
        return pd.Series(True, index=frame.index)
    if isinstance(node, (And, Or)):
        masks = [evaluate(child, frame) for child in node.children]
        out = masks[0]
        for mask in masks[1:]:
            out = (out & mask) if isinstance(node, And) else (out | mask)
        return out
    if node.column not in frame.columns:
        return pd.Series(node.op == "IS NULL", index=frame.index)
    col = frame[node.column]
    missing = col.isna()
    if node.op == "IS NULL":
        return missing
    if node.op == "IS NOT NULL":
        return ~missing
    if isinstance(node.value, float):
        values = pd.to_numeric(col, errors="coerce")
        ops = {
            "=": values.eq,
            "!=": values.ne,
            "<": values.lt,
            "<=": values.le,
            ">": values.gt,
            ">=": values.ge,
        }
        return ops[node.op](node.value).fillna(False).astype(bool) & values.notna()
    text = col.where(~missing, "").astype(str)
    if node.op in ("=", "!="):
        hit = text == node.value
    elif node.op in ("IN", "NOT IN"):
        assert isinstance(node.value, tuple)
        hit = text.isin(node.value)
    else:
        regex = like_regex(str(node.value), "ILIKE" in node.op)
        hit = text.map(lambda v: regex.match(v) is not None).astype(bool)
    if node.op in ("!=", "NOT IN", "NOT LIKE", "NOT ILIKE"):
        hit = ~hit
    return hit & ~missing


def filter_frame(frame: pd.DataFrame, text: str | None) -> pd.DataFrame:
    """Return the rows of a frame that satisfy a filter string."""
    return frame[evaluate(parse_filter(text), frame)]


# order_by -----------------------------------------------------------------------------------
def parse_order_by(clauses: Sequence[str] | None) -> list[tuple[str, bool]]:
    """Parse MLflow order_by clauses into (column, ascending) pairs."""
    out: list[tuple[str, bool]] = []
    for clause in clauses or []:
        if not isinstance(clause, str) or not clause.strip():
            raise InvalidFilterError(f"order_by clause must be a non-empty string, got {clause!r}")
        parser = _Parser(clause)
        entity, key, _tok = parser.identifier()
        ascending = True
        tok = parser.peek()
        if tok.kind == "word" and tok.text.upper() in ("ASC", "DESC"):
            ascending = tok.text.upper() == "ASC"
            parser.take()
            tok = parser.peek()
        if tok.kind != "end":
            raise parser.error(tok, "ASC, DESC or the end of the order_by clause")
        out.append((column_for(entity, key), ascending))
    return out


def sort_frame(frame: pd.DataFrame, clauses: Sequence[str] | None) -> pd.DataFrame:
    """Sort by the clauses (missing values last), then newest start_time, then run_id."""
    import pandas as pd

    order = [*parse_order_by(clauses), ("start_time", False), ("run_id", True)]
    if frame.empty:
        return frame
    # apply keys from least to most significant with a stable sort
    result = frame
    for column, ascending in reversed(order):
        if column not in result.columns:
            continue
        col = result[column]
        numeric = pd.api.types.is_numeric_dtype(col)
        key = col if numeric else col.where(col.isna(), col.astype(str))
        result = result.iloc[
            key.reset_index(drop=True)
            .sort_values(ascending=ascending, na_position="last", kind="stable")
            .index
        ]
    return result
