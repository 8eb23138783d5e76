"""Working-time arithmetic on the Saudi government calendar for response-time targets."""
