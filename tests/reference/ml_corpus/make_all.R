#!/usr/bin/env Rscript
# make_all.R -- lavaan 0.6-14 reference corpus for bayeslead issues 14, 16 and 20.
#
# Usage:  cd /work/refs/ml_corpus && Rscript make_all.R            # every folder, then INDEX.md
#         cd /work/refs/ml_corpus && Rscript make_all.R NAME [NAME] # selected folders
#         cd /work/refs/ml_corpus && Rscript make_all.R index       # rebuild INDEX.md only
# Every number written comes from running this script (R 4.2.2, Debian packages).
# Seeds are set inside each section, so sections are independent of each other.

Sys.setenv(ML_CORPUS_ROOT = getwd())
source("common.R")

HS <- lavaan::HolzingerSwineford1939
HS3 <- "visual  =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed   =~ x7 + x8 + x9"

PD_FULL <- "# Bollen (1989) political democracy, lavaan tutorial model\n# measurement model\nind60 =~ x1 + x2 + x3\ndem60 =~ y1 + y2 + y3 + y4\ndem65 =~ y5 + y6 + y7 + y8\n# regressions\ndem60 ~ ind60\ndem65 ~ ind60 + dem60\n# residual correlations\ny1 ~~ y5\ny2 ~~ y4 + y6\ny3 ~~ y7\ny4 ~~ y8\ny6 ~~ y8"

new_env <- function(...) list2env(list(...), envir = new.env(parent = globalenv()))

simple_section <- function(name, model, data, call_str, section, readme_head, reps = 5,
                           extra_meta = list(), extra_files = character(0), post = NULL,
                           data_note = NULL) {
  folder <- file.path(ROOT, name)
  env <- new_env(model = model, data = data)
  res <- fit_timed(call_str, env, reps = reps)
  meta <- write_standard(folder, res, model, data, call_str, section, data_note = data_note)
  extra_readme <- character(0)
  if (!is.null(post)) {
    p <- post(folder, res$fit, data, env)
    meta <- c(meta, p$meta)
    meta$files <- c(meta$files, p$files)
    extra_readme <- p$readme
  }
  meta <- c(meta, extra_meta)
  readme <- c(paste0("# ", name), "", readme_head, "",
              paste0("Call: `", call_str, "` (lavaan ", meta$versions$lavaan, ", ", meta$versions$R, ")."),
              paste0("N = ", paste(unlist(meta$nobs), collapse = " / "), "; converged: ", meta$converged,
                     " after ", meta$iterations, " iterations; max |gradient| = ", fmtg(meta$max_abs_gradient, 3),
                     if (!isTRUE(all.equal(meta$max_abs_gradient, meta$max_abs_gradient_constrained))) paste0(" (raw; tied parameters carry equal and opposite entries under lavaan's constrained optimiser; summed per label: ", fmtg(meta$max_abs_gradient_constrained, 3), ")") else "", "."),
              "", fit_line(res$fit), "", warn_line(res), "", timing_line(res), "",
              extra_readme, "", std_readme_files(extra_files))
  finish(folder, meta, readme)
  invisible(list(fit = res$fit, meta = meta))
}

# ---------------------------------------------------------------- 1 political_democracy_full
sec_political_democracy_full <- function() {
  d <- lavaan::PoliticalDemocracy
  simple_section("political_democracy_full", PD_FULL, d, "sem(model, data = data)", "1",
    c("Bollen's political democracy data (`lavaan::PoliticalDemocracy`, N = 75, 11 indicators),",
      "the lavaan tutorial SEM **including `y4 ~~ y8`** (all six residual covariances), `sem()` defaults:",
      "ML, expected information, marker-variable identification, no mean structure.",
      "Issue 14 (the model that crashed with LinAlgError) and issue 16 (R-squared within 0.002: `r2.csv`)."),
    reps = 10)
}

# ---------------------------------------------------------------- 2 political_democracy_equal
sec_political_democracy_equal <- function() {
  d <- lavaan::PoliticalDemocracy
  model <- "# lavaan tutorial: equality constraints by shared labels\nind60 =~ x1 + x2 + x3\ndem60 =~ y1 + a*y2 + b*y3 + c*y4\ndem65 =~ y5 + a*y6 + b*y7 + c*y8\ndem60 ~ ind60\ndem65 ~ ind60 + dem60\ny1 ~~ y5\ny2 ~~ y4 + y6\ny3 ~~ y7\ny4 ~~ y8\ny6 ~~ y8"
  simple_section("political_democracy_equal", model, d, "sem(model, data = data)", "2",
    c("Political democracy with the lavaan tutorial's **labelled equal loadings** (`a`, `b`, `c` shared",
      "by dem60 and dem65) plus the six residual covariances. Issue 20 (equality by shared label).",
      "Labelled rows appear twice in `estimates.csv` with identical `est`/`se` (one row per loading);",
      "npar counts each label once."))
}

# ---------------------------------------------------------------- 3 hs_cfa_equal
sec_hs_cfa_equal <- function() {
  model <- "visual  =~ x1 + v2*x2 + v2*x3\ntextual =~ x4 + t*x5 + t*x6\nspeed   =~ x7 + x8 + x9"
  simple_section("hs_cfa_equal", model, HS, "cfa(model, data = data)", "3",
    c("Holzinger-Swineford (1939) 3-factor CFA (all 301 rows of `lavaan::HolzingerSwineford1939`)",
      "with two equality constraints by shared labels: the x2 and x3 loadings (`v2`, as in lavaan's",
      "tutorial) and the x5 and x6 loadings (`t`). Issue 20. Marker identification, no mean structure."))
}

# ---------------------------------------------------------------- 4 hs_cfa_correlated_residuals
sec_hs_cfa_correlated_residuals <- function() {
  model <- paste0(HS3, "\n# residual covariances: the two largest residual-covariance modification indices\nx7 ~~ x8\nx2 ~~ x3")
  post <- function(folder, fit, data, env) {
    base <- cfa(HS3, data = data)
    mi <- modindices(base, sort. = TRUE)
    mi <- mi[mi$op == "~~", c("lhs", "op", "rhs", "mi", "epc")]
    write_csv17(head(mi, 10), file.path(folder, "modindices_base.csv"))
    fb <- fitMeasures(base)
    list(meta = list(base_model_chisq = fb[["chisq"]], base_model_df = fb[["df"]]),
         files = "modindices_base.csv",
         readme = c(sprintf("Without the two residual covariances (the plain 3-factor CFA) chisq = %s on %d df; the 10 largest residual-covariance modification indices of that model are in `modindices_base.csv` (x7 ~~ x8 first; x8 ~~ x9 second but in the same 3-item factor as x7 ~~ x8, so x2 ~~ x3, the next within-factor pair, was chosen).",
                            fmt(fb[["chisq"]]), as.integer(fb[["df"]]))))
  }
  simple_section("hs_cfa_correlated_residuals", model, HS, "cfa(model, data = data)", "4",
    c("Holzinger-Swineford 3-factor CFA plus two residual covariances, `x7 ~~ x8` (speeded",
      "addition/counting, lavaan's best-known modification) and `x2 ~~ x3` (cubes/lozenges, both spatial).",
      "The plain CFA without them is `/work/shared/reference/holzinger1939`."),
    extra_files = "| `modindices_base.csv` | `modindices()` of the plain CFA, residual-covariance rows, top 10 |",
    post = post)
}

# ---------------------------------------------------------------- 5 hs_second_order
sec_hs_second_order <- function() {
  model <- paste0(HS3, "\n# second-order factor\ng =~ visual + textual + speed")
  simple_section("hs_second_order", model, HS, "cfa(model, data = data)", "5",
    c("Holzinger-Swineford with a second-order factor `g =~ visual + textual + speed` (marker: the",
      "visual loading on g fixed to 1). With three first-order factors the second-order part is",
      "just-identified, so chisq/df equal the correlated 3-factor CFA's (85.31 on 24); the free",
      "parameters differ (3 second-order loadings/variances instead of 3 factor covariances).",
      "`r2.csv` has R-squared for the items and for visual, textual, speed (explained by g)."))
}

