## make.R: two-level ML with observed covariates at one or both levels, as lavaan treats them
## (issue 19, acceptance 2; issue 14 for covariates at both levels). lavaan::Demo.twolevel with the
## tutorial's model and a covariate at both levels (fixed.x: its moments fixed at lavaan's h1
## values), the covariate only within (the tutorial), only between (its observed cluster mean).
## Run from this folder: Rscript make.R   (data: ../twolevel_demo/data.csv = lavaan::Demo.twolevel)
source("../common.R")  # the reference-writing helpers shared by every make.R

data <- read.csv("../twolevel_demo/data.csv")
stopifnot(isTRUE(all.equal(data, lavaan::Demo.twolevel, check.attributes = FALSE)))
data$xw <- data$x1 + data$w1                # varies within clusters, real between part
data$x1m <- ave(data$x1, data$cluster)      # x1's observed cluster mean (constant in a cluster)

models <- list(
  ## x1 at both levels (within part, latent cluster mean); x2, x3 within-only; w1, w2 between-only
  both_x1 = 'level: 1
    fw =~ y1 + y2 + y3
    fw ~ x1 + x2 + x3
level: 2
    fb =~ y1 + y2 + y3
    fb ~ x1 + w1 + w2
',
  ## the same with loadings equal across levels
  both_x1_equal = 'level: 1
    fw =~ y1 + l2*y2 + l3*y3
    fw ~ x1 + x2 + x3
level: 2
    fb =~ y1 + l2*y2 + l3*y3
    fb ~ x1 + w1 + w2
',
  ## xw = x1 + w1 at both levels (between variance about 0.9); w2 between-only
  both_xw = 'level: 1
    fw =~ y1 + y2 + y3
    fw ~ xw + x2 + x3
level: 2
    fb =~ y1 + y2 + y3
    fb ~ xw + w2
',
  ## two covariates at both levels (xw, x2), x3 within-only, w2 between-only
  both_two = 'level: 1
    fw =~ y1 + y2 + y3
    fw ~ xw + x2 + x3
level: 2
    fb =~ y1 + y2 + y3
    fb ~ xw + x2 + w2
',
  ## xw at both levels, exogenous at level 1 (fixed) and an outcome at level 2 (not fixed)
  both_xw_outcome = 'level: 1
    fw =~ y1 + y2 + y3
    fw ~ xw + x2 + x3
level: 2
    fb =~ y1 + y2 + y3
    fb ~ xw + w2
    xw ~ w2
',
  ## x1 only within (lavaan's tutorial: a level-1-only variable is within-only)
  within_x1 = 'level: 1
    fw =~ y1 + y2 + y3
    fw ~ x1 + x2 + x3
level: 2
    fb =~ y1 + y2 + y3
    fb ~ w1 + w2
',
  ## x1 only between: lavaan refuses a level-2-only variable that varies within clusters
  ## ("Some between-level (only) variables have non-zero variance at the within-level"), so the
  ## between-only covariate is x1's observed cluster mean x1m
  between_x1m = 'level: 1
    fw =~ y1 + y2 + y3
    fw ~ x2 + x3
level: 2
    fb =~ y1 + y2 + y3
    fb ~ x1m + w1 + w2
'
)

## the refusal, recorded
refusal <- tryCatch({
  sem(sub("x1m", "x1", models$between_x1m, fixed = TRUE), data = data, cluster = "cluster")
  "no error"
}, error = function(e) conditionMessage(e))
writeLines(refusal, "between_x1_varying_error.txt")

