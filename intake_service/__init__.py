"""Intake service: catalog, drafts, documents, submission and tracking of residents' requests."""