# ---------------------------------------------------------------- 6 heywood
sim_heywood <- function(seed, n = 80) {
  set.seed(seed)
  Phi <- matrix(c(1, .4, .4, 1), 2)
  f <- matrix(rnorm(n * 2), n) %*% chol(Phi)
  L1 <- c(.95, .6, .5); L2 <- c(.7, .7, .6)
  y <- cbind(f[, 1] %o% L1, f[, 2] %o% L2) +
    matrix(rnorm(n * 6), n) %*% diag(sqrt(1 - c(L1, L2)^2))
  colnames(y) <- paste0("y", 1:6)
  as.data.frame(y)
}
sec_heywood <- function() {
  model <- "F1 =~ y1 + y2 + y3\nF2 =~ y4 + y5 + y6"
  # The seed: the first seed in 1, 2, ... whose ML fit has a negative y1 residual variance.
  seed <- NA
  for (s in 1:50) {
    fit <- suppressWarnings(cfa(model, data = sim_heywood(s)))
    pe <- parameterEstimates(fit)
    if (lavInspect(fit, "converged") && pe$est[pe$lhs == "y1" & pe$op == "~~" & pe$rhs == "y1"] < 0) { seed <- s; break }
  }
  d <- sim_heywood(seed)
  post <- function(folder, fit, data, env) {
    pe <- parameterEstimates(fit)
    r <- pe[pe$lhs == "y1" & pe$op == "~~" & pe$rhs == "y1", ]
    st <- standardizedSolution(fit)
    l1 <- st$est.std[st$lhs == "F1" & st$op == "=~" & st$rhs == "y1"]
    list(meta = list(seed = seed, n = 80,
                     generating = list(phi = 0.4, std_loadings_F1 = c(.95, .6, .5), std_loadings_F2 = c(.7, .7, .6),
                                       draw_order = "set.seed(seed); factors: matrix(rnorm(n*2), n) %*% chol(Phi); residuals: matrix(rnorm(n*6), n) scaled by sqrt(1 - lambda^2); see sim_heywood() in make_all.R"),
                     heywood_variance = list(lhs = "y1", est = r$est, se = r$se, z = r$z, std_all_loading_y1 = l1)),
         files = character(0),
         readme = c(sprintf("Simulated data: N = 80, two correlated factors (phi = 0.4), standardized loadings F1 0.95/0.60/0.50, F2 0.70/0.70/0.60, `sim_heywood(seed)` in `make_all.R`; seed = %d is the first seed in 1..50 whose fit gives a negative residual variance for y1 (found by the loop in the script).", seed),
                    sprintf("**Heywood case:** `y1 ~~ y1` = %s (SE %s, z = %s); std.all loading of y1 = %s (> 1). lavaan converges normally (no bounds) and only warns; SEs and fit measures are reported as usual.",
                            fmtg(r$est, 6), fmtg(r$se, 4), fmtg(r$z, 4), fmtg(l1, 6))))
  }
  simple_section("heywood", model, d, "cfa(model, data = data)", "6",
    c("A two-factor CFA with a **Heywood case** (negative residual variance of y1) on simulated data."),
    post = post, data_note = "simulated in R, see meta.json seed and sim_heywood() in make_all.R")
}

# ---------------------------------------------------------------- 7 large_variances
sec_large_variances <- function() {
  scale <- c(x1 = 10, x2 = 10, x3 = 10, x4 = 30, x5 = 30, x6 = 30, x7 = 1, x8 = 1, x9 = 1)
  d <- HS[, paste0("x", 1:9)]
  for (v in names(scale)) d[[v]] <- d[[v]] * scale[[v]]
  post <- function(folder, fit, data, env) {
    vars <- sapply(data, var)
    base <- cfa(HS3, data = HS)
    fb <- fitMeasures(base); fl <- fitMeasures(fit)
    pb <- parameterEstimates(base); pl <- parameterEstimates(fit)
    # loadings of rescaled items = original loading * scale(item) / scale(marker)
    list(meta = list(scale_factors = as.list(scale), item_variances_n1 = as.list(vars),
                     chisq_unscaled_hs = fb[["chisq"]], chisq_difference = fl[["chisq"]] - fb[["chisq"]]),
         files = character(0),
         readme = c("Data: the nine HS items only, multiplied by x1-x3 x 10, x4-x6 x 30, x7-x9 x 1 (sample variances, divisor N-1: " %s%
                      paste(sprintf("%s %.1f", names(vars), vars), collapse = ", ") %s% ").",
                    sprintf("Rescaling items does not change the ML chi-square: the unscaled HS CFA gives %s, this fit %s (difference %s). Loadings scale by scale(item)/scale(marker), variances by scale^2.",
                            fmt(fb[["chisq"]], 6), fmt(fl[["chisq"]], 6), fmtg(fl[["chisq"]] - fb[["chisq"]], 3))))
  }
  simple_section("large_variances", HS3, d, "cfa(model, data = data)", "7",
    c("Holzinger-Swineford 3-factor CFA on **rescaled items** with variances from about 1 to about 1500",
      "(ratio > 1000), so an optimiser must cope with parameters on very different scales."),
    post = post)
}

# ---------------------------------------------------------------- 8 bfi FIML
BFI_ITEMS <- c(paste0("A", 1:5), paste0("C", 1:5), paste0("E", 1:5), paste0("N", 1:5), paste0("O", 1:5))
BFI_MODEL <- paste(
  "# Big Five Inventory (psych::bfi), reverse-keyed items NOT reversed:",
  "# A1, C4, C5, E1, E2, O2, O5 load negatively. Markers are positively keyed items.",
  "A =~ A2 + A1 + A3 + A4 + A5",
  "C =~ C1 + C2 + C3 + C4 + C5",
  "E =~ E3 + E1 + E2 + E4 + E5",
  "N =~ N1 + N2 + N3 + N4 + N5",
  "O =~ O1 + O2 + O3 + O4 + O5", sep = "\n")
BFI_CALL <- "cfa(model, data = data, missing = \"ml\")"

bfi_section <- function(name, d, section, head, reps = 2, extra_meta = list()) {
  post <- function(folder, fit, data, env) {
    pat <- lavInspect(fit, "patterns")
    frac <- mean(is.na(data))
    per_item <- colMeans(is.na(data))
    write_csv17(data.frame(item = names(per_item), missing_fraction = unname(per_item)),
                file.path(folder, "missing_by_item.csv"))
    neg <- parameterEstimates(fit)
    neg <- neg[neg$op == "=~" & neg$est < 0, "rhs"]
    list(meta = c(list(missing_fraction_cells = frac, n_missing_patterns = nrow(pat),
                       complete_rows = sum(complete.cases(data)), negative_loadings = neg,
                       se_note = "missing = 'ml' in lavaan 0.6-14: information = observed (Hessian), h1.information = structured; see options"),
                  extra_meta),
         files = "missing_by_item.csv",
         readme = c(sprintf("Missing cells: %.4f%% of %d x %d; %d missing-data patterns; %d complete rows. Negative loadings: %s.",
                            100 * frac, nrow(data), ncol(data), nrow(pat), sum(complete.cases(data)),
                            paste(neg, collapse = ", ")),
                    sprintf("FIML: logl = %s, unrestricted.logl (H1, saturated model by EM) = %s.",
                            fmt(fitMeasures(fit)[["logl"]], 4), fmt(fitMeasures(fit)[["unrestricted.logl"]], 4)),
                    "SE: lavaan's default for `missing = \"ml\"` is `information = \"observed\"` (observed.information = \"hessian\", h1.information = \"structured\"), not expected; see `meta.json` options.",
                    "`estimates.csv` contains the `~1` rows (item intercepts = FIML means structure; latent means fixed at 0)."))
  }
  simple_section(name, BFI_MODEL, d, BFI_CALL, section, head, reps = reps, post = post,
                 extra_files = "| `missing_by_item.csv` | fraction missing per item in `data.csv` |",
                 extra_meta = list())
}

bfi_complete <- function() {
  b <- psych::bfi[, BFI_ITEMS]
  b[complete.cases(b), ]
}

sec_bfi_fiml_native <- function() {
  d <- psych::bfi[, BFI_ITEMS]
  bfi_section("bfi_fiml_native", d, "8a",
    c("`psych::bfi`: all 2,800 respondents x 25 six-point items (A1-A5, C1-C5, E1-E5, N1-N5, O1-O5)",
      "with their **native missing values**, the five-factor CFA with reverse-keyed items not reversed",
      "(negative loadings), fitted with FIML (`missing = \"ml\"`). Issue 14: the 2,800 x 25 survey",
      "with 3% missing; acceptance 6 compares speed with this fit. (bfi's gender/education/age are not used.)"),
    reps = 3)
}

