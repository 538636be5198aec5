"""The settings the e2e suite expects of any stack it runs against: the one it starts itself,
or a running one (`make compose-check` writes these into its compose environment)."""

TMDB_KEY = "e2e-tmdb-key-0f3a9c"
ADULT_MOVIE = 1681  # the sandbox marks it adult

STACK_SETTINGS = {
    "GATEWAY_RATE_LIMIT_IP_PER_MINUTE": "100000",
    "GATEWAY_RATE_LIMIT_USER_PER_MINUTE": "100000",
    "AUTH_LOGIN_FAILURES_PER_IP": "100000",
    "CATALOG_TMDB_READ_TIMEOUT_S": "1",
    "GATEWAY_STREAM_RECHECK_S": "1",
    "CATALOG_TMDB_BREAKER_COOLDOWN_S": "1",
    # A keyed TMDb (the sandbox requires this key), so tests can see the key never leaks.
    "TMDB_API_KEY": TMDB_KEY,
    "SANDBOX_API_KEY": TMDB_KEY,
    "SANDBOX_ADULT_IDS": f"[{ADULT_MOVIE}]",
    # Watched titles are looked at every 2 s, so release alerts come within the test's wait
    "CATALOG_RELEASE_CHECK_INTERVAL_S": "2",
    # The webhook tests' receiver runs on this machine's loopback
    "WEBHOOK_ALLOW_PRIVATE": "true",
}
