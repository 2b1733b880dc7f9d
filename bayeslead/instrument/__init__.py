"""Survey instruments as code: schema, validation, loading and exports."""

from bayeslead.instrument.load import load_instrument
from bayeslead.instrument.model import Instrument, ItemInfo

__all__ = ["Instrument", "ItemInfo", "load_instrument"]
