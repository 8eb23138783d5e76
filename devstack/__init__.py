"""Starts the whole system on one machine: for `make run` and for the end-to-end tests."""
