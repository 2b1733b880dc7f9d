# common.R -- helpers shared by make_all.R (sourced, not run on its own).
# Writes lavaan results with full double precision and a meta.json per folder.

suppressPackageStartupMessages({
  library(lavaan)
  library(semTools)
  library(psych)
  library(jsonlite)
})

ROOT <- normalizePath(if (nzchar(Sys.getenv("ML_CORPUS_ROOT"))) Sys.getenv("ML_CORPUS_ROOT") else ".")

versions <- function() {
  list(
    R = R.version.string,
    platform = R.version$platform,
    lavaan = as.character(packageVersion("lavaan")),
    semTools = as.character(packageVersion("semTools")),
    psych = as.character(packageVersion("psych")),
    jsonlite = as.character(packageVersion("jsonlite")),
    rng = paste(RNGkind(), collapse = ", ")
  )
}

# Shortest of %.15g / %.16g / %.17g that reads back to exactly the same double.
num_rt <- function(x) {
  x <- as.numeric(x)
  out <- sprintf("%.15g", x)
  for (d in c(16, 17)) {
    bad <- is.finite(x) & suppressWarnings(as.numeric(out)) != x
    if (!any(bad)) break
    out[bad] <- sprintf(paste0("%.", d, "g"), x[bad])
  }
  out[is.na(x)] <- "NA"
  out
}

write_csv17 <- function(df, path) {
  df <- as.data.frame(df, stringsAsFactors = FALSE)
  for (j in seq_along(df)) {
    v <- df[[j]]
    if (is.factor(v)) v <- as.character(v)
    if (is.logical(v)) v <- ifelse(is.na(v), "NA", ifelse(v, "TRUE", "FALSE"))
    else if (is.numeric(v)) v <- num_rt(v)
    else v <- ifelse(is.na(v), "NA", v)
    df[[j]] <- v
  }
  utils::write.table(df, path, sep = ",", quote = FALSE, row.names = FALSE,
                     col.names = TRUE, na = "NA")
  invisible(path)
}

write_json17 <- function(x, path) {
  jsonlite::write_json(x, path, auto_unbox = TRUE, pretty = TRUE, digits = NA,
                       null = "null", na = "null")
}

loadavg <- function() {
  la <- tryCatch(readLines("/proc/loadavg", n = 1), error = function(e) NA)
  la
}

# Evaluate a call string in env, capturing warnings and the elapsed time.
run_call <- function(call_str, env) {
  warns <- character(0)
  msgs <- character(0)
  t <- system.time(
    value <- withCallingHandlers(
      eval(parse(text = call_str), envir = env),
      warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") },
      message = function(m) { msgs <<- c(msgs, conditionMessage(m)); invokeRestart("muffleMessage") }
    )
  )
  list(value = value, warnings = warns, messages = msgs, time = t)
}

# Fit once (the object used for all outputs), then `reps` more times for timing.
fit_timed <- function(call_str, env, reps = 3) {
  first <- run_call(call_str, env)
  times <- numeric(0)
  utimes <- numeric(0)
  if (reps > 0) for (i in seq_len(reps)) {
    tt <- run_call(call_str, env)$time
    times <- c(times, tt[["elapsed"]])
    utimes <- c(utimes, tt[["user.self"]] + tt[["sys.self"]])
  }
  list(fit = first$value, warnings = first$warnings, messages = first$messages,
       timing = list(
         first_elapsed_s = round(first$time[["elapsed"]], 3),
         first_user_s = round(first$time[["user.self"]], 3),
         repeat_elapsed_s = round(times, 3),
         median_repeat_elapsed_s = if (length(times)) stats::median(times) else NA,
         repeat_cpu_s = round(utimes, 3),
         median_repeat_cpu_s = if (length(utimes)) stats::median(utimes) else NA,
         loadavg_at_measurement = loadavg(),
         note = "system.time() of the lavaan call; first call includes R's one-time JIT/lazy-load cost when the section runs first in a session; repeats are the same call again. cpu = user + sys of this R process (less sensitive to machine load than elapsed) on a shared 2-core machine"
       ))
}

OPTION_NAMES <- c("estimator", "se", "information", "h1.information", "observed.information",
                  "test", "likelihood", "mimic", "meanstructure", "missing", "fixed.x",
                  "conditional.x", "std.lv", "int.ov.free", "int.lv.free", "orthogonal",
                  "auto.fix.first", "auto.cov.lv.x", "auto.cov.y", "group.equal",
                  "group.partial", "optim.method", "optim.force.converged", "bounds",
                  "start", "representation", "sample.cov.rescale",
                  "check.gradient", "em.h1.iter.max")