sec_bfi_fiml_complete <- function() {
  d <- bfi_complete()
  bfi_section("bfi_fiml_complete", d, "8b",
    c("The complete-case rows of `psych::bfi[, 25 items]` (original order, no missing values), same",
      "five-factor model, `missing = \"ml\"`. This is the base data set of the MCAR/MAR folders",
      "(`bfi_fiml_mcar*`, `bfi_fiml_mar*`), i.e. the no-missing reference for them."))
}

mcar_mask <- function(d, p, seed) {
  set.seed(seed)
  m <- matrix(runif(nrow(d) * ncol(d)) < p, nrow(d))
  d[m] <- NA
  d
}

MAR_ALWAYS <- c("A2", "C1", "E3", "N1", "O1")
mar_mask <- function(d, target, seed, beta = 1) {
  # Always observed: the five markers. Each other item is missing with probability
  # plogis(alpha + beta * z(N1)), independently over cells; alpha solves
  # E[fraction of all 25 x n cells missing] = target.
  z <- as.numeric(scale(d$N1))
  elig <- setdiff(names(d), MAR_ALWAYS)
  share <- length(elig) / ncol(d)
  alpha <- uniroot(function(a) mean(plogis(a + beta * z)) * share - target, c(-20, 20), tol = 1e-12)$root
  set.seed(seed)
  p <- plogis(alpha + beta * z)
  for (v in elig) d[[v]][runif(nrow(d)) < p] <- NA
  list(data = d, alpha = alpha, beta = beta)
}

sec_bfi_mcar <- function(p, seed) {
  name <- sprintf("bfi_fiml_mcar%02d", round(100 * p))
  d <- mcar_mask(bfi_complete(), p, seed)
  bfi_section(name, d, "8c",
    c(sprintf("The complete-case rows of `psych::bfi` (see `bfi_fiml_complete`) with **%g%% MCAR** blanks:", 100 * p),
      sprintf("every cell of the 25 items independently set to NA with probability %g (`set.seed(%d); runif(n * 25) < %g`, column-major), then FIML.", p, seed, p)),
    extra_meta = list(mechanism = "MCAR", p = p, seed = seed), reps = 1)
}

sec_bfi_mar <- function(target, seed) {
  name <- sprintf("bfi_fiml_mar%02d", round(100 * target))
  mm <- mar_mask(bfi_complete(), target, seed)
  bfi_section(name, mm$data, "8d",
    c(sprintf("The complete-case rows of `psych::bfi` (see `bfi_fiml_complete`) with **MAR** blanks, %g%% of all cells in expectation:", 100 * target),
      "the five marker items A2, C1, E3, N1, O1 are always observed; every other item of a respondent is",
      sprintf("missing with probability plogis(%s + 1 * z(N1)), independently per cell (z = standardized N1; more", fmtg(mm$alpha, 10)),
      sprintf("neurotic respondents skip more). `set.seed(%d)`, then for each item in data order `runif(n) < p`. MAR holds because N1 is always observed and in the model.", seed)),
    extra_meta = list(mechanism = "MAR", target_fraction = target, seed = seed, always_observed = MAR_ALWAYS,
                      missing_probability = sprintf("plogis(alpha + beta * z(N1)), alpha = %.17g, beta = %g", mm$alpha, mm$beta)),
    reps = 1)
}

# ---------------------------------------------------------------- 9 Tal_Or mediation
B_EXACT <- 200000L
CHUNK <- 20000L

# columns of X resampled: returns a list of n x B matrices
boot_chunks <- function(n, B, seed, fun) {
  set.seed(seed)
  out <- list()
  done <- 0L
  while (done < B) {
    b <- min(CHUNK, B - done)
    idx <- matrix(sample.int(n, n * b, replace = TRUE), n)
    out[[length(out) + 1]] <- fun(idx)
    done <- done + b
  }
  do.call(rbind, out)
}

# vectorised covariance of two n x B matrices (column-wise), divisor n-1 (irrelevant for slopes)
ccov <- function(A, B) { n <- nrow(A); (colSums(A * B) - colSums(A) * colSums(B) / n) / (n - 1) }

# OLS slopes of y on 1 or 2 or 3 predictors from column-wise covariances (Cramer's rule)
ols_slopes <- function(y, xs) {
  k <- length(xs)
  S <- matrix(list(), k, k)
  for (i in 1:k) for (j in 1:k) S[[i, j]] <- ccov(xs[[i]], xs[[j]])
  sy <- lapply(xs, function(x) ccov(x, y))
  det2 <- function(a, b, c, d) a * d - b * c
  if (k == 1) return(list(sy[[1]] / S[[1, 1]]))
  if (k == 2) {
    D <- det2(S[[1, 1]], S[[1, 2]], S[[2, 1]], S[[2, 2]])
    return(list(det2(sy[[1]], S[[1, 2]], sy[[2]], S[[2, 2]]) / D,
                det2(S[[1, 1]], sy[[1]], S[[2, 1]], sy[[2]]) / D))
  }
  det3 <- function(M) M[[1, 1]] * (M[[2, 2]] * M[[3, 3]] - M[[2, 3]] * M[[3, 2]]) -
    M[[1, 2]] * (M[[2, 1]] * M[[3, 3]] - M[[2, 3]] * M[[3, 1]]) +
    M[[1, 3]] * (M[[2, 1]] * M[[3, 2]] - M[[2, 2]] * M[[3, 1]])
  D <- det3(S)
  lapply(1:3, function(j) { M <- S; for (i in 1:3) M[[i, j]] <- sy[[i]]; det3(M) / D })
}

# Monte Carlo error of percentile bounds from a B-draw bootstrap, approximated by drawing B of the
# 200,000 exact replicates (with replacement) 2000 times per B.
bound_mc_error <- function(R, quantities, seed, Bs = c(1000L, 2000L, 5000L, 10000L), sims = 2000L) {
  set.seed(seed)
  do.call(rbind, lapply(quantities, function(q) {
    x <- R[, q]
    ex <- quantile(x, c(0.025, 0.975), type = 7)
    do.call(rbind, lapply(Bs, function(B) {
      qs <- t(replicate(sims, quantile(x[sample.int(length(x), B, replace = TRUE)], c(0.025, 0.975), type = 7)))
      data.frame(quantity = q, B = B, sd_ci_lower = sd(qs[, 1]), sd_ci_upper = sd(qs[, 2]),
                 p_within_0.01_lower = mean(abs(qs[, 1] - ex[1]) < 0.01),
                 p_within_0.01_upper = mean(abs(qs[, 2] - ex[2]) < 0.01),
                 p_within_0.01_both = mean(abs(qs[, 1] - ex[1]) < 0.01 & abs(qs[, 2] - ex[2]) < 0.01),
                 sims = sims, stringsAsFactors = FALSE)
    }))
  }))
}

exact_summary <- function(R, est) {
  do.call(rbind, lapply(colnames(R), function(q) {
    x <- R[, q]
    data.frame(quantity = q, est_original = est[[q]], boot_mean = mean(x), boot_sd = sd(x),
               ci_lower = unname(quantile(x, 0.025, type = 7)), ci_upper = unname(quantile(x, 0.975, type = 7)),
               n_replicates = length(x), n_nonfinite = sum(!is.finite(x)), stringsAsFactors = FALSE)
  }))
}

