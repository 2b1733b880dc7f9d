## make.R: common-method-variance checks (Harman, CFA marker technique, ULMC) on simulated data (issue 19).
## Run from this folder: Rscript make.R
source("../common.R")  # the reference-writing helpers shared by every make.R

## ---------------- simulation ----------------
set.seed(2010)
N <- 500
lat_names <- c("TL", "SENS", "SEIZ", "BI")
lam <- list(TL = c(0.80, 0.75, 0.70, 0.65), SENS = c(0.80, 0.75, 0.70, 0.65),
            SEIZ = c(0.80, 0.75, 0.70, 0.65), BI = c(0.80, 0.75, 0.70, 0.65),
            MK = c(0.75, 0.70, 0.70, 0.65))
paths <- c(a = 0.50, b = 0.45, g = 0.10, c = 0.40, cp = 0.15)   # standardized; see below
method_loading <- 0.35                                        # on y* of every item (substantive + marker)
thresholds <- c(-1.80, -1.10, -0.40, 0.30, 1.00, 1.70)        # y* -> 1..7
## latents: TL ~ N(0,1); SENS = a TL + e; SEIZ = b SENS + g TL + e; BI = c SEIZ + cp TL + e,
## residual variances chosen so that every latent has variance 1; MK (marker) ~ N(0,1) independent.
r_sens <- 1 - paths[["a"]]^2
cov_sens_tl <- paths[["a"]]
v_seiz <- paths[["b"]]^2 + paths[["g"]]^2 + 2 * paths[["b"]] * paths[["g"]] * cov_sens_tl
r_seiz <- 1 - v_seiz
cov_seiz_tl <- paths[["b"]] * cov_sens_tl + paths[["g"]]
v_bi <- paths[["c"]]^2 + paths[["cp"]]^2 + 2 * paths[["c"]] * paths[["cp"]] * cov_seiz_tl
r_bi <- 1 - v_bi
## draw order: TL, e_SENS, e_SEIZ, e_BI, MK, METHOD (each N draws), then the item errors
## (20 columns, item order tl1..tl4, sens1..sens4, seiz1..seiz4, bi1..bi4, mk1..mk4, column-major)
TL <- rnorm(N)
SENS <- paths[["a"]] * TL + rnorm(N, 0, sqrt(r_sens))
SEIZ <- paths[["b"]] * SENS + paths[["g"]] * TL + rnorm(N, 0, sqrt(r_seiz))
BI <- paths[["c"]] * SEIZ + paths[["cp"]] * TL + rnorm(N, 0, sqrt(r_bi))
MK <- rnorm(N)
METHOD <- rnorm(N)
lat <- cbind(TL = TL, SENS = SENS, SEIZ = SEIZ, BI = BI, MK = MK)
item_names <- c(paste0("tl", 1:4), paste0("sens", 1:4), paste0("seiz", 1:4), paste0("bi", 1:4), paste0("mk", 1:4))
E <- matrix(rnorm(N * 20), N, 20)
cut7 <- function(v) as.integer(cut(v, c(-Inf, thresholds, Inf)))
make_items <- function(with_method) {
  out <- matrix(NA_integer_, N, 20, dimnames = list(NULL, item_names)); j <- 0
  for (f in names(lam)) for (k in 1:4) {
    j <- j + 1
    l <- lam[[f]][k]; m <- if (with_method) method_loading else 0
    ystar <- l * lat[, f] + m * METHOD + sqrt(1 - l^2 - m^2) * E[, j]
    out[, j] <- cut7(ystar)
  }
  as.data.frame(out)
}
datasets <- list(method = make_items(TRUE), nomethod = make_items(FALSE))
write_ref_csv(datasets$method, "data_method.csv")
write_ref_csv(datasets$nomethod, "data_nomethod.csv")
write_ref_csv(data.frame(lat, METHOD = METHOD), "latent_truth.csv")
truth <- list(paths = as.list(paths), serial_indirect_abc = paths[["a"]] * paths[["b"]] * paths[["c"]],
              via_seiz_gc = paths[["g"]] * paths[["c"]],
              total_tl_bi = paths[["cp"]] + paths[["a"]] * paths[["b"]] * paths[["c"]] + paths[["g"]] * paths[["c"]],
              loadings_ystar = lam, method_loading_ystar = method_loading, thresholds = thresholds,
              residual_variances_latent = list(SENS = r_sens, SEIZ = r_seiz, BI = r_bi),
              note = "all latents variance 1; Var(y*) = 1; the marker MK is independent of TL, SENS, SEIZ, BI; METHOD loads on all 20 items in data_method.csv and on none in data_nomethod.csv (same draws otherwise)")
