"""What every part of the library shares: how a movie id is read from a request."""

from typing import Annotated

from pydantic import BeforeValidator
from pydantic import Field as PydanticField

from shared.parsing import json_integer

# The constraints come first so the JSON Schema states them (exclusiveMinimum, maximum).
MovieIdValue = Annotated[int, PydanticField(gt=0, le=2**31 - 1), BeforeValidator(json_integer)]
