#!/usr/bin/env Rscript
## Extra lme4 reference values for mlmkit's glmer tests, beyond tests/reference/glmer.json:
## other links, proportions with weights, an offset argument, nAGQ = 0, a random slope together
## with a crossed factor, and every glmer.json case refitted with a tight PIRLS tolerance.
##
##   cd <repo root> && Rscript tools/glmer_extra_reference.R    # -> tests/reference/glmer_extra.json
##
## Why the tight refits: lme4's default PIRLS tolerance (tolPwrss = 1e-7) leaves the conditional
## modes slightly unconverged, so the finite-difference Hessian behind vcov() is that of a slightly
## different function; on cbpp its standard errors move by ~1% with glmerControl(tolPwrss = 1e-12),
## which is what an exactly converged PIRLS (mlmkit's) gives.  Numbers are written losslessly
## (shortest of %.15g/%.16g/%.17g).

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))
stopifnot(file.exists("tools/glmer_extra_reference.R"))

source("tools/reference_helpers.R") # fmt_num, json, S, A, M, O, Chr, read_test

PKG_DATA <- if (file.exists("data/rats.csv")) "data" else "/work/shared/data"
rd <- function(path, factors) {
  d <- read.csv(path, stringsAsFactors = FALSE)
  for (f in factors) d[[f]] <- factor(d[[f]])
  d
}
datasets <- list(
  rats = list(file = "data/rats.csv", d = rd(file.path(PKG_DATA, "rats.csv"), "batch")),
  imm10 = list(file = "data/imm10.csv", d = rd(file.path(PKG_DATA, "imm10.csv"), "schid")),
  cbpp = list(file = "tests/data/cbpp.csv", d = rd("tests/data/cbpp.csv", c("herd", "period"))),
  grouseticks = list(file = "tests/data/grouseticks.csv",
                     d = rd("tests/data/grouseticks.csv", c("INDEX", "BROOD", "YEAR", "LOCATION"))),
  VerbAgg = list(file = "tests/data/VerbAgg.csv",
                 d = rd("tests/data/VerbAgg.csv", c("Gender", "btype", "situ", "id", "item", "r2", "mode", "resp")))
)

