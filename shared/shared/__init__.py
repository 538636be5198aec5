"""Platform code every service of the movie-discovery backend shares."""
