"""`python -m bench.scale --scale 0.01`: the data-at-scale benchmark alone, as JSON on stdout."""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

from bench.scale.run import measure_scale
from bench.stack import base_env


def main() -> None:
    """Command-line entry; progress goes to stderr."""
    parser = argparse.ArgumentParser(prog="python -m bench.scale")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="fraction of the national size (13M residents, 40M requests); 0.01 for a quick run",
    )
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--repeats", type=int, default=3, help="wrk runs per read and size")
    parser.add_argument("--output", type=Path, help="also write the JSON to this file")
    args = parser.parse_args()
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        **measure_scale(base_env(), scale=args.scale, seconds=args.seconds, repeats=args.repeats),
    }
    text = json.dumps(report, indent=2, default=str)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
