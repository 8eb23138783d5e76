"""The e-service catalog as residents browse it."""
