## make.R: lavaan measurement-invariance ladder on HolzingerSwineford1939 by school (issue 17).
## Run from this folder: Rscript make.R   (R 4.2.2, lavaan 0.6-14, semTools 0.5-6)
source("../common.R")  # the reference-writing helpers shared by every make.R

data <- lavaan::HolzingerSwineford1939
write_ref_csv(data, "data.csv")
model <- 'visual  =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
speed   =~ x7 + x8 + x9
'
writeLines(model, "model.lav", sep = "")

levels <- list(
  configural = "",
  metric     = "loadings",
  scalar     = c("loadings", "intercepts"),
  strict     = c("loadings", "intercepts", "residuals"))
calls <- c(
  configural = 'cfa(model, data, group = "school")',
  metric     = 'cfa(model, data, group = "school", group.equal = "loadings")',
  scalar     = 'cfa(model, data, group = "school", group.equal = c("loadings", "intercepts"))',
  strict     = 'cfa(model, data, group = "school", group.equal = c("loadings", "intercepts", "residuals"))')
fit_level <- function(ge) cfa(model, data = data, group = "school", group.equal = ge)

loadavg_start <- tryCatch(readLines("/proc/loadavg"), error = function(e) NA)
## ---- timing: the four ladder fits together, repeated (first = cold, in a fresh R session) ----
ladder_times <- numeric(0); ladder_cpu <- numeric(0)
for (rep in 1:11) {
  tt <- system.time(fits <- lapply(levels, fit_level))
  ladder_times <- c(ladder_times, round(unname(tt["elapsed"]), 3))
  ladder_cpu <- c(ladder_cpu, round(unname(tt["user.self"] + tt["sys.self"]), 3))
}
single_times <- sapply(levels, function(ge) {
  round(median(replicate(11, unname(system.time(fit_level(ge))["elapsed"]))), 3)
})

## ---- per-level tables ----
key <- c("npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower",
         "rmsea.ci.upper", "srmr", "aic", "bic", "logl", "unrestricted.logl")
ladder <- NULL
for (nm in names(fits)) {
  f <- fits[[nm]]
  write_ref_csv(param_table(f), paste0("estimates_", nm, ".csv"))
  write_ref_csv(standardizedSolution(f, type = "std.all"), paste0("standardized_", nm, ".csv"))
  write_ref_csv(fit_table(f), paste0("fit_", nm, ".csv"))
  ladder <- rbind(ladder, data.frame(level = nm, t(unclass(fitMeasures(f, key)))))
}

## ---- chi-square difference tests between successive levels ----
lrt <- lavTestLRT(fits$configural, fits$metric, fits$scalar, fits$strict,
                  model.names = names(fits))
lrt_df <- data.frame(level = rownames(lrt), as.data.frame(lrt), check.names = FALSE)
write_ref_csv(lrt_df, "lrt.csv")
ladder$chisq_diff <- lrt[["Chisq diff"]]
ladder$df_diff <- lrt[["Df diff"]]
ladder$p_diff <- lrt[["Pr(>Chisq)"]]
ladder$delta_cfi <- c(NA, diff(ladder$cfi))
ladder$delta_rmsea <- c(NA, diff(ladder$rmsea))
ladder$delta_srmr <- c(NA, diff(ladder$srmr))
write_ref_csv(ladder, "ladder.csv")

## ---- semTools::compareFit ----
cf <- compareFit(configural = fits$configural, metric = fits$metric,
                 scalar = fits$scalar, strict = fits$strict)
write_ref_csv(data.frame(comparison = rownames(cf@nested), cf@nested, check.names = FALSE),
              "comparefit_nested.csv")
write_ref_csv(data.frame(model = rownames(cf@fit), cf@fit, check.names = FALSE), "comparefit_fit.csv")
write_ref_csv(data.frame(comparison = rownames(cf@fit.diff), cf@fit.diff, check.names = FALSE),
              "comparefit_fit_diff.csv")
capture.output(summary(cf), file = "comparefit_summary.txt")

## ---- partial scalar: intercepts of x3 and x7 free across schools ----
t_part <- system.time(partial <- cfa(model, data = data, group = "school",
                                     group.equal = c("loadings", "intercepts"),
                                     group.partial = c("x3~1", "x7~1")))
