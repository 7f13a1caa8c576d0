"""The single error type raised by every expression language in this package.

Callers (template renderer, linter, sensors) only need to catch one type and can show the user
where in the source the problem is.
"""

from __future__ import annotations

from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken


class ExpressionError(ValueError):
    """A syntax or evaluation error in an expression, with the offending character offset."""

    def __init__(self, expression: str, reason: str, position: int | None = None) -> None:
        self.expression = expression
        self.reason = reason
        self.position = position
        super().__init__(str(self))

    def __str__(self) -> str:
        where = "" if self.position is None else f" at {self.position}"
        return f'invalid expression "{self.expression}": {self.reason}{where}'

    def __reduce__(self) -> tuple[type[ExpressionError], tuple[str, str, int | None]]:
        return (type(self), (self.expression, self.reason, self.position))


def syntax_error(source: str, exc: UnexpectedInput) -> ExpressionError:
    """Translate a lark parse failure into an ``ExpressionError`` pointing at the offending text."""
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        return ExpressionError(source, "unexpected end of input", len(source))
    if isinstance(exc, UnexpectedToken):
        return ExpressionError(source, f"unexpected token {exc.token!s}", exc.token.start_pos)
    pos = exc.pos_in_stream or 0
    if isinstance(exc, UnexpectedCharacters):
        return ExpressionError(source, f"unrecognized character {source[pos]!r}", pos)
    return ExpressionError(source, str(exc), pos)
