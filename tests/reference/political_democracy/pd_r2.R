# lavaan's R-squared (lavInspect(fit, "r2")) of the political-democracy model in pd_lavaan_params.csv
# (the lavaan tutorial model without y4 ~~ y8), fitted to pd_data.csv with sem() defaults.
# Run from this folder: Rscript pd_r2.R  (R 4.2.2, lavaan 0.6-14)
library(lavaan)
data <- read.csv("pd_data.csv", row.names = 1)
model <- "
  ind60 =~ x1 + x2 + x3
  dem60 =~ y1 + y2 + y3 + y4
  dem65 =~ y5 + y6 + y7 + y8
  dem60 ~ ind60
  dem65 ~ ind60 + dem60
  y1 ~~ y5
  y2 ~~ y4 + y6
  y3 ~~ y7
  y6 ~~ y8
"
fit <- sem(model, data = data)
r2 <- lavInspect(fit, "r2")
out <- data.frame(variable = names(r2), r2 = unname(r2))
write.csv(out, "pd_lavaan_r2.csv", row.names = FALSE)
cat(sprintf("lavaan %s; chisq %.4f df %d\n", packageVersion("lavaan"), fitMeasures(fit, "chisq"), as.integer(fitMeasures(fit, "df"))))