lavaan_boot <- function(folder, model, data, seed, env) {
  call_b <- sprintf("sem(model, data = data, se = \"bootstrap\", bootstrap = 1000L, iseed = %dL, parallel = \"no\")", seed)
  rb <- run_call(call_b, env)
  fb <- rb$value
  pe <- estimates_table(fb, boot.ci.type = "perc")
  write_csv17(pe, file.path(folder, "bootstrap_estimates.csv"))
  bt <- lavInspect(fb, "boot")
  okrow <- stats::complete.cases(bt)
  write_csv17(data.frame(replicate = seq_len(nrow(bt)), ok = okrow, bt, check.names = FALSE),
              file.path(folder, "bootstrap_replicates.csv"))
  # lavaan 0.6-14 draws replicate b as the b-th sample.int(n, replace = TRUE) after set.seed(iseed);
  # reconstruct the indices and verify them by refitting the first 5 successful replicates.
  set.seed(seed)
  idx <- t(sapply(seq_len(nrow(bt)), function(b) sample.int(nrow(data), replace = TRUE)))
  colnames(idx) <- paste0("i", seq_len(ncol(idx)))
  write_csv17(data.frame(replicate = seq_len(nrow(bt)), idx), file.path(folder, "bootstrap_indices.csv"))
  chk <- sapply(head(which(okrow), 5), function(b) {
    f <- suppressWarnings(sem(model, data = data[idx[b, ], , drop = FALSE]))
    max(abs(coef(f)[colnames(bt)] - bt[b, ]))
  })
  failed_refit <- sapply(which(!okrow), function(b) {
    f <- suppressWarnings(sem(model, data = data[idx[b, ], , drop = FALSE]))
    lavInspect(f, "converged")
  })
  # SD of the defined parameters over the successful replicates (lavaan gives se = NA for := rows
  # when some replicates failed)
  defs <- pe[pe$op == ":=", ]
  def_vals <- vapply(which(okrow), function(b) {
    e <- list2env(as.list(bt[b, ]), parent = baseenv())
    for (k in seq_len(nrow(defs))) assign(defs$lhs[k], eval(parse(text = defs$rhs[k]), envir = e), envir = e)
    vapply(defs$lhs, function(v) get(v, envir = e), numeric(1))
  }, numeric(nrow(defs)))
  def_vals <- matrix(def_vals, nrow = nrow(defs))
  def_sd <- apply(def_vals, 1, stats::sd)
  list(call = call_b, ci_type = "percentile: parameterEstimates(fit, boot.ci.type = \"perc\")",
       n_requested = 1000L, n_ok = sum(okrow),
       failed_replicates_refit_directly_converged = as.list(failed_refit),
       defined_sd_over_ok_replicates = as.list(setNames(def_sd, defs$lhs)),
       error_idx = attr(bt, "error.idx"), seconds = round(rb$time[["elapsed"]], 3),
       warnings = rb$warnings,
       indices_reconstructed = "bootstrap_indices.csv: set.seed(iseed); for b in 1..1000: sample.int(n, replace = TRUE) (1-based rows of data.csv); verified by refitting sem() on the first 5 successful replicates",
       indices_check_max_abs_diff = max(chk), pe = pe)
}

sec_tal_or_mediation <- function() {
  d <- psych::Tal_Or[, c("cond", "pmi", "reaction")]
  model <- "# PROCESS model 4: cond -> pmi -> reaction (observed variables only)\npmi ~ a*cond\nreaction ~ b*pmi + cp*cond\nind := a*b\ntotal := cp + a*b"
  post <- function(folder, fit, data, env) {
    pe <- parameterEstimates(fit)
    g <- function(l) pe$est[pe$label == l][1]
    # OLS on the original sample = lavaan ML for this saturated model
    l1 <- coef(lm(pmi ~ cond, data)); l2 <- coef(lm(reaction ~ pmi + cond, data))
    ols <- c(a = l1[["cond"]], b = l2[["pmi"]], cp = l2[["cond"]])
    ml <- c(a = g("a"), b = g("b"), cp = g("cp"))
    # lavaan bootstrap
    lb <- lavaan_boot(folder, model, data, 20231, env)
    # exact reference: 200,000 nonparametric bootstrap replicates of the two OLS regressions
    X <- as.matrix(data)
    t0 <- system.time(R <- boot_chunks(nrow(X), B_EXACT, 4242, function(idx) {
      cc <- matrix(X[idx, "cond"], nrow(idx)); m <- matrix(X[idx, "pmi"], nrow(idx)); y <- matrix(X[idx, "reaction"], nrow(idx))
      a <- ols_slopes(m, list(cc))[[1]]
      s <- ols_slopes(y, list(m, cc))
      cbind(a = a, b = s[[1]], cp = s[[2]], ind = a * s[[1]], total = s[[2]] + a * s[[1]])
    }))
    # check: the vectorised formulas on the identity resample reproduce OLS
    id <- matrix(seq_len(nrow(X)), ncol = 1)
    cc <- matrix(X[id, "cond"], nrow(id)); m <- matrix(X[id, "pmi"], nrow(id)); y <- matrix(X[id, "reaction"], nrow(id))
    chk <- c(a = ols_slopes(m, list(cc))[[1]], ols_slopes(y, list(m, cc))[[1]], ols_slopes(y, list(m, cc))[[2]])
    est <- list(a = ml[["a"]], b = ml[["b"]], cp = ml[["cp"]], ind = g("ind"), total = g("total"))
    ex <- exact_summary(R, est)
    write_csv17(ex, file.path(folder, "exact_bootstrap.csv"))
    mce <- bound_mc_error(R, c("ind", "total"), 777L)
    write_csv17(mce, file.path(folder, "bootstrap_bound_mc_error.csv"))
    write_csv17(data.frame(param = names(ml), lavaan_ml = unname(ml), ols_lm = unname(ols),
                           diff = unname(ml - ols), vectorised_formula = unname(chk)),
                file.path(folder, "ols_check.csv"))
    lbi <- lb$pe[lb$pe$label == "ind", ]
    m1k <- mce[mce$quantity == "ind" & mce$B == 1000L, ]
    exi <- ex[ex$quantity == "ind", ]
    list(meta = list(
      ols_equals_ml_max_abs_diff = max(abs(ml - ols)),
      lavaan_bootstrap = lb[setdiff(names(lb), "pe")],
      exact_bootstrap = list(replicates = B_EXACT, seed = 4242L, chunk = CHUNK,
                             method = "nonparametric row resampling (sample.int(n, n*B, replace = TRUE), column-major n x chunk index matrices); per replicate OLS of pmi on cond and of reaction on pmi + cond via covariances; percentile CI = quantile(type = 7) at 0.025/0.975",
                             seconds = t0[["elapsed"]])),
      files = c("bootstrap_estimates.csv", "bootstrap_replicates.csv", "bootstrap_indices.csv", "exact_bootstrap.csv", "bootstrap_bound_mc_error.csv", "ols_check.csv"),
      readme = c(sprintf("ML = OLS check: max |lavaan - lm()| over a, b, cp = %s (`ols_check.csv`).", fmtg(max(abs(ml - ols)), 3)),
                 sprintf("Indirect effect ind = a*b = %s (delta-method SE %s).", fmtg(g("ind"), 8), fmtg(pe$se[pe$label == "ind"][1], 6)),
                 sprintf("lavaan bootstrap (`%s`, %d successful draws, %.1f s): percentile 95%% CI of ind [%s, %s], bootstrap SE %s.",
                         lb$call, lb$n_ok, lb$seconds, fmtg(lbi$ci.lower, 6), fmtg(lbi$ci.upper, 6), fmtg(lbi$se, 6)),
                 sprintf("lavaan reported %d failed/non-converged bootstrap runs (replicates %s); refitted directly with `sem()` on the same resamples (indices reconstructed, `bootstrap_indices.csv`) they converge: %s. Because of them lavaan leaves `se` of the `:=` rows `NA` in `bootstrap_estimates.csv`; the SD of ind over the %d successful replicates is %s. The percentile CI uses the successful replicates only.",
                         length(lb$error_idx), paste(lb$error_idx, collapse = ", "), paste(unlist(lb$failed_replicates_refit_directly_converged), collapse = ", "),
                         lb$n_ok, fmtg(lb$defined_sd_over_ok_replicates$ind, 6)),
                 sprintf("**Exact reference** (200,000 replicates, seed 4242, %.1f s): ind percentile 95%% CI [%s, %s], replicate SD %s, mean %s.",
                         t0[["elapsed"]], fmtg(exi$ci_lower, 8), fmtg(exi$ci_upper, 8), fmtg(exi$boot_sd, 6), fmtg(exi$boot_mean, 6)),
                 "With 200,000 replicates the Monte Carlo error of a 2.5%/97.5% quantile is about 0.01 x replicate SD, i.e. well under 0.001 here.",
                 sprintf("How close can a B-draw bootstrap get to the exact interval? `bootstrap_bound_mc_error.csv` (B draws from the 200,000 replicates, 2000 times): with B = 1000 the SD of the ind bounds is %s (lower) / %s (upper) and both bounds fall within 0.01 of the exact ones in %.1f%% of runs; see the file for B = 2000, 5000, 10000.",
                         fmtg(m1k$sd_ci_lower, 3), fmtg(m1k$sd_ci_upper, 3), 100 * m1k$p_within_0.01_both)))
  }
  simple_section("tal_or_mediation", model, d, "sem(model, data = data)", "9a",
    c("Hayes' PROCESS model 4 on `psych::Tal_Or` (Tal-Or, Cohen, Tsfati & Gunther 2010; N = 123):",
      "`cond -> pmi -> reaction` as an observed-variable path model (no latent variables), `sem()`",
      "defaults (ML, fixed.x = TRUE so `cond` variance is fixed at its sample value, no mean structure).",
      "Saturated: df = 0. Issue 14 acceptance 3. `data.csv` has only the three model columns."),
    extra_files = c("| `bootstrap_estimates.csv` | the same model with `se = \"bootstrap\"`, 1000 draws; `se` = bootstrap SD, `ci.lower/ci.upper` = percentile |",
                    "| `bootstrap_replicates.csv`, `bootstrap_indices.csv` | lavaan's 1000 replicate estimates (`lavInspect(fit, \"boot\")`, NA rows = failed) and the resampled row indices (1-based) |",
                    "| `exact_bootstrap.csv` | 200,000-replicate nonparametric bootstrap of the OLS regressions: est_original, boot_mean, boot_sd, ci_lower (2.5%), ci_upper (97.5%) for a, b, cp, ind, total |",
                    "| `bootstrap_bound_mc_error.csv` | Monte Carlo SD of B-draw percentile bounds (B = 1000..10000) and how often both fall within 0.01 of the exact ones |",
                    "| `ols_check.csv` | lavaan ML vs `lm()` coefficients on the original sample |"),
    post = post)
}

