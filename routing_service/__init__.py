"""Routing service: sends each submitted request to its department's queue."""
