"""The message log: what was sent to a phone, when, and whether it arrived."""
