"""setup.py - copies libtemper.so into the package when it is built, so
that an installed `temper` finds its library next to itself. The library
is $TEMPER_LIB, else the checkout's build/libtemper.so (run `make` first).
"""
import glob
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def library():
    env = os.environ.get("TEMPER_LIB")
    if env:
        return env
    so = os.path.join(HERE, "..", "..", "build", "libtemper.so")
    if not os.path.exists(so):
        raise SystemExit("temper: build/libtemper.so is missing: run `make` in the checkout first "
                         "(or set TEMPER_LIB to the library)")
    return os.path.realpath(so)


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        dst = os.path.join(self.build_lib, "temper")
        for old in glob.glob(os.path.join(dst, "libtemper.so*")):
            os.remove(old)
        shutil.copy(library(), os.path.join(dst, "libtemper.so"))


setup(cmdclass={"build_py": BuildWithLibrary})
