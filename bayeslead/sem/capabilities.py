"""What the ML engine estimates of the lavaan syntax (`bayeslead.syntax.check_model` refuses
the rest, naming the engine)."""

from bayeslead.syntax import Capabilities

CAPABILITIES = Capabilities(
    equality=True,
    fixed_values=True,
    intercepts=True,
    interactions=True,
    levels=True,
    engine="engine: sem",
)  # levels: two-level ML with data.cluster (bayeslead.sem.twolevel)
