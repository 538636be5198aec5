"""Reading numbers that clients wrote, without the traps of `str.isdigit()` and `int()`.

`"²".isdigit()` is true and `int("²")` raises; `int()` of more than 4,300 digits raises too.
Both turned hostile input into 500s; this gives None instead, for the caller to refuse.
"""


def ascii_int(text: str | None, *, max_digits: int = 18) -> int | None:
    """The non-negative integer `text` spells in ASCII digits (at most `max_digits`, so it fits
    PostgreSQL's bigint), else None."""
    if not text or len(text) > max_digits or not (text.isascii() and text.isdigit()):
        return None
    return int(text)
