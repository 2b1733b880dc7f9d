## make.R: lavaan::Demo.twolevel tutorial model with x1 at BOTH levels (issue 14, point 4): x1
## varies within clusters and appears in level 1 and level 2, so lavaan splits it into a within
## part (deviation from its latent cluster mean) and a between part (the latent cluster mean);
## x2, x3 are within-only, w1, w2 between-only (constant within clusters); fixed.x = TRUE;
## loadings equal across levels (the two-level model engine: bayes fits).
## Run from this folder: Rscript make.R   (data: ../twolevel_demo/data.csv = lavaan::Demo.twolevel)
source("../common.R")  # the reference-writing helpers shared by every make.R

data <- read.csv("../twolevel_demo/data.csv")
stopifnot(isTRUE(all.equal(data, lavaan::Demo.twolevel, check.attributes = FALSE)))
fit_one <- function(model, data, suffix) {
  writeLines(model, paste0("model", suffix, ".lav"), sep = "")
  times <- numeric(0)
  for (r in 1:3) {
    tt <- system.time(fit <- sem(model, data = data, cluster = "cluster"))
    times <- c(times, unname(tt["user.self"] + tt["sys.self"]))
  }
  write_ref_csv(param_table(fit), paste0("estimates", suffix, ".csv"))
  write_ref_csv(fit_table(fit, c("npar", "chisq", "df", "pvalue", "logl")), paste0("fit_key", suffix, ".csv"))
  ## the h1 (saturated) level moments: lavaan fixes the covariates' (co)variances and means at them
  h1 <- lavInspect(fit, "h1")
  write_ref_csv(data.frame(var = rownames(h1$within$cov), h1$within$cov, check.names = FALSE),
                paste0("h1_within_cov", suffix, ".csv"))
  write_ref_csv(data.frame(var = rownames(h1$cluster$cov), h1$cluster$cov, check.names = FALSE),
                paste0("h1_between_cov", suffix, ".csv"))
  write_ref_csv(data.frame(var = names(h1$cluster$mean), mean = unname(h1$cluster$mean)),
                paste0("h1_between_mean", suffix, ".csv"))
  print(parameterEstimates(fit))
  print(fitMeasures(fit, c("npar", "chisq", "df", "logl")))
  print(h1)
  fit_info(fit, 'sem(<model>, data = data, cluster = "cluster")', round(median(times), 3))
}

## (1) the tutorial's x1 at both levels (its between variance is small: 0.003 in lavaan's h1)
model <- 'level: 1
    fw =~ y1 + l2*y2 + l3*y3
    fw ~ x1 + x2 + x3
level: 2
    fb =~ y1 + l2*y2 + l3*y3
    fb ~ x1 + w1 + w2
'
info_x1 <- fit_one(model, data, "")

## (2) xw = x1 + w1 at both levels: a covariate varying within clusters with a real between part
## (between variance about w1's, 0.87), w2 between-only
data_xw <- data
data_xw$xw <- data$x1 + data$w1
model_xw <- 'level: 1
    fw =~ y1 + l2*y2 + l3*y3
    fw ~ xw + x2 + x3
level: 2
    fb =~ y1 + l2*y2 + l3*y3
    fb ~ xw + w2
'
info_xw <- fit_one(model_xw, data_xw, "_xw")

write_meta(list(versions = versions(),
  data = "lavaan::Demo.twolevel (../twolevel_demo/data.csv): 2500 rows, 200 clusters; fit 2 adds xw = x1 + w1",
  variables = "fit 1: x1 at level 1 and level 2 (within part and latent cluster mean), x2, x3 only at level 1 (within-only), w1, w2 only at level 2 (between-only); fit 2: xw = x1 + w1 at both levels, x2, x3 within-only, w2 between-only; fixed.x = TRUE; y1-y3 within and between, loadings equal across levels (labels l2, l3)",
  fit = info_x1, fit_xw = info_xw))