fit <- function(formula, data, family, nAGQ, weights, offset, tol = NULL) {
  ctrl <- if (is.null(tol)) glmerControl() else glmerControl(tolPwrss = tol)
  args <- list(formula = as.formula(formula), data = data, family = family, nAGQ = nAGQ, control = ctrl)
  if (!is.null(weights)) args$weights <- data[[weights]]
  if (!is.null(offset)) args$offset <- eval(parse(text = offset), data)
  msgs <- character()
  m <- withCallingHandlers(do.call(glmer, args),
    warning = function(w) { msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleWarning") },
    message = function(w) { msgs <<- c(msgs, trimws(conditionMessage(w))); invokeRestart("muffleMessage") })
  list(m = m, messages = msgs)
}

case <- function(id, data, formula, fam_arg, nAGQ = 1, weights = NULL, offset = NULL,
                 categorical = character(), notes = NULL) {
  ds <- datasets[[data]]
  r <- fit(formula, ds$d, fam_arg, nAGQ, weights, offset)
  m <- r$m
  fam <- stats::family(m)
  vc <- as.data.frame(VarCorr(m))
  out <- list(
    id = id, data = data, data_file = ds$file, formula = formula, family = fam$family,
    link = fam$link, nAGQ = nAGQ, weights = weights, offset = offset,
    categorical = Chr(categorical), lme4_version = as.character(packageVersion("lme4")),
    fixef = O(fixef(m)), se = O(setNames(sqrt(diag(as.matrix(vcov(m)))), names(fixef(m)))),
    theta = A(getME(m, "theta")), loglik = S(as.numeric(logLik(m))), aic = S(AIC(m)), bic = S(BIC(m)),
    deviance = S(deviance(m)), df_resid = S(df.residual(m)), nobs = nobs(m),
    ngroups = as.list(ngrps(m)),
    varcorr = lapply(seq_len(nrow(vc)), function(i)
      list(grp = vc$grp[i], var1 = vc$var1[i], var2 = vc$var2[i], vcov = S(vc$vcov[i]), sdcor = S(vc$sdcor[i]))),
    ranef = lapply(ranef(m), function(d) list(levels = Chr(rownames(d)), columns = Chr(colnames(d)),
                                              values = M(as.matrix(d)))),
    fitted = A(fitted(m)),
    resid_deviance_head = A(head(residuals(m, type = "deviance"), 10)),
    resid_pearson_head = A(head(residuals(m, type = "pearson"), 10)),
    resid_response_head = A(head(residuals(m, type = "response"), 10)),
    resid_working_head = A(head(residuals(m, type = "working"), 10)),
    predict_link_head = A(head(predict(m, type = "link"), 10)),
    predict_re0_head = A(head(predict(m, re.form = NA, type = "response"), 10)),
    is_singular = isSingular(m), messages = Chr(r$messages), notes = notes)
  cat(sprintf("%-24s logLik %.6f  %s\n", id, as.numeric(logLik(m)), paste(r$messages, collapse = " | ")))
  out
}

## the same model with tolPwrss = 1e-12: estimates, SEs and logLik of a converged PIRLS
tight <- function(id, data, formula, fam_arg, nAGQ = 1, weights = NULL, offset = NULL) {
  ds <- datasets[[data]]
  r <- tryCatch(fit(formula, ds$d, fam_arg, nAGQ, weights, offset, tol = 1e-12), error = function(e) NULL)
  if (is.null(r)) { cat(sprintf("%-24s tight refit failed\n", id)); return(NULL) }
  m <- r$m
  cat(sprintf("%-24s tight logLik %.6f\n", id, as.numeric(logLik(m))))
  list(id = id, formula = formula, nAGQ = nAGQ, fixef = O(fixef(m)),
       se = O(setNames(sqrt(diag(as.matrix(vcov(m)))), names(fixef(m)))),
       theta = A(getME(m, "theta")), loglik = S(as.numeric(logLik(m))), messages = Chr(r$messages))
}

cases <- list(
  case("cbpp_probit", "cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)",
       binomial(link = "probit"), categorical = c("herd", "period")),
  case("cbpp_cloglog", "cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)",
       binomial(link = "cloglog"), categorical = c("herd", "period")),
  case("cbpp_prop_weights", "cbpp", "incidence / size ~ period + (1 | herd)", binomial,
       weights = "size", categorical = c("herd", "period"),
       notes = "Proportions with weights = size: the same model as cbind(incidence, size - incidence)."),
  case("cbpp_agq0", "cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)", binomial,
       nAGQ = 0, categorical = c("herd", "period"),
       notes = "nAGQ = 0: beta estimated inside PIRLS, one optimisation over theta; vcov from RX."),
  case("cbpp_pois_offset_arg", "cbpp", "incidence ~ period + (1 | herd)", poisson,
       offset = "log(size)", categorical = c("herd", "period"),
       notes = "offset = log(size) given as an argument (glmer.json's cbpp_pois_offset has it in the formula)."),
  case("grouseticks_slope", "grouseticks", "TICKS ~ YEAR + sHEIGHT + (1 | BROOD) + (1 + sHEIGHT | LOCATION)",
       poisson, categorical = c("YEAR", "BROOD", "LOCATION"),
       notes = "A random slope (LOCATION: 2 x 63 effects, the largest block) with a crossed factor (BROOD)."),
  case("rats_agq5", "rats", "cbind(m, n - m) ~ 1 + (1 | batch)", binomial, nAGQ = 5,
       categorical = "batch")
)

main <- jsonlite::fromJSON("tests/reference/glmer.json", simplifyVector = FALSE)
fam_of <- function(name) switch(name, binomial = binomial, poisson = poisson)
tights <- c(
  lapply(main, function(c) tight(c$id, c$data, c$formula, fam_of(c$family), c$nAGQ)),
  lapply(cases, function(c) {
    if (c$link %in% c("probit", "cloglog")) return(NULL)
    tight(c$id, c$data, c$formula, fam_of(c$family), c$nAGQ, c$weights, c$offset)
  }))
tights <- Filter(Negate(is.null), tights)

out <- list(R_version = R.version.string, lme4_version = as.character(packageVersion("lme4")),
            cases = cases, tight = tights)
write_json(out, "tests/reference/glmer_extra.json", digits = NA, auto_unbox = TRUE, null = "null",
           na = "null", pretty = TRUE, json_verbatim = TRUE)
cat("wrote tests/reference/glmer_extra.json\n")
