"""Delivery receipts from SMS providers, authenticated, moving statuses only forward."""
