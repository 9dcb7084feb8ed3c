"""Speech kept out of training and validation, as independent test material.

One policy, two ways it is met:

* by **voice name**, when a synthetic corpus picks its voices (:func:`reserved_voice`):
  festival's kal, slt, awb and rms voices (``kal_diphone``, ``cmu_us_slt_arctic_hts``,
  ``us-slt-hts``, ``cmu_us_awb_cg``, ``cmu_us_rms_cg``) and anything from flite;
* by **file path**, when recordings are read for training, e.g. as augmentation noise
  (:func:`reserved_recording`): the same voices' files and Debian's
  ``asterisk-core-sounds-*`` prompts.
"""

from __future__ import annotations

#: Reserved voices: a voice name with one of these as a part is refused.
RESERVED_VOICES: tuple[str, ...] = ("kal", "slt", "awb", "rms", "flite")

#: Reserved recordings: a file path holding one of these (lowercased) is refused.
RESERVED_PATH_PATTERNS: tuple[str, ...] = (
    "asterisk-core-sounds",
    "asterisk/sounds",
    "flite",
    "cmu_us_kal",
    "kal_diphone",
    "cmu_us_slt",
    "cmu_us_awb",
    "cmu_us_rms",
)


def reserved_voice(name: str) -> str | None:
    """The entry of :data:`RESERVED_VOICES` that voice ``name`` matches, or ``None``."""
    lowered = name.lower().removeprefix("festival:")
    if lowered.startswith("flite") or "flite" in lowered.split(":"):
        return "flite"
    parts = lowered.replace("-", "_").replace("+", "_").split("_")
    return next((r for r in RESERVED_VOICES if r in parts), None)


def reserved_recording(path: str) -> str | None:
    """The entry of :data:`RESERVED_PATH_PATTERNS` that file ``path`` holds, or ``None``."""
    lowered = str(path).replace("\\", "/").lower()
    return next((p for p in RESERVED_PATH_PATTERNS if p in lowered), None)
