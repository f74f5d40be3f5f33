"""Helpers shared by several modules; private, and kept tiny on purpose."""
