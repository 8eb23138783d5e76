"""Jobs the routing worker runs."""
