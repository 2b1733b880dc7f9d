## make.R: lavaan::Demo.twolevel tutorial model with loadings equal across levels (issue 14,
## point 4): the two-level model engine: bayes fits (loadings shared by both levels), with the
## within-only covariates x1-x3 and the between-only covariates w1, w2 (fixed.x = TRUE).
## Run from this folder: Rscript make.R   (data: ../twolevel_demo/data.csv = lavaan::Demo.twolevel)
## ---- reference-writing helpers (identical block in every make.R of /work/refs/groups_levels) ----
suppressPackageStartupMessages({
  library(lavaan); library(semTools); library(psych); library(multilevel); library(jsonlite)
})
# Shortest of 15/16/17 significant digits that reads back as the identical double.
fmt_num <- function(x) {
  x <- as.numeric(x)
  out <- sprintf("%.15g", x)
  for (d in 16:17) {
    bad <- is.finite(x) & suppressWarnings(as.numeric(out)) != x
    if (!any(bad)) break
    out[bad] <- sprintf(paste0("%.", d, "g"), x[bad])
  }
  out[is.na(x)] <- "NA"
  out
}
csv_cell <- function(v) {
  v <- as.character(v)
  need <- !is.na(v) & grepl("[,\"\n]", v)
  v[need] <- paste0("\"", gsub("\"", "\"\"", v[need]), "\"")
  v[is.na(v)] <- "NA"
  v
}
write_ref_csv <- function(df, file) {
  df <- as.data.frame(df, stringsAsFactors = FALSE, check.names = FALSE)
  cols <- lapply(df, function(v) {
    if (is.factor(v)) v <- as.character(v)
    if (is.logical(v) && all(is.na(v))) v <- as.numeric(v)
    if (is.numeric(v)) fmt_num(v) else csv_cell(v)
  })
  lines <- c(paste(csv_cell(names(df)), collapse = ","),
             if (nrow(df)) do.call(paste, c(cols, sep = ",")))
  con <- file(file, "w", encoding = "UTF-8"); writeLines(lines, con); close(con)
}
versions <- function() list(
  R = R.version.string, platform = R.version$platform,
  lavaan = as.character(packageVersion("lavaan")), semTools = as.character(packageVersion("semTools")),
  psych = as.character(packageVersion("psych")), multilevel = as.character(packageVersion("multilevel")),
  jsonlite = as.character(packageVersion("jsonlite")),
  RNG = RNGkind())
fit_info <- function(fit, call, seconds = NULL) {
  o <- lavInspect(fit, "options")
  keep <- c("estimator", "likelihood", "information", "h1.information", "observed.information",
            "se", "test", "missing", "meanstructure", "std.lv", "fixed.x", "int.ov.free",
            "int.lv.free", "orthogonal", "group.equal", "group.partial", "parameterization",
            "optim.method", "bootstrap", "mimic", "cluster", "level.label")
  if (!identical(o$se, "bootstrap")) keep <- setdiff(keep, "bootstrap")
  list(call = call,
       converged = lavInspect(fit, "converged"),
       iterations = lavInspect(fit, "iterations"),
       nobs = lavInspect(fit, "nobs"),
       ntotal = lavInspect(fit, "ntotal"),
       ngroups = lavInspect(fit, "ngroups"),
       group_labels = lavInspect(fit, "group.label"),
       npar = unname(fitMeasures(fit, "npar")),
       options = o[intersect(keep, names(o))],
       seconds = seconds)
}
write_meta <- function(x, file = "meta.json")
  writeLines(toJSON(x, auto_unbox = TRUE, pretty = TRUE, digits = NA, null = "null"), file)
fit_table <- function(fit, measures = NULL) {
  fm <- if (is.null(measures)) fitMeasures(fit) else fitMeasures(fit, measures)
  data.frame(measure = names(fm), value = unclass(fm), stringsAsFactors = FALSE)
}
param_table <- function(fit, ...) {   # parameterEstimates() with a label column always present
  pe <- parameterEstimates(fit, ...)
  if (!"label" %in% names(pe)) {
    at <- max(which(names(pe) %in% c("lhs", "op", "rhs", "block", "group", "level")))
    pe <- data.frame(pe[seq_len(at)], label = "", pe[-seq_len(at)], check.names = FALSE, stringsAsFactors = FALSE)
  }
  pe
}
## ---- end helpers ----

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