write_ref_csv(param_table(partial), "estimates_partial_scalar.csv")
write_ref_csv(standardizedSolution(partial, type = "std.all"), "standardized_partial_scalar.csv")
write_ref_csv(fit_table(partial), "fit_partial_scalar.csv")
lrt_p <- lavTestLRT(fits$metric, partial, model.names = c("metric", "partial_scalar"))
write_ref_csv(data.frame(level = rownames(lrt_p), as.data.frame(lrt_p), check.names = FALSE),
              "lrt_metric_vs_partial_scalar.csv")

## ---- score tests of the scalar model's equality constraints, and modification indices ----
pt <- parTable(fits$scalar)
side <- function(pl, prefix) {
  i <- match(pl, pt$plabel)
  setNames(data.frame(pt$lhs[i], pt$op[i], pt$rhs[i], pt$group[i], stringsAsFactors = FALSE),
           paste0(prefix, c("lhs", "op", "rhs", "group")))
}
ts <- lavTestScore(fits$scalar, epc = FALSE)
uni <- ts$uni
uni_out <- data.frame(constraint = paste(uni$lhs, uni$op, uni$rhs),
                      side(uni$lhs, "p1_"), side(uni$rhs, "p2_"),
                      X2 = uni$X2, df = uni$df, p.value = uni$p.value)
uni_out$parameter <- with(uni_out, paste0(p1_lhs, p1_op, p1_rhs))
uni_out$rank_by_X2 <- rank(-uni_out$X2, ties.method = "first")
write_ref_csv(uni_out, "score_test_scalar_univariate.csv")
write_ref_csv(ts$test, "score_test_scalar_total.csv")
tsc <- lavTestScore(fits$scalar, cumulative = TRUE, epc = FALSE)
write_ref_csv(data.frame(constraint = paste(tsc$cumulative$lhs, tsc$cumulative$op, tsc$cumulative$rhs),
                         tsc$cumulative, check.names = FALSE),
              "score_test_scalar_cumulative.csv")
tse <- lavTestScore(fits$scalar, epc = TRUE)
write_ref_csv(tse$epc, "score_test_scalar_epc.csv")
mi <- modindices(fits$scalar, sort. = TRUE)
mi$rank <- seq_len(nrow(mi))
write_ref_csv(mi, "modindices_scalar.csv")

## ---- meta ----
la <- tryCatch(readLines("/proc/loadavg"), error = function(e) NA)
meta <- list(
  versions = versions(),
  data = "lavaan::HolzingerSwineford1939 (all 301 rows, 15 columns); group = 'school' (Pasteur first, then Grant-White: order of appearance)",
  model = "model.lav",
  fits = c(
    Map(function(f, nm) fit_info(f, calls[[nm]], unname(single_times[nm])), fits, names(fits)),
    list(partial_scalar = fit_info(partial,
      'cfa(model, data, group = "school", group.equal = c("loadings", "intercepts"), group.partial = c("x3~1", "x7~1"))',
      round(unname(t_part["elapsed"]), 3)))),
  lavTestLRT = "lavTestLRT(configural, metric, scalar, strict) (standard chi-square difference; RMSEA column = RMSEA of the difference test)",
  compareFit = "semTools::compareFit(configural = , metric = , scalar = , strict = ) slots @nested, @fit, @fit.diff",
  lavTestScore = "lavTestScore(scalar, epc = FALSE)$uni; cumulative = TRUE for the cumulative table; epc = TRUE for score_test_scalar_epc.csv",
  modindices = "modindices(scalar, sort. = TRUE) (default: fixed-to-zero parameters only; equality constraints are tested by lavTestScore)",
  timing = list(
    what = "system.time() elapsed seconds for the four ladder fits (configural, metric, scalar, strict) in sequence, 11 repetitions in one R session; the first includes lavaan's first-call overhead",
    ladder_elapsed_s = ladder_times,
    ladder_median_s = median(ladder_times),
    ladder_median_s_excluding_first = median(ladder_times[-1]),
    ladder_cpu_s = ladder_cpu,
    ladder_cpu_median_s = median(ladder_cpu),
    single_fit_median_s = as.list(single_times),
    single_fit_what = "median elapsed seconds of 11 repeated fits of that level alone (also in fits$<level>$seconds)",
    loadavg_at_start = loadavg_start,
    loadavg_at_end = la,
    machine = "2 cores, shared with other jobs (see load averages)"))
write_meta(meta)
cat("ladder median", median(ladder_times), "\n"); print(ladder[, c("level", "chisq", "df", "chisq_diff", "df_diff", "p_diff")])
print(fitMeasures(partial, c("chisq", "df")))
