## make.R: two-level random-intercept SEM (ML) of the bundled firm example (issue 19).
## Run from this folder: Rscript make.R
source("../common.R")  # the reference-writing helpers shared by every make.R

raw_path <- "/work/main/data/tl_dc_bi_firms_example.csv"
raw <- read.csv(raw_path)
## Reverse-keyed items (surveys/*.yaml: reverse: true), 7-point scale 1..7: x -> low + high - x = 8 - x
reverse_items <- c("tlv3", "sens4", "reco4", "bit3")
data <- raw
for (v in reverse_items) data[[v]] <- 1 + 7 - data[[v]]
data$ac1 <- NULL; data$ac2 <- NULL   # attention checks are not model items
write_ref_csv(data, "data.csv")

first <- list(TL_EXP = paste0("tle", 1:3), TL_VIS = paste0("tlv", 1:3), TL_TRF = paste0("tlt", 1:3),
              SENS = paste0("sens", 1:4), SEIZ = paste0("seiz", 1:4), RECO = paste0("reco", 1:4),
              BI_TECH = paste0("bit", 1:3), BI_MKT = paste0("bim", 1:3))
second <- list(TL = c("TL_EXP", "TL_VIS", "TL_TRF"), BI = c("BI_TECH", "BI_MKT"))

## Marker-variable identification at both levels (first loading fixed at 1); every other
## loading carries the label L_<item> (first order) or L2_<dimension> (second order) at BOTH
## levels, so loadings are equal across levels. Latent suffix w = within (level 1), b = between.
meas <- function(fo, so, sfx) {
  out <- character(0)
  for (f in fo) { it <- first[[f]]
    out <- c(out, paste0(f, sfx, " =~ 1*", it[1], " + ", paste0("L_", it[-1], "*", it[-1], collapse = " + "))) }
  for (s in so) { it <- second[[s]]
    out <- c(out, paste0(s, sfx, " =~ 1*", it[1], sfx, " + ",
                         paste0("L2_", it[-1], "*", it[-1], sfx, collapse = " + "))) }
  out
}
build <- function(fo, so, struct, defined, zero_between_resid) {
  lines <- c("level: 1", meas(fo, so, "w"), gsub("@", "w", struct),
             "level: 2", meas(fo, so, "b"), gsub("@", "b", struct))
  if (zero_between_resid)
    lines <- c(lines, paste0(unlist(first[fo]), " ~~ 0*", unlist(first[fo])))
  paste0(paste(c(lines, defined), collapse = "\n"), "\n")
}
three <- c("SENS", "SEIZ", "RECO")
s3 <- c("SEIZ@ ~ a_@*SENS@", "RECO@ ~ b_@*SEIZ@")
d3 <- c("ind_w := a_w*b_w", "ind_b := a_b*b_b")
sfull <- c("SENS@ ~ a_@*TL@", "SEIZ@ ~ b_@*SENS@ + g_@*TL@", "RECO@ ~ c_@*SEIZ@", "BI@ ~ d_@*RECO@ + cp_@*TL@")
dfull <- c("serial_w := a_w*b_w*c_w*d_w", "via_seizing_w := g_w*c_w*d_w",
           "total_w := cp_w + a_w*b_w*c_w*d_w + g_w*c_w*d_w",
           "serial_b := a_b*b_b*c_b*d_b", "via_seizing_b := g_b*c_b*d_b",
           "total_b := cp_b + a_b*b_b*c_b*d_b + g_b*c_b*d_b")
models <- list(
  three_free  = build(three, NULL, s3, d3, FALSE),
  three_zero  = build(three, NULL, s3, d3, TRUE),
  full_zero   = build(names(first), names(second), sfull, dfull, TRUE))
key <- c("npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper",
         "srmr", "srmr_within", "srmr_between", "logl", "unrestricted.logl", "aic", "bic", "bic2")
