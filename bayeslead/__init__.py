"""bayeslead: Bayesian and ML structural equation modelling of survey data."""

__version__ = "0.1.0"
