#!/usr/bin/env Rscript
## More profile references for mlmkit.inference.profile (beyond tests/reference/profile.json):
##
##   cd <repo root>
##   Rscript tools/profile_extra_reference.R      # writes tests/reference/profile_extra.json
##
## "intervals": confint(m, oldNames = FALSE, ...) for cases the main file lacks (a boundary fit,
## nested factors, uncorrelated slopes, another level, a parameter subset).
## "tables": lme4's profile points (as.data.frame(profile(m))): for each profiled parameter the
## values tried and lme4's zeta there, so the deviance profile itself can be checked at lme4's
## points (lme4's optimiser stops early at some points, making its zeta slightly too large).

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))
stopifnot(file.exists("tools/profile_extra_reference.R"))

source("tools/reference_helpers.R") # fmt_num, json, S, A, M, O, Chr, read_test

tut_vc <- read_test("tutorial_vc", "Cluster")

interval_case <- function(id, data, formula, d, REML = TRUE, level = 0.95, parm = NULL) {
  m <- lmer(as.formula(formula), data = d, REML = REML)
  w <- character()
  t0 <- proc.time()[["elapsed"]]
  ci <- withCallingHandlers(
    if (is.null(parm)) confint(m, oldNames = FALSE, level = level, quiet = TRUE)
    else confint(m, parm = parm, oldNames = FALSE, level = level, quiet = TRUE),
    warning = function(x) { w <<- c(w, conditionMessage(x)); invokeRestart("muffleWarning") })
  el <- proc.time()[["elapsed"]] - t0
  cat(sprintf("interval %-20s %6.2fs\n", id, el))
  list(id = id, data = data, formula = formula, REML = REML, level = level,
       parm = if (is.null(parm)) NULL else I(parm), rownames = I(rownames(ci)), colnames = I(colnames(ci)),
       lower = A(ci[, 1]), upper = A(ci[, 2]), warnings = I(unique(w)), elapsed = el)
}

table_case <- function(id, data, formula, d) {
  m <- lmer(as.formula(formula), data = d)
  p <- as.data.frame(profile(m, signames = FALSE))
  pars <- setdiff(names(p), c(".zeta", ".par", ".focal"))
  list(id = id, data = data, formula = formula,
       profiles = lapply(split(p, p$.par, drop = TRUE), function(s)
         list(param = as.character(s$.par[1]), value = A(s$.focal), zeta = A(s$.zeta))))
}

## R's splines: a natural interpolating spline of zeta on x and its inverse (lme4's forward and
## backward splines), on a profile-like table with a curved end, evaluated inside and outside.
spline_case <- function(id, x, z, at_x, at_z) {
  fwd <- splines::interpSpline(x, z)
  bak <- splines::backSpline(fwd)
  list(id = id, x = A(x), z = A(z), at_x = A(at_x), fwd = A(predict(fwd, at_x)$y),
       at_z = A(at_z), bak = A(predict(bak, at_z)$y))
}

out <- list(
  splines = list(
    spline_case("convex", c(0.5, 0.8, 1.0, 1.3, 1.7, 2.2, 3.0), c(-3.1, -1.6, -0.8, 0, 0.9, 1.9, 3.2),
                c(0.6, 1.1, 2.5), c(-3.2, -3.1, -1.96, 0, 1.2, 1.96, 3.2, 3.3)),
    spline_case("short", c(1, 2, 3, 4), c(-2.5, -0.7, 0.6, 2.2), c(1.5, 3.9), c(-1.96, 0.1, 1.96))
  ),
  intervals = list(
    interval_case("dyestuff2_boundary", "Dyestuff2", "Yield ~ 1 + (1 | Batch)", lme4::Dyestuff2),
    interval_case("pastes_nested", "Pastes", "strength ~ 1 + (1 | batch/cask)", lme4::Pastes),
    interval_case("sleep_diag", "sleepstudy", "Reaction ~ Days + (Days || Subject)", lme4::sleepstudy),
    interval_case("sleep_level90", "sleepstudy", "Reaction ~ Days + (Days | Subject)", lme4::sleepstudy,
                  level = 0.9),
    interval_case("sleep_ml_sigma", "sleepstudy", "Reaction ~ Days + (Days | Subject)", lme4::sleepstudy,
                  REML = FALSE, parm = c("sigma", "Days")),
    interval_case("tutorial_vc", "tutorial_vc", "y ~ 1 + (1 | Cluster)", tut_vc)
  ),
  tables = list(
    table_case("dyestuff", "Dyestuff", "Yield ~ 1 + (1 | Batch)", lme4::Dyestuff),
    table_case("sleep_slope", "sleepstudy", "Reaction ~ Days + (Days | Subject)", lme4::sleepstudy)
  ),
  lme4_version = as.character(packageVersion("lme4"))
)
write_json(out, "tests/reference/profile_extra.json", digits = NA, auto_unbox = TRUE, null = "null",
           na = "null", pretty = TRUE, json_verbatim = TRUE)
cat("wrote tests/reference/profile_extra.json\n")