fit_options <- function(fit) {
  o <- lavInspect(fit, "options")
  keep <- OPTION_NAMES
  if (identical(o$se, "bootstrap")) keep <- c(keep, "bootstrap")
  o <- o[intersect(keep, names(o))]
  lapply(o, function(v) if (length(v) == 0) character(0) else v)
}

# parameterEstimates with a label column always present (empty when unlabelled).
estimates_table <- function(fit, ...) {
  pe <- parameterEstimates(fit, ...)
  pe <- as.data.frame(pe)
  if (!"label" %in% names(pe)) {
    pt <- parTable(fit)
    key_pe <- paste(pe$lhs, pe$op, pe$rhs, if (!is.null(pe$block)) pe$block else 1)
    key_pt <- paste(pt$lhs, pt$op, pt$rhs, pt$block)
    lab <- pt$label[match(key_pe, key_pt)]
    lab[is.na(lab)] <- ""
    pos <- which(names(pe) == "rhs")
    pe <- data.frame(pe[, 1:pos], label = lab, pe[, (pos + 1):ncol(pe)], stringsAsFactors = FALSE,
                     check.names = FALSE)
  }
  pe
}

r2_table <- function(fit) {
  r2 <- lavInspect(fit, "r2")
  if (is.list(r2)) {
    do.call(rbind, lapply(names(r2), function(b)
      data.frame(block = b, variable = names(r2[[b]]), r2 = unname(r2[[b]]), stringsAsFactors = FALSE)))
  } else {
    data.frame(variable = names(r2), r2 = unname(r2), stringsAsFactors = FALSE)
  }
}

fit_table <- function(fit) {
  fm <- fitMeasures(fit)
  data.frame(measure = names(fm), value = unname(as.numeric(fm)), stringsAsFactors = FALSE)
}

max_abs_gradient <- function(fit) {
  g <- tryCatch(lavInspect(fit, "gradient"), error = function(e) NA)
  max(abs(g))
}

# Gradient in the constrained space: lavaan 0.6-14 optimises equality constraints by label over a
# reduced parameter vector (fit@Model@eq.constraints.K), while lavInspect(fit, "gradient") is w.r.t.
# the full vector, so tied parameters carry equal-and-opposite entries at the optimum; their
# sum (over entries with the same name/label) is the gradient along the constrained parameter.
max_abs_gradient_constrained <- function(fit) {
  g <- tryCatch(lavInspect(fit, "gradient"), error = function(e) NULL)
  if (is.null(g)) return(NA)
  max(abs(tapply(g, factor(names(g), levels = unique(names(g))), sum)))
}

# Writes data.csv, model.lav, estimates.csv, standardized.csv, fit.csv, r2.csv and
# returns the meta list (caller adds folder-specific entries and writes it with finish()).
write_standard <- function(folder, res, model, data, call_str, script_section, write_data = TRUE,
                           r2 = TRUE, data_note = NULL) {
  dir.create(folder, showWarnings = FALSE, recursive = TRUE)
  fit <- res$fit
  if (write_data) write_csv17(data, file.path(folder, "data.csv"))
  writeLines(model, file.path(folder, "model.lav"))
  write_csv17(estimates_table(fit), file.path(folder, "estimates.csv"))
  conv <- lavInspect(fit, "converged")
  files <- c("data.csv", "model.lav", "estimates.csv")
  fm <- NULL
  fm_error <- NULL
  if (conv) {
    write_csv17(standardizedSolution(fit, type = "std.all"), file.path(folder, "standardized.csv"))
    fm <- fitMeasures(fit)
    write_csv17(fit_table(fit), file.path(folder, "fit.csv"))
    files <- c(files, "standardized.csv", "fit.csv")
    if (r2) {
      r2t <- r2_table(fit)
      if (nrow(r2t)) { write_csv17(r2t, file.path(folder, "r2.csv")); files <- c(files, "r2.csv") }
    }
  } else {
    fm_error <- tryCatch({ fitMeasures(fit); "none" }, error = function(e) conditionMessage(e))
  }
  nobs <- lavInspect(fit, "nobs")
  norig <- tryCatch(lavInspect(fit, "norig"), error = function(e) NA)
  meta <- list(
    folder = basename(folder),
    versions = versions(),
    script = "make_all.R (with common.R), section " %s% script_section,
    rerun = "cd /work/refs/ml_corpus && Rscript make_all.R " %s% basename(folder),
    call = call_str,
    options = fit_options(fit),
    nobs = as.list(nobs),
    norig = as.list(norig),
    ngroups = lavInspect(fit, "ngroups"),
    group_labels = lavInspect(fit, "group.label"),
    converged = conv,
    iterations = lavInspect(fit, "iterations"),
    optim_fx = fit@optim$fx,
    optim_fx_note = "lavaan's minimised objective (for ML: 0.5 * F_ML; for FIML: the negative mean casewise log-likelihood minus a constant); fit@optim$fx",
    max_abs_gradient = max_abs_gradient(fit),
    max_abs_gradient_constrained = max_abs_gradient_constrained(fit),
    gradient_note = "lavInspect(fit, 'gradient') of optim_fx; with equality constraints by label the raw entries of tied parameters are equal and opposite, max_abs_gradient_constrained sums them per label",
    npar_free = lavInspect(fit, "npar"),
    warnings = res$warnings,
    messages = res$messages,
    timing = res$timing,
    files = files
  )
  if (!is.null(data_note)) meta$data_note <- data_note
  if (!is.null(fm)) {
    key <- c("npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower",
             "rmsea.ci.upper", "srmr", "aic", "bic", "logl", "unrestricted.logl")
    meta$key_fit <- as.list(fm[intersect(key, names(fm))])
  } else {
    meta$fit_measures_error <- fm_error
  }
  meta
}

