# Reference for tests/test_polychoric.py: lavaan 0.6-14, WLSMV + missing = "pairwise" on small.csv
suppressMessages(library(lavaan))
d <- read.csv("small.csv")
items <- names(d)
fit <- cfa('F1 =~ y1 + y2 + y3 + y4
            F2 =~ y5 + y6 + y7 + y8', data = d, ordered = items, estimator = "WLSMV", missing = "pairwise")
ss <- lavInspect(fit, "sampstat")
write.csv(unclass(ss$cov), "small_polychoric_lavaan.csv")
write.csv(data.frame(th = unclass(ss$th)), "small_thresholds_lavaan.csv")
write.csv(unclass(lavInspect(fit, "gamma")), "small_gamma_lavaan.csv")
