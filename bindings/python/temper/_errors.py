"""_errors.py - the library's negative codes as Python exceptions.

Every failure of a library call raises a TemperError subclass (one per
TEMPER_E* code of include/temper.h) whose message is the library's own
(temper_last_error), read on the thread that made the call.
"""
from ._lib import lib


class TemperError(Exception):
    """A failure reported by libtemper: .code is the negative TEMPER_E*
    code, .name its name ("TEMPER_ENOENT"), str() the library's message."""

    def __init__(self, message, code=-1):
        super().__init__(message)
        self.code = code
        self.name = (lib.temper_err_name(code) or b"").decode()


class InvalidArgument(TemperError, ValueError): pass        # TEMPER_EINVAL
class OutOfMemory(TemperError, MemoryError): pass           # TEMPER_ENOMEM
class IOFailure(TemperError, OSError): pass                 # TEMPER_EIO
class NotFound(TemperError, FileNotFoundError): pass        # TEMPER_ENOENT
class FormatError(TemperError): pass                        # TEMPER_EFORMAT
class Unsupported(TemperError): pass                        # TEMPER_EUNSUPPORTED
class OutOfRange(TemperError, ValueError): pass             # TEMPER_ERANGE
class InvalidUTF8(TemperError, ValueError): pass            # TEMPER_EUTF8
class ContextFull(TemperError): pass                        # TEMPER_ECONTEXT
class StateError(TemperError): pass                         # TEMPER_ESTATE
class Canceled(TemperError): pass                           # TEMPER_ECANCELED

_BY_CODE = {-1: InvalidArgument, -2: OutOfMemory, -3: IOFailure, -4: NotFound, -5: FormatError,
            -6: Unsupported, -7: OutOfRange, -8: InvalidUTF8, -9: ContextFull, -10: StateError,
            -11: Canceled}


def error(code):
    """The exception for a negative code, with the library's last message."""
    msg = (lib.temper_last_error() or b"").decode("utf-8", "replace")
    if not msg:
        msg = (lib.temper_strerror(code) or b"error").decode()
    return _BY_CODE.get(code, TemperError)(msg, code)


def check(rc):
    """rc when >= 0, else raise the library's error."""
    if rc < 0:
        raise error(rc)
    return rc
