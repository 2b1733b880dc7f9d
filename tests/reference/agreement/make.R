## make.R: within-firm agreement (rwg(j), awg) and ICC(1)/ICC(2) with the multilevel package (issue 19).
## Run from this folder: Rscript make.R   (simulated data; seed below)
source("../common.R")  # the reference-writing helpers shared by every make.R

## ---------------- simulation (R default RNG: Mersenne-Twister / Inversion / Rejection) ----------------
set.seed(1919)
n_firms <- 60
sizes <- sample(2:6, n_firms, replace = TRUE)                   # informants per firm
firm_id <- rep(seq_len(n_firms), sizes)
informant_id <- seq_along(firm_id)
pos <- sequence(sizes)                                          # position within firm
role <- ifelse(pos == 1, "CEO", ifelse(pos == 2, "CTO", ifelse(pos == 3, "R&D",
               sample(c("CTO", "R&D"), length(pos), replace = TRUE))))
n <- length(firm_id)
## continuous response tendency z = firm part + informant part (+ role shift) + item noise
constructs <- list(
  HIGH = list(firm_var = 0.60, within_var = 0.15, role_shift = c(CEO = 0.0, CTO = 0.0, "R&D" = 0.0)),
  MID  = list(firm_var = 0.30, within_var = 0.80, role_shift = c(CEO = 0.3, CTO = 0.0, "R&D" = -0.1)),
  LOW  = list(firm_var = 0.20, within_var = 1.60, role_shift = c(CEO = 0.0, CTO = 0.0, "R&D" = 0.0)))
item_noise_sd <- 0.4
z <- list()
for (cn in names(constructs)) {                                 # draw order: construct by construct,
  cc <- constructs[[cn]]                                        # firm effects, informant effects, items 1..4
  firm_eff <- rnorm(n_firms, 0, sqrt(cc$firm_var))
  inf_eff <- rnorm(n, 0, sqrt(cc$within_var))
  eta <- 0.3 + firm_eff[firm_id] + inf_eff + unname(cc$role_shift[role])
  for (k in 1:4) z[[paste0(tolower(cn), k)]] <- eta + rnorm(n, 0, item_noise_sd)
}
z <- as.data.frame(z)
to5 <- function(v) pmin(5, pmax(1, round(3 + v)))               # 5-point: 1..5
to7 <- function(v) pmin(7, pmax(1, round(4 + 1.4 * v)))         # 7-point: 1..7
ids <- data.frame(firm_id = firm_id, informant_id = informant_id, role = role, stringsAsFactors = FALSE)
data5 <- cbind(ids, as.data.frame(lapply(z, to5)))
data7 <- cbind(ids, as.data.frame(lapply(z, to7)))
## a copy of the 5-point data with 3% of item cells blanked (MCAR) to document NA handling
data5_na <- data5
items <- names(z)
set.seed(1920)
mask <- matrix(runif(n * length(items)) < 0.03, n, length(items))
for (j in seq_along(items)) data5_na[[items[j]]][mask[, j]] <- NA
write_ref_csv(data5, "data_5pt.csv"); write_ref_csv(data7, "data_7pt.csv")
write_ref_csv(data5_na, "data_5pt_missing.csv")

## ---------------- agreement and reliability ----------------
nulls <- list("5" = c(uniform = (5^2 - 1) / 12, slight_skew = 1.34),
              "7" = c(uniform = (7^2 - 1) / 12, slight_skew = 2.90))
