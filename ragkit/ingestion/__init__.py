"""Ingestion stages: discover → parse → chunk → (embed → store) in :mod:`.pipeline`."""
