## make.R: two-level FIML (cluster = "cluster", missing = "ml") with a covariate at both levels
## (issue 21, acceptance 2: two-level models with blanks and covariates). lavaan::Demo.twolevel with
## xw = x1 + w1 (varies within clusters and has a real between part: at both levels), x2, x3
## within-only, w2 between-only; 5% of the answers y1-y3 blank completely at random.
## Run from this folder: Rscript make.R   (data: ../twolevel_demo/data.csv = lavaan::Demo.twolevel)
source("../common.R")  # the reference-writing helpers shared by every make.R

demo <- read.csv("../twolevel_demo/data.csv")
stopifnot(isTRUE(all.equal(demo, lavaan::Demo.twolevel, check.attributes = FALSE)))
demo$xw <- demo$x1 + demo$w1
items <- paste0("y", 1:3)
## MCAR blanks: one U(0,1) per item cell (row-major over 2500 x 3), set.seed(2121); cells with
## u < 0.05 are blank; a row left without any answer keeps y1.
set.seed(2121)
u <- matrix(runif(nrow(demo) * 3), nrow(demo), 3, byrow = TRUE)
m <- u < 0.05
m[rowSums(m) == 3, 1] <- FALSE
data <- demo[, c("cluster", items, "xw", "x2", "x3", "w2")]
data[, items][m] <- NA
write_ref_csv(data, "data_mcar05.csv")

model <- 'level: 1
    fw =~ y1 + l2*y2 + l3*y3
    fw ~ xw + x2 + x3
level: 2
    fb =~ y1 + l2*y2 + l3*y3
    fb ~ xw + w2
'
writeLines(model, "model.lav", sep = "")
cpu <- numeric(0)
for (r in 1:2) {
  tt <- system.time(fit <- sem(model, data = data, cluster = "cluster", missing = "ml"))
  cpu <- c(cpu, unname(tt["user.self"] + tt["sys.self"]))
}
write_ref_csv(param_table(fit), "estimates_fiml.csv")
write_ref_csv(fit_table(fit, c("npar", "chisq", "df", "pvalue", "logl", "unrestricted.logl")), "fit_fiml.csv")
## lavaan's h1 (an unrestricted model fitted by FIML): the covariates' fixed moments come from it
h1 <- fit@h1$implied
l1 <- lavInspect(fit, "h1")$within
l2 <- lavInspect(fit, "h1")$cluster
cov1 <- h1$cov[[1]]; dimnames(cov1) <- dimnames(l1$cov)
cov2 <- h1$cov[[2]]; dimnames(cov2) <- dimnames(l2$cov)
write_ref_csv(data.frame(var = rownames(l1$cov), cov1, check.names = FALSE), "h1_within_cov.csv")
write_ref_csv(data.frame(var = rownames(l2$cov), cov2, check.names = FALSE), "h1_between_cov.csv")
write_ref_csv(data.frame(var = rownames(l1$cov), mean = h1$mean[[1]][, 1]), "h1_within_mean.csv")
write_ref_csv(data.frame(var = rownames(l2$cov), mean = h1$mean[[2]][, 1]), "h1_between_mean.csv")
print(parameterEstimates(fit))
print(fitMeasures(fit, c("npar", "chisq", "df", "logl", "unrestricted.logl")))
write_meta(list(versions = versions(),
  data = paste("../twolevel_demo/data.csv (lavaan::Demo.twolevel): 2500 rows, 200 clusters; xw = x1 + w1;",
               "blanks in y1-y3 as described in make.R"),
  n_missing_cells = sum(is.na(data[, items])),
  n_rows_with_blank = sum(rowSums(is.na(data[, items])) > 0),
  variables = "xw at level 1 and level 2 (within part and latent cluster mean), x2, x3 only at level 1, w2 only at level 2; fixed.x = TRUE; loadings equal across levels (labels l2, l3)",
  fit = fit_info(fit, 'sem(model, data, cluster = "cluster", missing = "ml")', round(median(cpu), 3))))
