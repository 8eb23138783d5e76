"""Jobs the notify workers run."""
