"""The ML engine (semopy first stage, bayeslead Fisher scoring, FIML, bootstrap).

Import `fit_sem` from `bayeslead.sem.engine`; the numerical modules (`ml`, `fiml`,
`bootstrap`) import without semopy, so bootstrap workers start quickly.
"""
