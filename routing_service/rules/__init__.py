"""Routing rules, managed by admins without a restart."""
