"""evokegraph.captioning"""
