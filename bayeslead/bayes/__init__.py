"""The Bayesian engine (PyMC model builder, likelihood Ops, sampling, posterior summaries)."""

import sys
import warnings

# PyTensor's C backend warns when no optimised BLAS is linked; bayeslead samples with numba,
# so the message would only confuse users.
warnings.filterwarnings("ignore", message=".*BLAS.*", category=UserWarning)


def import_arviz_lazily() -> None:
    """Import ArviZ (PyMC imports it) with its one eagerly compiled numba ufunc made lazy.

    ArviZ 0.23 compiles `arviz.stats.ecdf_utils._binom_pmf` (used only by its ECDF bands)
    with an explicit signature when imported, uncached: 0.35 CPU s of every process, about 6%
    of a warm Holzinger-Swineford fit (measured 2026-12-06). With `numba.vectorize`'s signature
    list dropped during the import it is the same ufunc, compiled on first call, if ever.
    """
    if "arviz" in sys.modules:
        return
    import numba

    eager = numba.vectorize

    def lazy(*args, **kwargs):
        if args and isinstance(args[0], list | tuple):
            return eager(**kwargs)
        return eager(*args, **kwargs)

    numba.vectorize = lazy
    try:
        import arviz  # noqa: F401
    finally:
        numba.vectorize = eager


import_arviz_lazily()
