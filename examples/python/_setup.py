"""_setup.py - what every example shares: `import temper` from an installed
package, else from this checkout (bindings/python, after `make`), and the
model: $TEMPER_MODEL, else the model the seed notebook used."""
import os
import sys

try:
    import temper  # noqa: F401
except ImportError:
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "..", "bindings", "python"))
    import temper  # noqa: F401


def model(default):
    """temper.Model of $TEMPER_MODEL, else of default (a Hub id, downloaded
    into the Hugging Face cache on first use)."""
    name = os.environ.get("TEMPER_MODEL") or default
    print(f"model: {name}", file=sys.stderr)
    return temper.Model(name)
