#!/usr/bin/env Rscript
## lme4 on bench_scale.py's workloads at one tenth of their sizes (called by bench_scale.py --lme4).
##   Rscript benchmarks/lme4_scale.R <folder with <case>.csv> <case> ...   -> JSON on stdout
## Time: system.time()[["elapsed"]] of the model call only; memory: gc()'s "max used" in MB.
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
args <- commandArgs(trailingOnly = TRUE)
folder <- args[1]; cases <- args[-1]
formulas <- list(glmer_intercept = y ~ x + (1 | g), glmer_slope = y ~ x + (1 + x | g),
                 lmer_crossed = y ~ x + (1 | a) + (1 | b))
out <- list()
for (case in cases) {
  d <- read.csv(file.path(folder, paste0(case, ".csv")))
  for (f in intersect(c("g", "a", "b"), names(d))) d[[f]] <- factor(d[[f]])
  invisible(gc(reset = TRUE))
  st <- system.time(m <- suppressWarnings(suppressMessages(
    if (case == "lmer_crossed") lmer(formulas[[case]], d) else glmer(formulas[[case]], d, family = binomial))))
  mem <- sum(gc()[, 6])
  out[[case]] <- list(rows = nrow(d), seconds = st[["elapsed"]], cpu_seconds = st[["user.self"]] + st[["sys.self"]],
                      max_used_mb = mem, fixef = as.list(fixef(m)), loglik = as.numeric(logLik(m)))
}
cat(toJSON(list(lme4_version = as.character(packageVersion("lme4")), R_version = R.version.string,
                date = format(Sys.time(), tz = "UTC", usetz = TRUE), nproc = parallel::detectCores(),
                loadavg = readLines("/proc/loadavg"), timings = out), auto_unbox = TRUE, digits = NA, pretty = TRUE))
