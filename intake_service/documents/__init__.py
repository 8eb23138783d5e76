"""Documents attached to requests, kept in S3."""
