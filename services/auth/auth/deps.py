"""Dependencies of the auth routes."""

from typing import Annotated

from fastapi import Depends, Request

from auth.export import AccountExporter
from auth.passwords import Passwords
from auth.revocations import RevocationCopy
from auth.throttle import LoginThrottle


async def get_passwords(request: Request) -> Passwords:
    passwords: Passwords = request.app.state.passwords
    return passwords


async def get_throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.throttle
    return throttle


PasswordsDep = Annotated[Passwords, Depends(get_passwords)]
ThrottleDep = Annotated[LoginThrottle, Depends(get_throttle)]


async def get_revocations(request: Request) -> RevocationCopy:
    revocations: RevocationCopy = request.app.state.revocations
    return revocations


RevocationsDep = Annotated[RevocationCopy, Depends(get_revocations)]


async def get_exporter(request: Request) -> AccountExporter:
    exporter: AccountExporter = request.app.state.exporter
    return exporter


ExporterDep = Annotated[AccountExporter, Depends(get_exporter)]
