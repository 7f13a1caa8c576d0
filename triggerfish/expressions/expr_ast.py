"""expr-lang syntax tree: parsing source text with the lark grammar into small immutable nodes.

Kept apart from evaluation so the linter can inspect expressions (references, positions)
without running them, and so every syntax rule expr-lang enforces lives in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedInput, VisitError

from triggerfish.expressions.errors import ExpressionError, syntax_error


@dataclass(frozen=True, slots=True)
class Node:
    """Base of all syntax nodes; ``pos`` is the character offset used in error messages."""

    pos: int


@dataclass(frozen=True, slots=True)
class Literal(Node):
    value: Any


@dataclass(frozen=True, slots=True)
class Var(Node):
    name: str


@dataclass(frozen=True, slots=True)
class Pointer(Node):
    """``#`` (current element), ``#index`` or ``#acc`` inside a predicate."""

    name: str


@dataclass(frozen=True, slots=True)
class Member(Node):
    obj: Node
    key: Node
    optional: bool


@dataclass(frozen=True, slots=True)
class Slice(Node):
    obj: Node
    start: Node | None
    end: Node | None


@dataclass(frozen=True, slots=True)
class MethodCall(Node):
    """``obj.name(args)``: calls a function value stored in a map (``sprig.trim(x)``)."""

    obj: Node
    name: str
    args: tuple[Node, ...]
    optional: bool


@dataclass(frozen=True, slots=True)
class FuncCall(Node):
    """``name(args)``: a builtin, an Argo function or a function from the environment."""

    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Ternary(Node):
    cond: Node
    then: Node
    other: Node


@dataclass(frozen=True, slots=True)
class ArrayLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class MapLit(Node):
    pairs: tuple[tuple[Node, Node], ...]


@dataclass(frozen=True, slots=True)
class Closure(Node):
    """A predicate body, evaluated once per element by ``filter``, ``map``, ``all``..."""

    body: Node


@dataclass(frozen=True, slots=True)
class Chain(Node):
    """The root of a member chain containing ``?.``: a nil link makes the whole chain nil."""

    inner: Node


@dataclass(frozen=True, slots=True)
class _Paren(Node):
    """Parenthesised expression; only lives during parsing (it matters for the ``??`` rule)."""

    inner: Node


# Which arguments of the closure builtins are predicates (parser/parser.go `predicates`).
PREDICATE_ARGS: dict[str, tuple[int, ...]] = {
    "all": (1,), "none": (1,), "any": (1,), "one": (1,), "filter": (1,), "map": (1,),
    "count": (1,), "sum": (1,), "find": (1,), "findIndex": (1,), "findLast": (1,),
    "findLastIndex": (1,), "groupBy": (1,), "sortBy": (1,), "reduce": (1,),
}  # fmt: skip

_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
}


