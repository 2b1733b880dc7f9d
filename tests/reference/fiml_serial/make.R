## make.R: FIML (missing = "ml") on the serial-mediation survey with 5% and 20% MCAR blanks (issue 21).
## Run from this folder: Rscript make.R
source("../common.R")  # the reference-writing helpers shared by every make.R

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
