"""schemathesis against the gateway's merged OpenAPI, with a signed-in user and every check.

The run is bounded (examples per operation, a fixed seed, no example database) so it takes
the same time, and finds the same things, on every machine. Left out: logout, password
change and account deletion, which would end the session the run signs in with
(test_auth.py and test_privacy.py cover them), and
the notification stream, which stays open until the client leaves, so every generated case
would wait out the request timeout (test_notifications.py covers it).
"""

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import Stack

HERE = Path(__file__).resolve().parent
MAX_EXAMPLES = 25


# Every operation, 25 examples each and the stateful links: about 90 s here, longer against
# the compose stack's two replicas of everything.
@pytest.mark.timeout(360)
def test_every_operation_conforms_to_the_schema_under_generated_input(
    stack: Stack, new_user: Callable[..., dict[str, str]], tmp_path: Path
) -> None:
    user = new_user()
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "run",
        f"{stack.url('gateway')}/openapi.json",
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer {user['access_token']}",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        "1",
        "--generation-database",
        "none",
        "--exclude-path",
        "/api/v1/auth/logout",
        "--exclude-path",
        "/api/v1/me/password",
        "--exclude-path",
        "/api/v1/me/delete",
        "--exclude-path",
        "/api/v1/notifications/stream",
        "--request-timeout",
        "20",
    ]
    run = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=1200)
    report = run.stdout[-30000:] + run.stderr[-2000:]
    assert run.returncode == 0, report
    print(run.stdout[-1500:])  # the summary, shown with pytest -s
    assert "Tested: " in run.stdout, report  # it reached the operations
