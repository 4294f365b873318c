"""The synthesis pipeline: reference clip + prompt text + target text -> 32 kHz speech.

`options.SynthesisOptions` is what a caller (the service, the command line) fills in, with its
`SamplingOptions` and, for chunked streaming, a `ChunkPlan`;
`errors` holds the exceptions a caller can show to a user.
"""
from .errors import (  # noqa: F401
    BusyError,
    CancelledError,
    InputError,
    ReferenceClipError,
    SynthesisError,
    WeightsMissingError,
)
from .options import ChunkPlan, ModelPaths, SamplingOptions, SynthesisOptions, VoiceWeights  # noqa: F401
