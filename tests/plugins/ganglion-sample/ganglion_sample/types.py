"""An element type that only this plugin provides."""

from ganglion.types import ElementType


class PitchContourType(ElementType):
    """Fundamental frequency per frame, in Hz."""
