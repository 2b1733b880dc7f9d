"""Numerical kernels of the likelihoods: PyTensor Ops with numba implementations and JAX twins,
and the batched small-matrix algebra they use. They know matrices and moments, no model."""
