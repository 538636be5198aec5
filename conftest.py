"""Fixtures for every test: the real PostgreSQL, Redis and RabbitMQ (see testsupport/infra.py)."""

pytest_plugins = ["testsupport.infra", "testsupport.timeouts"]