per_firm <- NULL; per_construct <- NULL; roles <- NULL; firms_out <- NULL
for (variant in c("5pt", "7pt", "5pt_missing")) {
  dat <- switch(variant, "5pt" = data5, "7pt" = data7, "5pt_missing" = data5_na)
  A <- if (variant == "7pt") 7 else 5
  nv <- nulls[[as.character(A)]]
  for (cn in names(constructs)) {
    it <- paste0(tolower(cn), 1:4)
    x <- dat[, it]
    ru <- rwg.j(x, dat$firm_id, ranvar = nv[["uniform"]])
    rs <- rwg.j(x, dat$firm_id, ranvar = nv[["slight_skew"]])
    aw <- suppressWarnings(awg(x, dat$firm_id, range = c(1, A)))
    score <- rowMeans(x, na.rm = TRUE)                          # construct mean score (available items)
    mod <- aov(score ~ as.factor(dat$firm_id))
    icc1 <- ICC1(mod); icc2 <- ICC2(mod)
    ## item variances behind rwg.j (listwise complete rows within the construct, as rwg.j does)
    cc <- complete.cases(x)
    svar <- sapply(split(x[cc, ], dat$firm_id[cc]), function(q) mean(apply(q, 2, var)))
    fm <- tapply(score, dat$firm_id, mean)
    pf <- data.frame(variant = variant, scale_points = A, construct = cn, firm_id = ru$grpid,
                     n_informants = as.vector(table(dat$firm_id)[ru$grpid]),
                     n_complete = ru$gsize, mean_item_var = unname(svar[ru$grpid]),
                     rwg_j_uniform = ru$rwg.j, rwg_j_slight_skew = rs$rwg.j,
                     awg = aw$a.wg[match(ru$grpid, aw$grpid)], firm_mean = unname(fm[ru$grpid]))
    per_firm <- rbind(per_firm, pf)
    s <- summary(mod)[[1]]
    per_construct <- rbind(per_construct, data.frame(
      variant = variant, scale_points = A, construct = cn, n_firms = length(unique(dat$firm_id)),
      n_informants = nrow(dat), mean_group_size = mean(table(dat$firm_id)),
      ranvar_uniform = nv[["uniform"]], ranvar_slight_skew = nv[["slight_skew"]],
      rwg_j_uniform_mean = mean(ru$rwg.j, na.rm = TRUE), rwg_j_uniform_median = median(ru$rwg.j, na.rm = TRUE),
      rwg_j_uniform_share_gt_70 = mean(ru$rwg.j > 0.70, na.rm = TRUE),
      rwg_j_slight_skew_mean = mean(rs$rwg.j, na.rm = TRUE), rwg_j_slight_skew_median = median(rs$rwg.j, na.rm = TRUE),
      rwg_j_slight_skew_share_gt_70 = mean(rs$rwg.j > 0.70, na.rm = TRUE),
      awg_mean = mean(aw$a.wg, na.rm = TRUE), awg_median = median(aw$a.wg, na.rm = TRUE),
      awg_share_gt_70 = mean(aw$a.wg > 0.70, na.rm = TRUE), awg_n_na = sum(is.na(aw$a.wg)), rwg_j_n_na = sum(is.na(ru$rwg.j)),
      ICC1 = icc1, ICC2 = icc2, MSB = s[1, 3], MSW = s[2, 3], df_between = s[1, 1], df_within = s[2, 1]))
    if (variant != "5pt_missing") {
      r <- factor(dat$role, levels = c("CEO", "CTO", "R&D"))
      lmr <- lm(score ~ r)
      ci <- confint(lmr)
      co <- summary(lmr)$coefficients
      rm <- tapply(score, r, mean); rn <- table(r)
      roles <- rbind(roles, data.frame(variant = variant, construct = cn,
        term = c("(Intercept) = CEO mean", "CTO - CEO", "R&D - CEO"),
        est = co[, 1], se = co[, 2], t = co[, 3], pvalue = co[, 4],
        ci.lower = ci[, 1], ci.upper = ci[, 2],
        role_mean = c(rm[["CEO"]], rm[["CTO"]], rm[["R&D"]]),
        role_n = c(rn[["CEO"]], rn[["CTO"]], rn[["R&D"]]),
        role = c("CEO", "CTO", "R&D")))
      firms_out <- rbind(firms_out, data.frame(variant = variant, firm_id = names(fm), construct = cn,
                                               n_informants = as.vector(table(dat$firm_id)[names(fm)]),
                                               mean = unname(fm)))
    }
  }
}
per_firm <- per_firm[order(per_firm$variant, per_firm$construct, as.integer(per_firm$firm_id)), ]
write_ref_csv(per_firm, "agreement_per_firm.csv")
write_ref_csv(per_construct, "agreement_per_construct.csv")
write_ref_csv(roles, "role_differences.csv")
write_ref_csv(firms_out, "firm_means.csv")

write_meta(list(versions = versions(),
  seed = "set.seed(1919) for the design and responses; set.seed(1920) for the 3% MCAR blanks of data_5pt_missing.csv",
  design = list(n_firms = n_firms, informants_per_firm = as.list(table(sizes)), n_informants = n,
                roles = as.list(table(role)),
                role_rule = "informant 1 of a firm = CEO, 2 = CTO, 3 = R&D, 4.. = sampled from CTO/R&D",
                constructs = constructs, item_noise_sd = item_noise_sd,
                response_rule = "z = 0.3 + firm + informant + role_shift + item noise; 5-point = clip(round(3 + z), 1, 5); 7-point = clip(round(4 + 1.4 z), 1, 7)"),
  calls = list(
    rwg_j = "multilevel::rwg.j(items, firm_id, ranvar = (A^2 - 1)/12) and ranvar = 1.34 (A = 5) / 2.90 (A = 7) (LeBreton & Senter 2008, slight skew)",
    awg = "multilevel::awg(items, firm_id, range = c(1, A))  (multi-item: mean over items of the item awg, items with an infeasible mean are NA and dropped)",
    ICC = "multilevel::ICC1(aov(score ~ as.factor(firm_id))), ICC2(same); score = rowMeans(items, na.rm = TRUE)",
    roles = "lm(score ~ factor(role, levels = c('CEO','CTO','R&D'))) and confint(): role mean differences vs CEO (informants as independent observations; ignores firm clustering)"),
  formulas = list(
    rwg_j = "S = mean over the J items of the within-firm item variance (divisor n-1, rows complete on the construct's items); S truncated at ranvar; rwg_j = J(1 - S/ranvar) / (J(1 - S/ranvar) + S/ranvar); NA for a firm with one complete row",
    awg_item = "1 - 2 var(x) / (((H + L) M - M^2 - H L) * k/(k-1)); NA if M < (L(k-1)+H)/k or M > (H(k-1)+L)/k; 1 if M equals H or L; k = informants with complete rows",
    ICC1 = "(MSB - MSW) / (MSB + (n_bar - 1) MSW), n_bar = N / G (mean group size, not the unbalanced-design n0)",
    ICC2 = "(MSB - MSW) / MSB",
    summaries = "mean, median and share strictly greater than 0.70 over firms with a non-NA value (na.rm = TRUE); *_n_na counts the firms left out"),
  loadavg_at_end = tryCatch(readLines("/proc/loadavg"), error = function(e) NA)))
print(per_construct[, c("variant", "construct", "rwg_j_uniform_mean", "rwg_j_uniform_share_gt_70", "rwg_j_slight_skew_mean", "awg_mean", "awg_n_na", "ICC1", "ICC2")], digits = 3)
print(table(sizes)); print(table(role))
