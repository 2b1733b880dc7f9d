## make.R: two-group serial-mediation SEM with lavaan group.equal options (issue 17).
## Run from this folder: Rscript make.R
source("../common.R")  # the reference-writing helpers shared by every make.R

## Data: the shared serial-mediation survey (N = 400, 20 five-point items), split into two groups
## by row order: rows 1-200 -> "first200", rows 201-400 -> "last200" (deterministic, no RNG).
data <- read.csv("/work/shared/reference/serial_mediation/data.csv")
data$grp <- rep(c("first200", "last200"), each = 200)
write_ref_csv(data, "data.csv")

meas <- 'TL =~ tl1 + tl2 + tl3 + tl4
SENS =~ sens1 + sens2 + sens3 + sens4
SEIZ =~ seiz1 + seiz2 + seiz3 + seiz4
RECO =~ reco1 + reco2 + reco3 + reco4
BI =~ bi1 + bi2 + bi3 + bi4
'
## Group-specific labels c(x1, x2) keep paths free per group and name them for := rows.
## NOTE: in lavaan an explicit user label overrides group.equal for that parameter, so models
## that test group.equal = "regressions" are written WITHOUT path labels (model_unlabelled.lav).
struct_lab <- 'SENS ~ c(a1, a2)*TL
SEIZ ~ c(b1, b2)*SENS + c(g1, g2)*TL
RECO ~ c(c1, c2)*SEIZ
BI   ~ c(d1, d2)*RECO + c(cp1, cp2)*TL
ind_serial_first200 := a1*b1*c1*d1
ind_serial_last200  := a2*b2*c2*d2
ind_serial_diff     := a2*b2*c2*d2 - a1*b1*c1*d1
ind_tl_seiz_first200 := g1*c1*d1
ind_tl_seiz_last200  := g2*c2*d2
total_first200 := cp1 + a1*b1*c1*d1 + g1*c1*d1
total_last200  := cp2 + a2*b2*c2*d2 + g2*c2*d2
diff_a := a2 - a1
diff_d := d2 - d1
'
struct_unlab <- 'SENS ~ TL
SEIZ ~ SENS + TL
RECO ~ SEIZ
BI   ~ RECO + TL
'
model_lab <- paste0(meas, struct_lab)
model_unlab <- paste0(meas, struct_unlab)
writeLines(model_lab, "model.lav", sep = "")
writeLines(model_unlab, "model_unlabelled.lav", sep = "")
writeLines(meas, "model_cfa.lav", sep = "")

specs <- list(
  sem_configural = list(model = "model_lab", ge = ""),
  sem_scalar = list(model = "model_lab", ge = c("loadings", "intercepts")),
  sem_regressions = list(model = "model_unlab", ge = c("loadings", "intercepts", "regressions")),
  sem_lvvar_lvcov_means = list(model = "model_unlab",
                               ge = c("loadings", "intercepts", "lv.variances", "lv.covariances", "means")),
  cfa_scalar = list(model = "meas", ge = c("loadings", "intercepts")),
  cfa_lvvar_lvcov_means = list(model = "meas",
                               ge = c("loadings", "intercepts", "lv.variances", "lv.covariances", "means")))
files <- c(model_lab = "model.lav", model_unlab = "model_unlabelled.lav", meas = "model_cfa.lav")

fits <- list(); info <- list(); fitrows <- NULL
for (nm in names(specs)) {
  s <- specs[[nm]]
  fun <- if (s$model == "meas") cfa else sem
  tt <- system.time(f <- fun(get(s$model), data = data, group = "grp", group.equal = s$ge))
  fits[[nm]] <- f
  ge_txt <- if (identical(s$ge, "")) "" else
    paste0(", group.equal = c(", paste0('"', s$ge, '"', collapse = ", "), ")")
  info[[nm]] <- fit_info(f, sprintf('%s(<%s>, data, group = "grp"%s)',
                                    if (s$model == "meas") "cfa" else "sem", files[[s$model]], ge_txt),
                         round(unname(tt["elapsed"]), 3))
  write_ref_csv(param_table(f), paste0("estimates_", nm, ".csv"))
  write_ref_csv(standardizedSolution(f, type = "std.all"), paste0("standardized_", nm, ".csv"))
  write_ref_csv(fit_table(f), paste0("fit_", nm, ".csv"))
  fm <- fitMeasures(f, c("npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower",
                         "rmsea.ci.upper", "srmr", "aic", "bic", "logl"))
  fitrows <- rbind(fitrows, data.frame(fit = nm, group.equal = paste(s$ge, collapse = "+"),
                                       t(unclass(fm)), check.names = FALSE))
}
write_ref_csv(fitrows, "fit_summary.csv")

## check: explicit group-specific labels override group.equal = "regressions"
f_lab_reg <- sem(model_lab, data = data, group = "grp", group.equal = c("loadings", "intercepts", "regressions"))
label_check <- list(
  call = 'sem(<model.lav>, data, group = "grp", group.equal = c("loadings", "intercepts", "regressions"))',
  chisq = unname(fitMeasures(f_lab_reg, "chisq")), df = unname(fitMeasures(f_lab_reg, "df")),
  same_as_sem_scalar = isTRUE(all.equal(unname(fitMeasures(f_lab_reg, "chisq")),
                                        unname(fitMeasures(fits$sem_scalar, "chisq")), tolerance = 1e-8)))

lrt1 <- lavTestLRT(fits$sem_configural, fits$sem_scalar, fits$sem_regressions,
                   model.names = c("sem_configural", "sem_scalar", "sem_regressions"))
lrt2 <- lavTestLRT(fits$sem_scalar, fits$sem_lvvar_lvcov_means,
                   model.names = c("sem_scalar", "sem_lvvar_lvcov_means"))
lrt3 <- lavTestLRT(fits$cfa_scalar, fits$cfa_lvvar_lvcov_means,
                   model.names = c("cfa_scalar", "cfa_lvvar_lvcov_means"))
lrt <- rbind(data.frame(test = "sem_configural > sem_scalar > sem_regressions", fit = rownames(lrt1), as.data.frame(lrt1), check.names = FALSE),
             data.frame(test = "sem_scalar > sem_lvvar_lvcov_means", fit = rownames(lrt2), as.data.frame(lrt2), check.names = FALSE),
             data.frame(test = "cfa_scalar > cfa_lvvar_lvcov_means", fit = rownames(lrt3), as.data.frame(lrt3), check.names = FALSE))
write_ref_csv(lrt, "lrt.csv")

write_meta(list(versions = versions(),
  data = "shared serial_mediation/data.csv (N = 400) plus grp = rep(c('first200','last200'), each = 200)",
  note_labels = "lavaan: explicit labels override group.equal; labelled models (model.lav) use group-specific c(x1,x2) labels, so their paths are free per group even under group.equal; regressions-equal fits use model_unlabelled.lav",
  fits = info,
  labels_override_group_equal = label_check,
  loadavg_at_end = tryCatch(readLines("/proc/loadavg"), error = function(e) NA)))
print(fitrows[, 1:6])
print(lrt)
