"""Ops CLI: inspect and replay dead-lettered Pub/Sub messages.

Poison messages land on a dead-letter topic (resources.yaml `dead_letter`) and wait on its
`*-dead-inspect` subscription. Once the cause is fixed, replay republishes them, data and
attributes unchanged, to the topic they came from; each is acked only after its republish
succeeded, so a failed replay loses nothing. Consumers are idempotent, so replaying a message
that was in fact processed is harmless.

    python scripts/replay_dead_letters.py list   media-object-events
    python scripts/replay_dead_letters.py replay media-object-events [--max 100]

Works against the emulator (PUBSUB_EMULATOR_HOST, e.g. after `source .local/stack.env`) and
the cloud alike (GCP_PROJECT).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def dead_letter_route(topic: str) -> tuple[str, str]:
    """(dead-letter topic, its inspection subscription) for an origin topic."""
    res = yaml.safe_load((ROOT / "shared" / "resources.yaml").read_text())
    origin = next((t for t in res["topics"] if t["name"] == topic), None)
    if origin is None or not origin.get("dead_letter"):
        raise SystemExit(f"{topic!r} has no dead-letter topic in shared/resources.yaml")
    dead = origin["dead_letter"]
    sub = next((s["name"] for s in res["subscriptions"] if s["topic"] == dead), None)
    if sub is None:
        raise SystemExit(f"no subscription on {dead!r} in shared/resources.yaml")
    return dead, sub


def _pull(project: str, subscription: str, max_messages: int) -> tuple[Any, str, list[Any]]:
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(project, subscription)
    resp = subscriber.pull(subscription=path, max_messages=max_messages, timeout=10)
    return subscriber, path, list(resp.received_messages)


def list_messages(project: str, topic: str, max_messages: int = 100) -> list[dict[str, Any]]:
    """What is waiting (left unacked: it stays for a later replay)."""
    _, sub = dead_letter_route(topic)
    subscriber, path, received = _pull(project, sub, max_messages)
    if received:  # hand them back at once instead of waiting out the ack deadline
        subscriber.modify_ack_deadline(
            subscription=path, ack_ids=[m.ack_id for m in received], ack_deadline_seconds=0
        )
    return [
        {
            "message_id": m.message.message_id,
            "attributes": dict(m.message.attributes),
            "bytes": len(m.message.data),
        }
        for m in received
    ]


def replay(project: str, topic: str, max_messages: int = 100) -> int:
    """Republish up to `max_messages` dead letters to `topic`; answer how many."""
    from google.cloud import pubsub_v1

    _, sub = dead_letter_route(topic)
    subscriber, path, received = _pull(project, sub, max_messages)
    publisher = pubsub_v1.PublisherClient()
    target = publisher.topic_path(project, topic)
    done = 0
    for m in received:
        attrs = {
            k: v
            for k, v in m.message.attributes.items()
            if not k.startswith("CloudPubSubDeadLetter")
        }
        publisher.publish(target, m.message.data, **attrs).result(timeout=30)
        subscriber.acknowledge(subscription=path, ack_ids=[m.ack_id])
        done += 1
    return done


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument("topic", help="the origin topic, e.g. media-object-events")
    parser.add_argument("--max", type=int, default=100)
    parser.add_argument("--project", default=os.environ.get("GCP_PROJECT", "local-project"))
    args = parser.parse_args(argv)
    if args.command == "list":
        for row in list_messages(args.project, args.topic, args.max):
            print(row)
    else:
        print(f"replayed {replay(args.project, args.topic, args.max)} message(s) to {args.topic}")


if __name__ == "__main__":
    sys.exit(main())
