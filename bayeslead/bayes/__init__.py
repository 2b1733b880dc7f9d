"""The Bayesian engine (PyMC model builder, likelihood Ops, sampling, posterior summaries)."""

import warnings

# PyTensor's C backend warns when no optimised BLAS is linked; bayeslead samples with numba,
# so the message would only confuse users.
warnings.filterwarnings("ignore", message=".*BLAS.*", category=UserWarning)
