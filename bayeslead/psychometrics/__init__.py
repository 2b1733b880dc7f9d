"""Measurement quality of survey constructs: reliability, convergent and discriminant validity.

The package has two layers, in the style of arviz-stats:

* **pure numpy functions** on arrays (item data, covariance/correlation matrices, loadings;
  `reliability.py`, `validity.py`). They
  are vectorised over leading axes where that is natural, so the loading-based ones apply
  unchanged to bootstrap replicates or posterior draws (``loadings`` of shape ``(..., k)``);
* **table wrappers** (`tables.py`) that read a `ParameterTable`, a fitted parameter vector and the item data and
  return pandas DataFrames in the layout of the R references (lavaan / semTools / psych).

Conventions (matching R):

* Data-based coefficients (alpha, item-total correlations, Harman's test) use *pairwise-complete*
  covariances, as ``psych::alpha`` (``use = "pairwise"``); on complete data this is the ordinary
  sample covariance. HTMT on data uses *listwise* deletion, as ``semTools::htmt`` (``lavCor``).
* SEM-based coefficients (omega, CR, AVE) use the divisor-N sample covariance of the complete rows,
  as lavaan's ``sampstat`` that semTools reads.
* Thresholds (`CR_MIN`, `AVE_MIN`, `HTMT_MAX`) are conventions that are *flagged*
  in the tables, never enforced.
"""
