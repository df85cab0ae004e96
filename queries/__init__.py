"""evokegraph.queries"""
