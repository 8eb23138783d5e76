"""Code every service shares: settings, schema, queue contract, identity, errors, logging."""
