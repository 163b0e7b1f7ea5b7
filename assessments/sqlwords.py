"""Constants of the code written into a statement, not passed as parameters (issue 17, part 5).

PostgreSQL plans a prepared statement once (a generic plan) only where that plan is as good as one
made for the values: a partial index (`assessment_public_idx`: state = 'published';
`assessment_waiting_idx`: the waiting states) is used only if its condition can be proved from the
statement itself. With the state as a parameter, the statement was planned again on every request
(the public list's seven-table join: 5 ms of planning for 0.5 ms of work).
"""

from django.db.models import F, Value
from django.db.models.lookups import Exact, In


class Word(Value):
    """A plain word of the code (a state's value), written into the statement as a quoted literal.
    Anything else is refused: never a user's value."""

    def as_sql(self, compiler, connection):
        if not (isinstance(self.value, str) and self.value.isascii() and self.value.isidentifier()):
            raise ValueError(f"Only a plain word of the code is written into a statement, not {self.value!r}.")
        return f"'{self.value}'", []


class Constant(Value):
    """A text constant of the code (a label the portal shows), written into the statement as a
    quoted literal: an expression of an index (`Unit`'s `supervisor_label`) is used for a prepared
    statement's generic plan only if the statement writes the same constants. A quote, a backslash,
    a percent sign or a NUL is refused, and so is anything not a str."""

    def as_sql(self, compiler, connection):
        if not isinstance(self.value, str) or any(ch in self.value for ch in "'\\%\0"):
            raise ValueError(f"Only a plain constant of the code is written into a statement, not {self.value!r}.")
        return f"'{self.value}'", []


def equals(field: str, word: str) -> Exact:
    """`field = 'word'`, for `.filter()`."""
    return Exact(F(field), Word(str(word)))


def one_of(field: str, words) -> In:
    """`field IN ('a', 'b')`, for `.filter()`."""
    return In(F(field), [Word(str(w)) for w in words])
