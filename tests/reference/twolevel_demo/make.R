## make.R: two-level ML (random intercepts) on lavaan::Demo.twolevel (issues 14, 19).
## Run from this folder: Rscript make.R
source("../common.R")  # the reference-writing helpers shared by every make.R

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
