"""ragkit-ingest: the ingestion CLI app (installed as ragkit_ingest)."""
