# Reference values for the polychoric / ACOV prototype (lavaan 0.6-14, psych 2.2.9).
# Run: Rscript bfi_lavaan.R   (writes into this folder)
suppressMessages({library(lavaan); library(psych)})
d <- bfi[, 1:25]
write.csv(d, "bfi.csv", row.names = FALSE, na = "")
items <- names(d)
model <- '
A =~ A1 + A2 + A3 + A4 + A5
C =~ C1 + C2 + C3 + C4 + C5
E =~ E1 + E2 + E3 + E4 + E5
N =~ N1 + N2 + N3 + N4 + N5
O =~ O1 + O2 + O3 + O4 + O5
'
t0 <- Sys.time()
fit <- cfa(model, data = d, ordered = items, estimator = "WLSMV", missing = "pairwise")
cat("WLSMV fit s:", format(Sys.time() - t0), "\n")
ss <- lavInspect(fit, "sampstat")
write.csv(unclass(ss$cov), "bfi_polychoric_lavaan.csv")
write.csv(data.frame(th = unclass(ss$th)), "bfi_thresholds_lavaan.csv")
gam <- lavInspect(fit, "gamma")
write.csv(unclass(gam), "bfi_gamma_lavaan.csv")
pe <- standardizedSolution(fit)
write.csv(pe, "bfi_wlsmv_std.csv", row.names = FALSE)
pe2 <- parameterEstimates(fit)
write.csv(pe2, "bfi_wlsmv_est.csv", row.names = FALSE)
fm <- fitMeasures(fit, c("chisq", "df", "pvalue", "chisq.scaled", "df.scaled", "pvalue.scaled",
                         "cfi.scaled", "tli.scaled", "rmsea.scaled", "srmr", "cfi", "rmsea"))
write.csv(data.frame(measure = names(fm), value = unclass(fm)), "bfi_wlsmv_fit.csv", row.names = FALSE)
# ULS/DWLS variants for the weighting comparison
fit_uls <- cfa(model, data = d, ordered = items, estimator = "ULSMV", missing = "pairwise")
write.csv(standardizedSolution(fit_uls), "bfi_ulsmv_std.csv", row.names = FALSE)
fit_wls <- try(cfa(model, data = d, ordered = items, estimator = "WLS", missing = "pairwise"))
if (!inherits(fit_wls, "try-error")) write.csv(standardizedSolution(fit_wls), "bfi_wls_std.csv", row.names = FALSE)
# psych::polychoric (pairwise, global=FALSE so each pair uses its own thresholds? keep psych default)
pc <- polychoric(d, global = FALSE)
write.csv(pc$rho, "bfi_polychoric_psych.csv")
# lavCor directly
t0 <- Sys.time()
lc <- lavCor(d, ordered = items, missing = "pairwise")
cat("lavCor s:", format(Sys.time() - t0), "\n")
write.csv(unclass(lc), "bfi_polychoric_lavcor.csv")
cat(sessionInfo()$R.version$version.string, as.character(packageVersion("lavaan")), "\n")
