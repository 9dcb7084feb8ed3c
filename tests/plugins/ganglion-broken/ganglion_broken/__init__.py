"""Deliberately broken plugins (one per way a plugin can break)."""
