## make.R: two-level ML (random intercepts) on lavaan::Demo.twolevel (issues 14, 19).
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

data <- lavaan::Demo.twolevel
write_ref_csv(data, "data.csv")

## The model of lavaan's multilevel tutorial (https://lavaan.ugent.be/tutorial/multilevel.html)
model <- 'level: 1
    fw =~ y1 + y2 + y3
    fw ~ x1 + x2 + x3
level: 2
    fb =~ y1 + y2 + y3
    fb ~ w1 + w2
'
## Latent mediation at both levels: x1 -> fw1 -> fw2 (within), w1 -> fb1 -> fb2 (between)
model_med <- 'level: 1
    fw1 =~ y1 + y2 + y3
    fw2 =~ y4 + y5 + y6
    fw1 ~ aw*x1 + x2 + x3
    fw2 ~ bw*fw1 + cw*x1
level: 2
    fb1 =~ y1 + y2 + y3
    fb2 =~ y4 + y5 + y6
    fb1 ~ ab*w1 + w2
    fb2 ~ bb*fb1 + cb*w1
ind_within  := aw*bw
ind_between := ab*bb
total_within  := cw + aw*bw
total_between := cb + ab*bb
'
writeLines(model, "model.lav", sep = "")
writeLines(model_med, "model_mediation.lav", sep = "")

fit_one <- function(m) sem(m, data = data, cluster = "cluster")
key <- c("npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper",
         "srmr", "srmr_within", "srmr_between", "logl", "unrestricted.logl", "aic", "bic", "bic2")

long_mats <- function(x, what) {
  out <- NULL
  for (lv in seq_along(x)) {
    m <- x[[lv]]
    for (nm in names(m)) {
      v <- m[[nm]]
      if (is.matrix(v)) {
        g <- expand.grid(row = rownames(v), col = colnames(v), stringsAsFactors = FALSE)
        out <- rbind(out, data.frame(source = what, level = lv, matrix = nm, row = g$row, col = g$col,
                                     value = as.vector(v)))
      } else {
        out <- rbind(out, data.frame(source = what, level = lv, matrix = nm, row = names(v), col = "",
                                     value = as.vector(v)))
      }
    }
  }
  out
}

info <- list()
for (nm in c("tutorial", "mediation")) {
  m <- if (nm == "tutorial") model else model_med
  times <- numeric(0); cpu <- numeric(0)
  for (r in 1:7) {
    tt <- system.time(f <- fit_one(m))
    times <- c(times, unname(tt["elapsed"])); cpu <- c(cpu, unname(tt["user.self"] + tt["sys.self"]))
  }
  sfx <- if (nm == "tutorial") "" else "_mediation"
  write_ref_csv(param_table(f), paste0("estimates", sfx, ".csv"))
  write_ref_csv(standardizedSolution(f, type = "std.all"), paste0("standardized", sfx, ".csv"))
  write_ref_csv(fit_table(f), paste0("fit", sfx, ".csv"))
  write_ref_csv(fit_table(f, key), paste0("fit_key", sfx, ".csv"))
  icc <- lavInspect(f, "icc")
  write_ref_csv(data.frame(variable = names(icc), icc = unname(icc)), paste0("icc", sfx, ".csv"))
  mats <- rbind(long_mats(lavInspect(f, "implied"), "implied"), long_mats(lavInspect(f, "h1"), "h1_saturated"))
  write_ref_csv(mats, paste0("matrices", sfx, ".csv"))
  info[[nm]] <- fit_info(f, sprintf('sem(<%s>, data = Demo.twolevel, cluster = "cluster")',
                                    if (nm == "tutorial") "model.lav" else "model_mediation.lav"),
                         round(median(times), 3))
  info[[nm]]$seconds_all_reps <- round(times, 3)
  info[[nm]]$cpu_s_all_reps <- round(cpu, 3)
  info[[nm]]$nclusters <- lavInspect(f, "nclusters")
  info[[nm]]$cluster_sizes <- as.list(table(table(data$cluster)))
  if (nm == "mediation") {
    set.seed(2024)
    mc <- monteCarloCI(f, nRep = 20000)
    write_ref_csv(data.frame(parameter = rownames(mc), mc, check.names = FALSE),
                  "montecarlo_ci_mediation.csv")
    info[[nm]]$montecarlo <- "set.seed(2024); semTools::monteCarloCI(fit, nRep = 20000) (all := rows; 95% percentile of 20000 draws from N(est, ACOV); Monte Carlo error about 0.002 on the bounds)"
  }
  print(fitMeasures(f, key))
}
write_meta(list(versions = versions(),
  data = "lavaan::Demo.twolevel: 2500 rows, 200 clusters (50 each of size 5, 10, 15, 20)",
  variables = "x1-x3 appear only at level 1 (within-only, fixed.x = TRUE); w1, w2 only at level 2 (between-only, fixed.x = TRUE); y1-y6 split into within and between parts",
  seconds_what = "median elapsed of 7 repeated fits (system.time); cpu_s_all_reps = user + system CPU seconds",
  fits = info,
  loadavg_at_end = tryCatch(readLines("/proc/loadavg"), error = function(e) NA)))