class _SyntaxFault(Exception):
    def __init__(self, reason: str, pos: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.pos = pos


def _unescape(body: str, pos: int) -> str:
    """Go string-literal escapes: ``\\n``, ``\\xHH``, ``\\uHHHH``, ``\\UHHHHHHHH``, ``\\ooo``."""
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        code = body[i + 1]
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
            i += 2
            continue
        width = {"x": 2, "u": 4, "U": 8}.get(code)
        digits = body[i + 2 : i + 2 + width] if width else body[i + 1 : i + 4]
        base = 16 if width else 8
        try:
            if len(digits) != (width or 3):
                raise ValueError
            out.append(chr(int(digits, base)))
        except ValueError:
            raise _SyntaxFault("invalid char escape", pos + i) from None
        i += (2 + width) if width else 4
    return "".join(out)


def _unwrap(node: Node) -> Node:
    return node.inner if isinstance(node, _Paren) else node


def _operand(node: Node, op: str) -> Node:
    """The left operand of a binary operator; an unparenthesised ``??`` there is an error in expr."""
    if isinstance(node, Binary) and node.op == "??":
        raise _SyntaxFault(
            f"Operator ({op}) and coalesce expressions (??) cannot be mixed. Wrap either by parentheses.",
            node.pos,
        )
    return _unwrap(node)


def _args(tree: Any) -> tuple[Node, ...]:
    return () if tree is None else tuple(_unwrap(a) for a in tree.children)


def _chain(
    obj: Node, build: type[Member] | type[MethodCall] | type[Slice], starts_chain: bool, **fields: Any
) -> Node:
    """Extend a member chain; a ``?.`` anywhere makes the outermost node a ``Chain``."""
    inner_obj = obj.inner if isinstance(obj, Chain) else _unwrap(obj)
    node: Node = build(obj=inner_obj, **fields)
    return Chain(node.pos, node) if starts_chain or isinstance(obj, Chain) else node


def _number(text: str, pos: int) -> Literal:
    value = text.replace("_", "")
    lower = value.lower()
    try:
        if lower.startswith(("0x", "0o", "0b")):
            number: int | float = int(value, 0)
        elif "." in lower or "e" in lower:
            return Literal(pos, float(value))
        else:
            number = int(value, 10)
    except ValueError:
        raise _SyntaxFault(f"invalid number literal {text}", pos) from None
    if number > 2**63 - 1:
        raise _SyntaxFault("integer literal is too large", pos)
    return Literal(pos, number)


@v_args(meta=True)
class _ToAst(Transformer[Token, Node]):
    """Builds AST nodes bottom-up from the lark parse tree."""

    def number(self, meta: Any, children: list[Token]) -> Node:
        return _number(str(children[0]), meta.start_pos)

    def string(self, meta: Any, children: list[Token]) -> Node:
        return Literal(meta.start_pos, _unescape(str(children[0])[1:-1], meta.start_pos + 1))

    def raw_string(self, meta: Any, children: list[Token]) -> Node:
        return Literal(meta.start_pos, str(children[0])[1:-1])

    def true(self, meta: Any, _: list[Any]) -> Node:
        return Literal(meta.start_pos, True)

    def false(self, meta: Any, _: list[Any]) -> Node:
        return Literal(meta.start_pos, False)

    def nil(self, meta: Any, _: list[Any]) -> Node:
        return Literal(meta.start_pos, None)

    def var(self, meta: Any, children: list[Token]) -> Node:
        return Var(meta.start_pos, str(children[0]))

    def pointer(self, meta: Any, children: list[Token]) -> Node:
        return Pointer(meta.start_pos, str(children[0])[1:])

    def pointer_member(self, meta: Any, children: list[Token]) -> Node:
        return Member(
            meta.start_pos,
            Pointer(meta.start_pos, ""),
            Literal(children[0].start_pos or 0, str(children[0])),
            False,
        )

    def key_name(self, meta: Any, children: list[Token]) -> Node:
        return Literal(meta.start_pos, str(children[0]))

    def key_number(self, meta: Any, children: list[Token]) -> Node:
        return Literal(meta.start_pos, str(children[0]))

    def paren(self, meta: Any, children: list[Node]) -> Node:
        return _Paren(meta.start_pos, _unwrap(children[0]))

    def array(self, meta: Any, children: list[Any]) -> Node:
        return ArrayLit(meta.start_pos, _args(children[0]))

    def map(self, meta: Any, children: list[Any]) -> Node:
        pairs = () if children[0] is None else children[0].children
        return MapLit(meta.start_pos, tuple((_unwrap(p.children[0]), _unwrap(p.children[1])) for p in pairs))

    def closure(self, meta: Any, children: list[Node]) -> Node:
        return Closure(meta.start_pos, _unwrap(children[0]))

    def func_call(self, meta: Any, children: list[Any]) -> Node:
        return _func_call(str(children[0]), _args(children[1]), meta.start_pos)

    def pipe_call(self, meta: Any, children: list[Any]) -> Node:
        name = children[1]
        return _func_call(
            str(name), (_unwrap(children[0]), *_args(children[2])), name.start_pos or meta.start_pos
        )

    def member(self, meta: Any, children: list[Any]) -> Node:
        name = children[1]
        return _chain(
            children[0],
            Member,
            False,
            pos=name.start_pos,
            key=Literal(name.start_pos, str(name)),
            optional=False,
        )

    def optional_member(self, meta: Any, children: list[Any]) -> Node:
        name = children[1]
        return _chain(
            children[0],
            Member,
            True,
            pos=name.start_pos,
            key=Literal(name.start_pos, str(name)),
            optional=True,
        )

    def method_call(self, meta: Any, children: list[Any]) -> Node:
        name = children[1]
        return _chain(
            children[0],
            MethodCall,
            False,
            pos=name.start_pos,
            name=str(name),
            args=_args(children[2]),
            optional=False,
        )

    def optional_method_call(self, meta: Any, children: list[Any]) -> Node:
        name = children[1]
        return _chain(
            children[0],
            MethodCall,
            True,
            pos=name.start_pos,
            name=str(name),
            args=_args(children[2]),
            optional=True,
        )

    def index(self, meta: Any, children: list[Node]) -> Node:
        return _chain(
            children[0], Member, False, pos=children[1].pos, key=_unwrap(children[1]), optional=False
        )

    def optional_index(self, meta: Any, children: list[Node]) -> Node:
        return _chain(children[0], Member, True, pos=children[1].pos, key=_unwrap(children[1]), optional=True)

    def slice(self, meta: Any, children: list[Node | None]) -> Node:
        obj, start, end = children
        assert obj is not None
        return _chain(
            obj, Slice, False, pos=meta.start_pos, start=start and _unwrap(start), end=end and _unwrap(end)
        )

    def unary(self, meta: Any, children: list[Any]) -> Node:
        op = str(children[0])
        return Unary(meta.start_pos, "!" if op == "not" else op, _unwrap(children[1]))

    def binary(self, meta: Any, children: list[Any]) -> Node:
        left, op, right = children
        return Binary(op.start_pos, str(op), _operand(left, str(op)), _unwrap(right))

    def logical(self, meta: Any, children: list[Any]) -> Node:
        left, op, right = children
        name = {"or": "||", "and": "&&"}.get(str(op), str(op))
        return Binary(op.start_pos, name, _operand(left, str(op)), _unwrap(right))

    def range_op(self, meta: Any, children: list[Node]) -> Node:
        return Binary(meta.start_pos, "..", _operand(children[0], ".."), _unwrap(children[1]))

    def coalesce_op(self, meta: Any, children: list[Node]) -> Node:
        return Binary(meta.start_pos, "??", _unwrap(children[0]), _unwrap(children[1]))

    def ternary(self, meta: Any, children: list[Node]) -> Node:
        return Ternary(meta.start_pos, *(_unwrap(c) for c in children))

    def cmp(self, meta: Any, children: list[Any]) -> Node:
        """``a < b < c`` is ``a < b && b < c`` (parser.go parseComparison)."""
        result: Node | None = None
        left = children[0]
        for i in range(1, len(children), 2):
            op_tokens: list[Token] = children[i].children
            op = " ".join(map(str, op_tokens))
            pos = op_tokens[0].start_pos or 0
            right = children[i + 1]
            comparison = Binary(pos, op, _operand(left, op), _unwrap(right))
            result = comparison if result is None else Binary(pos, "&&", result, comparison)
            left = right
        assert result is not None
        return result


def _func_call(name: str, args: tuple[Node, ...], pos: int) -> Node:
    predicate_positions = PREDICATE_ARGS.get(name, ())
    wrapped = tuple(
        (a if isinstance(a, Closure) else Closure(a.pos, a)) if i in predicate_positions else a
        for i, a in enumerate(args)
    )
    return FuncCall(pos, name, wrapped)


def _check_scopes(node: Node, in_predicate: bool, in_closure_arg: bool) -> None:
    """Pointers only inside predicates, predicate blocks only as predicate arguments."""
    if isinstance(node, Pointer) and not in_predicate:
        raise _SyntaxFault("cannot use pointer accessor outside predicate", node.pos)
    if isinstance(node, Closure):
        if not in_closure_arg:
            raise _SyntaxFault("unexpected predicate block", node.pos)
        _check_scopes(node.body, True, False)
        return
    if isinstance(node, FuncCall):
        positions = PREDICATE_ARGS.get(node.name, ())
        for i, arg in enumerate(node.args):
            _check_scopes(arg, in_predicate, i in positions)
        return
    for child in children(node):
        _check_scopes(child, in_predicate, False)


def children(node: Node) -> tuple[Node, ...]:
    """Direct sub-nodes, for walks over the tree."""
    match node:
        case Member(obj=obj, key=key):
            return (obj, key)
        case Slice(obj=obj, start=start, end=end):
            return tuple(n for n in (obj, start, end) if n is not None)
        case MethodCall(obj=obj, args=args):
            return (obj, *args)
        case FuncCall(args=args) | ArrayLit(items=args):
            return args
        case Unary(operand=operand):
            return (operand,)
        case Binary(left=left, right=right):
            return (left, right)
        case Ternary(cond=cond, then=then, other=other):
            return (cond, then, other)
        case MapLit(pairs=pairs):
            return tuple(n for pair in pairs for n in pair)
        case Closure(body=body) | Chain(inner=body):
            return (body,)
    return ()


@cache
def _parser() -> Lark:
    grammar = (Path(__file__).with_name("expr_lang.lark")).read_text()
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


def parse(source: str) -> Node:
    """Parse expr-lang source into an AST; ``ExpressionError`` (with position) on bad syntax."""
    if not source.strip():
        raise ExpressionError(source, "unexpected end of input", len(source))
    try:
        tree = _parser().parse(source)
        node = _unwrap(_ToAst().transform(tree))
        _check_scopes(node, False, False)
    except UnexpectedInput as exc:
        raise syntax_error(source, exc) from None
    except VisitError as exc:
        fault = exc.orig_exc
        if isinstance(fault, _SyntaxFault):
            raise ExpressionError(source, fault.reason, fault.pos) from None
        raise
    except _SyntaxFault as fault:
        raise ExpressionError(source, fault.reason, fault.pos) from None
    return node