sl <- as.data.frame(scale(lat))
ols_a <- coef(lm(SENS ~ TL, sl))[["TL"]]; ols_s <- coef(lm(SEIZ ~ SENS + TL, sl)); ols_b <- coef(lm(BI ~ SEIZ + TL, sl))
truth$sample_latent_ols_standardized <- list(a = ols_a, b = ols_s[["SENS"]], g = ols_s[["TL"]], c = ols_b[["SEIZ"]],
  cp = ols_b[["TL"]], ind_serial = ols_a * ols_s[["SENS"]] * ols_b[["SEIZ"]],
  note = "OLS on the standardized true latent scores of this sample (latent_truth.csv): the in-sample target")
writeLines(toJSON(truth, auto_unbox = TRUE, pretty = TRUE, digits = NA), "truth.json")

## ---------------- model syntax ----------------
subst <- c("TL", "SENS", "SEIZ", "BI")
ind <- list(TL = paste0("tl", 1:4), SENS = paste0("sens", 1:4), SEIZ = paste0("seiz", 1:4),
            BI = paste0("bi", 1:4), MK = paste0("mk", 1:4))
sub_items <- unlist(ind[subst])
num <- function(x) sprintf("%.17g", x)
meas_free <- paste0(names(ind), " =~ ", sapply(ind, paste, collapse = " + "))
pairs <- combn(subst, 2)

models_for <- function(cfa_fit, base_fit) {
  pe <- parameterEstimates(cfa_fit)
  mk_load <- pe$est[pe$lhs == "MK" & pe$op == "=~"]
  mk_res <- pe$est[pe$op == "~~" & pe$lhs %in% ind$MK & pe$lhs == pe$rhs][match(ind$MK, pe$lhs[pe$op == "~~" & pe$lhs %in% ind$MK & pe$lhs == pe$rhs])]
  mk_fixed <- c(paste0(num(mk_load), "*", ind$MK), character(0))
  fixed_lines <- c(paste0(ind$MK, " ~~ ", num(mk_res), "*", ind$MK),
                   paste0("MK ~~ 0*", subst))
  base <- c(meas_free[1:4], paste0("MK =~ ", paste(mk_fixed, collapse = " + ")), fixed_lines)
  method_c <- c(meas_free[1:4],
                paste0("MK =~ ", paste(c(mk_fixed, paste0("lc*", sub_items)), collapse = " + ")), fixed_lines)
  method_u <- c(meas_free[1:4],
                paste0("MK =~ ", paste(c(mk_fixed, sub_items), collapse = " + ")), fixed_lines)
  out <- list(baseline = base, method_c = method_c, method_u = method_u)
  if (!is.null(base_fit)) {
    pb <- parameterEstimates(base_fit)
    rr <- sapply(seq_len(ncol(pairs)), function(k) pb$est[pb$op == "~~" & pb$lhs == pairs[1, k] & pb$rhs == pairs[2, k]])
    out$method_r <- c(method_u, paste0(pairs[1, ], " ~~ ", num(rr), "*", pairs[2, ]))
  }
  lapply(out, function(x) paste0(paste(x, collapse = "\n"), "\n"))
}
struct <- c("SENS ~ a*TL", "SEIZ ~ b*SENS + g*TL", "BI ~ c*SEIZ + cp*TL",
            "ind_serial := a*b*c", "ind_via_seiz := g*c", "total := cp + a*b*c + g*c")
sem_plain <- paste0(paste(c(meas_free[1:4], struct), collapse = "\n"), "\n")
ulmc_cfa <- paste0(paste(c(meas_free[1:4], paste0("CMV =~ ", paste0("lm*", sub_items, collapse = " + ")),
                           paste0("CMV ~~ 0*", subst)), collapse = "\n"), "\n")
ulmc_sem_lines <- c(meas_free[1:4], paste0("CMV =~ NA*", sub_items[1], " + ", paste0("lm*", sub_items, collapse = " + ")),
                    "CMV ~~ 0*TL", struct)
