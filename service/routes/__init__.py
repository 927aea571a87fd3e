"""The API routers, one per resource, and what they share."""
