"""temper - the temper engine from Python: numpy arrays, transformers'
names, rich display in notebooks. See docs/python.md.

    import temper
    m = temper.Model("gpt2")                  # or a folder, or a llama2.c .bin
    m.next_token("Paris is the capital of", top=5)
    m.generate("The movie was full of", max_new_tokens=20, do_sample=True,
               temperature=0.7, top_p=0.9, seed=42, n_probs=3)
"""
from ._errors import (Canceled, ContextFull, FormatError, InvalidArgument, InvalidUTF8, IOFailure,
                      NotFound, OutOfMemory, OutOfRange, StateError, TemperError, Unsupported)
from ._lib import path as library_path
from ._params import table as parameters
from .hub import find, pull
from .model import Context, Model, Tokenizer, pca, project, project_parameters
from .results import (Attention, GeneratedToken, Generation, NextTokenTable, Perplexity,
                      PowerSample, Score, ScorePair, ScorePairs, Sequence, StreamedToken)
from .row import Processed, process, softmax
from . import svg

from ._lib import lib as _clib
__version__ = _clib.temper_version().decode()
del _clib
