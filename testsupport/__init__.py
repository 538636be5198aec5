"""Test support shared by every test suite: servers, fixtures, fault injection. Never
imported by the services themselves (it is not in their images)."""
