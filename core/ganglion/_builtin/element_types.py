"""Built-in plugin: the core's domain-neutral element types."""

from ganglion.hookspecs import hookimpl


@hookimpl
def register_element_types(register):
    # imported here, not at the top, so that loading this plugin stays cheap (the types
    # import no torch either)
    from ganglion.types.elements import CORE_ELEMENT_TYPES

    for cls in CORE_ELEMENT_TYPES:
        register(cls.__name__, cls)
