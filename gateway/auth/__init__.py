"""Resident sign-up and sign-in: passwords, SMS one-time codes, access and refresh tokens."""
