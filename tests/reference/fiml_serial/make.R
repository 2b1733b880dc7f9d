## make.R: FIML (missing = "ml") on the serial-mediation survey with 5% and 20% MCAR blanks (issue 21).
## Run from this folder: Rscript make.R
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

complete <- read.csv("/work/shared/reference/serial_mediation/data.csv")
model <- paste0(paste(readLines("/work/shared/reference/serial_mediation/model.lav"), collapse = "\n"), "\n")
writeLines(model, "model.lav", sep = "")
## MCAR blanks: one U(0,1) per cell (row-major over 400 x 20), set.seed(2121);
## 5% data: cells with u < 0.05; 20% data: cells with u < 0.20 (so the 5% blanks are a subset of the 20% blanks)
set.seed(2121)
u <- matrix(runif(nrow(complete) * ncol(complete)), nrow(complete), ncol(complete), byrow = TRUE)
d05 <- complete; d05[u < 0.05] <- NA
d20 <- complete; d20[u < 0.20] <- NA
write_ref_csv(complete, "data_complete.csv")
write_ref_csv(d05, "data_mcar05.csv")
write_ref_csv(d20, "data_mcar20.csv")

specs <- list(
  complete_ml = list(data = complete, call = "sem(model, data_complete)", args = list()),
  complete_fiml = list(data = complete, call = 'sem(model, data_complete, missing = "ml")', args = list(missing = "ml")),
  mcar05_fiml = list(data = d05, call = 'sem(model, data_mcar05, missing = "ml")', args = list(missing = "ml")),
  mcar20_fiml = list(data = d20, call = 'sem(model, data_mcar20, missing = "ml")', args = list(missing = "ml")))
key <- c("npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "srmr", "aic", "bic", "logl", "unrestricted.logl")
info <- list(); summ <- NULL; cmp <- NULL
for (nm in names(specs)) {
  s <- specs[[nm]]
  times <- numeric(0); cpu <- numeric(0)
  for (r in 1:3) {
    tt <- system.time(f <- do.call("sem", c(list(model = model, data = s$data), s$args)))
    times <- c(times, unname(tt["elapsed"])); cpu <- c(cpu, unname(tt["user.self"] + tt["sys.self"]))
  }
  pe <- parameterEstimates(f)
  write_ref_csv(pe, paste0("estimates_", nm, ".csv"))
  write_ref_csv(standardizedSolution(f, type = "std.all"), paste0("standardized_", nm, ".csv"))
  write_ref_csv(fit_table(f), paste0("fit_", nm, ".csv"))
  summ <- rbind(summ, data.frame(fit = nm, t(unclass(fitMeasures(f, key)))))
  info[[nm]] <- fit_info(f, s$call, round(median(times), 3))
  info[[nm]]$seconds_all_reps <- round(times, 3)
  info[[nm]]$cpu_s_all_reps <- round(cpu, 3)
  info[[nm]]$n_missing_cells <- sum(is.na(s$data))
  info[[nm]]$n_complete_rows <- sum(complete.cases(s$data))
  info[[nm]]$n_missing_patterns <- nrow(unique(is.na(s$data)))
  ss <- standardizedSolution(f, type = "std.all")
  cmp <- rbind(cmp, data.frame(fit = nm, lhs = pe$lhs, op = pe$op, rhs = pe$rhs, label = pe$label,
                               est = pe$est, se = pe$se, est.std = ss$est.std[match(paste(pe$lhs, pe$op, pe$rhs), paste(ss$lhs, ss$op, ss$rhs))]))
}
write_ref_csv(summ, "fit_summary.csv")
## wide comparison of the structural and defined parameters across the four fits
keyp <- cmp[cmp$op %in% c("~", ":="), ]
write_ref_csv(keyp, "key_parameters.csv")
write_meta(list(versions = versions(),
  data = "shared serial_mediation/data.csv (N = 400, 20 five-point items, no missing) with MCAR blanks added here",
  blanks = "set.seed(2121); u = matrix(runif(400 * 20), 400, 20, byrow = TRUE); 5%: u < 0.05, 20%: u < 0.20",
  seconds_what = "median elapsed of 3 repeated fits (system.time); cpu_s_all_reps = user + system CPU seconds of each (less sensitive to machine load)",
  fits = info, loadavg_at_end = tryCatch(readLines("/proc/loadavg"), error = function(e) NA)))
print(summ[, c("fit", "npar", "chisq", "df", "cfi", "rmsea")])
print(keyp[keyp$op == ":=", ])
str(lapply(info, function(i) c(i$seconds, i$n_missing_cells, i$n_complete_rows, i$n_missing_patterns)))
