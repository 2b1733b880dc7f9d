## make.R: lavaan::Demo.twolevel tutorial model with loadings equal across levels (issue 14,
## point 4): the two-level model engine: bayes fits (loadings shared by both levels), with the
## within-only covariates x1-x3 and the between-only covariates w1, w2 (fixed.x = TRUE).
## Run from this folder: Rscript make.R   (data: ../twolevel_demo/data.csv = lavaan::Demo.twolevel)
source("../common.R")  # the reference-writing helpers shared by every make.R

data <- read.csv("../twolevel_demo/data.csv")
stopifnot(isTRUE(all.equal(data, lavaan::Demo.twolevel, check.attributes = FALSE)))
model <- 'level: 1
    fw =~ y1 + l2*y2 + l3*y3
    fw ~ x1 + x2 + x3
level: 2
    fb =~ y1 + l2*y2 + l3*y3
    fb ~ w1 + w2
'
writeLines(model, "model.lav", sep = "")
times <- numeric(0)
for (r in 1:3) {
  tt <- system.time(fit <- sem(model, data = data, cluster = "cluster"))
  times <- c(times, unname(tt["user.self"] + tt["sys.self"]))
}
write_ref_csv(param_table(fit), "estimates.csv")
write_ref_csv(standardizedSolution(fit, type = "std.all"), "standardized.csv")
write_ref_csv(fit_table(fit, c("npar", "chisq", "df", "pvalue", "logl")), "fit_key.csv")
write_meta(list(versions = versions(),
  data = "lavaan::Demo.twolevel (../twolevel_demo/data.csv): 2500 rows, 200 clusters",
  variables = "x1-x3 only at level 1 (within-only), w1, w2 only at level 2 (between-only), fixed.x = TRUE; y1-y3 within and between, loadings equal across levels (labels l2, l3)",
  fit = fit_info(fit, 'sem(<model.lav>, data = Demo.twolevel, cluster = "cluster")', round(median(times), 3))))
print(parameterEstimates(fit))
print(fitMeasures(fit, c("npar", "chisq", "df", "logl")))
