## make.R: latent moderated mediation by unconstrained product indicators with double-mean-centring (issue 18).
## Run from this folder: Rscript make.R
source("../common.R")  # the reference-writing helpers shared by every make.R

## ---------------- simulation: X -> M -> Y, W moderates M -> Y (second stage, Hayes model 14) ----------------
set.seed(1818)
N <- 500
a <- 0.50; b1 <- 0.40; b2 <- 0.20; b3 <- 0.20; cp <- 0.10; r_xw <- 0.20
## draw order: X, W (bivariate normal via X then W | X), dM, dY, then items (x1..x3, m1..m3, w1..w3, y1..y3)
X <- rnorm(N)
W <- r_xw * X + rnorm(N, 0, sqrt(1 - r_xw^2))
M <- a * X + rnorm(N, 0, sqrt(1 - a^2))
## Var of the systematic part of Y (population): Var(b1 M + b2 W + cp X) + b3^2 Var(MW),
## Cov(M, W) = a r_xw, Var(MW) = 1 + Cov(M, W)^2 for standard bivariate normal M, W
S <- matrix(c(1, a * r_xw, a, a * r_xw, 1, r_xw, a, r_xw, 1), 3, 3)   # (M, W, X)
bv <- c(b1, b2, cp)
v_sys <- drop(t(bv) %*% S %*% bv) + b3^2 * (1 + (a * r_xw)^2)
resid_y <- 0.5
Y <- b1 * M + b2 * W + b3 * M * W + cp * X + rnorm(N, 0, sqrt(resid_y))
lam <- c(0.80, 0.75, 0.70)
eta <- list(x = X, m = M, w = W, y = Y)
sdv <- c(x = 1, m = 1, w = 1, y = sqrt(v_sys + resid_y))   # items: lambda * eta / sd(eta) + e, Var(y*) = 1
cont <- list()
for (v in names(eta)) for (k in 1:3)
  cont[[paste0(v, k)]] <- lam[k] * eta[[v]] / sdv[[v]] + rnorm(N, 0, sqrt(1 - lam[k]^2))
cont <- as.data.frame(cont)
cut5 <- function(v) as.integer(cut(v, c(-Inf, -1.5, -0.5, 0.5, 1.5, Inf)))
lik5 <- as.data.frame(lapply(cont, cut5))
write_ref_csv(cont, "data_continuous.csv")
write_ref_csv(lik5, "data_5pt.csv")
write_ref_csv(data.frame(X = X, M = M, W = W, Y = Y), "latent_truth.csv")

