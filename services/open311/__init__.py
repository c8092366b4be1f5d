"""Open311 GeoReport v2: the public catalog, request submission and a privacy-safe public view."""
