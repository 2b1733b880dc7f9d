## make.R: WLSMV threshold-invariance ladder (Wu & Estabrook 2016) for ordinal items (issue 17).
## Run from this folder: Rscript make.R   (R 4.2.2, lavaan 0.6-14, semTools 0.5-6, psych)
## semTools::measEq.syntax(ID.fac = "std.lv", ID.cat = "Wu.Estabrook.2016",
## parameterization = "delta" (lavaan's default)); strict (residuals) is not identified under
## "delta" (measEq.syntax refuses it), so the ladder stops at scalar.
source("../common.R")

set.seed(2026)
sim_group <- function(n, shift) {
  phi <- matrix(c(1, .4, .4, 1), 2)
  eta <- MASS::mvrnorm(n, c(0, 0), phi)
  lam <- c(.8, .7, .75, .65, .8, .7, .6, .75)
  f <- rep(1:2, each = 4)
  y <- sapply(1:8, function(j) lam[j] * eta[, f[j]] + rnorm(n, 0, sqrt(1 - lam[j]^2)))
  th <- c(-1.6, -0.6, 0.3, 1.2)
  out <- sapply(1:8, function(j) {
    t <- th
    if (j == 3) t <- t + shift  # y3: every threshold 0.5 higher in group B
    findInterval(y[, j], t) + 1
  })
  colnames(out) <- paste0("y", 1:8)
  as.data.frame(out)
}
sim <- rbind(cbind(g = "A", sim_group(400, 0)), cbind(g = "B", sim_group(400, 0.5)))
write_ref_csv(sim, "data.csv")
model <- "f1 =~ y1 + y2 + y3 + y4\nf2 =~ y5 + y6 + y7 + y8\n"
writeLines(model, "model.lav", sep = "")

levels <- list(configural = "", thresholds = "thresholds",
               metric = c("thresholds", "loadings"),
               scalar = c("thresholds", "loadings", "intercepts"))

ladder <- function(data, model, items, group, prefix, missing = "listwise") {
  fits <- list()
  for (nm in names(levels)) {
    syn <- measEq.syntax(model, data = data, ordered = items, parameterization = "delta",
                         ID.fac = "std.lv", ID.cat = "Wu.Estabrook.2016", group = group,
                         group.equal = levels[[nm]])
    writeLines(as.character(syn), paste0(prefix, "syntax_", nm, ".lav"))
    fit <- cfa(as.character(syn), data = data, ordered = items, group = group,
               estimator = "WLSMV", missing = missing)
    fits[[nm]] <- fit
    write_ref_csv(param_table(fit), paste0(prefix, "estimates_", nm, ".csv"))
    write_ref_csv(fit_table(fit), paste0(prefix, "fit_", nm, ".csv"))
  }
  lrt <- lavTestLRT(fits$configural, fits$thresholds, fits$metric, fits$scalar,
                    model.names = names(fits))
  write_ref_csv(data.frame(level = rownames(lrt), as.data.frame(lrt), check.names = FALSE),
                paste0(prefix, "lrt.csv"))
  fits
}
fits <- ladder(sim, model, paste0("y", 1:8), "g", "")

## partial scalar: y3's intercept free in group B (group.partial = "y3 ~ 1"); and a loading freed
fit_partial <- function(nm, group.equal, group.partial) {
  syn <- measEq.syntax(model, data = sim, ordered = paste0("y", 1:8), parameterization = "delta",
                       ID.fac = "std.lv", ID.cat = "Wu.Estabrook.2016", group = "g",
                       group.equal = group.equal, group.partial = group.partial)
  writeLines(as.character(syn), paste0("syntax_", nm, ".lav"))
  fit <- cfa(as.character(syn), data = sim, ordered = paste0("y", 1:8), group = "g",
             estimator = "WLSMV")
  write_ref_csv(param_table(fit), paste0("estimates_", nm, ".csv"))
  write_ref_csv(fit_table(fit), paste0("fit_", nm, ".csv"))
  fit
}
partial <- list()
for (gp in c(intercept = "y3 ~ 1", loading = "f1 =~ y3")) {
  nm <- if (gp == "y3 ~ 1") "partial_scalar" else "partial_loading"
  partial[[nm]] <- fit_partial(nm, levels$scalar, gp)
}
lrt_p <- lavTestLRT(fits$metric, partial$partial_scalar, model.names = c("metric", "partial_scalar"))
write_ref_csv(data.frame(level = rownames(lrt_p), as.data.frame(lrt_p), check.names = FALSE),
              "lrt_metric_vs_partial_scalar.csv")

