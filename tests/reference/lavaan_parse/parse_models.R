# What lavaan's own parser makes of every model in models.json: the flat table of
# lavParseModelString (one row per element, block lines as rows with op ":") and the
# constraints / defined parameters. Run from this folder:
#   Rscript parse_models.R   (writes lavaan_flat.json)
suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})
models <- fromJSON("models.json", simplifyVector = FALSE)
out <- list(
  lavaan_version = as.character(packageVersion("lavaan")),
  r_version = paste(R.version$major, R.version$minor, sep = "."),
  models = list()
)
for (name in names(models)) {
  flat <- lavParseModelString(models[[name]], as.data.frame. = TRUE, warn = FALSE)
  mods <- attr(flat, "modifiers")
  cons <- attr(flat, "constraints")
  rows <- lapply(seq_len(nrow(flat)), function(i) {
    m <- if (flat$mod.idx[i] > 0) mods[[flat$mod.idx[i]]] else list()
    list(
      lhs = flat$lhs[i], op = flat$op[i], rhs = flat$rhs[i], block = flat$block[i],
      fixed = if (is.null(m$fixed)) NULL else as.list(m$fixed),
      start = if (is.null(m$start)) NULL else as.list(m$start),
      label = if (is.null(m$label)) NULL else as.list(m$label),
      lower = if (is.null(m$lower)) NULL else as.list(m$lower),
      upper = if (is.null(m$upper)) NULL else as.list(m$upper)
    )
  })
  constraints <- lapply(cons, function(k) list(lhs = k$lhs, op = k$op, rhs = k$rhs))
  out$models[[name]] <- list(rows = rows, constraints = constraints)
}
writeLines(toJSON(out, auto_unbox = TRUE, null = "null", na = "null", digits = NA,
                  pretty = TRUE), "lavaan_flat.json")