fit_rows <- NULL
info <- list()
for (name in names(models)) {
  model <- models[[name]]
  writeLines(model, paste0("model_", name, ".lav"), sep = "")
  times <- numeric(0)
  for (r in 1:3) {
    tt <- system.time(fit <- sem(model, data = data, cluster = "cluster"))
    times <- c(times, unname(tt["user.self"] + tt["sys.self"]))
  }
  write_ref_csv(param_table(fit), paste0("estimates_", name, ".csv"))
  fm <- fit_table(fit)
  fit_rows <- rbind(fit_rows, data.frame(model = name, fm, stringsAsFactors = FALSE))
  h1 <- lavInspect(fit, "h1")
  for (lv in c("within", "cluster")) {
    m <- h1[[lv]]
    write_ref_csv(data.frame(var = rownames(m$cov), mean = unname(m$mean), m$cov, check.names = FALSE),
                  paste0("h1_", name, "_", if (lv == "within") "within" else "between", ".csv"))
  }
  print(name); print(parameterEstimates(fit)); print(fitMeasures(fit, c("npar", "chisq", "df", "logl", "cfi", "tli", "rmsea", "srmr_within", "srmr_between")))
  info[[name]] <- fit_info(fit, sprintf('sem(<model_%s.lav>, data = data, cluster = "cluster")', name),
                           round(median(times), 3))
}
## x1's between part has variance 0.0028 (h1), so `fb ~ x1` is nearly flat (SE about 9.3): lavaan's
## optimiser stops near its start (0) there, with a larger chi-square than the optimum (its
## relative-function stop). lavaan's own optimum, found by profiling: fb ~ x1 fixed at b, the
## profile -2 log L (lavaan's logl) has its minimum near the vertex of a parabola through
## b = -4, -2, 0; a cubic through 7 points b0 - 1, ..., b0 + 1 (the profile is not exactly
## quadratic) locates it. The profile fits use nlminb's rel.tol 1e-13 (lavaan's default 1e-10
## leaves the profile values with noise about 1e-6, which moves the located minimum by 2e-4;
## nlminb then reports a false convergence, hence optim.force.converged; the residual noise about
## the cubic is 2e-8). The estimates are those of the fit with fb ~ x1 fixed there (the
## conditional optimum there is the joint optimum); the standard errors and fit measures those of
## the fit with fb ~ x1 free, started at every estimate of that fit (a parameter table with
## ustart; it stops after 1 iteration), so they are lavaan's at its optimum (suffix _optimum).
profile_optimum <- function(model) {
  at <- function(b) sem(sub("fb ~ x1", sprintf("fb ~ %.17g*x1", b), model, fixed = TRUE),
                        data = data, cluster = "cluster", control = list(rel.tol = 1e-13),
                        optim.force.converged = TRUE)
  m2ll <- function(b) {
    f <- at(b)
    stopifnot(lavInspect(f, "converged"))
    -2 * unname(fitMeasures(f, "logl"))
  }
  bs <- c(-4, -2, 0)
  q <- coef(lm(sapply(bs, m2ll) ~ bs + I(bs^2)))
  b0 <- unname(-q[2] / (2 * q[3]))
  bs <- b0 + (-3:3) / 3
  q <- unname(coef(lm(sapply(bs, m2ll) ~ bs + I(bs^2) + I(bs^3))))
  roots <- Re(polyroot(c(q[2], 2 * q[3], 3 * q[4])))   # stationary points of the cubic
  b <- roots[which.min(abs(roots - b0))]
  fixed <- at(b)
  table <- parTable(sem(model, data = data, cluster = "cluster", do.fit = FALSE))
  key <- function(p) paste(p$lhs, p$op, p$rhs, p$block)
  free <- table$free > 0
  table$ustart[free] <- parTable(fixed)$est[match(key(table), key(parTable(fixed)))][free]
  table$start <- NULL; table$est <- NULL; table$se <- NULL
  free_fit <- sem(table, data = data, cluster = "cluster")
  stopifnot(lavInspect(fixed, "converged"), lavInspect(free_fit, "converged"))
  pe <- param_table(free_fit)
  est <- param_table(fixed)
  stopifnot(identical(pe[, c("lhs", "op", "rhs", "level")], est[, c("lhs", "op", "rhs", "level")]))
  pe$est_free_start <- pe$est   # where the free fit (started at the optimum) stopped
  pe$est <- est$est
  list(estimates = pe, fit = free_fit, vertex = b, iterations = lavInspect(free_fit, "iterations"))
}
for (name in c("both_x1", "both_x1_equal")) {
  opt <- profile_optimum(models[[name]])
  write_ref_csv(opt$estimates, paste0("estimates_", name, "_optimum.csv"))
  fm <- fit_table(opt$fit)
  fit_rows <- rbind(fit_rows, data.frame(model = paste0(name, "_optimum"), fm, stringsAsFactors = FALSE))
  info[[paste0(name, "_optimum")]] <- list(vertex = opt$vertex, free_fit_iterations = opt$iterations,
    fit_with_free_start = fit_info(opt$fit, sprintf('sem(<parTable of model_%s.lav, ustart = the estimates at the vertex>, data = data, cluster = "cluster")', name)))
  print(name); print(opt$vertex); print(fitMeasures(opt$fit, c("npar", "chisq", "df", "logl")))
}
write_ref_csv(fit_rows, "fit.csv")
write_meta(list(versions = versions(),
  data = "lavaan::Demo.twolevel (../twolevel_demo/data.csv): 2500 rows, 200 clusters; xw = x1 + w1, x1m = x1's cluster mean (ave(x1, cluster))",
  refusal = refusal, fits = info))
