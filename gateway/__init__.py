"""Gateway: the only public entry; signs residents in, rate-limits, forwards to the services."""
