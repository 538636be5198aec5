"""A TMDb-compatible server over MovieLens 100K, for development and tests."""
