"""evokegraph.ingest"""