## theta parameterization (residual variances 1 in the first group, free in the others once
## thresholds are equal, equal (1) at strict): the five levels on the simulated data
theta_levels <- c(levels, list(strict = c("thresholds", "loadings", "intercepts", "residuals")))
theta <- list()
for (nm in names(theta_levels)) {
  syn <- measEq.syntax(model, data = sim, ordered = paste0("y", 1:8), parameterization = "theta",
                       ID.fac = "std.lv", ID.cat = "Wu.Estabrook.2016", group = "g",
                       group.equal = theta_levels[[nm]])
  writeLines(as.character(syn), paste0("theta_syntax_", nm, ".lav"))
  fit <- cfa(as.character(syn), data = sim, ordered = paste0("y", 1:8), group = "g",
             estimator = "WLSMV", parameterization = "theta")
  theta[[nm]] <- fit
  write_ref_csv(param_table(fit), paste0("theta_estimates_", nm, ".csv"))
  write_ref_csv(fit_table(fit), paste0("theta_fit_", nm, ".csv"))
}
lrt_t <- lavTestLRT(theta$configural, theta$thresholds, theta$metric, theta$scalar, theta$strict,
                    model.names = names(theta))
write_ref_csv(data.frame(level = rownames(lrt_t), as.data.frame(lrt_t), check.names = FALSE),
              "theta_lrt.csv")

## single-group WLSMV CFA (lavaan's cfa default identification: marker loading 1) on group A
single <- cfa(model, data = sim[sim$g == "A", ], ordered = paste0("y", 1:8), estimator = "WLSMV")
write_ref_csv(param_table(single), "single_estimates.csv")
write_ref_csv(fit_table(single), "single_fit.csv")

## real data: psych::bfi, conscientiousness and neuroticism (6-point items) by gender
## (1 = male, 2 = female), blanks pairwise (lavaan's missing = "pairwise")
bfi <- psych::bfi[, c(paste0("C", 1:5), paste0("N", 1:5), "gender")]
bfi$gender <- ifelse(bfi$gender == 1, "male", "female")
bfi <- bfi[, c("gender", paste0("C", 1:5), paste0("N", 1:5))]
write_ref_csv(bfi, "bfi_gender.csv")
bfi_model <- "C =~ C1 + C2 + C3 + C4 + C5\nN =~ N1 + N2 + N3 + N4 + N5\n"
writeLines(bfi_model, "bfi_model.lav", sep = "")
bfi_fits <- ladder(bfi, bfi_model, c(paste0("C", 1:5), paste0("N", 1:5)), "gender", "bfi_",
                   missing = "pairwise")