## ---------------- product indicators ----------------
## matched pairs in item order: (m1, w1), (m2, w2), (m3, w3) (largest loading with largest loading);
## p_k = (m_k - mean(m_k)) * (w_k - mean(w_k)); then p_k <- p_k - mean(p_k)  (double-mean-centring)
## all pairs (match = FALSE): the 9 products m_i.w_j, same centring.
make_pi <- function(d) {
  mt <- indProd(d, var1 = c("m1", "m2", "m3"), var2 = c("w1", "w2", "w3"),
                match = TRUE, meanC = TRUE, residualC = FALSE, doubleMC = TRUE)
  al <- indProd(d, var1 = c("m1", "m2", "m3"), var2 = c("w1", "w2", "w3"),
                match = FALSE, meanC = TRUE, residualC = FALSE, doubleMC = TRUE)
  ## check against the hand formula
  hand <- sapply(1:3, function(k) { p <- (d[[paste0("m", k)]] - mean(d[[paste0("m", k)]])) *
                                          (d[[paste0("w", k)]] - mean(d[[paste0("w", k)]])); p - mean(p) })
  stopifnot(max(abs(hand - as.matrix(mt[, c("m1.w1", "m2.w2", "m3.w3")]))) < 1e-12)
  list(matched = mt, all = al)
}
meas <- 'X =~ x1 + x2 + x3
M =~ m1 + m2 + m3
W =~ w1 + w2 + w3
Y =~ y1 + y2 + y3
'
struct <- 'M ~ a*X
Y ~ b1*M + b2*W + b3*MW + cp*X
W ~~ vW*W
X ~~ W
X ~~ MW
W ~~ MW
M ~~ MW
imm := a*b3
imm_per_sd_w := a*b3*sqrt(vW)
ind_w_minus1sd := a*(b1 - b3*sqrt(vW))
ind_w_mean := a*b1
ind_w_plus1sd := a*(b1 + b3*sqrt(vW))
slope_MY_w_minus1sd := b1 - b3*sqrt(vW)
slope_MY_w_plus1sd := b1 + b3*sqrt(vW)
'
pi_matched <- 'MW =~ m1.w1 + m2.w2 + m3.w3
'
pi_all <- 'MW =~ m1.w1 + m1.w2 + m1.w3 + m2.w1 + m2.w2 + m2.w3 + m3.w1 + m3.w2 + m3.w3
'
prods <- outer(paste0("m", 1:3), paste0("w", 1:3), paste, sep = ".")
pl <- as.vector(t(prods))
cr <- character(0)
for (i in 1:8) for (j in (i + 1):9) {
  si <- strsplit(pl[i], ".", fixed = TRUE)[[1]]; sj <- strsplit(pl[j], ".", fixed = TRUE)[[1]]
  if (si[1] == sj[1] || si[2] == sj[2]) cr <- c(cr, paste0(pl[i], " ~~ ", pl[j]))
}
model_matched <- paste0(meas, pi_matched, struct)
model_all <- paste0(meas, pi_all, struct, paste(cr, collapse = "\n"), "\n")
writeLines(model_matched, "model_matched.lav", sep = "")
writeLines(model_all, "model_allpairs.lav", sep = "")

