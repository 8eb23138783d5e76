"""Residents' requests: drafts, submission, tracking."""
