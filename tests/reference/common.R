## common.R: reference-writing helpers sourced by every make.R under tests/reference/
## (source("../common.R") from the script's folder). R 4.2.2, lavaan 0.6-14, semTools 0.5-6.
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
