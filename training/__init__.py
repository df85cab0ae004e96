"""evokegraph.training"""