sec_tal_or_serial <- function() {
  d <- psych::Tal_Or[, c("cond", "import", "pmi", "reaction")]
  model <- paste(
    "# PROCESS model 6 (serial mediation): cond -> import -> pmi -> reaction",
    "import ~ a1*cond",
    "pmi ~ a2*cond + d21*import",
    "reaction ~ cp*cond + b1*import + b2*pmi",
    "ind_import := a1*b1",
    "ind_pmi := a2*b2",
    "ind_serial := a1*d21*b2",
    "total_ind := a1*b1 + a2*b2 + a1*d21*b2",
    "total := cp + a1*b1 + a2*b2 + a1*d21*b2",
    "c_import_pmi := a1*b1 - a2*b2",
    "c_import_serial := a1*b1 - a1*d21*b2",
    "c_pmi_serial := a2*b2 - a1*d21*b2", sep = "\n")
  post <- function(folder, fit, data, env) {
    pe <- parameterEstimates(fit)
    g <- function(l) pe$est[pe$label == l][1]
    m1 <- coef(lm(import ~ cond, data)); m2 <- coef(lm(pmi ~ cond + import, data))
    m3 <- coef(lm(reaction ~ cond + import + pmi, data))
    ols <- c(a1 = m1[["cond"]], a2 = m2[["cond"]], d21 = m2[["import"]], cp = m3[["cond"]], b1 = m3[["import"]], b2 = m3[["pmi"]])
    ml <- sapply(names(ols), g)
    lb <- lavaan_boot(folder, model, data, 20232, env)
    X <- as.matrix(data)
    slopes <- function(idx) {
      col <- function(v) matrix(X[idx, v], nrow(idx))
      cc <- col("cond"); m1 <- col("import"); m2 <- col("pmi"); y <- col("reaction")
      a1 <- ols_slopes(m1, list(cc))[[1]]
      s2 <- ols_slopes(m2, list(cc, m1)); a2 <- s2[[1]]; d21 <- s2[[2]]
      s3 <- ols_slopes(y, list(cc, m1, m2)); cp <- s3[[1]]; b1 <- s3[[2]]; b2 <- s3[[3]]
      cbind(a1 = a1, a2 = a2, d21 = d21, cp = cp, b1 = b1, b2 = b2,
            ind_import = a1 * b1, ind_pmi = a2 * b2, ind_serial = a1 * d21 * b2,
            total_ind = a1 * b1 + a2 * b2 + a1 * d21 * b2, total = cp + a1 * b1 + a2 * b2 + a1 * d21 * b2,
            c_import_pmi = a1 * b1 - a2 * b2, c_import_serial = a1 * b1 - a1 * d21 * b2,
            c_pmi_serial = a2 * b2 - a1 * d21 * b2)
    }
    t0 <- system.time(R <- boot_chunks(nrow(X), B_EXACT, 4243, slopes))
    chk <- slopes(matrix(seq_len(nrow(X)), ncol = 1))[1, names(ols)]
    est <- as.list(sapply(colnames(R), g))
    ex <- exact_summary(R, est)
    write_csv17(ex, file.path(folder, "exact_bootstrap.csv"))
    mce <- bound_mc_error(R, c("ind_import", "ind_pmi", "ind_serial", "total_ind"), 778L)
    write_csv17(mce, file.path(folder, "bootstrap_bound_mc_error.csv"))
    write_csv17(data.frame(param = names(ml), lavaan_ml = unname(ml), ols_lm = unname(ols),
                           diff = unname(ml - ols), vectorised_formula = unname(chk)),
                file.path(folder, "ols_check.csv"))
    lbi <- lb$pe[lb$pe$label == "ind_serial", ]
    exi <- ex[ex$quantity == "ind_serial", ]
    list(meta = list(
      ols_equals_ml_max_abs_diff = max(abs(ml - ols)),
      lavaan_bootstrap = lb[setdiff(names(lb), "pe")],
      exact_bootstrap = list(replicates = B_EXACT, seed = 4243L, chunk = CHUNK,
                             method = "nonparametric row resampling; per replicate OLS of import on cond, pmi on cond + import, reaction on cond + import + pmi (covariances, Cramer's rule); percentile CI = quantile(type = 7)",
                             seconds = t0[["elapsed"]])),
      files = c("bootstrap_estimates.csv", "bootstrap_replicates.csv", "bootstrap_indices.csv", "exact_bootstrap.csv", "bootstrap_bound_mc_error.csv", "ols_check.csv"),
      readme = c(sprintf("ML = OLS check: max |lavaan - lm()| = %s (`ols_check.csv`).", fmtg(max(abs(ml - ols)), 3)),
                 sprintf("Serial indirect a1*d21*b2 = %s; lavaan bootstrap (1000 draws, %d ok) percentile CI [%s, %s]; exact (200,000) [%s, %s], replicate SD %s.",
                         fmtg(g("ind_serial"), 8), lb$n_ok, fmtg(lbi$ci.lower, 6), fmtg(lbi$ci.upper, 6),
                         fmtg(exi$ci_lower, 8), fmtg(exi$ci_upper, 8), fmtg(exi$boot_sd, 6)),
                 sprintf("lavaan reported %d failed/non-converged bootstrap runs (replicates %s); refitted directly with `sem()` they converge: %s. lavaan's `se` of `:=` rows is then `NA`; SD of ind_serial over the %d successful replicates: %s.",
                         length(lb$error_idx), paste(lb$error_idx, collapse = ", "), paste(unlist(lb$failed_replicates_refit_directly_converged), collapse = ", "),
                         lb$n_ok, fmtg(lb$defined_sd_over_ok_replicates$ind_serial, 6)),
                 "The data set is the one Hayes (2018, ch. 5) uses for the serial model: X = cond, M1 = import, M2 = pmi, Y = reaction."))
  }
  simple_section("tal_or_serial_mediation", model, d, "sem(model, data = data)", "9b",
    c("Hayes' PROCESS model 6 (two serial mediators) on `psych::Tal_Or` (N = 123): `cond -> import -> pmi -> reaction`",
      "with all direct paths, observed variables only, `sem()` defaults; defined indirect effects, total",
      "and the three pairwise contrasts of the indirect effects. Saturated (df = 0)."),
    extra_files = c("| `bootstrap_estimates.csv` | `se = \"bootstrap\"`, 1000 draws, percentile CI |",
                    "| `bootstrap_replicates.csv`, `bootstrap_indices.csv` | lavaan's replicate estimates (NA rows = failed) and resampled row indices (1-based) |",
                    "| `exact_bootstrap.csv` | 200,000-replicate nonparametric bootstrap of the three OLS regressions (all paths and defined effects) |",
                    "| `bootstrap_bound_mc_error.csv` | Monte Carlo SD of B-draw percentile bounds (B = 1000..10000) for the indirect effects |",
                    "| `ols_check.csv` | lavaan ML vs `lm()` |"),
    post = post)
}

