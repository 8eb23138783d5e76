"""`make soak`: the long fault scenario of issue 8, with its figures printed at the end.

    python -m tests.chaos.soak [--submissions 10000] [--minutes 30] [--clients 8]

10,000 submissions over at least 30 minutes while every worker type is killed, Redis is
killed three times, Postgres crashes once (down 15 s) and the SMS provider answers 500 for a
minute. Exits 1 if an invariant fails. scripts/soak.sh provides S3; Postgres, Redis and the
SMS provider are the scenario's own. The client history is kept as JSONL beside the logs.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import boto3

from tests.chaos.cluster import cluster
from tests.chaos.history import History
from tests.chaos.scenario import plan, run
from tests.support.buckets import remove_bucket


def _base_env(token: str) -> dict[str, str]:
    """What every process gets besides the scenario's own Postgres, Redis and SMS provider."""
    key = os.environ.get("AWS_ACCESS_KEY_ID", "testing")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "testing")
    region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    return {
        "ENVIRONMENT": "test",
        "QUEUE_PREFIX": f"tawasul-soak-{token}",
        "S3_ENDPOINT_URL": os.environ["S3_ENDPOINT_URL"],
        "S3_BUCKET": f"tawasul-soak-{token}",
        "S3_REGION": region,
        "S3_ACCESS_KEY_ID": key,
        "S3_SECRET_ACCESS_KEY": secret,
        "AWS_ACCESS_KEY_ID": key,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": region,
        "LOG_JSON": "true",
        "LOG_LEVEL": "INFO",
    }


def main(argv: list[str] | None = None) -> int:
    """Run the soak; 0 when every invariant holds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=10_000)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--short-faults", action="store_true", help="hold faults for seconds")
    args = parser.parse_args(argv)
    if "S3_ENDPOINT_URL" not in os.environ:
        print("S3_ENDPOINT_URL is not set: run `make soak`", file=sys.stderr)
        return 2
    token = secrets.token_hex(4)
    env = _base_env(token)
    work = Path(tempfile.mkdtemp(prefix="tawasul-soak-"))
    s3 = boto3.client(
        "s3",
        endpoint_url=env["S3_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )
    s3.create_bucket(Bucket=env["S3_BUCKET"])
    scenario = plan(args.submissions, args.minutes * 60, long_holds=not args.short_faults)
    scenario = replace(scenario, clients=args.clients, settle_seconds=600, give_up_seconds=300)
    history = History(work / "history.jsonl")
    print(f"soak: {args.submissions} submissions over {args.minutes:g} min; files in {work}")
    try:
        with cluster(env, work) as running:
            report = run(running, scenario, history)
    finally:
        history.close()
        remove_bucket(s3, env["S3_BUCKET"])  # with the documents the clients uploaded
    print("\n".join(report.lines()))
    return 1 if report.invariants.violations() else 0


if __name__ == "__main__":
    sys.exit(main())
