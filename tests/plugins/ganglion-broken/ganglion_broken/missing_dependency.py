"""Imports a package that is not installed."""

import ganglion_nonexistent_dependency  # noqa: F401
