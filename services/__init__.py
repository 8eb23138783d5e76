"""Catalog of the e-services a resident can request, kept as validated data."""
