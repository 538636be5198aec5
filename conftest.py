"""Fixtures for every test: the real PostgreSQL, Redis and RabbitMQ (see shared/testing.py)."""

pytest_plugins = ["shared.testing"]