## score tests (issue 17, acceptance 2: the parameters to free, ranked): lavTestScore() of every
## equality constraint (univariate X2, 1 df each with two groups, and the total test), expected
## information (the default); lavaan 0.6-14 warns for WLSMV ("se is not `standard'; not implemented
## yet; falling back to ordinary score test") and computes N g' J g with g its DWLS gradient and J
## the inverse of the expected information bordered by the constraints kept. The intercepts of the
## scalar level are fixed (0 in every group), not constrained, so lavTestScore cannot release them:
## their test is modindices()' mi of freeing `y ~1` in the second group (the same score statistic
## for a fixed parameter). Also measEq.syntax's group.partial on thresholds (Wu & Estabrook:
## an item's intercept stays free in the other groups while one of its thresholds is equal, its
## scale while two are, or one with the intercept equal).
score_rows <- function(fit, level) {
  pt <- parTable(fit)
  key <- function(i) ifelse(pt$op[i] == "~1", paste0(pt$lhs[i], " ~1"),
                            paste(pt$lhs[i], pt$op[i], pt$rhs[i]))
  warned <- character(0)
  ts <- withCallingHandlers(lavTestScore(fit), warning = function(w) {
    warned <<- c(warned, conditionMessage(w)); invokeRestart("muffleWarning")
  })
  uni <- ts$uni
  i1 <- match(uni$lhs, pt$plabel); i2 <- match(uni$rhs, pt$plabel)
  stopifnot(all(key(i1) == key(i2)), all(pt$group[i2] == 2L))
  out <- data.frame(level = level, test = "lavTestScore", parameter = key(i1),
                    group = pt$group[i2], x2 = uni$X2, df = uni$df, pvalue = uni$p.value)
  out <- rbind(out, data.frame(level = level, test = "lavTestScore total", parameter = "",
                               group = NA, x2 = ts$test$X2, df = ts$test$df,
                               pvalue = ts$test$p.value))
  if (level %in% c("scalar", "strict")) {  # theta strict: residual variances 1 in every group
    mi <- modindices(fit, op = if (level == "scalar") "~1" else c("~1", "~~"))
    mi <- mi[mi$group == 2L & mi$lhs %in% lavNames(fit, "ov") &
             (mi$op == "~1" | mi$lhs == mi$rhs), ]
    out <- rbind(out, data.frame(level = level, test = "modindices",
                                 parameter = ifelse(mi$op == "~1", paste0(mi$lhs, " ~1"),
                                                    paste(mi$lhs, mi$op, mi$rhs)),
                                 group = 2L, x2 = mi$mi, df = 1L,
                                 pvalue = pchisq(mi$mi, 1, lower.tail = FALSE)))
  }
  attr(out, "warning") <- unique(warned)
  out
}
scores <- function(fits, prefix, levels = c("thresholds", "metric", "scalar")) {
  rows <- lapply(levels, function(nm) score_rows(fits[[nm]], nm))
  write_ref_csv(do.call(rbind, rows), paste0(prefix, "scores.csv"))
  unique(unlist(lapply(rows, attr, "warning")))
}
score_warning <- unique(c(scores(fits, ""), scores(bfi_fits, "bfi_"),
                          scores(theta, "theta_", c("thresholds", "metric", "scalar", "strict"))))

partial_thr <- list(thresholds_t3 = list(eq = levels$thresholds, gp = "y3 | t3"),
                    thresholds_t234 = list(eq = levels$thresholds,
                                           gp = c("y3 | t2", "y3 | t3", "y3 | t4")),
                    scalar_t3 = list(eq = levels$scalar, gp = c("y3 | t3", "y3 ~ 1")))
for (nm in names(partial_thr)) {
  partial[[nm]] <- fit_partial(paste0("partial_", nm), partial_thr[[nm]]$eq, partial_thr[[nm]]$gp)
}

write_meta(list(versions = versions(),
                score_tests = list(call = "lavTestScore(fit) (information = 'expected'); modindices(fit, op = '~1') for the scalar intercepts", warning = score_warning),
                ladder = lapply(fits, fit_info, call = "cfa(measEq.syntax(...), ordered, group = 'g', estimator = 'WLSMV')"),
                partial = lapply(partial, fit_info, call = "cfa(measEq.syntax(..., group.partial = ), ordered, group = 'g', estimator = 'WLSMV')"),
                theta = lapply(theta, fit_info, call = "cfa(measEq.syntax(..., parameterization = 'theta'), ordered, group = 'g', estimator = 'WLSMV', parameterization = 'theta')"),
                single = fit_info(single, "cfa(model, data[g == 'A'], ordered, estimator = 'WLSMV')"),
                bfi = lapply(bfi_fits, fit_info, call = "cfa(measEq.syntax(...), ordered, group = 'gender', estimator = 'WLSMV', missing = 'pairwise')")))
