"""The merged OpenAPI documents security and every status the gateway itself can add."""

from gateway.openapi import merge

AUTH_DOC = {
    "openapi": "3.1.0",
    "paths": {
        "/api/v1/me": {"get": {"responses": {"200": {"description": "ok"}}}},
        "/api/v1/auth/register": {"post": {"responses": {"201": {"description": "ok"}}}},
        "/healthz": {"get": {"responses": {}}},
    },
    "components": {"schemas": {"UserPublic": {"type": "object"}}},
}
CATALOG_DOC = {
    "paths": {"/api/v1/movies/{movie_id}": {"get": {"responses": {"200": {"description": "ok"}}}}},
    "components": {"schemas": {"MovieDetail": {"type": "object"}}},
}


def test_merge_keeps_only_public_paths_and_all_schemas() -> None:
    merged = merge([AUTH_DOC, CATALOG_DOC])
    assert set(merged["paths"]) == {
        "/api/v1/me",
        "/api/v1/auth/register",
        "/api/v1/movies/{movie_id}",
    }
    assert {"UserPublic", "MovieDetail", "Problem", "ValidationProblem"} <= set(
        merged["components"]["schemas"]
    )


def test_security_follows_the_route_table() -> None:
    merged = merge([AUTH_DOC, CATALOG_DOC])
    me = merged["paths"]["/api/v1/me"]["get"]
    assert me["security"] == [{"bearerAuth": []}, {"oauth2Password": []}]
    assert "401" in me["responses"]
    register = merged["paths"]["/api/v1/auth/register"]["post"]
    assert "security" not in register
    assert "401" not in register["responses"]
    assert "413" in register["responses"]
    movie = merged["paths"]["/api/v1/movies/{movie_id}"]["get"]
    assert {} in movie["security"]
    assert (
        merged["components"]["securitySchemes"]["oauth2Password"]["flows"]["password"]["tokenUrl"]
        == "/api/v1/auth/token"
    )


def test_gateway_errors_are_problem_json() -> None:
    merged = merge([AUTH_DOC])
    for status in ("429", "503", "504"):
        content = merged["paths"]["/api/v1/me"]["get"]["responses"][status]["content"]
        assert list(content) == ["application/problem+json"]
