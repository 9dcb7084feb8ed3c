"""ganglion-tts's neural modules, one idea per file; import them from their modules (the plugin
registers them by lazy ``"module:attr"`` paths, so importing this package costs nothing)."""
