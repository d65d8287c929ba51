#!/usr/bin/env Rscript
## Reference values for mlmkit.inference.bootstrap's percentile intervals: boot:::norm.inter (the order
## statistic interpolation boot.ci(type = "perc") and lme4's confint(method = "boot") use).
##
##   cd <repo root>
##   Rscript tools/bootstrap_reference.R        # writes tests/reference/bootstrap.json

suppressPackageStartupMessages(library(jsonlite))
stopifnot(file.exists("tools/bootstrap_reference.R"))
fmt <- function(x) {
  out <- sprintf("%.17g", x)
  out[is.na(x)] <- "null"
  structure(paste0("[", paste(out, collapse = ","), "]"), class = "json")
}
cases <- lapply(list(list(n = 99, seed = 1), list(n = 999, seed = 2), list(n = 20, seed = 3)), function(cs) {
  set.seed(cs$seed)
  t <- rexp(cs$n)
  alpha <- c(0.001, 0.025, 0.05, 0.5, 0.95, 0.975)
  out <- suppressWarnings(boot:::norm.inter(t, alpha))
  list(n = cs$n, t = fmt(t), alpha = fmt(alpha), out = fmt(out[, 2]))
})
write_json(cases, "tests/reference/bootstrap.json", auto_unbox = TRUE, pretty = TRUE, json_verbatim = TRUE)
cat("wrote tests/reference/bootstrap.json\n")
