## make.R: nonparametric bootstrap with FIML (missing = "ml") for a latent indirect effect (issue 15).
## Run from this folder: Rscript make.R   (about 20 min of CPU: two runs of 5000 bootstrap fits)
source("../common.R")  # the reference-writing helpers shared by every make.R

## ---------------- simulation ----------------
set.seed(1515)
N <- 300
## latent X -> M -> Y (+ direct X -> Y); standardized latents: a = 0.40, b = 0.35, cp = 0.10
a <- 0.40; b <- 0.35; cp <- 0.10
X <- rnorm(N)
M <- a * X + rnorm(N, 0, sqrt(1 - a^2))
vY <- b^2 + cp^2 + 2 * b * cp * a
Y <- b * M + cp * X + rnorm(N, 0, sqrt(1 - vY))
lam <- c(0.80, 0.75, 0.70)
items <- function(eta) sapply(1:3, function(k) 3 + lam[k] * eta + rnorm(N, 0, sqrt(1 - lam[k]^2)))
complete <- data.frame(items(X), items(M), items(Y))   # draw order: X items 1-3, M items, Y items
names(complete) <- c(paste0("x", 1:3), paste0("m", 1:3), paste0("y", 1:3))
## 5% MCAR blanks: one uniform per cell, row-major over the 300 x 9 matrix
u <- matrix(runif(N * 9), N, 9, byrow = TRUE)
data <- complete
data[u < 0.05] <- NA
write_ref_csv(data, "data.csv")
write_ref_csv(complete, "data_complete.csv")

model <- 'X =~ x1 + x2 + x3
M =~ m1 + m2 + m3
Y =~ y1 + y2 + y3
M ~ a*X
Y ~ b*M + cp*X
ind := a*b
total := cp + a*b
'
writeLines(model, "model.lav", sep = "")

## ---------------- ML (FIML) with information-based SEs ----------------
t_ml <- system.time(fit <- sem(model, data, missing = "ml"))
write_ref_csv(parameterEstimates(fit), "estimates_fiml.csv")
write_ref_csv(standardizedSolution(fit, type = "std.all"), "standardized_fiml.csv")
write_ref_csv(fit_table(fit), "fit_fiml.csv")

## ---------------- bootstrap: two independent runs of B = 5000 ----------------
B <- 5000
runs <- list(); boot_info <- list(); ci_rows <- NULL
for (seed in c(1L, 2L)) {
  tb <- system.time(fb <- sem(model, data, missing = "ml", se = "bootstrap", bootstrap = B,
                              iseed = seed, parallel = "no"))
  bt <- lavInspect(fb, "boot")
  err <- attr(bt, "error.idx")
  ok <- bt[stats::complete.cases(bt), , drop = FALSE]
  ind_draws <- ok[, "a"] * ok[, "b"]
  total_draws <- ok[, "cp"] + ind_draws
  for (type in c("perc", "norm", "basic", "bca.simple")) {
    pe <- parameterEstimates(fb, boot.ci.type = type)
    pe$boot.ci.type <- type; pe$iseed <- seed
    ci_rows <- rbind(ci_rows, pe)
  }
  q <- function(v, p) unname(quantile(v, p, type = 7))
  ## lavaan's percentile bound = boot::norm.inter (copied inside parameterEstimates): order statistic
  ## (R + 1) * alpha, interpolated between neighbours on the normal-quantile scale
  norm_inter <- function(t, alpha) {
    t <- sort(t[is.finite(t)]); R <- length(t); rk <- (R + 1) * alpha; k <- trunc(rk)
    if (k == rk) return(t[k])
    t[k] + (qnorm(alpha) - qnorm(k / (R + 1))) / (qnorm((k + 1) / (R + 1)) - qnorm(k / (R + 1))) * (t[k + 1] - t[k])
  }
  ## Monte Carlo SE of a percentile bound: sqrt(p (1 - p) / B) / f(q), f by a Gaussian kernel density
  mcse_q <- function(v, p) { dn <- density(v); sqrt(p * (1 - p) / length(v)) / approx(dn$x, dn$y, q(v, p))$y }
  boot_info[[paste0("iseed_", seed)]] <- list(
    call = sprintf('sem(model, data, missing = "ml", se = "bootstrap", bootstrap = %d, iseed = %d, parallel = "no")', B, seed),
    elapsed_s = round(unname(tb["elapsed"]), 3), cpu_s = round(unname(tb["user.self"] + tb["sys.self"]), 3),
    n_requested = B, n_ok = nrow(ok), n_failed = length(err),
    ind = list(est = fitted_ind <- unname(coef(fb)["a"] * coef(fb)["b"]),
               boot_mean = mean(ind_draws), boot_sd = sd(ind_draws),
               lavaan_perc_2.5 = norm_inter(ind_draws, 0.025), lavaan_perc_97.5 = norm_inter(ind_draws, 0.975),
               quantile_type7_2.5 = q(ind_draws, 0.025), quantile_type7_97.5 = q(ind_draws, 0.975),
               mcse_perc_2.5 = mcse_q(ind_draws, 0.025), mcse_perc_97.5 = mcse_q(ind_draws, 0.975)),
    total = list(boot_sd = sd(total_draws), lavaan_perc_2.5 = norm_inter(total_draws, 0.025),
                 lavaan_perc_97.5 = norm_inter(total_draws, 0.975)))
  draws <- as.data.frame(bt)
  draws$ind <- draws$a * draws$b
  draws$total <- draws$cp + draws$ind
  write_ref_csv(draws, sprintf("boot_draws_iseed%d.csv", seed))
  if (seed == 1L) fb1 <- fb
}
write_ref_csv(ci_rows, "estimates_bootstrap.csv")
sel <- ci_rows$op == ":=" | ci_rows$label %in% c("a", "b", "cp")
summ <- ci_rows[sel, c("iseed", "boot.ci.type", "label", "est", "se", "ci.lower", "ci.upper")]
names(summ)[names(summ) == "se"] <- "boot_sd"
write_ref_csv(summ, "bootstrap_summary.csv")

write_meta(list(versions = versions(),
  seed = "set.seed(1515) for the data; lavaan bootstrap iseed = 1 and iseed = 2",
  truth = list(a = a, b = b, cp = cp, ind = a * b, loadings = lam, item_intercept = 3,
               note = "standardized latents; items = 3 + lambda * eta + N(0, 1 - lambda^2); 5% MCAR cells (u < 0.05)"),
  n_missing_cells = sum(is.na(data)), n_rows_with_missing = sum(!complete.cases(data)),
  fiml = fit_info(fit, 'sem(model, data, missing = "ml")', round(unname(t_ml["elapsed"]), 3)),
  bootstrap = boot_info,
  bootstrap_options = lavInspect(fb1, "options")[c("se", "bootstrap", "missing", "information", "estimator", "meanstructure")],
  bootstrap_method = "lavaan ordinary nonparametric bootstrap: rows resampled with replacement (with their missing cells), each replicate refitted by FIML with the original starting values; failed replicates are dropped (attr error.idx); lavaan's percentile CI (parameterEstimates boot.ci.type = 'perc') = boot::norm.inter: order statistic (R+1)*alpha interpolated on the normal-quantile scale (lavaan_perc_*); quantile(type = 7) of the same draws is given for comparison (quantile_type7_*)",
  loadavg_at_end = tryCatch(readLines("/proc/loadavg"), error = function(e) NA)))
str(boot_info)
