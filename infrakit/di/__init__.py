"""Dependency injection (being written)."""
