"""Helpers for the functional suite: processes, keys and tokens, databases, the HTTP client and the
stack (user-service instances behind a real nginx gateway)."""
