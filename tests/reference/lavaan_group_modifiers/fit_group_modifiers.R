# lavaan multi-group fits with c(...) per-group modifiers (issue 20: c(...) when data.group is
# set), Holzinger-Swineford by school (Pasteur first, Grant-White second, lavaan's order):
#   hs_c_labels  per-group labels: c(l2, l2) equal across groups; c(a1, a2) and c(a1, a3) make
#                x5 and x6 equal in Pasteur only; c(0.6, NA) fixes x9's loading in Pasteur;
#                c(0.5, NA) fixes x1's residual variance in Pasteur; c(r1, r1) an equal
#                covariance
#   hs_c_equal   the same with group.equal = "loadings": the user-labelled loadings follow
#                their labels, the fixed one stays fixed in Pasteur, the others are equal
# Writes <name>_estimates.csv (parameterEstimates with std.all and group), <name>_partable.csv,
# <name>_fit.csv and <name>.lav; data: ../lavaan_constraints/hs_data.csv (lavaan's own).
# Run from this folder: Rscript fit_group_modifiers.R
suppressPackageStartupMessages(library(lavaan))
model <- "
  visual  =~ x1 + c(l2, l2)*x2 + x3
  textual =~ x4 + c(a1, a2)*x5 + c(a1, a3)*x6
  speed   =~ x7 + x8 + c(0.6, NA)*x9
  x1 ~~ c(0.5, NA)*x1
  visual ~~ c(r1, r1)*textual
"
fits <- list(hs_c_labels = "", hs_c_equal = "loadings")
measures <- c("npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "aic", "bic",
              "logl")
for (name in names(fits)) {
  fit <- cfa(model, data = HolzingerSwineford1939, group = "school",
             group.equal = fits[[name]])
  est <- parameterEstimates(fit, standardized = TRUE)
  est <- est[, c("lhs", "op", "rhs", "group", "label", "est", "se", "z", "pvalue",
                 "ci.lower", "ci.upper", "std.all")]
  est$group <- lavInspect(fit, "group.label")[est$group]
  write.csv(est, paste0(name, "_estimates.csv"), row.names = FALSE, na = "NA")
  pt <- parTable(fit)[, c("lhs", "op", "rhs", "group", "free", "label", "plabel", "ustart")]
  write.csv(pt, paste0(name, "_partable.csv"), row.names = FALSE, na = "NA")
  fm <- fitMeasures(fit, measures)
  write.csv(data.frame(measure = names(fm), value = as.numeric(fm)),
            paste0(name, "_fit.csv"), row.names = FALSE)
  writeLines(model, paste0(name, ".lav"))
}
writeLines(c(paste("lavaan", packageVersion("lavaan")), R.version.string), "versions.txt")
