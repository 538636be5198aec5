"""Auth and profile routes (tags `auth`, `profile` in the OpenAPI); logic lives in service.py."""

import logging
from typing import Annotated

from fastapi import Depends, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlmodel import Session

from auth import service
from auth.config import AuthSettings
from auth.deps import ExporterDep, PasswordsDep, RevocationsDep, ThrottleDep
from auth.models import (
    AccountDeleteIn,
    AccountExport,
    LoginIn,
    PasswordChangeIn,
    Preferences,
    ProfilePublic,
    ProfileUpdate,
    RefreshIn,
    RegisterIn,
    TokenPair,
    User,
    UserPublic,
)
from auth.passwords import Passwords
from auth.revocations import RevocationUnavailable
from auth.throttle import LoginThrottle, ThrottleUnavailable
from shared.app import API_PREFIX, service_router
from shared.db import utcnow
from shared.deps import ClientIp, CurrentPrincipal, RuntimeDep, SessionDep
from shared.errors import DependencyUnavailable, ProblemError, problem_responses
from shared.security import Principal
from shared.threads import run_sync

logger = logging.getLogger(__name__)
router = service_router(prefix=API_PREFIX)

INVALID_CREDENTIALS = "Invalid email or password"
DENYLIST = "The token denylist"
THROTTLE = "Login throttling"


async def _settings(runtime: RuntimeDep) -> AuthSettings:
    assert isinstance(runtime.settings, AuthSettings)
    return runtime.settings


SettingsDep = Annotated[AuthSettings, Depends(_settings)]


def _pair(tokens: service.IssuedTokens) -> TokenPair:
    return TokenPair(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
    )


def _profile(user: User) -> ProfilePublic:
    return ProfilePublic(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        created_at=user.created_at,
        preferences=Preferences.model_validate(user.preferences),
    )


async def _current_user(session: Session, principal: Principal) -> User:
    user = await run_sync(service.get_user, session, user_id=principal.user_id)
    if user is None or user.deleted_at is not None:
        raise ProblemError(
            401, "The account no longer exists", headers={"WWW-Authenticate": "Bearer"}
        )
    return user


@router.post(
    "/auth/register",
    operation_id="auth_register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPublic,
    responses=problem_responses(409, 413, 422),
    tags=["auth"],
    summary="Create an account",
)
async def register(body: RegisterIn, session: SessionDep, passwords: PasswordsDep) -> UserPublic:
    try:
        user = await run_sync(service.register, session, data=body, passwords=passwords)
    except service.EmailTaken as exc:
        raise ProblemError(409, "An account with this email already exists") from exc
    return UserPublic.model_validate(user, from_attributes=True)


async def _login(
    *,
    email: str,
    password: str,
    ip: str,
    session: Session,
    passwords: Passwords,
    throttle: LoginThrottle,
    settings: AuthSettings,
) -> TokenPair:
    try:
        if (wait_s := await throttle.attempt(email=email, ip=ip)) is not None:
            raise ProblemError(
                429, "Too many failed logins, try again later", headers={"Retry-After": str(wait_s)}
            )
        try:
            user = await run_sync(
                service.authenticate, session, email=email, password=password, passwords=passwords
            )
        except Exception:
            await throttle.undecided(email=email, ip=ip)
            raise
        if user is None:
            raise ProblemError(401, INVALID_CREDENTIALS)
        await throttle.succeeded(email=email, ip=ip)
    except ThrottleUnavailable as exc:
        raise DependencyUnavailable(THROTTLE) from exc
    tokens = await run_sync(service.start_session, session, user=user, settings=settings)
    return _pair(tokens)


@router.post(
    "/auth/login",
    operation_id="auth_login",
    response_model=TokenPair,
    responses=problem_responses(401, 413, 422, 429, 503),
    tags=["auth"],
    summary="Log in with email and password",
)
async def login(
    body: LoginIn,
    ip: ClientIp,
    session: SessionDep,
    passwords: PasswordsDep,
    throttle: ThrottleDep,
    settings: SettingsDep,
) -> TokenPair:
    return await _login(
        email=body.email,
        password=body.password,
        ip=ip,
        session=session,
        passwords=passwords,
        throttle=throttle,
        settings=settings,
    )


@router.post(
    "/auth/token",
    operation_id="auth_token",
    response_model=TokenPair,
    responses=problem_responses(401, 413, 422, 429, 503),
    tags=["auth"],
    summary="Log in with the OAuth2 password form (username = email)",
)
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    ip: ClientIp,
    session: SessionDep,
    passwords: PasswordsDep,
    throttle: ThrottleDep,
    settings: SettingsDep,
) -> TokenPair:
    if len(form.password) > 128 or len(form.username) > 320:
        raise ProblemError(401, INVALID_CREDENTIALS)
    return await _login(
        email=form.username,
        password=form.password,
        ip=ip,
        session=session,
        passwords=passwords,
        throttle=throttle,
        settings=settings,
    )


