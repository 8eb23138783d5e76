"""Webhooks to partner systems: subscriptions, signed deliveries, retries, dead letters."""
