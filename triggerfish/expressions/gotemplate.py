"""Go ``text/template`` as Argo Events uses it: ``{{ .Input.body.sha | substr 0 7 }}`` and friends.

Argo Events renders ``dataTemplate``/``contextTemplate`` parameters and data filter ``template``s
with ``text/template`` plus the sprig function map, over ``{"Input": <decoded JSON>}``. This module
interprets the same language without ever handing text to Python's ``eval``:

* a scanner ported from ``text/template/parse/lex.go`` (trim markers ``{{-``/``-}}``, comments,
  Go string/raw-string/char/number literals) produces tokens that a lark LALR grammar parses;
* the tree is executed with ``exec.go``'s rules: field chains on maps (a missing key is "no value",
  a field of nil is an error), pipelines passing the previous result as the last argument,
  variables (``$``, ``$x := …``, ``$x = …``), ``if``/``else if``/``else``, ``with``, ``range``
  (with ``break``/``continue``), short-circuit ``and``/``or``, and Go's printing of values.

Functions are Go's builtins (``and or not len index print printf println eq ne lt le gt ge html js
urlquery``) overlaid by sprig (:data:`triggerfish.expressions.sprig.SPRIG_FUNCTIONS`), the same
lookup order as ``template.New(...).Funcs(sprig.FuncMap())``. ``define``, ``template`` and
``block`` are refused at parse time.
"""

from __future__ import annotations

import inspect
import re
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedInput, VisitError
from lark.lexer import Lexer

from triggerfish.expressions.errors import ExpressionError
from triggerfish.expressions.gofmt import go_format, go_quote, go_type_name
from triggerfish.expressions.sprig import SPRIG_FUNCTIONS

__all__ = ["Template", "TemplateError", "go_sprintf", "parse_template", "render"]

OUTPUT_LIMIT = 10_000_000
"""Characters a template may produce; more is an error rather than unbounded memory."""


class TemplateError(ExpressionError):
    """A template that cannot be parsed or executed; ``position`` is the offset in the source."""

    def __str__(self) -> str:
        if self.position is None:
            return f"template: {self.reason}"
        line, column = _line_col(self.expression, self.position)
        return f"template: {line}:{column}: {self.reason}"


def _line_col(source: str, position: int) -> tuple[int, int]:
    before = source[:position]
    line = before.count("\n") + 1
    column = position - (before.rfind("\n") + 1) + 1
    return line, column