@router.post(
    "/auth/refresh",
    operation_id="auth_refresh",
    response_model=TokenPair,
    responses=problem_responses(401, 413, 422, 503),
    tags=["auth"],
    summary="Trade a refresh token for a new pair; the old one is spent",
)
async def refresh(
    body: RefreshIn, session: SessionDep, revocations: RevocationsDep, settings: SettingsDep
) -> TokenPair:
    try:
        tokens = await run_sync(
            service.rotate_refresh_token,
            session,
            refresh_token=body.refresh_token,
            settings=settings,
            copy=revocations,
        )
    except RevocationUnavailable as exc:
        raise DependencyUnavailable(DENYLIST) from exc
    except service.RefreshTokenReused as exc:
        logger.warning("refresh token reused; login revoked", extra={"session_id": exc.session_id})
        raise ProblemError(
            401, "The refresh token is invalid", headers={"WWW-Authenticate": "Bearer"}
        ) from exc
    except service.InvalidRefreshToken as exc:
        raise ProblemError(
            401, "The refresh token is invalid", headers={"WWW-Authenticate": "Bearer"}
        ) from exc
    return _pair(tokens)


@router.post(
    "/auth/logout",
    operation_id="auth_logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 503),
    tags=["auth"],
    summary="End this login: its access and refresh tokens stop working at once",
)
async def logout(
    principal: CurrentPrincipal, session: SessionDep, revocations: RevocationsDep
) -> Response:
    try:
        await run_sync(
            service.end_session, session, session_id=principal.session_id, copy=revocations
        )
    except RevocationUnavailable as exc:
        raise DependencyUnavailable(DENYLIST) from exc
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/me",
    operation_id="profile_get",
    response_model=ProfilePublic,
    responses=problem_responses(401),
    tags=["profile"],
    summary="The caller's profile and preferences",
)
async def get_me(principal: CurrentPrincipal, session: SessionDep) -> ProfilePublic:
    return _profile(await _current_user(session, principal))


@router.patch(
    "/me",
    operation_id="profile_update",
    response_model=ProfilePublic,
    responses=problem_responses(401, 413, 422),
    tags=["profile"],
    summary="Change display name or preferences (other fields are refused)",
)
async def patch_me(
    body: ProfileUpdate, principal: CurrentPrincipal, session: SessionDep
) -> ProfilePublic:
    user = await _current_user(session, principal)
    user = await run_sync(service.update_profile, session, user=user, changes=body)
    return _profile(user)


@router.post(
    "/me/password",
    operation_id="profile_change_password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 413, 422, 429, 503),
    tags=["profile"],
    summary="Change the password; every other login ends",
)
async def change_password(
    body: PasswordChangeIn,
    principal: CurrentPrincipal,
    ip: ClientIp,
    session: SessionDep,
    revocations: RevocationsDep,
    passwords: PasswordsDep,
    throttle: ThrottleDep,
) -> Response:
    user = await _current_user(session, principal)
    if body.new_password.lower() == user.email.lower():
        raise ProblemError(422, "The password must not be the email address")
    await _check_password(
        user=user, password=body.current_password, ip=ip, passwords=passwords, throttle=throttle
    )
    try:
        await run_sync(
            service.change_password,
            session,
            user=user,
            new_password=body.new_password,
            keep_session_id=principal.session_id,
            passwords=passwords,
            copy=revocations,
        )
    except RevocationUnavailable as exc:
        raise DependencyUnavailable(DENYLIST) from exc
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _check_password(
    *, user: User, password: str, ip: str, passwords: Passwords, throttle: LoginThrottle
) -> None:
    """401 for a wrong password, 429 after repeated ones (counted as failed logins are)."""
    try:
        if (wait_s := await throttle.attempt(email=user.email, ip=ip)) is not None:
            raise ProblemError(
                429, "Too many failed attempts", headers={"Retry-After": str(wait_s)}
            )
        if not await run_sync(passwords.verify, user.password_hash, password):
            raise ProblemError(401, "The password is wrong", headers={"WWW-Authenticate": "Bearer"})
        await throttle.succeeded(email=user.email, ip=ip)
    except ThrottleUnavailable as exc:
        raise DependencyUnavailable(THROTTLE) from exc


@router.get(
    "/me/export",
    operation_id="privacy_export",
    response_model=AccountExport,
    responses=problem_responses(401, 503),
    tags=["privacy"],
    summary="Everything the system holds of you, as JSON",
)
async def export_account(
    principal: CurrentPrincipal, session: SessionDep, exporter: ExporterDep
) -> AccountExport:
    user = await _current_user(session, principal)
    profile = _profile(user)
    session.rollback()  # no transaction held while the other services answer
    parts = await exporter.parts(user.id)
    return AccountExport.model_validate({"exported_at": utcnow(), "profile": profile, **parts})


@router.post(
    "/me/delete",
    operation_id="privacy_delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 413, 422, 429, 503),
    tags=["privacy"],
    summary="Delete the account and everything it holds, in every service",
    description="Every login ends at once; the services remove what they hold of the account "
    "as they take its `user.deleted` event (favorites, watchlist, ratings, reviews, history, "
    "notifications, taste profile). The email can be used to sign up again.",
)
async def delete_account(
    body: AccountDeleteIn,
    principal: CurrentPrincipal,
    ip: ClientIp,
    session: SessionDep,
    revocations: RevocationsDep,
    passwords: PasswordsDep,
    throttle: ThrottleDep,
) -> Response:
    user = await _current_user(session, principal)
    await _check_password(
        user=user, password=body.password, ip=ip, passwords=passwords, throttle=throttle
    )
    try:
        ended = await run_sync(service.delete_account, session, user=user, copy=revocations)
    except RevocationUnavailable as exc:
        raise DependencyUnavailable(DENYLIST) from exc
    logger.info("account deleted", extra={"user_id": str(user.id), "logins_ended": len(ended)})
    return Response(status_code=status.HTTP_204_NO_CONTENT)
