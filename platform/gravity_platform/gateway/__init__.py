"""The gateway: the public edge of a node, itself a plugin."""
