"""Which queue and which officer a request goes to."""