info <- list(); summ <- NULL; iccs <- NULL
for (nm in names(models)) {
  writeLines(models[[nm]], paste0("model_", nm, ".lav"), sep = "")
  warns <- character(0)
  tt <- system.time(f <- withCallingHandlers(sem(models[[nm]], data = data, cluster = "firm_id"),
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") }))
  pe <- parameterEstimates(f)
  write_ref_csv(pe, paste0("estimates_", nm, ".csv"))
  write_ref_csv(standardizedSolution(f, type = "std.all"), paste0("standardized_", nm, ".csv"))
  write_ref_csv(fit_table(f), paste0("fit_", nm, ".csv"))
  summ <- rbind(summ, data.frame(model = nm, t(unclass(fitMeasures(f, key)))))
  ## latent ICC = between variance / (between + within) of each first-order/second-order latent
  cl <- lavInspect(f, "cov.lv")
  vw <- diag(cl[[1]]); vb <- diag(cl[[2]])
  base <- sub("w$", "", names(vw))
  iccs <- rbind(iccs, data.frame(model = nm, latent = base, var_within = unname(vw),
                                 var_between = unname(vb[paste0(base, "b")]),
                                 icc = unname(vb[paste0(base, "b")] / (vb[paste0(base, "b")] + vw))))
  v <- pe[pe$op == "~~" & pe$lhs == pe$rhs & pe$se > 0, ]
  info[[nm]] <- fit_info(f, sprintf('sem(<model_%s.lav>, data, cluster = "firm_id")', nm),
                         round(unname(tt["elapsed"]), 3))
  info[[nm]]$cpu_s <- round(unname(tt["user.self"] + tt["sys.self"]), 3)
  info[[nm]]$nclusters <- lavInspect(f, "nclusters")
  neg <- v$est < 0
  info[[nm]]$negative_variance_estimates <- if (any(neg)) paste0(v$lhs[neg], " (level ", v$level[neg], ")") else character(0)
  info[[nm]]$warnings <- unique(gsub("\\s+", " ", warns))
}
write_ref_csv(summ, "fit_summary.csv")
write_ref_csv(iccs, "latent_icc.csv")
icc <- lavInspect(f, "icc")   # from the saturated two-level model (h1); the same for every model
write_ref_csv(data.frame(item = names(icc), icc = unname(icc)), "item_icc.csv")
write_meta(list(versions = versions(),
  data = list(source = raw_path, md5_raw = unname(tools::md5sum(raw_path)),
              transformation = "reverse-keyed items tlv3, sens4, reco4, bit3 recoded 8 - x (1..7 scale); attention checks ac1, ac2 dropped; no missing values",
              n = nrow(data), clusters = length(unique(data$firm_id)), cluster_size = 5),
  models = list(
    three_free = "SENS, SEIZ, RECO (4 items each); SEIZ ~ SENS, RECO ~ SEIZ at both levels; loadings equal across levels; between-level item residual variances free (lavaan default)",
    three_zero = "as three_free with the 12 between-level item residual variances fixed at 0",
    full_zero = "all 27 items: 8 first-order constructs, second-order TL (TL_EXP, TL_VIS, TL_TRF) and BI (BI_TECH, BI_MKT) at both levels, chain SENS~TL, SEIZ~SENS+TL, RECO~SEIZ, BI~RECO+TL at both levels; first- and second-order loadings equal across levels; between-level item residual variances fixed at 0 (between-level first-order residual variances free)"),
  why_zero_between_resid = "the generating simulator (bayeslead simulate) draws item residuals at the respondent level only; with free between residuals lavaan returns small negative estimates (see three_free)",
  fits = info,
  loadavg_at_end = tryCatch(readLines("/proc/loadavg"), error = function(e) NA)))
print(summ[, c("model", "npar", "chisq", "df", "cfi", "srmr_within", "srmr_between")])
str(info$three_free$negative_variance_estimates); str(info$full_zero$seconds)
