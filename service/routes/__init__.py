"""The API routers, one per resource (what they share: `service/services.py`)."""
