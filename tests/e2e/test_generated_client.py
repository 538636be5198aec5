"""A client generated from the gateway's merged OpenAPI by a well-known generator
(openapi-python-client, from PyPI) signs up, browses and keeps favorites: what an app
developer gets from `/openapi.json` works as it is."""

import importlib
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.e2e.conftest import Stack

PACKAGE = "movies_generated_client"


@pytest.fixture(scope="module")
def generated(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("generated-client")
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [
            str(bin_dir / "openapi-python-client"),
            "generate",
            "--url",
            f"{stack.url('gateway')}/openapi.json",
            "--meta",
            "none",
            "--output-path",
            str(root / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout, result.stdout  # nothing of the API left out
    sys.path.insert(0, str(root))
    try:
        yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    finally:
        sys.path.remove(str(root))


def test_a_generated_client_signs_up_browses_and_keeps_favorites(
    stack: Stack, generated: Any
) -> None:
    module: ModuleType = generated("client")
    models = generated("models")
    register, login = generated("api.auth.auth_register"), generated("api.auth.auth_login")
    trending, details = generated("api.movies.movies_trending"), generated("api.movies.movies_get")
    add, listed = (
        generated("api.favorites.favorites_add"),
        generated("api.favorites.favorites_list"),
    )

    anonymous = module.Client(base_url=stack.url("gateway"))
    email, password = f"sdk-{os.urandom(4).hex()}@example.com", "a generated passphrase"
    account = register.sync(
        client=anonymous, body=models.RegisterIn(email=email, password=password)
    )
    assert isinstance(account, models.UserPublic), account
    tokens = login.sync(client=anonymous, body=models.LoginIn(email=email, password=password))
    assert isinstance(tokens, models.TokenPair), tokens

    page = trending.sync(client=anonymous)
    assert isinstance(page, models.MoviePage) and page.results
    movie = details.sync(client=anonymous, movie_id=page.results[0].id)
    assert isinstance(movie, models.MovieDetail) and movie.title

    user = module.AuthenticatedClient(base_url=stack.url("gateway"), token=tokens.access_token)
    added = add.sync(client=user, body=models.FavoriteIn(movie_id=movie.id))
    assert isinstance(added, models.FavoritePublic) and added.movie_id == movie.id
    favorites = listed.sync(client=user)
    assert isinstance(favorites, models.FavoritesPage)
    assert [item.movie.id for item in favorites.results] == [movie.id]