one_factor <- paste0("G =~ ", paste(sub_items, collapse = " + "), "\n")
cfa4 <- paste0(paste(meas_free[1:4], collapse = "\n"), "\n")
cfa5 <- paste0(paste(meas_free, collapse = "\n"), "\n")

## ---------------- fits ----------------
key <- c("npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "srmr", "aic", "bic", "logl")
fit_rows <- NULL; cmp_rows <- NULL; eff_rows <- NULL; harman <- NULL; calls <- list()
W <- character(0)   # lavaan warnings collected per fit
capture <- function(expr) withCallingHandlers(expr, warning = function(w) {
  W <<- c(W, gsub("\\s+", " ", conditionMessage(w))); invokeRestart("muffleWarning") })
add_fit <- function(ds, nm, f, syntax, call) {
  capture(add_fit_tables(ds, nm, f, syntax, call))
  calls[[paste(ds, nm, sep = "/")]]$warnings <<- unique(W)
  if (length(W)) cat("warnings in", ds, nm, ":", unique(W), "\n")
  W <<- character(0)
}
add_fit_tables <- function(ds, nm, f, syntax, call) {
  dir.create(ds, showWarnings = FALSE)
  writeLines(syntax, file.path(ds, paste0("model_", nm, ".lav")), sep = "")
  write_ref_csv(param_table(f), file.path(ds, paste0("estimates_", nm, ".csv")))
  write_ref_csv(standardizedSolution(f, type = "std.all"), file.path(ds, paste0("standardized_", nm, ".csv")))
  fit_rows <<- rbind(fit_rows, data.frame(dataset = ds, model = nm, t(unclass(fitMeasures(f, key))),
                                          converged = lavInspect(f, "converged")))
  calls[[paste(ds, nm, sep = "/")]] <<- fit_info(f, call)
}
lrt_row <- function(ds, label, f0, f1) {
  a <- fitMeasures(f0, c("chisq", "df")); b <- fitMeasures(f1, c("chisq", "df"))
  l <- lavTestLRT(f0, f1)
  data.frame(dataset = ds, comparison = label,
             chisq_restricted = unname(a["chisq"]), df_restricted = unname(a["df"]),
             chisq_free = unname(b["chisq"]), df_free = unname(b["df"]),
             chisq_diff = l[["Chisq diff"]][2], df_diff = l[["Df diff"]][2], p = l[["Pr(>Chisq)"]][2])
}
eff <- function(ds, nm, f) {
  pe <- parameterEstimates(f); ss <- standardizedSolution(f, type = "std.all")
  keep <- pe$label %in% c("a", "b", "g", "c", "cp", "ind_serial", "ind_via_seiz", "total", "lm")
  keep <- keep & !duplicated(pe$label)
  data.frame(dataset = ds, model = nm, parameter = pe$label[keep], lhs = pe$lhs[keep], op = pe$op[keep], rhs = pe$rhs[keep],
             est = pe$est[keep], se = pe$se[keep], est.std = ss$est.std[keep], se.std = ss$se[keep])
}
for (ds in names(datasets)) {
  d <- datasets[[ds]]
  ## Harman's single factor on the 16 substantive items (and on all 20 incl. marker)
  for (set in c("substantive16", "all20")) {
    x <- if (set == "substantive16") d[, sub_items] else d
    pc <- principal(x, nfactors = 1, rotate = "none")
    pa <- fa(x, nfactors = 1, fm = "pa", rotate = "none")
    ev <- eigen(cor(x), only.values = TRUE)$values
    harman <- rbind(harman, data.frame(dataset = ds, items = set, n_items = ncol(x),
      principal_prop_var = pc$Vaccounted["Proportion Var", 1], principal_ss_loadings = pc$Vaccounted["SS loadings", 1],
      first_eigenvalue = ev[1], first_eigenvalue_share = ev[1] / ncol(x),
      fa_pa_prop_var = pa$Vaccounted["Proportion Var", 1], fa_pa_ss_loadings = pa$Vaccounted["SS loadings", 1]))
  }
  f1 <- capture(cfa(one_factor, d)); add_fit(ds, "one_factor", f1, one_factor, "cfa(<model_one_factor.lav>, data)")
  f4 <- capture(cfa(cfa4, d)); add_fit(ds, "cfa4", f4, cfa4, "cfa(<model_cfa4.lav>, data)")
  cmp_rows <- rbind(cmp_rows, lrt_row(ds, "one_factor vs cfa4 (Harman CFA)", f1, f4))
  ## CFA marker technique (Williams, Hartman & Cavazotte 2010); std.lv = TRUE throughout
  fc <- capture(cfa(cfa5, d, std.lv = TRUE)); add_fit(ds, "cfa_marker", fc, cfa5, "cfa(<model_cfa_marker.lav>, data, std.lv = TRUE)")
  ms <- models_for(fc, NULL)
  fb <- capture(cfa(ms$baseline, d, std.lv = TRUE)); add_fit(ds, "baseline", fb, ms$baseline, "cfa(<model_baseline.lav>, data, std.lv = TRUE)")
  ms <- models_for(fc, fb)
  fmc <- capture(cfa(ms$method_c, d, std.lv = TRUE)); add_fit(ds, "method_c", fmc, ms$method_c, "cfa(<model_method_c.lav>, data, std.lv = TRUE)")
  fmu <- capture(cfa(ms$method_u, d, std.lv = TRUE)); add_fit(ds, "method_u", fmu, ms$method_u, "cfa(<model_method_u.lav>, data, std.lv = TRUE)")
  fmr <- capture(cfa(ms$method_r, d, std.lv = TRUE)); add_fit(ds, "method_r", fmr, ms$method_r, "cfa(<model_method_r.lav>, data, std.lv = TRUE)")
  cmp_rows <- rbind(cmp_rows,
    lrt_row(ds, "baseline vs method_c", fb, fmc),
    lrt_row(ds, "baseline vs method_u", fb, fmu),
    lrt_row(ds, "method_c vs method_u", fmc, fmu),
    lrt_row(ds, "method_r vs method_u", fmr, fmu))
  ## ULMC measurement model: CMV on the 16 substantive items, equal loadings, orthogonal, var 1
  fu <- capture(cfa(ulmc_cfa, d, std.lv = TRUE)); add_fit(ds, "ulmc_cfa", fu, ulmc_cfa, "cfa(<model_ulmc_cfa.lav>, data, std.lv = TRUE)")
  cmp_rows <- rbind(cmp_rows, lrt_row(ds, "cfa4 vs ulmc_cfa", f4, fu))
  ## structural sensitivity: serial SEM plain, with the marker as method factor (method-U spec), ULMC
  fs <- capture(sem(sem_plain, d)); add_fit(ds, "sem_plain", fs, sem_plain, "sem(<model_sem_plain.lav>, data)")
  mk_pe <- parameterEstimates(fc)
  marker_lines <- strsplit(ms$method_u, "\n")[[1]]
  marker_lines <- marker_lines[grepl("^MK|^mk", marker_lines)]
  marker_lines <- c(marker_lines[!grepl("^MK ~~ 0\\*", marker_lines)], "MK ~~ 1*MK", "MK ~~ 0*TL")
  sem_marker <- paste0(paste(c(meas_free[1:4], marker_lines, struct), collapse = "\n"), "\n")
  fsm <- capture(sem(sem_marker, d)); add_fit(ds, "sem_marker_u", fsm, sem_marker, "sem(<model_sem_marker_u.lav>, data)")
  sem_ulmc <- paste0(paste(c(ulmc_sem_lines, "CMV ~~ 1*CMV"), collapse = "\n"), "\n")
  fsu <- capture(sem(sem_ulmc, d)); add_fit(ds, "sem_ulmc", fsu, sem_ulmc, "sem(<model_sem_ulmc.lav>, data)")
  eff_rows <- rbind(eff_rows, eff(ds, "sem_plain", fs), eff(ds, "sem_marker_u", fsm), eff(ds, "sem_ulmc", fsu))
}
write_ref_csv(harman, "harman.csv")
write_ref_csv(fit_rows, "fit_summary.csv")
write_ref_csv(cmp_rows, "comparisons.csv")
write_ref_csv(eff_rows, "structural_effects.csv")
write_meta(list(versions = versions(), seed = "set.seed(2010); draw order in make.R and truth.json",
  fits = calls, loadavg_at_end = tryCatch(readLines("/proc/loadavg"), error = function(e) NA)))
print(harman, digits = 4)
print(fit_rows[, c("dataset", "model", "npar", "chisq", "df", "cfi", "converged")], digits = 6)
print(cmp_rows[, c("dataset", "comparison", "chisq_diff", "df_diff", "p")], digits = 5)
print(eff_rows[eff_rows$parameter %in% c("ind_serial", "total", "lm"), ], digits = 4)
