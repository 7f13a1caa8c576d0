"""expr-lang expressions (``{{= ... }}``, ``valueFrom.expression``, retry/hook expressions).

Source is parsed once with the lark grammar (``expr_lang.lark``) and the syntax tree is turned
into a tree of small Python closures, so evaluating a cached expression is just nested calls
over a sandboxed environment: nothing is ever handed to Python's ``eval``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cmp_to_key, lru_cache
from typing import Any

from triggerfish.expressions import expr_runtime as rt
from triggerfish.expressions.errors import ExpressionError
from triggerfish.expressions.expr_ast import (
    ArrayLit,
    Binary,
    Chain,
    Closure,
    FuncCall,
    Literal,
    MapLit,
    Member,
    MethodCall,
    Node,
    Pointer,
    Slice,
    Ternary,
    Unary,
    Var,
    children,
    parse,
)
from triggerfish.expressions.expr_builtins import ARGO_FUNCTIONS, BUILTINS
from triggerfish.expressions.expr_runtime import EvalFault
from triggerfish.expressions.gofmt import go_type_name

__all__ = ["Expression", "compile_expression"]


class _Frame:
    """What a closure sees: the environment plus the current predicate element (``#``)."""

    __slots__ = ("acc", "env", "index", "item")

    def __init__(self, env: Mapping[str, Any], item: Any = None, index: int = 0, acc: Any = None) -> None:
        self.env = env
        self.item = item
        self.index = index
        self.acc = acc


Compiled = Callable[[_Frame], Any]


class _NilChain(Exception):
    """Raised by a ``?.`` on nil; caught by the chain's root, which then yields nil."""


class _CompileFault(Exception):
    def __init__(self, reason: str, pos: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.pos = pos


_EXPECTED_ERRORS = (
    TypeError,
    ValueError,
    ZeroDivisionError,
    IndexError,
    KeyError,
    OverflowError,
    RecursionError,
)


def _at(pos: int, fn: Compiled) -> Compiled:
    """Attach ``pos`` to faults raised by ``fn`` that do not know where they happened."""

    def located(frame: _Frame) -> Any:
        try:
            return fn(frame)
        except EvalFault as fault:
            if fault.pos is None:
                fault.pos = pos
            raise
        except _EXPECTED_ERRORS as exc:
            raise EvalFault(str(exc) or type(exc).__name__, pos) from None

    return located


# ---------------------------------------------------------------- variables and members


def _compile_var(node: Var) -> Compiled:
    name = node.name
    if name in ARGO_FUNCTIONS:
        value = ARGO_FUNCTIONS[name]
        return lambda frame: value

    def lookup(frame: _Frame) -> Any:
        try:
            return frame.env[name]
        except KeyError:
            raise EvalFault(f"unknown name {name}", node.pos) from None

    return lookup


def _static_keys(node: Node) -> tuple[Var, list[str]] | None:
    """``a.b['c']`` as (Var a, [b, c]) when every key is a constant string and nothing is optional."""
    keys: list[str] = []
    while isinstance(node, Member) and not node.optional:
        if not (isinstance(node.key, Literal) and isinstance(node.key.value, str)):
            return None
        keys.append(node.key.value)
        node = node.obj
    if not isinstance(node, Var) or node.name in ARGO_FUNCTIONS:
        return None
    return node, keys[::-1]


def _compile_path(root: Var, keys: list[str], pos: int) -> Compiled:
    """Fast path for the very common ``inputs.parameters.x`` shape."""
    lookup = _compile_var(root)

    def walk(frame: _Frame) -> Any:
        current = lookup(frame)
        for key in keys:
            if type(current) is dict:
                current = current.get(key)
            else:
                try:
                    current = rt.fetch(current, key)
                except EvalFault as fault:
                    fault.pos = pos
                    raise
        return current

    return walk


def _compile_member(node: Member) -> Compiled:
    static = _static_keys(node)
    if static is not None:
        return _compile_path(*static, node.pos)
    obj, key, optional = _compile(node.obj), _compile(node.key), node.optional

    def member(frame: _Frame) -> Any:
        target = obj(frame)
        if target is None and optional:
            raise _NilChain
        return rt.fetch(target, key(frame))

    return _at(node.pos, member)


def _compile_slice(node: Slice) -> Compiled:
    obj = _compile(node.obj)
    start = _compile(node.start) if node.start is not None else None
    end = _compile(node.end) if node.end is not None else None

    def sliced(frame: _Frame) -> Any:
        return rt.slice_of(obj(frame), start and start(frame), end and end(frame))

    return _at(node.pos, sliced)


def _compile_chain(node: Chain) -> Compiled:
    inner = _compile(node.inner)

    def chain(frame: _Frame) -> Any:
        try:
            return inner(frame)
        except _NilChain:
            return None

    return chain


def _call(fn: Any, name: str, args: list[Any]) -> Any:
    if not callable(fn):
        raise EvalFault(f"{name} is not a function (type {go_type_name(fn)})")
    return fn(*args)


def _compile_method_call(node: MethodCall) -> Compiled:
    obj = _compile(node.obj)
    args = [_compile(a) for a in node.args]
    name, optional = node.name, node.optional

    def method(frame: _Frame) -> Any:
        target = obj(frame)
        if target is None and optional:
            raise _NilChain
        return _call(rt.fetch(target, name), name, [a(frame) for a in args])

    return _at(node.pos, method)


# ---------------------------------------------------------------- function calls


def _check_arity(name: str, count: int, low: int, high: int | None, pos: int) -> None:
    if count < low or (high is not None and count > high):
        expected = str(low) if low == high else f"{low} or more" if high is None else f"{low} to {high}"
        raise _CompileFault(f"invalid number of arguments for {name} (expected {expected}, got {count})", pos)


def _compile_func_call(node: FuncCall) -> Compiled:
    name = node.name
    if name in _PREDICATES:
        low, high, build = _PREDICATES[name]
        _check_arity(name, len(node.args), low, high, node.pos)
        items = _compile(node.args[0])
        body = node.args[1] if len(node.args) > 1 else Closure(node.pos, Pointer(node.pos, ""))
        assert isinstance(body, Closure)
        extra = [_compile(a) for a in node.args[2:]]
        return _at(node.pos, build(items, _compile(body.body), extra))
    args = [_compile(a) for a in node.args]
    if name in BUILTINS:
        builtin = BUILTINS[name]
        _check_arity(name, len(args), builtin.min_args, builtin.max_args, node.pos)
        fn = builtin.fn
        return _at(node.pos, lambda frame: fn(*[a(frame) for a in args]))
    if name in ARGO_FUNCTIONS:
        argo_fn = ARGO_FUNCTIONS[name]
        return _at(node.pos, lambda frame: _call(argo_fn, name, [a(frame) for a in args]))

    def env_call(frame: _Frame) -> Any:
        if name not in frame.env:
            raise EvalFault(f"unknown name {name}")
        return _call(frame.env[name], name, [a(frame) for a in args])

    return _at(node.pos, env_call)


def _sequence(value: Any) -> Sequence[Any]:
    if isinstance(value, list | tuple):
        return value
    raise EvalFault(f"cannot iterate over {go_type_name(value)}")


PredicateBuilder = Callable[[Compiled, Compiled, list[Compiled]], Compiled]


def _each(items: Compiled, body: Compiled, frame: _Frame) -> Any:
    """Yield (element, body result) pairs, evaluating the predicate lazily."""
    inner = _Frame(frame.env)
    for index, item in enumerate(_sequence(items(frame))):
        inner.item, inner.index = item, index
        yield item, body(inner)


def _test(value: Any) -> bool:
    return rt.truth(value, "predicate")


def _all(items: Compiled, body: Compiled, _: list[Compiled]) -> Compiled:
    return lambda frame: all(_test(result) for _, result in _each(items, body, frame))


def _any(items: Compiled, body: Compiled, _: list[Compiled]) -> Compiled:
    return lambda frame: any(_test(result) for _, result in _each(items, body, frame))


def _none(items: Compiled, body: Compiled, _: list[Compiled]) -> Compiled:
    return lambda frame: not any(_test(result) for _, result in _each(items, body, frame))


def _one(items: Compiled, body: Compiled, _: list[Compiled]) -> Compiled:
    return lambda frame: sum(_test(result) for _, result in _each(items, body, frame)) == 1


def _filter(items: Compiled, body: Compiled, _: list[Compiled]) -> Compiled:
    return lambda frame: [item for item, result in _each(items, body, frame) if _test(result)]


def _map(items: Compiled, body: Compiled, _: list[Compiled]) -> Compiled:
    return lambda frame: [result for _, result in _each(items, body, frame)]


def _count(items: Compiled, body: Compiled, _: list[Compiled]) -> Compiled:
    return lambda frame: sum(_test(result) for _, result in _each(items, body, frame))


def _sum(items: Compiled, body: Compiled, _: list[Compiled]) -> Compiled:
    def total(frame: _Frame) -> Any:
        result: Any = 0
        for _, value in _each(items, body, frame):
            result = rt.add(result, value)
        return result

    return total


def _find(last: bool, want_index: bool) -> PredicateBuilder:
    def build(items: Compiled, body: Compiled, _: list[Compiled]) -> Compiled:
        def find(frame: _Frame) -> Any:
            found: tuple[int, Any] | None = None
            for index, (item, result) in enumerate(_each(items, body, frame)):
                if _test(result):
                    found = (index, item)
                    if not last:
                        break
            if found is None:
                return -1 if want_index else None
            return found[0] if want_index else found[1]

        return find

    return build


def _group_by(items: Compiled, body: Compiled, _: list[Compiled]) -> Compiled:
    def group(frame: _Frame) -> dict[Any, list[Any]]:
        groups: dict[Any, list[Any]] = {}
        for item, key in _each(items, body, frame):
            groups.setdefault(key, []).append(item)
        return groups

    return group


def _sort_by(items: Compiled, body: Compiled, extra: list[Compiled]) -> Compiled:
    def compare(a: tuple[Any, Any], b: tuple[Any, Any]) -> int:
        return -1 if rt.less(a[1], b[1]) else 1 if rt.less(b[1], a[1]) else 0

    def sort(frame: _Frame) -> list[Any]:
        order = extra[0](frame) if extra else "asc"
        if order not in ("asc", "desc"):
            raise EvalFault(f"invalid order {order}, expected asc or desc")
        pairs = sorted(_each(items, body, frame), key=cmp_to_key(compare), reverse=order == "desc")
        return [item for item, _ in pairs]

    return sort


def _reduce(items: Compiled, body: Compiled, extra: list[Compiled]) -> Compiled:
    def reduce(frame: _Frame) -> Any:
        values = _sequence(items(frame))
        inner = _Frame(frame.env)
        start = 0
        if extra:
            inner.acc = extra[0](frame)
        elif values:
            inner.acc, start = values[0], 1
        for index in range(start, len(values)):
            inner.item, inner.index = values[index], index
            inner.acc = body(inner)
        return inner.acc

    return reduce


_PREDICATES: dict[str, tuple[int, int, PredicateBuilder]] = {
    "all": (2, 2, _all), "any": (2, 2, _any), "none": (2, 2, _none), "one": (2, 2, _one),
    "filter": (2, 2, _filter), "map": (2, 2, _map), "count": (1, 2, _count), "sum": (1, 2, _sum),
    "find": (2, 2, _find(last=False, want_index=False)),
    "findIndex": (2, 2, _find(last=False, want_index=True)),
    "findLast": (2, 2, _find(last=True, want_index=False)),
    "findLastIndex": (2, 2, _find(last=True, want_index=True)),
    "groupBy": (2, 2, _group_by), "sortBy": (2, 3, _sort_by), "reduce": (2, 3, _reduce),
}  # fmt: skip


# ---------------------------------------------------------------- operators


def _compile_pointer(node: Pointer) -> Compiled:
    if node.name == "":
        return lambda frame: frame.item
    if node.name == "index":
        return lambda frame: frame.index
    if node.name == "acc":
        return lambda frame: frame.acc
    raise _CompileFault(f"unknown pointer #{node.name}", node.pos)


def _compile_unary(node: Unary) -> Compiled:
    operand = _compile(node.operand)
    if node.op == "!":
        return _at(node.pos, lambda frame: not rt.truth(operand(frame), "operand of !"))
    op = rt.negate if node.op == "-" else rt.unary_plus
    return _at(node.pos, lambda frame: op(operand(frame)))


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": rt.add, "-": rt.subtract, "*": rt.multiply, "/": rt.divide, "%": rt.modulo,
    "**": rt.power, "^": rt.power, "..": rt.make_range,
    "==": rt.equal, "!=": lambda a, b: not rt.equal(a, b),
    "<": rt.less, ">": rt.more, "<=": rt.less_equal, ">=": rt.more_equal,
    "in": rt.contained_in, "matches": rt.matches, "contains": rt.contains,
    "startsWith": rt.starts_with, "endsWith": rt.ends_with,
}  # fmt: skip


def _compile_binary(node: Binary) -> Compiled:
    left, right = _compile(node.left), _compile(node.right)
    if node.op == "&&":
        return _at(
            node.pos, lambda f: rt.truth(left(f), "operand of &&") and rt.truth(right(f), "operand of &&")
        )
    if node.op == "||":
        return _at(
            node.pos, lambda f: rt.truth(left(f), "operand of ||") or rt.truth(right(f), "operand of ||")
        )
    if node.op == "??":

        def coalesce(frame: _Frame) -> Any:
            value = left(frame)
            return right(frame) if value is None else value

        return coalesce
    negated = node.op.startswith("not ")
    op = _BINARY[node.op.removeprefix("not ")]
    if negated:
        return _at(node.pos, lambda f: not op(left(f), right(f)))
    return _at(node.pos, lambda f: op(left(f), right(f)))


def _compile_ternary(node: Ternary) -> Compiled:
    cond, then, other = _compile(node.cond), _compile(node.then), _compile(node.other)
    return _at(node.pos, lambda f: then(f) if rt.truth(cond(f), "condition") else other(f))


def _compile_array(node: ArrayLit) -> Compiled:
    items = [_compile(i) for i in node.items]
    return lambda frame: [i(frame) for i in items]


def _compile_map(node: MapLit) -> Compiled:
    pairs = [(_compile(k), _compile(v)) for k, v in node.pairs]
    return lambda frame: {k(frame): v(frame) for k, v in pairs}


def _compile(node: Node) -> Compiled:
    match node:
        case Literal(value=value):
            return lambda frame: value
        case Var():
            return _compile_var(node)
        case Member():
            return _compile_member(node)
        case Slice():
            return _compile_slice(node)
        case Chain():
            return _compile_chain(node)
        case MethodCall():
            return _compile_method_call(node)
        case FuncCall():
            return _compile_func_call(node)
        case Pointer():
            return _compile_pointer(node)
        case Unary():
            return _compile_unary(node)
        case Binary():
            return _compile_binary(node)
        case Ternary():
            return _compile_ternary(node)
        case ArrayLit():
            return _compile_array(node)
        case MapLit():
            return _compile_map(node)
    raise _CompileFault("unexpected predicate block", node.pos)


# ---------------------------------------------------------------- references


def _path_of(node: Node) -> str | None:
    """Dotted path of a Var or of a member chain with constant string keys."""
    if isinstance(node, Chain):
        return _path_of(node.inner)
    if isinstance(node, Var):
        return None if node.name in ARGO_FUNCTIONS else node.name
    if isinstance(node, Member) and isinstance(node.key, Literal) and isinstance(node.key.value, str):
        parent = _path_of(node.obj)
        return None if parent is None else f"{parent}.{node.key.value}"
    return None


def _collect(node: Node, out: set[str]) -> None:
    path = _path_of(node)
    if path is not None:
        out.add(path)
        return
    if isinstance(node, Member):
        parent = _path_of(node.obj)
        if parent is not None:
            out.add(parent)
            _collect(node.key, out)
            return
    if isinstance(node, FuncCall) and not (
        node.name in BUILTINS or node.name in ARGO_FUNCTIONS or node.name in _PREDICATES
    ):
        out.add(node.name)
    for child in children(node):
        _collect(child, out)


class Expression:
    """A compiled expr-lang expression; immutable and safe to share between threads."""

    __slots__ = ("_fn", "_node", "_references", "source")

    def __init__(self, source: str, node: Node, fn: Compiled) -> None:
        self.source = source
        self._node = node
        self._fn = fn
        refs: set[str] = set()
        _collect(node, refs)
        self._references = frozenset(refs)

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        """Run against ``env``; ``ExpressionError`` on unknown names and type errors."""
        try:
            return self._fn(_Frame(env))
        except EvalFault as fault:
            raise ExpressionError(self.source, fault.reason, fault.pos) from None
        except _EXPECTED_ERRORS as exc:
            raise ExpressionError(self.source, str(exc) or type(exc).__name__) from None

    def references(self) -> frozenset[str]:
        """Dotted variable paths read, e.g. ``tasks.flip-coin.outputs.result``."""
        return self._references

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


@lru_cache(maxsize=8192)
def compile_expression(source: str) -> Expression:
    """Parse and compile ``source``; ``ExpressionError`` with the position on syntax errors."""
    node = parse(source)
    try:
        return Expression(source, node, _compile(node))
    except _CompileFault as fault:
        raise ExpressionError(source, fault.reason, fault.pos) from None
