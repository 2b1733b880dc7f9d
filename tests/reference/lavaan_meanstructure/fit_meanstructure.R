# lavaan fits with a mean structure ('~ 1' in the syntax) for issue 20: item intercepts
# and latent means as lavaan estimates them, for the Bayesian engine to match within one SE.
#   hs_means      Holzinger-Swineford CFA, equal loadings of x2 and x3, free item intercepts
#                 (latent means fixed at 0, lavaan's default)
#   poldem_means  political democracy SEM (the poldem_contrast model) with free intercepts
#   hs_predictor  'visual' regressed on the observed age (ageyr), 'textual' on 'visual': the
#                 items' intercepts are then not their means (nu = mean - lambda * b *
#                 mean(ageyr)), and ageyr's '~1' is its mean (fixed.x: the sample mean, SE 0)
# Writes <name>_estimates.csv (parameterEstimates with std.all) and <name>.lav, and
# hs_predictor_fiml_estimates.csv (below);
# data: ../lavaan_constraints/{hs_data,poldem_data}.csv (lavaan's own data sets).
# Run from this folder: Rscript fit_meanstructure.R
suppressPackageStartupMessages(library(lavaan))
models <- list(
  hs_means = "
    visual  =~ x1 + v2*x2 + v2*x3
    textual =~ x4 + x5 + x6
    speed   =~ x7 + x8 + x9
    x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 ~ 1
  ",
  poldem_means = "
    ind60 =~ x1 + x2 + x3
    dem60 =~ y1 + y2 + y3 + y4
    dem65 =~ y5 + y6 + y7 + y8
    dem60 ~ a*ind60
    dem65 ~ c*ind60 + b*dem60
    y1 ~~ y5
    y2 ~~ y4 + y6
    y3 ~~ y7
    y4 ~~ y8
    y6 ~~ y8
    y1 ~ 1
    ind60 ~ 0*1
  ",
  hs_predictor = "
    visual  =~ x1 + x2 + x3
    textual =~ x4 + x5 + x6
    visual ~ ageyr
    textual ~ visual
    x4 ~ 1
  "
)
data <- list(hs_means = HolzingerSwineford1939, poldem_means = PoliticalDemocracy,
             hs_predictor = HolzingerSwineford1939)
for (name in names(models)) {
  fit <- sem(models[[name]], data = data[[name]])
  est <- parameterEstimates(fit, standardized = TRUE)
  if (is.null(est$label)) est$label <- ""
  est <- est[, c("lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "ci.lower",
                 "ci.upper", "std.all")]
  write.csv(est, paste0(name, "_estimates.csv"), row.names = FALSE, na = "NA")
  writeLines(models[[name]], paste0(name, ".lav"))
}
# the same hs_predictor model by FIML (missing = "ml"; fixed.x = FALSE, so ageyr's mean is
# estimated, as bayeslead's FIML does): the items' intercepts with observed-information SEs
fit <- sem(models[["hs_predictor"]], data = HolzingerSwineford1939, missing = "ml",
           fixed.x = FALSE)
est <- parameterEstimates(fit, standardized = TRUE)
est$label <- ""
est <- est[, c("lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "ci.lower",
               "ci.upper", "std.all")]
write.csv(est, "hs_predictor_fiml_estimates.csv", row.names = FALSE, na = "NA")
writeLines(c(paste("lavaan", packageVersion("lavaan")), R.version.string), "versions.txt")
