"""Ops command line for the event bus.

    python -m shared.bus dlq list QUEUE           one line per dead letter
    python -m shared.bus dlq show QUEUE MESSAGE_ID  headers, error and body of one
    python -m shared.bus dlq replay QUEUE (MESSAGE_ID | --all)  back to the consumer's queue

QUEUE is a consuming service's name (recommendations), its queue (movies.recommendations)
or its dead-letter queue (movies.recommendations.dlq). AMQP_URL and BUS_NAMESPACE are read
from the environment as the services read them.
"""

import argparse
import asyncio
import json
import sys

from aiormq.exceptions import AMQPConnectionError, ChannelNotFoundEntity

from shared.bus.bus import broker_urls
from shared.bus.dlq import list_dead_letters, replay
from shared.bus.topology import Topology
from shared.config import PlatformSettings


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(argv)
    except ChannelNotFoundEntity as exc:
        print(f"no such queue: {exc}", file=sys.stderr)
    except (ConnectionError, AMQPConnectionError) as exc:
        print(f"cannot reach the broker: {exc}", file=sys.stderr)
    return 2


def _run(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.bus",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    groups = parser.add_subparsers(dest="group", required=True)
    dlq = groups.add_parser("dlq", help="dead-letter queues").add_subparsers(
        dest="command", required=True
    )
    listing = dlq.add_parser("list")
    listing.add_argument("queue")
    listing.add_argument("--limit", type=int, default=100)
    show = dlq.add_parser("show")
    show.add_argument("queue")
    show.add_argument("message_id")
    again = dlq.add_parser("replay")
    again.add_argument("queue")
    target = again.add_mutually_exclusive_group(required=True)
    target.add_argument("message_id", nargs="?")
    target.add_argument("--all", action="store_true")
    args = parser.parse_args(argv)

    settings = PlatformSettings()
    dead_letter_queue, consumer_queue = Topology(settings.bus_namespace).resolve(args.queue)
    if args.command == "list":
        letters = asyncio.run(
            list_dead_letters(broker_urls(settings.amqp_url)[0], dead_letter_queue, args.limit)
        )
        for letter in letters:
            print(letter.summary())
        print(f"{len(letters)} dead letter(s) in {dead_letter_queue}", file=sys.stderr)
        return 0
    if args.command == "show":
        letters = asyncio.run(
            list_dead_letters(broker_urls(settings.amqp_url)[0], dead_letter_queue, 10_000)
        )
        found = [letter for letter in letters if letter.message_id == args.message_id]
        if not found:
            print(f"no message {args.message_id} in {dead_letter_queue}", file=sys.stderr)
            return 1
        print(json.dumps(found[0].detail(), indent=2, default=str))
        return 0
    count = asyncio.run(
        replay(
            broker_urls(settings.amqp_url)[0],
            dead_letter_queue,
            consumer_queue,
            message_id=None if args.all else args.message_id,
        )
    )
    print(f"replayed {count} message(s) from {dead_letter_queue} to {consumer_queue}")
    return 0 if count or args.all else 1


if __name__ == "__main__":
    raise SystemExit(main())
