"""Reading numbers that clients wrote, without the traps of `str.isdigit()` and `int()`.

`"²".isdigit()` is true and `int("²")` raises; `int()` of more than 4,300 digits raises too.
Both turned hostile input into 500s; this gives None instead, for the caller to refuse.

In a JSON body an integer field takes a JSON integer (`json_integer`, a BeforeValidator after
the field's constraints, so the JSON Schema states them), not the lax forms a pydantic `int`
lets through ("7", true).
"""


def ascii_int(text: str | None, *, max_digits: int = 18) -> int | None:
    """The non-negative integer `text` spells in ASCII digits (at most `max_digits`, so it fits
    PostgreSQL's bigint), else None."""
    if not text or len(text) > max_digits or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def json_integer(value: object) -> object:
    """A JSON integer: 7 or 7.0, never "7" or true (JSON Schema's own definition)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("Input should be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("Input should be a whole number")
        return int(value)
    return value
