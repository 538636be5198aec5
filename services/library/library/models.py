"""What every part of the library shares: how a movie id is read from a request."""

from typing import Annotated

from pydantic import BeforeValidator
from pydantic import Field as PydanticField


def _json_integer(value: object) -> object:
    """A JSON integer: 7 or 7.0, never "7" or true (JSON Schema's own definition)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("Input should be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("Input should be a whole number")
        return int(value)
    return value


# The constraints come first so the JSON Schema states them (exclusiveMinimum, maximum).
MovieIdValue = Annotated[int, PydanticField(gt=0, le=2**31 - 1), BeforeValidator(_json_integer)]
