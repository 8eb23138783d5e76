"""Partner government systems: OAuth2 client credentials, scopes, rotation, audit."""
