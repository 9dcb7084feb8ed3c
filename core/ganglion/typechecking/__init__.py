"""``@typecheck()``: check a method's inputs and outputs against declared neural types.

Put it on ``forward`` (or any method) of an object that declares ``input_types`` and/or
``output_types`` — a :class:`~ganglion.module.NeuralModule`, a loss, a dataset's
``collate_fn``::

    from ganglion import NeuralModule, NeuralType, typecheck

    class Encoder(NeuralModule):
        @property
        def input_types(self):
            return {"audio_signal": NeuralType(("B", "D", "T"), SpectrogramType()),
                    "length": NeuralType(("B",), LengthsType())}

        @property
        def output_types(self):
            return {"outputs": NeuralType(("B", "D", "T"), AcousticEncodedRepresentation()),
                    "encoded_lengths": NeuralType(("B",), LengthsType())}

        @typecheck()
        def forward(self, audio_signal, length):
            ...

What it does on each call:

* inputs, passed by position or by keyword: a tensor that carries a type (the output of
  another typed module) is compared with the port's type with the full semantics of
  :meth:`NeuralType.compare`; a tensor with no type is checked on its rank and on the sizes
  the port declares; ``None`` is accepted for optional ports only; lists are checked item by
  item for list ports; other values are not checked;
* outputs: checked on rank and declared sizes, and each output tensor (lists included)
  gets the port's type as ``tensor.neural_type``. A tensor that already carries a type the
  port accepts keeps it (it is the more precise one; a module returning its input unchanged
  must not rewrite its caller's tensor); as for inputs, declared sizes are checked on the
  tensor, not looked for in its type.

An error is a :class:`~ganglion.types.NeuralTypeError` naming the class and method, the
port, the expected and the given type, the comparison result and the reason.

Ports map onto the method's parameters by name, so positional and keyword calls are checked
alike; a port with no parameter of its name is reached through ``*args`` (in declared order)
or ``**kwargs``. A required port left at its default ``None`` is an error.

Cost: the ports are read once per object and turned into a plan (call
:meth:`typecheck.reset` after changing what ``input_types``/``output_types`` return); each
call then does a rank check or a cached comparison per input and one attribute store per
output (``bench/bench_typecheck.py`` measures it).

Under ``torch.compile`` and ``torch.export`` (and so ONNX export) nothing is checked and
nothing is recorded: the traced graph is the plain module's. Turn checks off with
``with typecheck.disable_checks():`` (the current thread or asyncio task only) or for the
whole process with ``GANGLION_TYPECHECK=0``.

The modules: :mod:`.decorator` (the ``typecheck`` class), :mod:`.wrapper` (the function
put in place of the method), :mod:`.plan` (ports turned into per-call plans),
:mod:`.checks` (the general checks), :mod:`.messages` (the errors), :mod:`.switch` (on/off).
"""

from ganglion.typechecking.decorator import typecheck
from ganglion.typechecking.switch import ENV_SWITCH, enabled_from_env

__all__ = ["ENV_SWITCH", "enabled_from_env", "typecheck"]
