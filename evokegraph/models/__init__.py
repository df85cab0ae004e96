"""The shared model layer: model loading used by every stage (ingest, captioning, eval)."""
