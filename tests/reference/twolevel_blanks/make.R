## make.R: two-level FIML (cluster = "cluster", missing = "ml") on lavaan::Demo.twolevel's items y1-y6
## with 5% and 20% of the answers blank completely at random (issue 21, two-level models).
## Run from this folder: Rscript make.R
source("../common.R")  # the reference-writing helpers shared by every make.R

demo <- read.csv("../twolevel_demo/data.csv")
stopifnot(isTRUE(all.equal(demo, lavaan::Demo.twolevel, check.attributes = FALSE)))
items <- paste0("y", 1:6)
complete <- demo[, c("cluster", items)]
## Two constructs at both levels, loadings equal across levels (the Bayesian two-level model's
## parameterisation: loadings shared by both levels, level-specific paths, free between item residuals)
model <- 'level: 1
    f1w =~ y1 + l2*y2 + l3*y3
    f2w =~ y4 + l5*y5 + l6*y6
    f2w ~ f1w
level: 2
    f1b =~ y1 + l2*y2 + l3*y3
    f2b =~ y4 + l5*y5 + l6*y6
    f2b ~ f1b
'
writeLines(model, "model.lav", sep = "")
## MCAR blanks: one U(0,1) per item cell (row-major over 2500 x 6), set.seed(2121); 5% data: cells
## with u < 0.05, 20% data: u < 0.20 (the 5% blanks are a subset of the 20% blanks); a row left
## without any answer keeps its first item.
set.seed(2121)
u <- matrix(runif(nrow(complete) * 6), nrow(complete), 6, byrow = TRUE)
blank <- function(rate) {
  m <- u < rate
  m[rowSums(m) == 6, 1] <- FALSE
  d <- complete
  d[, items][m] <- NA
  d
}
d05 <- blank(0.05)
d20 <- blank(0.20)
write_ref_csv(d05, "data_mcar05.csv")
write_ref_csv(d20, "data_mcar20.csv")

specs <- list(
  complete = list(data = complete, call = 'sem(model, data_complete, cluster = "cluster")', args = list()),
  mcar05_fiml = list(data = d05, call = 'sem(model, data_mcar05, cluster = "cluster", missing = "ml")',
                     args = list(missing = "ml")),
  mcar20_fiml = list(data = d20, call = 'sem(model, data_mcar20, cluster = "cluster", missing = "ml")',
                     args = list(missing = "ml")))
key <- c("npar", "chisq", "df", "pvalue", "logl", "unrestricted.logl")
info <- list()
for (nm in names(specs)) {
  s <- specs[[nm]]
  cpu <- numeric(0)
  for (r in 1:2) {
    tt <- system.time(f <- do.call("sem", c(list(model = model, data = s$data, cluster = "cluster"), s$args)))
    cpu <- c(cpu, unname(tt["user.self"] + tt["sys.self"]))
  }
  write_ref_csv(param_table(f), paste0("estimates_", nm, ".csv"))
  write_ref_csv(fit_table(f, key), paste0("fit_", nm, ".csv"))
  info[[nm]] <- fit_info(f, s$call, round(median(cpu), 3))
  info[[nm]]$n_missing_cells <- sum(is.na(s$data[, items]))
  print(nm); print(fitMeasures(f, key))
}
write_meta(list(versions = versions(),
  data = paste("../twolevel_demo/data.csv (lavaan::Demo.twolevel), columns cluster, y1-y6: 2500 rows,",
               "200 clusters; complete data from there (not copied); blanks as described in make.R"),
  fits = info))