# ---------------------------------------------------------------- 10 observed_with_latent
sec_observed_with_latent <- function() {
  d <- HS[, c("ageyr", "sex", paste0("x", 1:9))]
  model <- paste0(HS3, "\n# single-item observed controls beside latent constructs\nvisual ~ ageyr\ntextual ~ visual + ageyr\nspeed ~ visual + textual + ageyr + sex")
  simple_section("observed_with_latent", model, d, "sem(model, data = data)", "10",
    c("Holzinger-Swineford 3-factor model with **observed single-item predictors** of the factors",
      "(`ageyr` = age in years, `sex` coded 1/2 as in lavaan's data). `sem()` defaults: `fixed.x = TRUE`,",
      "so the variances/covariance of ageyr and sex are fixed at their sample values (divisor N) and",
      "appear in `estimates.csv` with se = 0; they are not counted in npar. Issue 14 (single-item controls)."))
}

# ---------------------------------------------------------------- 11 not_converged
sim_nc <- function(seed, n = 40) {
  set.seed(seed)
  f1 <- rnorm(n); f2 <- 0.0 * f1 + rnorm(n)
  data.frame(y1 = 0.8 * f1 + rnorm(n, 0, .6), y2 = 0.7 * f1 + rnorm(n, 0, .7),
             y3 = 0.8 * f2 + rnorm(n, 0, .6), y4 = 0.7 * f2 + rnorm(n, 0, .7))
}
sec_not_converged <- function() {
  model <- "F1 =~ y1 + y2\nF2 =~ y3 + y4\nF2 ~ F1"
  # The seed: the first seed in 1, 2, ... for which lavaan's default fit does not converge.
  seed <- NA
  for (s in 1:50) {
    fit <- suppressWarnings(sem(model, data = sim_nc(s)))
    if (!lavInspect(fit, "converged")) { seed <- s; break }
  }
  d <- sim_nc(seed)
  post <- function(folder, fit, data, env) {
    printed <- capture.output(print(fit))
    summ <- capture.output(suppressWarnings(summary(fit)))
    writeLines(c(printed), file.path(folder, "lavaan_print.txt"))
    writeLines(summ, file.path(folder, "lavaan_summary.txt"))
    # supplementary: a different optimiser converges to an improper solution
    rb <- run_call("sem(model, data = data, optim.method = \"BFGS\")", env)
    fb <- rb$value
    write_csv17(estimates_table(fb), file.path(folder, "supplementary_bfgs_estimates.csv"))
    write_csv17(data.frame(variable = names(data), sd = sapply(data, sd)), file.path(folder, "item_sd.csv"))
    write_csv17(data.frame(var = rownames(cor(data)), cor(data), check.names = FALSE), file.path(folder, "sample_correlations.csv"))
    list(meta = list(seed = seed, n = 40,
                     generating = "F1, F2 independent N(0,1) (structural path 0, so the model is empirically under-identified: each factor has only two indicators and nothing ties them); y1 = 0.8 F1 + N(0, .6^2), y2 = 0.7 F1 + N(0, .7^2), y3 = 0.8 F2 + N(0, .6^2), y4 = 0.7 F2 + N(0, .7^2); see sim_nc() in make_all.R",
                     lavaan_print = printed,
                     supplementary_bfgs = list(call = "sem(model, data = data, optim.method = \"BFGS\")",
                                               converged = lavInspect(fb, "converged"),
                                               iterations = lavInspect(fb, "iterations"),
                                               warnings = rb$warnings,
                                               chisq = tryCatch(fitMeasures(fb)[["chisq"]], error = function(e) NA))),
         files = c("lavaan_print.txt", "lavaan_summary.txt", "supplementary_bfgs_estimates.csv", "item_sd.csv", "sample_correlations.csv"),
         readme = c(sprintf("Simulated: N = 40, seed %d = the first seed in 1..50 for which lavaan's default `sem()` does not converge (loop in the script).", seed),
                    "Why: F2 ~ F1 is ~0 in the data; with two indicators per factor and a ~0 factor covariance the loadings y2 (on F1) and y4 (on F2) are not identified by the data (empirical under-identification).",
                    "",
                    "What lavaan prints (`lavaan_print.txt`):", "", "```", printed, "```", "",
                    "`estimates.csv` holds the values where NLMINB stopped (SEs `NA`); they are **not** a reference to match, only evidence of the failure. `fitMeasures()` refuses: `" %s% gsub("\n", " ", tryCatch({fitMeasures(fit); ""}, error = function(e) conditionMessage(e))) %s% "`.",
                    sprintf("Supplementary: `optim.method = \"BFGS\"` reports converged = %s after %d iterations, with warnings: %s (`supplementary_bfgs_estimates.csv`). So the data admit only an improper/boundary solution; bayeslead should report non-convergence or an improper solution, not a clean fit.",
                            lavInspect(fb, "converged"), lavInspect(fb, "iterations"), if (length(rb$warnings)) paste(shQuote(rb$warnings), collapse = "; ") else "none")))
  }
  simple_section("not_converged", model, d, "sem(model, data = data)", "11",
    c("A model **lavaan reports as not converged** (`lavInspect(fit, \"converged\")` is FALSE) with default",
      "settings: two 2-indicator factors and a regression between them, on simulated N = 40 data where the",
      "factors are unrelated. Syntactically ordinary (factors with 2 items, a regression among constructs)."),
    extra_files = c("| `lavaan_print.txt`, `lavaan_summary.txt` | what lavaan prints |",
                    "| `supplementary_bfgs_estimates.csv` | same model with optim.method = \"BFGS\" (see above) |",
                    "| `item_sd.csv`, `sample_correlations.csv` | descriptives |",
                    "(no `standardized.csv`, `fit.csv`, `r2.csv`: lavaan does not give them for a non-converged fit)"),
    post = post, reps = 3)
}

# ---------------------------------------------------------------- 12 hs_multigroup_intercepts
sec_hs_multigroup_intercepts <- function() {
  d <- HS[, c("school", paste0("x", 1:9))]
  d$school <- as.character(d$school)
  post <- function(folder, fit, data, env) {
    imp <- lavInspect(fit, "implied")
    ss <- lavInspect(fit, "sampstat")
    labs <- lavInspect(fit, "group.label")
    rows <- do.call(rbind, lapply(labs, function(gl) {
      obs_direct <- colMeans(data[data$school == gl, paste0("x", 1:9)])
      data.frame(group = gl, variable = names(imp[[gl]]$mean), implied_mean = unname(imp[[gl]]$mean),
                 sample_mean = unname(ss[[gl]]$mean), sample_mean_direct = unname(obs_direct[names(imp[[gl]]$mean)]),
                 stringsAsFactors = FALSE)
    }))
    write_csv17(rows, file.path(folder, "implied_means.csv"))
    call_gw <- "cfa(model, data = data, group = \"school\", group.equal = c(\"loadings\", \"intercepts\"), group.label = c(\"Grant-White\", \"Pasteur\"))"
    fgw <- eval(parse(text = call_gw), envir = env)
    write_csv17(estimates_table(fgw), file.path(folder, "estimates_ref_grant_white.csv"))
    igw <- lavInspect(fgw, "implied")
    same_implied <- max(sapply(labs, function(gl) max(abs(igw[[gl]]$mean - imp[[gl]]$mean))))
    same_chisq <- fitMeasures(fgw)[["chisq"]] - fitMeasures(fit)[["chisq"]]
    pe <- parameterEstimates(fit)
    lm_rows <- pe[pe$op == "~1" & pe$lhs %in% c("visual", "textual", "speed"), ]
    x5 <- rows[rows$variable == "x5", ]
    list(meta = list(group_order = labs, reference_group = labs[1],
                     variant_ref_grant_white = list(call = call_gw, file = "estimates_ref_grant_white.csv",
                                                    converged = lavInspect(fgw, "converged"),
                                                    max_abs_diff_implied_means = same_implied,
                                                    chisq_difference = same_chisq),
                     latent_means = lapply(split(lm_rows, lm_rows$group), function(r) as.list(setNames(r$est, r$lhs)))),
         files = c("implied_means.csv", "estimates_ref_grant_white.csv"),
         readme = c(sprintf("Groups in lavaan's order: group 1 = %s (reference: latent means fixed at 0), group 2 = %s (latent means free).", labs[1], labs[2]),
                    sprintf("x5 implied mean / observed mean: %s %s / %s; %s %s / %s (issue 14's example).",
                            x5$group[1], fmtg(x5$implied_mean[1], 6), fmtg(x5$sample_mean[1], 6),
                            x5$group[2], fmtg(x5$implied_mean[2], 6), fmtg(x5$sample_mean[2], 6)),
                    "Latent means of group 2 (relative to group 1): " %s%
                      paste(sprintf("%s %s", lm_rows$lhs[lm_rows$group == 2], fmtg(lm_rows$est[lm_rows$group == 2], 6)), collapse = ", ") %s% ".",
                    "`estimates.csv` has `block`/`group` columns (1 = " %s% labs[1] %s% ", 2 = " %s% labs[2] %s% "); item intercepts (`x ~1`) have group-shared labels `.p..`, as do loadings.",
                    sprintf("Variant with **Grant-White as reference group** (`%s`): `estimates_ref_grant_white.csv`; an equivalent model (chisq difference %s, implied means differ by at most %s), latent means of Pasteur relative to Grant-White. Use it if your tool puts groups in sorted order (Grant-White first).",
                            call_gw, fmtg(same_chisq, 3), fmtg(same_implied, 3))))
  }
  simple_section("hs_multigroup_intercepts", HS3, d,
    "cfa(model, data = data, group = \"school\", group.equal = c(\"loadings\", \"intercepts\"))", "12",
    c("Holzinger-Swineford 3-factor CFA by `school` (Pasteur N = 156, Grant-White N = 145) with",
      "**loadings and intercepts equal across groups** (scalar invariance); the mean structure is added",
      "automatically, latent means free in the second group. Issue 14 acceptance 5."),
    extra_files = c("| `estimates_ref_grant_white.csv` | the same model with group.label = c(\"Grant-White\", \"Pasteur\") (Grant-White = group 1, the reference) |",
    "| `implied_means.csv` | per group and item: model-implied mean (`lavInspect(fit, \"implied\")`), sample mean (`lavInspect(fit, \"sampstat\")`, and directly from the data) |"),
    post = post)
}

