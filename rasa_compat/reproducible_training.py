"""The same training data gives the same model on every host: oneDNN's instruction set is capped.

Why: TensorFlow 2.12 runs its matrix products through oneDNN, which picks its kernels at run
time by the CPU's instruction set (AVX-512 on one host, AVX2 on another), and the kernels add up
in different orders. A plain float32 matmul comes out with other bits under AVX-512, AVX2, AVX
or SSE4.1 (measured on this project's CI host, issue 13), and eighty epochs of DIET turn those
last bits into a different model: the same data and seeds gave 238 of 262 held-out utterances
right on one CI host and 241 on another. Capping oneDNN at AVX2 (``ONEDNN_MAX_CPU_ISA``, read
once when oneDNN starts, see https://oneapi-src.github.io/oneDNN/dev_guide_cpu_dispatcher_control.html)
makes every AVX2 or newer host run the same kernels; seeds (config.yml) and seeded folds
(:mod:`rasa_compat.seeded_folds`) do the rest. Three trainings of unchanged data on one host
gave bit-identical DIET and TED weights.

Set by scripts/train.sh (the shell cannot import this module; it uses the same value) and, through
:func:`pin_cpu_isa`, by the scripts that train or evaluate in-process
(scripts/nlu_cross_validation.py, scripts/nlu_heldout.py). An operator may set another value in
the environment; it is kept. Serving does not pin: a prediction differs in the last bits at most.
"""
from __future__ import annotations

import os

#: The highest instruction set oneDNN may use while training and evaluating.
CPU_ISA = "AVX2"
ENV_VAR = "ONEDNN_MAX_CPU_ISA"


def pin_cpu_isa() -> str:
    """Cap oneDNN's instruction set unless the environment names one; call before TensorFlow loads."""
    return os.environ.setdefault(ENV_VAR, CPU_ISA)