class _Fault(Exception):
    def __init__(self, reason: str, pos: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.pos = pos


# ---------------------------------------------------------------- scanner (lex.go)

_SPACE = " \t\r\n"
_KEYWORDS = {
    "if": "LIF",
    "else": "LELSE",
    "end": "LEND",
    "range": "LRANGE",
    "with": "LWITH",
    "break": "LBREAK",
    "continue": "LCONTINUE",
}
_UNSUPPORTED_KEYWORDS = {"define", "template", "block"}
_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?[0-9_]+)?"
    r"|0[bB][01_]+|0[oO][0-7_]+"
    r"|(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?(?:[eE][+-]?[0-9_]+)?)"
)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FIELD_CHAIN = re.compile(r"(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    value: Any
    pos: int


_GO_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def _unquote(body: str, quote: str, pos: int) -> str:
    """strconv.Unquote for a double-quoted or single-quoted Go literal's body."""
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= len(body):
            raise _Fault("invalid syntax in quoted string", pos)
        esc = body[i + 1]
        if esc in _GO_ESCAPES:
            out.append(_GO_ESCAPES[esc])
            i += 2
        elif esc == quote:
            out.append(quote)
            i += 2
        elif esc in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[esc]
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise _Fault("invalid syntax in quoted string", pos)
            out.append(chr(int(digits, 16)))
            i += 2 + width
        elif esc in "01234567":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or not all(c in "01234567" for c in digits):
                raise _Fault("invalid syntax in quoted string", pos)
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise _Fault(f"invalid escape sequence \\{esc} in quoted string", pos)
    return "".join(out)


def _number(text: str, pos: int) -> int | float:
    cleaned = text.replace("_", "")
    sign = -1 if cleaned.startswith("-") else 1
    digits = cleaned.lstrip("+-")
    try:
        lowered = digits.lower()
        if lowered.startswith("0x") and not any(c in lowered for c in ".p"):
            return sign * int(digits[2:], 16)
        if lowered.startswith("0x"):
            return sign * float.fromhex(digits)
        if lowered.startswith("0b"):
            return sign * int(digits[2:], 2)
        if lowered.startswith("0o"):
            return sign * int(digits[2:], 8)
        if any(c in lowered for c in ".e"):
            return sign * float(digits)
        if len(digits) > 1 and digits.startswith("0"):
            return sign * int(digits, 8)
        return sign * int(digits)
    except ValueError:
        raise _Fault(f"bad number syntax: {text!r}", pos) from None


class _Scanner:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens: list[_Tok] = []

    def scan(self) -> list[_Tok]:
        source = self.source
        pos = 0
        trim_next = False
        while True:
            start = source.find("{{", pos)
            text = source[pos:] if start < 0 else source[pos:start]
            if trim_next:
                text = text.lstrip(_SPACE)
            if start < 0:
                if text:
                    self.tokens.append(_Tok("TEXT", text, pos))
                return self.tokens
            inner = start + 2
            if source.startswith("-", inner) and inner + 1 < len(source) and source[inner + 1] in _SPACE:
                text = text.rstrip(_SPACE)
                inner += 2
            if text:
                self.tokens.append(_Tok("TEXT", text, pos))
            if source.startswith("/*", inner):
                pos, trim_next = self._comment(start, inner)
                continue
            self.tokens.append(_Tok("LACT", "{{", start))
            pos, trim_next = self._action(inner)

    def _right_delim(self, pos: int) -> tuple[int, bool] | None:
        """End of the action at ``pos``: (position after the delimiter, trim following text)."""
        source = self.source
        if source.startswith("}}", pos):
            return pos + 2, False
        if pos + 1 < len(source) and source[pos] in _SPACE and source.startswith("-}}", pos + 1):
            return pos + 4, True
        return None

    def _comment(self, start: int, inner: int) -> tuple[int, bool]:
        end = self.source.find("*/", inner + 2)
        if end < 0:
            raise _Fault("unclosed comment", start)
        closing = self._right_delim(end + 2)
        if closing is None:
            raise _Fault("comment ends before closing delimiter", start)
        return closing

    def _action(self, pos: int) -> tuple[int, bool]:
        source = self.source
        tokens = self.tokens
        after_space = True
        while True:
            closing = self._right_delim(pos)
            if closing is not None:
                tokens.append(_Tok("RACT", "}}", pos))
                return closing
            if pos >= len(source):
                raise _Fault("unclosed action", len(source))
            ch = source[pos]
            if ch in _SPACE:
                pos += 1
                after_space = True
                continue
            token, pos = self._token(pos, after_space)
            tokens.append(token)
            after_space = False

    def _token(self, pos: int, after_space: bool) -> tuple[_Tok, int]:
        source = self.source
        ch = source[pos]
        simple = {"|": "PIPE", "(": "LPAR", ")": "RPAR", ",": "COMMA"}
        if ch in simple:
            return _Tok(simple[ch], ch, pos), pos + 1
        if source.startswith(":=", pos):
            return _Tok("DECLARE", ":=", pos), pos + 2
        if ch == "=":
            return _Tok("ASSIGN", "=", pos), pos + 1
        if ch == '"':
            end = pos + 1
            while end < len(source) and source[end] != '"':
                if source[end] == "\n":
                    raise _Fault("unterminated quoted string", pos)
                end += 2 if source[end] == "\\" else 1
            if end >= len(source):
                raise _Fault("unterminated quoted string", pos)
            return _Tok("STRING", _unquote(source[pos + 1 : end], '"', pos), pos), end + 1
        if ch == "`":
            end = source.find("`", pos + 1)
            if end < 0:
                raise _Fault("unterminated raw quoted string", pos)
            return _Tok("STRING", source[pos + 1 : end], pos), end + 1
        if ch == "'":
            end = pos + 1
            while end < len(source) and source[end] != "'":
                end += 2 if source[end] == "\\" else 1
            text = _unquote(source[pos + 1 : end], "'", pos)
            if end >= len(source) or len(text) != 1:
                raise _Fault("malformed character constant", pos)
            return _Tok("NUMBER", ord(text), pos), end + 1
        if ch == "$":
            match = _IDENT.match(source, pos + 1)
            end = match.end() if match else pos + 1
            name = source[pos:end]
            fields, end = self._fields(end)
            return _Tok("VARIABLE", (name, fields), pos), end
        if ch == ".":
            nxt = source[pos + 1] if pos + 1 < len(source) else ""
            if nxt.isdigit():
                return self._number(pos)
            if nxt.isalpha() or nxt == "_":
                fields, end = self._fields(pos)
                return _Tok("FIELD", fields, pos), end
            if self.tokens and self.tokens[-1].kind == "RPAR" and not after_space:
                raise _Fault("unexpected . after term", pos)
            return _Tok("DOT", ".", pos), pos + 1
        if ch.isdigit() or (
            ch in "+-" and pos + 1 < len(source) and (source[pos + 1].isdigit() or source[pos + 1] == ".")
        ):
            return self._number(pos)
        match = _IDENT.match(source, pos)
        if match:
            word = match.group()
            end = match.end()
            previous = self.tokens[-1].kind if self.tokens else ""
            if word in _UNSUPPORTED_KEYWORDS and previous == "LACT":
                raise _Fault(f"{{{{{word}}}}} is not supported", pos)
            if word in _KEYWORDS and previous == "LACT":
                self.tokens.pop()
                return _Tok(_KEYWORDS[word], word, pos), end
            if word == "if" and previous == "LELSE":
                return _Tok("IF", word, pos), end
            if word in ("true", "false"):
                return _Tok("BOOL", word == "true", pos), end
            if word == "nil":
                return _Tok("NIL", None, pos), end
            if word in _KEYWORDS:
                raise _Fault(f"unexpected keyword {word!r} in command", pos)
            return _Tok("IDENT", word, pos), end
        raise _Fault(f"unrecognized character in action: {ch!r}", pos)

    def _fields(self, pos: int) -> tuple[tuple[str, ...], int]:
        match = _FIELD_CHAIN.match(self.source, pos)
        if not match:
            return (), pos
        return tuple(match.group()[1:].split(".")), match.end()

    def _number(self, pos: int) -> tuple[_Tok, int]:
        match = _NUMBER.match(self.source, pos)
        assert match is not None
        text = match.group()
        end = match.end()
        if end < len(self.source) and (self.source[end].isalnum() or self.source[end] == "."):
            raise _Fault(f"bad number syntax: {self.source[pos : end + 1]!r}", pos)
        return _Tok("NUMBER", _number(text, pos), pos), end


def _chain_tokens(tokens: list[_Tok]) -> list[_Tok]:
    """A field chain directly after ``)`` applies to the parenthesized value (``(x).Field``)."""
    out: list[_Tok] = []
    for token in tokens:
        if token.kind == "FIELD" and out and out[-1].kind == "RPAR" and out[-1].pos + 1 == token.pos:
            token = _Tok("CHAIN", token.value, token.pos)
        out.append(token)
    return out


# ---------------------------------------------------------------- grammar

_GRAMMAR = r"""
%declare TEXT LACT RACT LIF LELSE LEND LRANGE LWITH LBREAK LCONTINUE IF
%declare FIELD VARIABLE DOT IDENT STRING NUMBER BOOL NIL PIPE LPAR RPAR CHAIN DECLARE ASSIGN COMMA

start: body
body: item*

?item: TEXT                                    -> text
     | LACT pipeline RACT                      -> action
     | LIF pipeline RACT body if_tail          -> if_block
     | LRANGE pipeline RACT body block_tail    -> range_block
     | LWITH pipeline RACT body block_tail     -> with_block
     | LBREAK RACT                             -> break_
     | LCONTINUE RACT                          -> continue_

if_tail: LEND RACT                             -> tail_end
       | LELSE RACT body LEND RACT             -> tail_else
       | LELSE IF pipeline RACT body if_tail   -> tail_else_if

block_tail: LEND RACT                          -> tail_end
          | LELSE RACT body LEND RACT          -> tail_else

pipeline: declaration? command (PIPE command)*
declaration: VARIABLE (COMMA VARIABLE)? (DECLARE | ASSIGN)
command: operand+
operand: term CHAIN?
?term: FIELD | VARIABLE | DOT | IDENT | STRING | NUMBER | BOOL | NIL
     | LPAR pipeline RPAR                      -> sub
"""


class _Feeder(Lexer):
    """Hands the scanned tokens to lark; each lark token's value is its index in the list."""

    def __init__(self, conf: Any) -> None:
        self.conf = conf

    def lex(self, tokens: list[_Tok]) -> Iterator[Token]:  # type: ignore[override]  # lark's "interface 0"
        for index, token in enumerate(tokens):
            yield Token(token.kind, str(index), start_pos=token.pos)


@cache
def _parser() -> Lark:
    return Lark(_GRAMMAR, parser="lalr", lexer=_Feeder)


# ---------------------------------------------------------------- tree


@dataclass(frozen=True, slots=True)
class _Field:
    names: tuple[str, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class _Variable:
    name: str
    names: tuple[str, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class _Dot:
    pos: int


@dataclass(frozen=True, slots=True)
class _Ident:
    name: str
    pos: int


@dataclass(frozen=True, slots=True)
class _Literal:
    value: Any
    pos: int
    nil: bool = False


@dataclass(frozen=True, slots=True)
class _Chain:
    node: _Pipeline
    names: tuple[str, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class _Command:
    operands: tuple[_Node, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class _Pipeline:
    declare: tuple[str, ...]
    assign: bool
    commands: tuple[_Command, ...]
    pos: int


_Node = _Field | _Variable | _Dot | _Ident | _Literal | _Chain | _Pipeline


@dataclass(frozen=True, slots=True)
class _Text:
    text: str


@dataclass(frozen=True, slots=True)
class _Action:
    pipeline: _Pipeline


@dataclass(frozen=True, slots=True)
class _If:
    branches: tuple[tuple[_Pipeline, tuple[_Item, ...]], ...]
    otherwise: tuple[_Item, ...] | None


@dataclass(frozen=True, slots=True)
class _Block:
    kind: str  # "range" | "with"
    pipeline: _Pipeline
    body: tuple[_Item, ...]
    otherwise: tuple[_Item, ...] | None


@dataclass(frozen=True, slots=True)
class _Break:
    pos: int


@dataclass(frozen=True, slots=True)
class _Continue:
    pos: int


_Item = _Text | _Action | _If | _Block | _Break | _Continue


@dataclass(frozen=True, slots=True)
class _Tail:
    branches: tuple[tuple[_Pipeline, tuple[_Item, ...]], ...] = ()
    otherwise: tuple[_Item, ...] | None = None


class _ToTree(Transformer[Token, Any]):
    def __init__(self, tokens: list[_Tok], functions: Mapping[str, Any]) -> None:
        super().__init__()
        self.tokens = tokens
        self.functions = functions

    def _tok(self, token: Token) -> _Tok:
        return self.tokens[int(token)]

    def start(self, children: list[Any]) -> tuple[_Item, ...]:
        result: tuple[_Item, ...] = children[0]
        return result

    def body(self, children: list[Any]) -> tuple[_Item, ...]:
        return tuple(children)

    def text(self, children: list[Token]) -> _Item:
        return _Text(self._tok(children[0]).value)

    def action(self, children: list[Any]) -> _Item:
        return _Action(children[1])

    def if_block(self, children: list[Any]) -> _Item:
        tail: _Tail = children[4]
        return _If(((children[1], children[3]), *tail.branches), tail.otherwise)

    def _block(self, kind: str, children: list[Any]) -> _Item:
        tail: _Tail = children[4]
        return _Block(kind, children[1], children[3], tail.otherwise)

    def range_block(self, children: list[Any]) -> _Item:
        return self._block("range", children)

    def with_block(self, children: list[Any]) -> _Item:
        return self._block("with", children)

    def break_(self, children: list[Token]) -> _Item:
        return _Break(self._tok(children[0]).pos)

    def continue_(self, children: list[Token]) -> _Item:
        return _Continue(self._tok(children[0]).pos)

    def tail_end(self, children: list[Any]) -> _Tail:
        return _Tail()

    def tail_else(self, children: list[Any]) -> _Tail:
        return _Tail((), children[2])

    def tail_else_if(self, children: list[Any]) -> _Tail:
        tail: _Tail = children[5]
        return _Tail(((children[2], children[4]), *tail.branches), tail.otherwise)

    def pipeline(self, children: list[Any]) -> _Pipeline:
        declare: tuple[str, ...] = ()
        assign = False
        if children and isinstance(children[0], tuple):
            declare, assign = children[0][0], children[0][1]
            children = children[1:]
        commands = tuple(child for child in children if isinstance(child, _Command))
        return _Pipeline(declare, assign, commands, commands[0].pos)

    def declaration(self, children: list[Token]) -> tuple[tuple[str, ...], bool]:
        toks = [self._tok(child) for child in children]
        names: list[str] = []
        for tok in toks:
            if tok.kind == "VARIABLE":
                name, fields = tok.value
                if fields:
                    raise _Fault(f"unexpected field chain in declaration of {name}", tok.pos)
                names.append(name)
        if len(names) > 1 and toks[-1].kind == "ASSIGN":
            raise _Fault("too many declarations in command", toks[0].pos)
        return tuple(names), toks[-1].kind == "ASSIGN"

    def command(self, children: list[Any]) -> _Command:
        operands = tuple(children)
        return _Command(operands, operands[0].pos)

    def operand(self, children: list[Any]) -> _Node:
        node = self._term(children[0])
        if len(children) == 2:
            chain = self._tok(children[1])
            pipe = (
                node
                if isinstance(node, _Pipeline)
                else _Pipeline((), False, (_Command((node,), chain.pos),), chain.pos)
            )
            return _Chain(pipe, chain.value, chain.pos)
        return node

    def sub(self, children: list[Any]) -> _Pipeline:
        pipe: _Pipeline = children[1]
        if pipe.declare:
            raise _Fault("parenthesized pipeline cannot declare variables", pipe.pos)
        return pipe

    def _term(self, child: Any) -> _Node:
        if isinstance(child, _Pipeline):
            return child
        tok = self._tok(child)
        if tok.kind == "FIELD":
            return _Field(tok.value, tok.pos)
        if tok.kind == "VARIABLE":
            name, fields = tok.value
            return _Variable(name, fields, tok.pos)
        if tok.kind == "DOT":
            return _Dot(tok.pos)
        if tok.kind == "IDENT":
            if tok.value not in self.functions:
                raise _Fault(f'function "{tok.value}" not defined', tok.pos)
            return _Ident(tok.value, tok.pos)
        return _Literal(tok.value, tok.pos, nil=tok.kind == "NIL")


# ---------------------------------------------------------------- execution


class _Missing:
    """Go's invalid ``reflect.Value``: a map key that is not there. Prints as ``<no value>``."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<no value>"


MISSING = _Missing()
_NO_FINAL = object()


class _BreakLoop(Exception):
    pass


class _ContinueLoop(Exception):
    pass


def truth(value: Any) -> bool:
    """Go's ``isTrue``: false for zero values (nil, missing, false, 0, empty string/list/map)."""
    if value is None or value is MISSING:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str | list | tuple | Mapping):
        return len(value) > 0
    return True


@dataclass
class _State:
    source: str
    functions: Mapping[str, Callable[..., Any]]
    variables: list[tuple[str, Any]] = field(default_factory=list)
    out: list[str] = field(default_factory=list)
    size: int = 0

    def write(self, text: str) -> None:
        self.size += len(text)
        if self.size > OUTPUT_LIMIT:
            raise _Fault(f"template output exceeds {OUTPUT_LIMIT} characters")
        self.out.append(text)

    def lookup(self, name: str, pos: int) -> Any:
        for var_name, value in reversed(self.variables):
            if var_name == name:
                return value
        raise _Fault(f"undefined variable: {name}", pos)

    def assign(self, name: str, value: Any, pos: int) -> None:
        for index in range(len(self.variables) - 1, -1, -1):
            if self.variables[index][0] == name:
                self.variables[index] = (name, value)
                return
        raise _Fault(f"undefined variable: {name}", pos)

    # -- items

    def walk(self, dot: Any, items: Sequence[_Item]) -> None:
        for item in items:
            if isinstance(item, _Text):
                self.write(item.text)
            elif isinstance(item, _Action):
                value = self.pipeline(dot, item.pipeline)
                if not item.pipeline.declare:
                    self.write(_print(value))
            elif isinstance(item, _If):
                self.walk_if(dot, item)
            elif isinstance(item, _Block):
                if item.kind == "with":
                    self.walk_with(dot, item)
                else:
                    self.walk_range(dot, item)
            elif isinstance(item, _Break):
                raise _BreakLoop
            else:
                raise _ContinueLoop

    def scoped(self, dot: Any, items: Sequence[_Item]) -> None:
        mark = len(self.variables)
        try:
            self.walk(dot, items)
        finally:
            del self.variables[mark:]

    def walk_if(self, dot: Any, item: _If) -> None:
        mark = len(self.variables)
        try:
            for condition, body in item.branches:
                if truth(self.pipeline(dot, condition)):
                    self.scoped(dot, body)
                    return
            if item.otherwise is not None:
                self.scoped(dot, item.otherwise)
        finally:
            del self.variables[mark:]

    def walk_with(self, dot: Any, item: _Block) -> None:
        mark = len(self.variables)
        try:
            value = self.pipeline(dot, item.pipeline)
            if truth(value):
                self.scoped(value, item.body)
            elif item.otherwise is not None:
                self.scoped(dot, item.otherwise)
        finally:
            del self.variables[mark:]

    def walk_range(self, dot: Any, item: _Block) -> None:
        mark = len(self.variables)
        try:
            value = self.pipeline(dot, item.pipeline)
            pairs: list[tuple[Any, Any]]
            if value is None or value is MISSING:
                pairs = []
            elif isinstance(value, list | tuple):
                pairs = list(enumerate(value))
            elif isinstance(value, Mapping):
                pairs = [(key, value[key]) for key in sorted(value, key=_map_key)]
            elif isinstance(value, int) and not isinstance(value, bool):
                if len(item.pipeline.declare) > 1:
                    raise _Fault("can't use range over int with two variables", item.pipeline.pos)
                pairs = [(i, i) for i in range(value)]
            else:
                raise _Fault(f"range can't iterate over {go_format(value)}", item.pipeline.pos)
            if not pairs:
                if item.otherwise is not None:
                    self.scoped(dot, item.otherwise)
                return
            declared = item.pipeline.declare
            for key, element in pairs:
                inner = len(self.variables)
                if declared and not item.pipeline.assign:
                    self.variables[-1] = (declared[-1], element)
                    if len(declared) > 1:
                        self.variables[-2] = (declared[0], key)
                elif declared:
                    self.assign(declared[-1], element, item.pipeline.pos)
                    if len(declared) > 1:
                        self.assign(declared[0], key, item.pipeline.pos)
                try:
                    self.walk(element, item.body)
                except _BreakLoop:
                    break
                except _ContinueLoop:
                    continue
                finally:
                    del self.variables[inner:]
        finally:
            del self.variables[mark:]

    # -- pipelines and commands

    def pipeline(self, dot: Any, pipe: _Pipeline) -> Any:
        value: Any = _NO_FINAL
        for command in pipe.commands:
            value = self.command(dot, command, value)
            if value is None:
                value = MISSING  # a nil interface result becomes an invalid value (exec.go)
        for name in pipe.declare:
            if pipe.assign:
                self.assign(name, value, pipe.pos)
            else:
                self.variables.append((name, value))
        return value

    def command(self, dot: Any, command: _Command, final: Any) -> Any:
        first = command.operands[0]
        args = command.operands
        if isinstance(first, _Field):
            return self.field_chain(dot, dot, first.names, args, final, first.pos)
        if isinstance(first, _Chain):
            receiver = self.pipeline(dot, first.node)
            return self.field_chain(dot, receiver, first.names, args, final, first.pos)
        if isinstance(first, _Ident):
            return self.function(dot, first, args, final)
        if isinstance(first, _Variable):
            value = self.lookup(first.name, first.pos)
            if not first.names:
                self.not_a_function(args, final)
                return value
            return self.field_chain(dot, value, first.names, args, final, first.pos)
        self.not_a_function(args, final)
        if isinstance(first, _Pipeline):
            return self.pipeline(dot, first)
        if isinstance(first, _Dot):
            return dot
        if first.nil:
            raise _Fault("nil is not a command", first.pos)
        return first.value

    def not_a_function(self, args: Sequence[_Node], final: Any) -> None:
        if len(args) > 1 or final is not _NO_FINAL:
            raise _Fault(f"can't give argument to non-function {_describe(args[0])}", args[0].pos)

    def field_chain(
        self, dot: Any, receiver: Any, names: Sequence[str], args: Sequence[_Node], final: Any, pos: int
    ) -> Any:
        for name in names[:-1]:
            receiver = self.field(receiver, name, (), _NO_FINAL, pos)
        return self.field(receiver, names[-1], args, final, pos)

    def field(self, receiver: Any, name: str, args: Sequence[_Node], final: Any, pos: int) -> Any:
        if receiver is MISSING:
            return MISSING
        if receiver is None:
            raise _Fault(f"nil pointer evaluating interface {{}}.{name}", pos)
        if isinstance(receiver, Mapping):
            if len(args) > 1 or final is not _NO_FINAL:
                raise _Fault(f"{name} is not a method but has arguments", pos)
            return receiver.get(name, MISSING)
        raise _Fault(f"can't evaluate field {name} in type {go_type_name(receiver)}", pos)

    def argument(self, dot: Any, node: _Node) -> Any:
        if isinstance(node, _Dot):
            return dot
        if isinstance(node, _Literal):
            return node.value
        if isinstance(node, _Field):
            return self.field_chain(dot, dot, node.names, (node,), _NO_FINAL, node.pos)
        if isinstance(node, _Variable):
            value = self.lookup(node.name, node.pos)
            if node.names:
                return self.field_chain(dot, value, node.names, (node,), _NO_FINAL, node.pos)
            return value
        if isinstance(node, _Pipeline):
            return self.pipeline(dot, node)
        if isinstance(node, _Chain):
            receiver = self.pipeline(dot, node.node)
            return self.field_chain(dot, receiver, node.names, (node,), _NO_FINAL, node.pos)
        return self.function(dot, node, (node,), _NO_FINAL)

    def function(self, dot: Any, ident: _Ident, args: Sequence[_Node], final: Any) -> Any:
        fn = self.functions[ident.name]
        if ident.name in ("and", "or") and fn is _BUILTINS[ident.name]:
            return self.short_circuit(dot, ident, args[1:], final)
        argv = [self.argument(dot, node) for node in args[1:]]
        if final is not _NO_FINAL:
            argv.append(final)
        return call_function(ident.name, fn, argv, ident.pos)

    def short_circuit(self, dot: Any, ident: _Ident, args: Sequence[_Node], final: Any) -> Any:
        count = len(args) + (final is not _NO_FINAL)
        if count < 1:
            raise _Fault(f"wrong number of args for {ident.name}: want at least 1 got 0", ident.pos)
        want = ident.name == "or"
        value: Any = None
        for node in args:
            value = self.argument(dot, node)
            if truth(value) == want:
                return value
        if final is not _NO_FINAL:
            value = final
        return value


def _describe(node: _Node) -> str:
    if isinstance(node, _Literal):
        return "nil" if node.nil else go_format(node.value)
    if isinstance(node, _Dot):
        return "."
    if isinstance(node, _Pipeline):
        return "(pipeline)"
    if isinstance(node, _Variable):
        return node.name + "".join("." + name for name in node.names)
    return type(node).__name__.strip("_").lower()


def _map_key(key: Any) -> tuple[int, Any]:
    if isinstance(key, int | float) and not isinstance(key, bool):
        return (0, key)
    return (1, str(key))


def _print(value: Any) -> str:
    if value is MISSING:
        return "<no value>"
    return go_format(value)


@lru_cache(maxsize=1024)
def _signature(fn: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def _arity(signature: inspect.Signature) -> str:
    params = list(signature.parameters.values())
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        required = sum(
            1
            for p in params
            if p.default is inspect.Parameter.empty and p.kind is not inspect.Parameter.VAR_POSITIONAL
        )
        return f"at least {required}"
    return str(len(params))


def call_function(name: str, fn: Callable[..., Any], argv: list[Any], pos: int) -> Any:
    """Call a template function the way exec.go does: checked arity, errors named after the call."""
    argv = [None if arg is MISSING else arg for arg in argv]
    signature = _signature(fn)
    if signature is not None:
        try:
            signature.bind(*argv)
        except TypeError:
            raise _Fault(
                f"wrong number of args for {name}: want {_arity(signature)} got {len(argv)}", pos
            ) from None
    try:
        return fn(*argv)
    except _Fault:
        raise
    except RecursionError:
        raise _Fault(f"error calling {name}: too deeply nested", pos) from None
    except Exception as exc:  # any failure inside a function is the template's error, as in Go
        raise _Fault(f"error calling {name}: {exc}", pos) from None


# ---------------------------------------------------------------- Go builtins (funcs.go)


def _basic_kind(value: Any) -> str:
    if value is None or value is MISSING:
        return "invalid"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "other"


def _eq(arg1: Any, *args: Any) -> bool:
    if not args:
        raise ValueError("missing argument for comparison")
    k1 = _basic_kind(arg1)
    if k1 == "other":
        raise ValueError("invalid type for comparison")
    for arg in args:
        k2 = _basic_kind(arg)
        if k2 == "other":
            raise ValueError("invalid type for comparison")
        if k1 != k2:
            if k1 != "invalid" and k2 != "invalid":
                raise ValueError("incompatible types for comparison")
            continue
        if k1 == "invalid" or arg1 == arg:
            return True
    return False


def _ne(arg1: Any, arg2: Any) -> bool:
    return not _eq(arg1, arg2)


def _less(arg1: Any, arg2: Any) -> bool:
    k1, k2 = _basic_kind(arg1), _basic_kind(arg2)
    if k1 in ("invalid", "other", "bool") or k2 in ("invalid", "other", "bool"):
        raise ValueError("invalid type for comparison")
    if k1 != k2:
        raise ValueError("incompatible types for comparison")
    return bool(arg1 < arg2)


def _lt(a: Any, b: Any) -> bool:
    return _less(a, b)


def _le(a: Any, b: Any) -> bool:
    return _less(a, b) or _eq(a, b)


def _gt(a: Any, b: Any) -> bool:
    return not _le(a, b)


def _ge(a: Any, b: Any) -> bool:
    return not _less(a, b)


def _not(value: Any) -> bool:
    return not truth(value)


def _and(*args: Any) -> Any:  # replaced by the short-circuit evaluation; kept for function values
    value: Any = None
    for value in args:
        if not truth(value):
            return value
    return value


def _or(*args: Any) -> Any:
    value: Any = None
    for value in args:
        if truth(value):
            return value
    return value


def _len(value: Any) -> int:
    if value is None or value is MISSING:
        raise ValueError("len of nil pointer")
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, list | tuple | Mapping):
        return len(value)
    raise ValueError(f"len of type {go_type_name(value)}")


def _index(item: Any, *indexes: Any) -> Any:
    for index in indexes:
        if item is None or item is MISSING:
            raise ValueError("index of untyped nil")
        if isinstance(item, list | tuple | str):
            if isinstance(index, bool) or not isinstance(index, int):
                raise ValueError(f"cannot index slice/array with type {go_type_name(index)}")
            size = len(item.encode()) if isinstance(item, str) else len(item)
            if index < 0 or index >= size:
                raise ValueError(f"index out of range: {index}")
            item = item.encode()[index] if isinstance(item, str) else item[index]
        elif isinstance(item, Mapping):
            if not isinstance(index, str):
                raise ValueError(f"value has type {go_type_name(index)}; should be string")
            item = item.get(index)
        else:
            raise ValueError(f"can't index item of type {go_type_name(item)}")
    return item


def _sprint(*args: Any) -> str:
    out: list[str] = []
    for i, arg in enumerate(args):
        if i > 0 and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(go_format(arg))
    return "".join(out)


def _sprintln(*args: Any) -> str:
    return " ".join(go_format(arg) for arg in args) + "\n"


def _eval_args(args: tuple[Any, ...]) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return _sprint(*args)


_HTML = {"\0": "\ufffd", '"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;"}


def _html(*args: Any) -> str:
    return "".join(_HTML.get(ch, ch) for ch in _eval_args(args))


_JS = {
    "\\": "\\\\",
    "'": "\\'",
    '"': "\\u0022",
    "<": "\\u003C",
    ">": "\\u003E",
    "&": "\\u0026",
    "=": "\\u003D",
}


def _js(*args: Any) -> str:
    out: list[str] = []
    for ch in _eval_args(args):
        if ch in _JS:
            out.append(_JS[ch])
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


def _urlquery(*args: Any) -> str:
    return urllib.parse.quote_plus(_eval_args(args), safe="-_.~")


# ---------------------------------------------------------------- printf (fmt's verbs)

_VERB = re.compile(r"%([-+# 0]*)(\*|\d+)?(?:\.(\*|\d*))?([a-zA-Z%])")


def _bad(verb: str, value: Any) -> str:
    if value is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type_name(value)}={go_format(value)})"


def _pad(text: str, width: int | None, flags: str, numeric: bool) -> str:
    if width is None or len(text) >= width:
        return text
    if "-" in flags:
        return text + " " * (width - len(text))
    if "0" in flags and numeric:
        sign = text[0] if text[:1] in "+- " and text[:1] != "" else ""
        body = text[len(sign) :]
        return sign + "0" * (width - len(text)) + body
    return " " * (width - len(text)) + text


def _sign(text: str, negative: bool, flags: str) -> str:
    if negative:
        return "-" + text
    if "+" in flags:
        return "+" + text
    if " " in flags:
        return " " + text
    return text


def _format_one(verb: str, flags: str, width: int | None, precision: int | None, value: Any) -> str:
    is_int = isinstance(value, int) and not isinstance(value, bool)
    numeric = False
    if verb == "v":
        text = go_format(value)
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
    elif verb == "T":
        text = go_type_name(value)
    elif verb == "s":
        if isinstance(value, str):
            text = value if precision is None else value[:precision]
        elif isinstance(value, list | tuple | Mapping):
            text = go_format(value)
        else:
            return _bad(verb, value)
    elif verb == "q":
        if isinstance(value, str):
            text = go_quote(value)
        elif is_int:
            text = "'" + go_quote(chr(value))[1:-1].replace("'", "\\'") + "'"
        else:
            return _bad(verb, value)
    elif verb == "t":
        if not isinstance(value, bool):
            return _bad(verb, value)
        text = "true" if value else "false"
    elif verb in "dboxXcU":
        if verb in "xX" and isinstance(value, str):
            text = value.encode().hex()
            text = text.upper() if verb == "X" else text
        elif not is_int:
            return _bad(verb, value)
        elif verb == "c":
            text = chr(value)
        elif verb == "U":
            text = f"U+{value:04X}"
        else:
            base = {"d": "d", "b": "b", "o": "o", "x": "x", "X": "X"}[verb]
            text = format(abs(value), base)
            if "#" in flags and verb in "xX":
                text = ("0x" if verb == "x" else "0X") + text
            elif "#" in flags and verb == "o":
                text = "0" + text
            text = _sign(text, value < 0, flags)
            numeric = True
    elif verb in "eEfFgG":
        if not isinstance(value, float):
            return _bad(verb, value)
        if verb in "gG" and precision is None:
            text = go_format(abs(value))
            text = text.upper() if verb == "G" else text
        else:
            spec = verb.lower() if verb in "F" else verb
            text = format(abs(value), f".{6 if precision is None else precision}{spec}")
            if verb in "eE":
                mantissa, _, exponent = text.partition("e" if verb == "e" else "E")
                sign = exponent[0]
                digits = exponent[1:].lstrip("0").rjust(2, "0")
                text = f"{mantissa}{'e' if verb == 'e' else 'E'}{sign}{digits}"
        text = _sign(text, value < 0 or (value == 0 and str(value).startswith("-")), flags)
        numeric = True
    else:
        return _bad(verb, value)
    return _pad(text, width, flags, numeric)


def go_sprintf(template: str, *args: Any) -> str:
    """``fmt.Sprintf`` for the verbs templates use (%v %s %q %d %f %e %g %t %x %c %T %% …)."""
    out: list[str] = []
    index = 0
    pos = 0
    for match in _VERB.finditer(template):
        out.append(template[pos : match.start()])
        pos = match.end()
        flags, width_text, precision_text, verb = match.groups()
        if verb == "%":
            out.append("%")
            continue
        width: int | None = None
        precision: int | None = None
        if width_text == "*":
            width = args[index] if index < len(args) and isinstance(args[index], int) else None
            index += 1
        elif width_text:
            width = int(width_text)
        if precision_text == "*":
            precision = args[index] if index < len(args) and isinstance(args[index], int) else None
            index += 1
        elif precision_text is not None:
            precision = int(precision_text) if precision_text else 0
        if index >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        out.append(_format_one(verb, flags, width, precision, args[index]))
        index += 1
    out.append(template[pos:])
    if index < len(args):
        extra = ", ".join(f"{go_type_name(a)}={go_format(a)}" for a in args[index:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _printf(template: str, *args: Any) -> str:
    if not isinstance(template, str):
        raise TypeError(f"wrong type for value; expected string; got {go_type_name(template)}")
    return go_sprintf(template, *args)


_BUILTINS: dict[str, Callable[..., Any]] = {
    "and": _and,
    "or": _or,
    "not": _not,
    "len": _len,
    "index": _index,
    "print": _sprint,
    "printf": _printf,
    "println": _sprintln,
    "eq": _eq,
    "ne": _ne,
    "lt": _lt,
    "le": _le,
    "gt": _gt,
    "ge": _ge,
    "html": _html,
    "js": _js,
    "urlquery": _urlquery,
}

FUNCTIONS: Mapping[str, Callable[..., Any]] = {**_BUILTINS, **SPRIG_FUNCTIONS}
"""Go's builtins overlaid by sprig, the lookup order of ``Funcs(sprig.FuncMap())``."""


# ---------------------------------------------------------------- public API


class Template:
    """A parsed template; immutable and safe to execute concurrently."""

    __slots__ = ("_functions", "_items", "source")

    def __init__(
        self, source: str, items: tuple[_Item, ...], functions: Mapping[str, Callable[..., Any]]
    ) -> None:
        self.source = source
        self._items = items
        self._functions = functions

    def execute(self, data: Any) -> str:
        """Render with ``data`` as ``.`` and ``$``; :class:`TemplateError` names the failing position."""
        state = _State(self.source, self._functions, [("$", data)])
        try:
            state.walk(data, self._items)
        except _Fault as fault:
            raise TemplateError(self.source, fault.reason, fault.pos) from None
        except (_BreakLoop, _ContinueLoop):
            raise TemplateError(self.source, "break or continue outside range") from None
        except RecursionError:
            raise TemplateError(self.source, "template too deeply nested") from None
        return "".join(state.out)

    def __repr__(self) -> str:
        return f"Template({self.source!r})"


def _parse(source: str, functions: Mapping[str, Callable[..., Any]]) -> Template:
    try:
        tokens = _chain_tokens(_Scanner(source).scan())
    except _Fault as fault:
        raise TemplateError(source, fault.reason, fault.pos) from None
    if not tokens:
        return Template(source, (), functions)
    try:
        tree = _parser().parse(tokens)  # type: ignore[arg-type,unused-ignore]  # fed through _Feeder
    except UnexpectedInput as exc:
        raise _syntax_error(source, tokens, exc) from None
    try:
        items: tuple[_Item, ...] = _ToTree(tokens, functions).transform(tree)
    except VisitError as exc:
        original = exc.orig_exc
        if isinstance(original, _Fault):
            raise TemplateError(source, original.reason, original.pos) from None
        raise
    return Template(source, items, functions)


def _syntax_error(source: str, tokens: list[_Tok], exc: UnexpectedInput) -> TemplateError:
    token = getattr(exc, "token", None)
    if token is None or token.type == "$END":
        return TemplateError(source, "unexpected EOF: unclosed action or missing {{end}}", len(source))
    tok = tokens[int(token)]
    described = {
        "RACT": "unexpected }} (missing value for command?)",
        "LEND": "unexpected {{end}}",
        "LELSE": "unexpected {{else}}",
        "PIPE": "unexpected | (missing command?)",
        "RPAR": "unexpected right paren",
    }.get(tok.kind, f"unexpected {tok.kind.lower()} {go_format(tok.value)!r}")
    return TemplateError(source, described, tok.pos)


@lru_cache(maxsize=2048)
def parse_template(source: str) -> Template:
    """Parse with Go's builtins and sprig; :class:`TemplateError` with the position on bad syntax."""
    return _parse(source, FUNCTIONS)


def render(source: str, data: Any) -> str:
    """Parse (cached) and execute ``source`` over ``data``."""
    return parse_template(source).execute(data)
