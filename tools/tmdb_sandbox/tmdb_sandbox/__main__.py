"""`python -m tmdb_sandbox extract WHEEL DIR` unpacks the data; `serve` runs the server."""

import argparse
from pathlib import Path

import uvicorn

from tmdb_sandbox.config import SandboxSettings
from tmdb_sandbox.data import extract, is_present


def main() -> None:
    parser = argparse.ArgumentParser(prog="tmdb_sandbox")
    commands = parser.add_subparsers(dest="command", required=True)
    unpack = commands.add_parser("extract", help="unpack MovieLens 100K from the recbole wheel")
    unpack.add_argument("wheel", type=Path)
    unpack.add_argument("data_dir", type=Path)
    commands.add_parser("check", help="exit 0 when the data is in place")
    serve = commands.add_parser("serve", help="run the TMDb-compatible server")
    serve.add_argument("--port", type=int, default=None)
    args = parser.parse_args()
    settings = SandboxSettings()
    if args.command == "extract":
        extract(args.wheel, args.data_dir)
        print(f"sandbox: MovieLens 100K unpacked into {args.data_dir}")
    elif args.command == "check":
        raise SystemExit(0 if is_present(settings.data_dir) else 1)
    else:
        uvicorn.run(
            "tmdb_sandbox.app:create_app",
            factory=True,
            host="127.0.0.1",
            port=args.port or settings.port,
            log_level="warning",
        )


if __name__ == "__main__":
    main()