# ---------------------------------------------------------------- 13 contrast_defined
sec_contrast_defined <- function() {
  base <- readLines("/work/shared/reference/serial_mediation/model.lav")
  base <- base[nzchar(trimws(base))]
  model <- paste(c(base,
                   "# contrast of the two indirect effects, written two ways",
                   "contrast := a*b*c*d - g*c*d",
                   "contrast_defs := ind_serial - ind_tl_seiz"), collapse = "\n")
  d <- read.csv("/work/shared/reference/serial_mediation/data.csv")
  post <- function(folder, fit, data, env) {
    lb <- lavaan_boot(folder, model, data, 1, env)
    pe <- parameterEstimates(fit)
    dd <- pe[pe$op == ":=", ]
    b <- lb$pe[lb$pe$op == ":=", ]
    list(meta = list(lavaan_bootstrap = lb[setdiff(names(lb), "pe")], source_data = "/work/shared/reference/serial_mediation/data.csv (copied unchanged)"),
         files = c("bootstrap_estimates.csv", "bootstrap_replicates.csv", "bootstrap_indices.csv"),
         readme = c("Defined parameters (ML, delta-method SE; bootstrap percentile CI from `bootstrap_estimates.csv`):", "",
                    "| name | est | se | ci (delta) | boot se | boot percentile ci |", "| --- | --- | --- | --- | --- | --- |",
                    sprintf("| %s | %s | %s | [%s, %s] | %s | [%s, %s] |", dd$lhs, fmtg(dd$est, 6), fmtg(dd$se, 4),
                            fmtg(dd$ci.lower, 4), fmtg(dd$ci.upper, 4), fmtg(b$se, 4), fmtg(b$ci.lower, 4), fmtg(b$ci.upper, 4)),
                    "", "`contrast` and `contrast_defs` are the same quantity (lavaan accepts `:=` expressions that use earlier defined parameters)."))
  }
  simple_section("contrast_defined", model, d, "sem(model, data = data)", "13",
    c("The serial-mediation survey of `/work/shared/reference/serial_mediation` (N = 400, 20 five-point",
      "items as continuous) with its `model.lav` plus a **`:=` contrast of the two indirect effects**",
      "(`ind_serial - ind_tl_seiz`), written once with parameter labels and once with the defined names.",
      "Issue 20 acceptance 3. ML point estimates equal the shared folder's (same data and model)."),
    extra_files = c("| `bootstrap_estimates.csv` | `se = \"bootstrap\"`, 1000 draws, `iseed = 1`, percentile CIs (same call as the shared serial_mediation bootstrap) |",
                    "| `bootstrap_replicates.csv`, `bootstrap_indices.csv` | lavaan's replicate estimates and resampled row indices (1-based) |"),
    post = post, reps = 3)
}

# ---------------------------------------------------------------- 14 demo_twolevel_covariates
sec_demo_twolevel_covariates <- function() {
  d <- lavaan::Demo.twolevel
  model <- "level: 1\n    fw =~ y1 + y2 + y3\n    fw ~ x1 + x2 + x3\nlevel: 2\n    fb =~ y1 + y2 + y3\n    fb ~ w1 + w2"
  post <- function(folder, fit, data, env) {
    icc <- lavInspect(fit, "icc")
    write_csv17(data.frame(variable = names(icc), icc = unname(icc)), file.path(folder, "icc.csv"))
    Lp <- fit@Data@Lp[[1]]
    ov_all <- unique(c(lavNames(fit, "ov", block = 1), lavNames(fit, "ov", block = 2)))
    roles <- list(within_only = ov_all[Lp$within.idx[[2]]], between_only = ov_all[Lp$between.idx[[2]]],
                  both = ov_all[Lp$both.idx[[2]]])
    list(meta = list(cluster = "cluster", n_clusters = lavInspect(fit, "nclusters"), variable_roles = roles,
                     note_covariates = "x1, x2, x3 vary within clusters and appear only at level 1 in the model; w1, w2 are cluster-constant (between-only). With fixed.x = TRUE their (co)variances are fixed at sample values."),
         files = "icc.csv",
         readme = c(sprintf("Clusters: %d; N = %d.", lavInspect(fit, "nclusters"), lavInspect(fit, "nobs")),
                    "x1-x3 appear only in the `level: 1` block, so lavaan treats them as within-only (no between part); w1-w2 appear only in `level: 2` and are constant within clusters, so they are between-only; y1-y3 have a within and a between part (`meta.json` `variable_roles`, from lavaan's internal `Lp` index lists).",
                    "`estimates.csv` has `level` and `block` columns (1 = within, 2 = between). `r2.csv` has a `block` column with lavaan's block names `within` and `cluster` (= between).",
                    "lavaan uses observed information for two-level ML (see options)."))
  }
  simple_section("demo_twolevel_covariates", model, d, "sem(model, data = data, cluster = \"cluster\")", "14",
    c("lavaan's multilevel tutorial model on `lavaan::Demo.twolevel` (2,500 rows in 200 clusters):",
      "`fw =~ y1 + y2 + y3` regressed on the within covariates x1-x3, and `fb =~ y1 + y2 + y3` on the",
      "between covariates w1-w2. Issue 14 (observed covariates in two-level models). Extra to the brief's list."),
    extra_files = "| `icc.csv` | `lavInspect(fit, \"icc\")` |",
    post = post, reps = 3)
}

