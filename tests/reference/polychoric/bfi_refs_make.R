## make.R: psych::bfi five-factor model by WLSMV (ordered) and polychoric correlations (issue 22).
## Run from this folder: Rscript make.R
source("../common.R")  # the reference-writing helpers shared by every make.R

bfi <- psych::bfi
items <- names(bfi)[1:25]
x <- bfi[, items]
write_ref_csv(data.frame(id = rownames(bfi), x, check.names = FALSE), "data.csv")
## Reverse-keyed items (psych::bfi.keys): A1, C4, C5, E1, E2, O2, O5 -- NOT reversed here.
## Marker identification on a positively keyed item in every factor (listed first).
model <- 'A =~ A2 + A1 + A3 + A4 + A5
C =~ C1 + C2 + C3 + C4 + C5
E =~ E3 + E1 + E2 + E4 + E5
N =~ N1 + N2 + N3 + N4 + N5
O =~ O1 + O2 + O3 + O4 + O5
'
model_stdlv <- 'A =~ A1 + A2 + A3 + A4 + A5
C =~ C1 + C2 + C3 + C4 + C5
E =~ E1 + E2 + E3 + E4 + E5
N =~ N1 + N2 + N3 + N4 + N5
O =~ O1 + O2 + O3 + O4 + O5
'
writeLines(model, "model.lav", sep = "")
writeLines(model_stdlv, "model_stdlv.lav", sep = "")
key <- c("npar", "chisq", "df", "pvalue", "chisq.scaled", "df.scaled", "pvalue.scaled",
         "chisq.scaling.factor", "cfi", "tli", "rmsea", "cfi.scaled", "tli.scaled", "rmsea.scaled",
         "rmsea.ci.lower.scaled", "rmsea.ci.upper.scaled", "cfi.robust", "tli.robust", "rmsea.robust",
         "srmr", "wrmr")
specs <- list(
  wlsmv_pairwise = list(m = "model", call = 'cfa(model, x, ordered = TRUE, estimator = "WLSMV", missing = "pairwise")',
                        args = list(missing = "pairwise")),
  wlsmv_listwise = list(m = "model", call = 'cfa(model, x, ordered = TRUE, estimator = "WLSMV")  # default missing = "listwise": 2436 complete rows',
                        args = list()),
  wlsmv_pairwise_stdlv = list(m = "model_stdlv", call = 'cfa(model_stdlv, x, ordered = TRUE, estimator = "WLSMV", missing = "pairwise", std.lv = TRUE)',
                              args = list(missing = "pairwise", std.lv = TRUE)))
info <- list(); summ <- NULL
for (nm in names(specs)) {
  s <- specs[[nm]]
  tt <- system.time(f <- do.call("cfa", c(list(model = get(s$m), data = x, ordered = TRUE, estimator = "WLSMV"), s$args)))
  write_ref_csv(param_table(f), paste0("estimates_", nm, ".csv"))
  write_ref_csv(standardizedSolution(f, type = "std.all"), paste0("standardized_", nm, ".csv"))
  write_ref_csv(fit_table(f), paste0("fit_", nm, ".csv"))
  summ <- rbind(summ, data.frame(fit = nm, t(unclass(fitMeasures(f, key)))))
  info[[nm]] <- fit_info(f, s$call, round(unname(tt["elapsed"]), 3))
  info[[nm]]$cpu_s <- round(unname(tt["user.self"] + tt["sys.self"]), 3)
  if (nm == "wlsmv_pairwise") {
    g <- lavInspect(f, "gamma")
    write_ref_csv(data.frame(name = rownames(g), g, check.names = FALSE), "nacov_wlsmv_pairwise.csv")
    w <- lavInspect(f, "wls.v")
    write_ref_csv(data.frame(name = rownames(g), wls_v_diag = diag(w)), "wls_v_diag_wlsmv_pairwise.csv")
    ss <- lavInspect(f, "sampstat")
    write_ref_csv(data.frame(item = rownames(ss$cov), ss$cov, check.names = FALSE), "sampstat_cor_wlsmv_pairwise.csv")
    write_ref_csv(data.frame(threshold = names(ss$th), value = unname(ss$th)), "sampstat_th_wlsmv_pairwise.csv")
  }
}
write_ref_csv(summ, "fit_summary.csv")

## polychoric matrices: lavaan (two-step, pairwise present) and psych
tl <- system.time(lc <- lavCor(x, ordered = items, missing = "pairwise", output = "cor"))
lth <- lavCor(x, ordered = items, missing = "pairwise", output = "th")
write_ref_csv(data.frame(item = rownames(lc), unclass(lc), check.names = FALSE), "polychoric_lavcor.csv")
write_ref_csv(data.frame(threshold = names(lth), value = unname(lth)), "thresholds_lavcor.csv")
tp <- system.time(pc <- psych::polychoric(x))
write_ref_csv(data.frame(item = rownames(pc$rho), pc$rho, check.names = FALSE), "polychoric_psych.csv")
write_ref_csv(data.frame(item = rownames(pc$tau), pc$tau, check.names = FALSE), "thresholds_psych.csv")
npair <- crossprod(!is.na(as.matrix(x)))
write_ref_csv(data.frame(item = rownames(npair), npair, check.names = FALSE), "pairwise_n.csv")
diffmax <- max(abs(unclass(lc)[items, items] - pc$rho[items, items]))

write_meta(list(versions = versions(),
  data = "psych::bfi items A1..O5 (2800 rows, 508 missing cells, 2436 complete rows); id = rownames(psych::bfi)",
  reverse_keyed_not_reversed = c("A1", "C4", "C5", "E1", "E2", "O2", "O5"),
  fits = info,
  lavCor = list(call = 'lavCor(x, ordered = names(x), missing = "pairwise", output = "cor") (and output = "th")',
                elapsed_s = round(unname(tl["elapsed"]), 3), cpu_s = round(unname(tl["user.self"] + tl["sys.self"]), 3)),
  psych_polychoric = list(call = "psych::polychoric(x)  (defaults: correct = 0.5 continuity correction for empty cells, smooth = TRUE, global = TRUE thresholds from all available responses per item, pairwise-present pairs)",
                          elapsed_s = round(unname(tp["elapsed"]), 3), cpu_s = round(unname(tp["user.self"] + tp["sys.self"]), 3),
                          max_abs_diff_vs_lavcor = diffmax),
  nacov = "nacov_wlsmv_pairwise.csv = lavInspect(fit, 'gamma') of wlsmv_pairwise (N x asymptotic covariance of thresholds and polychorics, lavaan order: model item order)",
  loadavg_at_end = tryCatch(readLines("/proc/loadavg"), error = function(e) NA)))
print(summ[, c("fit", "chisq", "df", "chisq.scaled", "cfi.scaled", "rmsea.scaled", "srmr")])
cat("max |lavCor - psych|:", diffmax, "\n")
