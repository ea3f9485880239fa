"""Interop with other frameworks (optional dependencies)."""