`%s%` <- function(a, b) paste0(a, b)

finish <- function(folder, meta, readme) {
  meta$files <- unique(c(meta$files, "meta.json", "README.md"))
  write_json17(meta, file.path(folder, "meta.json"))
  writeLines(readme, file.path(folder, "README.md"))
  cat("wrote", folder, "\n")
}

fmt <- function(x, d = 4) formatC(x, digits = d, format = "f")
fmtg <- function(x, d = 6) ifelse(is.na(x), "NA", trimws(formatC(x, digits = d, format = "g")))

fit_line <- function(fit) {
  if (!lavInspect(fit, "converged")) return("lavaan did NOT converge; no fit measures")
  fm <- fitMeasures(fit)
  sprintf("chisq = %s, df = %d, p = %s, CFI = %s, TLI = %s, RMSEA = %s [%s, %s], SRMR = %s, logl = %s, AIC = %s, BIC = %s, npar = %d",
          fmt(fm[["chisq"]]), as.integer(fm[["df"]]), fmtg(fm[["pvalue"]], 4), fmt(fm[["cfi"]]),
          fmt(fm[["tli"]]), fmt(fm[["rmsea"]]), fmt(fm[["rmsea.ci.lower"]]),
          fmt(fm[["rmsea.ci.upper"]]), fmt(fm[["srmr"]]), fmt(fm[["logl"]], 3), fmt(fm[["aic"]], 3),
          fmt(fm[["bic"]], 3), as.integer(fm[["npar"]]))
}

warn_line <- function(res) {
  if (length(res$warnings) == 0) "lavaan gave no warnings." else
    paste0("lavaan warnings (verbatim):\n", paste0("    ", gsub("\n", "\n    ", res$warnings), collapse = "\n"))
}

timing_line <- function(res) {
  t <- res$timing
  sprintf("Fit time (system.time elapsed): first call %.3f s; repeats %s s (median %.3f s; median CPU user+sys %.3f s); load average at the time: %s.",
          t$first_elapsed_s, paste(sprintf("%.3f", t$repeat_elapsed_s), collapse = ", "),
          t$median_repeat_elapsed_s, if (is.null(t$median_repeat_cpu_s)) NA else t$median_repeat_cpu_s,
          t$loadavg_at_measurement)
}

std_readme_files <- function(extra = character(0)) {
  c("| file | content |", "| --- | --- |",
    "| `data.csv` | the exact data fitted (full double precision, `NA` = missing) |",
    "| `model.lav` | lavaan syntax as passed to lavaan |",
    "| `estimates.csv` | `parameterEstimates(fit)` (all rows incl. fixed ones; `label` column always present) |",
    "| `standardized.csv` | `standardizedSolution(fit, type = \"std.all\")` |",
    "| `fit.csv` | every `fitMeasures(fit)` value (`measure,value`) |",
    "| `r2.csv` | `lavInspect(fit, \"r2\")` (`variable,r2`; `block` column when several groups/levels) |",
    "| `meta.json` | versions, exact call, lavaan options, nobs, convergence, iterations, objective, max abs gradient, warnings, timing |",
    extra)
}
