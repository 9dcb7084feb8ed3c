"""A third-party ganglion plugin used by ganglion's tests: discovery, lazy import, listing."""
