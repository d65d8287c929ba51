## lme4 on badly scaled / uncentred random-slope covariates, and on the centred, scaled copy (the
## same model; its optimum is the model's).  Rscript tools/badly_scaled_reference.R
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
source("tools/reference_helpers.R")
d <- read.csv("tests/data/badly_scaled.csv", stringsAsFactors = TRUE)
dc <- transform(d, yr = yr - 2014.5, xk = xk / 1000)
cases <- list(years = "y ~ yr + (1 + yr | g)", thousandths = "y2 ~ xk + (1 + xk | g)",
              thousandths_uncorrelated = "y2 ~ xk + (xk || g)")
fit <- function(f, data, REML) {
  msgs <- character(0)
  m <- withCallingHandlers(lmer(as.formula(f), data, REML = REML),
                           warning = function(w) { msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleWarning") },
                           message = function(w) { msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleMessage") })
  list(loglik = S(as.numeric(logLik(m))), fixef = O(fixef(m)), messages = Chr(msgs),
       sdcor = A(as.data.frame(VarCorr(m))$sdcor))
}
out <- lapply(cases, function(f) list(formula = f,
  lme4_ml = fit(f, d, FALSE), centred_ml = fit(f, dc, FALSE)))
writeLines(toJSON(out, auto_unbox = TRUE, json_verbatim = TRUE, pretty = TRUE), "tests/reference/badly_scaled.json")
