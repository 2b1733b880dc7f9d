## make.R: multi-group FIML (missing = "ml") on HolzingerSwineford1939 by school with 8% MCAR blanks (issue 17).
## Run from this folder: Rscript make.R   (R 4.2.2, lavaan 0.6-14, semTools 0.5-6)
source("../common.R")  # the reference-writing helpers shared by every make.R
## ---- the data: lavaan's HolzingerSwineford1939, x1-x9 with 8% of the cells blanked (MCAR) ----
set.seed(1717)
d <- HolzingerSwineford1939[, c("id", "school", paste0("x", 1:9))]
items <- paste0("x", 1:9)
blank <- matrix(runif(nrow(d) * 9) < 0.08, nrow(d), 9)
for (j in 1:9) d[blank[, j], items[j]] <- NA
write_ref_csv(d, "data.csv")
model <- "visual  =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed   =~ x7 + x8 + x9\n"
writeLines(model, "model.lav")
levels <- list(configural = "none", scalar = c("loadings", "intercepts"))
meta <- list(versions = list(R = R.version.string, lavaan = as.character(packageVersion("lavaan"))),
             data = "HolzingerSwineford1939 x1-x9, set.seed(1717), each cell blank with probability 0.08",
             blank_cells = sum(blank), fits = list())
for (name in names(levels)) {
  fit <- cfa(model, data = d, group = "school", missing = "ml", group.equal = levels[[name]])
  est <- parameterEstimates(fit)
  if (is.null(est$label)) est$label <- ""
  write_ref_csv(est[, c("lhs", "op", "rhs", "group", "label", "est", "se", "z", "pvalue", "ci.lower", "ci.upper")],
                paste0("estimates_", name, ".csv"))
  fm <- fitMeasures(fit)
  write_ref_csv(data.frame(measure = names(fm), value = unname(fm)), paste0("fit_", name, ".csv"))
  meta$fits[[name]] <- list(call = sprintf("cfa(model, data, group = \"school\", missing = \"ml\", group.equal = c(%s))",
                                           paste0("\"", levels[[name]], "\"", collapse = ", ")),
                            converged = lavInspect(fit, "converged"), nobs = lavInspect(fit, "nobs"),
                            npar = unname(fm["npar"]), chisq = unname(fm["chisq"]), df = unname(fm["df"]),
                            information = lavInspect(fit, "options")$information)
}
writeLines(toJSON(meta, auto_unbox = TRUE, pretty = TRUE, digits = NA), "meta.json")
