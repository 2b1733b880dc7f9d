"""One folder per model family, each with the same files: `build.py` (the PyMC graph), `fit.py`
(the family's steps of the shared recipe, `bayes.recipe`) and `summaries.py` (the tables only this
family has). Families share code only through `bayes.blocks`, `bayes.kernels`, `bayes.summaries`,
`bayes.start` and `bayes.data`."""