info <- list(); key_rows <- NULL; fit_rows <- NULL
keyfit <- c("npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "aic", "bic", "logl")
for (ds in c("continuous", "5pt")) {
  d <- if (ds == "continuous") cont else lik5
  p <- make_pi(d)
  write_ref_csv(p$all, paste0("data_", ds, "_with_products.csv"))   # all 9 products (matched ones included)
  for (mv in c("matched", "allpairs")) {
    m <- if (mv == "matched") model_matched else model_all
    dd <- if (mv == "matched") p$matched else p$all
    nm <- paste(ds, mv, sep = "_")
    tt <- system.time(f <- sem(m, dd))
    write_ref_csv(param_table(f), paste0("estimates_", nm, ".csv"))
    write_ref_csv(standardizedSolution(f, type = "std.all"), paste0("standardized_", nm, ".csv"))
    write_ref_csv(fit_table(f), paste0("fit_", nm, ".csv"))
    fit_rows <- rbind(fit_rows, data.frame(fit = nm, t(unclass(fitMeasures(f, keyfit)))))
    info[[nm]] <- fit_info(f, sprintf("sem(<model_%s.lav>, data_%s_with_products)", mv, ds), round(unname(tt["elapsed"]), 3))
    pe <- parameterEstimates(f)
    k <- pe$label %in% c("a", "b1", "b2", "b3", "cp", "vW", "imm", "imm_per_sd_w", "ind_w_minus1sd", "ind_w_mean", "ind_w_plus1sd",
                         "slope_MY_w_minus1sd", "slope_MY_w_plus1sd")
    key_rows <- rbind(key_rows, data.frame(fit = nm, ci = "wald", pe[k, c("label", "est", "se", "ci.lower", "ci.upper")]))
    if (mv == "matched") {
      tb <- system.time(fb <- sem(m, dd, se = "bootstrap", bootstrap = 1000, iseed = 1, parallel = "no"))
      peb <- parameterEstimates(fb, boot.ci.type = "perc")
      write_ref_csv(peb, paste0("estimates_", nm, "_bootstrap.csv"))
      bt <- lavInspect(fb, "boot")
      info[[nm]]$bootstrap <- list(call = 'sem(<model>, data_with_products, se = "bootstrap", bootstrap = 1000, iseed = 1, parallel = "no"); percentile CI',
                                   n_ok = sum(complete.cases(bt)), elapsed_s = round(unname(tb["elapsed"]), 3),
                                   note = "rows of the data WITH the product columns are resampled: products are not re-centred within each bootstrap sample")
      key_rows <- rbind(key_rows, data.frame(fit = nm, ci = "bootstrap_perc_1000", peb[k, c("label", "est", "se", "ci.lower", "ci.upper")]))
    }
  }
}
write_ref_csv(fit_rows, "fit_summary.csv")
write_ref_csv(key_rows, "key_effects.csv")
writeLines(toJSON(list(a = a, b1 = b1, b2 = b2, b3 = b3, cp = cp, r_xw = r_xw, resid_var_Y = resid_y,
  var_Y_latent = v_sys + resid_y, imm = a * b3,
  ind_w_minus1sd = a * (b1 - b3), ind_w_mean = a * b1, ind_w_plus1sd = a * (b1 + b3),
  imm_per_sd_w = a * b3,
  truth_lavaan_metric_continuous = {
    l1 <- lam[1]; ky <- l1 / sdv[["y"]]
    a_l <- a; b1_l <- b1 * ky / l1; b2_l <- b2 * ky / l1; b3_l <- b3 * ky / l1^2; cp_l <- cp * ky / l1
    list(a = a_l, b1 = b1_l, b2 = b2_l, b3 = b3_l, cp = cp_l, vW = l1^2, imm = a_l * b3_l,
         imm_per_sd_w = a_l * b3_l * l1, ind_w_minus1sd = a_l * (b1_l - b3_l * l1), ind_w_mean = a_l * b1_l,
         ind_w_plus1sd = a_l * (b1_l + b3_l * l1),
         note = "population values in the metric of the lavaan model (first loading of every latent = 1, MW scaled by m1.w1): X_lav = l1 X, M_lav = l1 M, W_lav = l1 W, MW_lav = l1^2 MW, Y_lav = l1 Y / sd(Y); l1 = 0.8, sd(Y) = sqrt(var_Y_latent)")
  },
  loadings_ystar = lam, thresholds_5pt = c(-1.5, -0.5, 0.5, 1.5),
  note = "latent metric: X, M, W variance 1 (W mean 0, SD 1); Y items load on Y / sd(Y) so their loadings are standardized; the latent Y of the lavaan model is scaled by its first indicator, so b-paths in the lavaan metric equal truth * lambda_y1 / sd(Y) (marker y1): compare a and imm ratios or std.all, or rescale"),
  auto_unbox = TRUE, pretty = TRUE, digits = NA), "truth.json")
write_meta(list(versions = versions(), seed = "set.seed(1818); draw order in make.R",
  product_indicators = list(
    call_matched = 'semTools::indProd(data, var1 = c("m1","m2","m3"), var2 = c("w1","w2","w3"), match = TRUE, meanC = TRUE, residualC = FALSE, doubleMC = TRUE)',
    call_allpairs = "the same with match = FALSE (9 products m_i.w_j)",
    formula = "p = (m_k - mean(m_k)) * (w_k - mean(w_k)); p <- p - mean(p); means over all N rows (no missing data); names m1.w1, m2.w2, m3.w3",
    residual_covariances_allpairs = cr),
  fits = info, loadavg_at_end = tryCatch(readLines("/proc/loadavg"), error = function(e) NA)))
print(fit_rows[, 1:6]); print(key_rows[key_rows$label %in% c("a", "b3", "imm", "ind_w_minus1sd", "ind_w_mean", "ind_w_plus1sd"), ], digits = 4)