# ---------------------------------------------------------------- INDEX.md
build_index <- function() {
  dirs <- sort(list.dirs(ROOT, recursive = FALSE, full.names = TRUE))
  lines <- c("# ml_corpus: lavaan 0.6-14 reference corpus (issues 14, 16, 20)", "",
             "Generated by `make_all.R` (helpers in `common.R`); every number below is read from the folders' `meta.json`/`fit.csv`, which R wrote.",
             "Conventions as in `/work/shared/reference/README.md` (CSV: comma, header, no row names, `NA`, full double precision; lavaan column names).",
             "Timing = median elapsed and median CPU (user+sys; for the MCAR/MAR folders the first call's user time) of repeated identical lavaan calls (system.time) on the shared 2-core machine; see each meta.json for load average.", "",
             "| folder | model | N | tests | converged | key numbers | fit time (s): elapsed median / CPU |", "| --- | --- | --- | --- | --- | --- | --- |")
  desc <- list(
    political_democracy_full = c("Bollen PD SEM, tutorial, all 6 residual covs incl. y4~~y8", "full PD model (#14), R-squared (#16)"),
    political_democracy_equal = c("PD SEM with labelled equal loadings a,b,c", "equality by label (#20)"),
    hs_cfa_equal = c("HS 3-factor CFA, v2*x2 + v2*x3, t*x5 + t*x6", "equality constraints (#20)"),
    hs_cfa_correlated_residuals = c("HS 3-factor CFA + x7~~x8 + x2~~x3", "correlated residuals (#14)"),
    hs_second_order = c("HS CFA + g =~ visual + textual + speed", "second-order factor (#14)"),
    heywood = c("simulated 2-factor CFA, negative y1 residual variance", "Heywood case (#14)"),
    large_variances = c("HS CFA, items x10/x30/x1", "item variances ~1 to ~1500 (#14)"),
    bfi_fiml_native = c("bfi 5-factor CFA, 25 items, native NAs, FIML", "FIML 3% missing, negative loadings, speed (#14)"),
    bfi_fiml_complete = c("bfi 5-factor CFA, complete cases, FIML", "no-missing base for MCAR/MAR (#14)"),
    bfi_fiml_mcar01 = c("bfi complete cases + 1% MCAR, FIML", "FIML MCAR (#14)"),
    bfi_fiml_mcar05 = c("bfi complete cases + 5% MCAR, FIML", "FIML MCAR (#14)"),
    bfi_fiml_mcar20 = c("bfi complete cases + 20% MCAR, FIML", "FIML MCAR (#14)"),
    bfi_fiml_mar05 = c("bfi complete cases + 5% MAR (on N1), FIML", "FIML MAR (#14)"),
    bfi_fiml_mar20 = c("bfi complete cases + 20% MAR (on N1), FIML", "FIML MAR (#14)"),
    tal_or_mediation = c("PROCESS model 4, Tal_Or, observed path model", "observed mediation, bootstrap vs 200k exact (#14)"),
    tal_or_serial_mediation = c("PROCESS model 6, Tal_Or, cond->import->pmi->reaction", "serial observed mediation, contrasts, 200k exact (#14, #20)"),
    observed_with_latent = c("HS factors regressed on observed ageyr, sex", "single-item controls beside latents (#14)"),
    not_converged = c("simulated 2x2-indicator factors, F2 ~ F1, N=40", "lavaan reports NOT converged (#14)"),
    hs_multigroup_intercepts = c("HS CFA by school, equal loadings+intercepts", "multi-group intercepts, implied means (#14)"),
    contrast_defined = c("serial_mediation model + := contrast of two indirect effects", "`:=` contrast (#20)"),
    demo_twolevel_covariates = c("Demo.twolevel, fw ~ x1+x2+x3, fb ~ w1+w2", "two-level with covariates (#14)"))
  for (dd in dirs) {
    mf <- file.path(dd, "meta.json")
    if (!file.exists(mf)) next
    m <- jsonlite::fromJSON(mf)
    nm <- basename(dd)
    de <- if (!is.null(desc[[nm]])) desc[[nm]] else c("", "")
    kf <- m$key_fit
    key <- if (!is.null(kf)) sprintf("chisq %.4f / df %d, CFI %.4f, RMSEA %.4f, SRMR %.4f, logl %.3f",
                                     kf$chisq, as.integer(kf$df), kf$cfi, kf$rmsea, kf$srmr, kf$logl) else "no fit measures (not converged)"
    if (!is.null(m$exact_bootstrap)) {
      ex <- read.csv(file.path(dd, "exact_bootstrap.csv"))
      q <- if ("ind_serial" %in% ex$quantity) "ind_serial" else "ind"
      r <- ex[ex$quantity == q, ]
      key <- paste0(key, sprintf("; %s %.5f, exact 200k CI [%.5f, %.5f]", q, r$est_original, r$ci_lower, r$ci_upper))
    }
    if (!is.null(m$heywood_variance)) key <- paste0(key, sprintf("; y1~~y1 = %.4f", m$heywood_variance$est))
    if (!is.null(m$missing_fraction_cells)) key <- paste0(key, sprintf("; %.2f%% cells missing", 100 * m$missing_fraction_cells))
    cpu <- if (!is.null(m$timing$median_repeat_cpu_s)) m$timing$median_repeat_cpu_s else m$timing$first_user_s
    lines <- c(lines, sprintf("| `%s` | %s | %s | %s | %s (%d it.) | %s | %.3f / %.3f |", nm, de[1],
                              paste(unlist(m$nobs), collapse = "/"), de[2], m$converged, as.integer(m$iterations), key,
                              m$timing$median_repeat_elapsed_s, cpu))
  }
  lines <- c(lines, "",
    "## Notes for implementers", "",
    "- Files per folder: `data.csv`, `model.lav`, `estimates.csv` (parameterEstimates incl. `label`; `group`/`block`/`level` columns where lavaan gives them), `standardized.csv` (std.all), `fit.csv` (all fitMeasures), `r2.csv`, `meta.json` (versions, exact call, options, nobs, converged, iterations, objective, gradient, warnings, timing), `README.md`; extra files are listed in each README.",
    "- Rerun one folder: `Rscript make_all.R NAME` (needs `common.R`; seeds are set per section, so a folder is reproduced independently of the others). Reading order of the options: `meta.json` `options` is a subset of `lavInspect(fit, \"options\")`.",
    "- Equality constraints (`political_democracy_equal`, `hs_cfa_equal`, `hs_multigroup_intercepts`): lavaan's raw gradient has equal and opposite entries for tied parameters; `meta.json` `max_abs_gradient_constrained` is the gradient along the constraint (summed per label).",
    "- FIML (`bfi_fiml_*`): lavaan's default SEs for `missing = \"ml\"` use the observed information (Hessian); `fit.csv` chisq is against the EM-estimated unrestricted model (`unrestricted.logl`). lavaan's FIML time grows with the number of missing-data patterns (see each folder's timing).",
    "- `not_converged` has no fit.csv/standardized.csv/r2.csv by design; its `estimates.csv` is where NLMINB stopped (not a target).",
    "- Timings were measured on a heavily shared 2-core machine (load averages recorded in every meta.json, often 10-17): use them only as rough upper bounds; compare speed side by side in `bench/`.")
  writeLines(lines, file.path(ROOT, "INDEX.md"))
  cat("wrote INDEX.md\n")
}

SECTIONS <- list(
  political_democracy_full = sec_political_democracy_full,
  political_democracy_equal = sec_political_democracy_equal,
  hs_cfa_equal = sec_hs_cfa_equal,
  hs_cfa_correlated_residuals = sec_hs_cfa_correlated_residuals,
  hs_second_order = sec_hs_second_order,
  heywood = sec_heywood,
  large_variances = sec_large_variances,
  bfi_fiml_native = sec_bfi_fiml_native,
  bfi_fiml_complete = sec_bfi_fiml_complete,
  bfi_fiml_mcar01 = function() sec_bfi_mcar(0.01, 1001L),
  bfi_fiml_mcar05 = function() sec_bfi_mcar(0.05, 1005L),
  bfi_fiml_mcar20 = function() sec_bfi_mcar(0.20, 1020L),
  bfi_fiml_mar05 = function() sec_bfi_mar(0.05, 2005L),
  bfi_fiml_mar20 = function() sec_bfi_mar(0.20, 2020L),
  tal_or_mediation = sec_tal_or_mediation,
  tal_or_serial_mediation = sec_tal_or_serial,
  observed_with_latent = sec_observed_with_latent,
  not_converged = sec_not_converged,
  hs_multigroup_intercepts = sec_hs_multigroup_intercepts,
  contrast_defined = sec_contrast_defined,
  demo_twolevel_covariates = sec_demo_twolevel_covariates)

args <- commandArgs(trailingOnly = TRUE)
todo <- if (length(args) == 0) names(SECTIONS) else setdiff(args, "index")
unknown <- setdiff(todo, names(SECTIONS))
if (length(unknown)) stop("unknown section(s): ", paste(unknown, collapse = ", "))
for (s in todo) { cat("==", s, "\n"); SECTIONS[[s]]() }
build_index()
