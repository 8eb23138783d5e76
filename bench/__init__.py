"""`make bench`: throughput and latency measured against reference ceilings in the same run."""
