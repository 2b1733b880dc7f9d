"""bayeslead: Bayesian and ML structural equation modelling of survey data.

    import bayeslead
    result = bayeslead.fit("configs/tl_dc_bi_sem.yaml")   # or a dict, and data=DataFrame
    result.summary()

`fit` and `Result` are imported on first use, so `import bayeslead` stays fast.
"""

from bayeslead import numba_cache
from bayeslead.version import __version__

numba_cache.refresh()  # before any numba function is defined: see numba_cache

__all__ = ["Result", "__version__", "fit"]


def __getattr__(name: str):
    if name in ("Result", "fit"):
        from bayeslead import api

        return getattr(api, name)
    raise AttributeError(f"module 'bayeslead' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
