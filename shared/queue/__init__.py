"""The queue contract: queue and job names, the outbox that owes jobs, the relay, the runner."""
