"""The core's own plugins: built-ins registered through the same hooks as everyone else's."""
