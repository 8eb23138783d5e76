"""Open311 GeoReport v2 for partner systems, on top of intake's partner API."""
