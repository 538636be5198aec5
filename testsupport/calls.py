"""Counting the calls a test expects to be made once."""

from typing import Any


def keys_of_script_calls(owner: object, attribute: str) -> list[list[str]]:
    """Wrap `owner.attribute`, a registered Redis script, so each call's KEYS are recorded in
    the list returned (the script still runs)."""
    script = getattr(owner, attribute)
    calls: list[list[str]] = []

    async def recorded(**kwargs: Any) -> Any:
        calls.append(list(kwargs["keys"]))
        return await script(**kwargs)

    setattr(owner, attribute, recorded)
    return calls
