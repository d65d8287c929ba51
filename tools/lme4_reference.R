#!/usr/bin/env Rscript
## Reference values for mlmkit's tests, computed with lme4.
##
##   cd <repo root>
##   Rscript tools/lme4_datasets.R              # once: writes tests/data/*.csv etc.
##   Rscript tools/lme4_reference.R             # lmer + glmer + profile
##   Rscript tools/lme4_reference.R lmer        # only tests/reference/lmer.json
##   Rscript tools/lme4_reference.R glmer       # only tests/reference/glmer.json
##   Rscript tools/lme4_reference.R profile     # only tests/reference/profile.json
##
## Numbers in the JSON files are written with the shortest of %.15g/%.16g/%.17g that
## reads back to the identical double (jsonlite's digits = NA stops at 15 significant
## digits, which is not lossless), by passing pre-formatted "json" strings to
## jsonlite::write_json(json_verbatim = TRUE).
##
## Data: lme4's own data sets are used directly from lme4:: (the CSV copies in tests/data
## were checked to hold identical values); the package data sets (alcohol, imm10, imm23,
## rats) are read from data/<name>.csv (falling back to /work/shared/data) exactly as Python
## will read them, and their grouping columns are turned into factors with factor(), so the
## level labels are the CSV values as strings (integer ids sorted numerically).

suppressPackageStartupMessages({
  library(lme4)
  library(MASS)
  library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))   # factor level order = byte order (as Python)

args <- commandArgs(trailingOnly = TRUE)
parts <- if (length(args)) args else c("lmer", "glmer", "profile")

stopifnot(file.exists("tools/lme4_reference.R"))   # run from the repository root
dir.create("tests/reference", recursive = TRUE, showWarnings = FALSE)

LME4_VERSION <- as.character(packageVersion("lme4"))
R_VERSION <- R.version.string
MATRIX_VERSION <- as.character(packageVersion("Matrix"))
cat("lme4", LME4_VERSION, "|", R_VERSION, "| Matrix", MATRIX_VERSION, "\n")

## ---------------------------------------------------------------- JSON number helpers
source("tools/reference_helpers.R") # fmt_num, json, S, A, M, O, Chr, read_test

write_ref <- function(x, path) {
  write_json(x, path, digits = NA, auto_unbox = TRUE, null = "null", na = "null",
             pretty = TRUE, json_verbatim = TRUE)
  back <- fromJSON(path, simplifyVector = FALSE)                     # parses?
  cat(sprintf("wrote %s (%d entries)\n", path, length(back)))
}

## ---------------------------------------------------------------- data
PKG_DATA <- if (file.exists("data/alcohol.csv")) "data" else "/work/shared/data"
cat("package data read from", PKG_DATA, "\n")

md5 <- function(path) unname(tools::md5sum(path))

read_pkg <- function(name, factors = character()) {
  path <- file.path(PKG_DATA, paste0(name, ".csv"))
  d <- read.csv(path, stringsAsFactors = FALSE)
  for (f in factors) d[[f]] <- factor(d[[f]])
  attr(d, "md5") <- md5(path)
  d
}
read_test <- function(name, factors = character()) {
  path <- file.path("tests/data", paste0(name, ".csv"))
  d <- read.csv(path, stringsAsFactors = FALSE)
  for (f in factors) d[[f]] <- factor(d[[f]])
  attr(d, "md5") <- md5(path)
  d
}
with_md5 <- function(d, path) { attr(d, "md5") <- md5(path); d }

alcohol <- read_pkg("alcohol", "country")
imm10   <- read_pkg("imm10", "schid")
imm23   <- read_pkg("imm23", "schid")
rats    <- read_pkg("rats", "batch")

tut_vc       <- read_test("tutorial_vc", "Cluster")
tut_pred     <- read_test("tutorial_pred", "Cluster")
tut_slopes   <- read_test("tutorial_slopes", "Cluster")
tut_slopes_c <- read_test("tutorial_slopes_cor", "Cluster")

sleepstudy <- with_md5(lme4::sleepstudy, "tests/data/sleepstudy.csv")
sleep_na <- lme4::sleepstudy
sleep_na$Reaction[c(3, 50, 100)] <- NA
sleep_na <- with_md5(sleep_na, "tests/data/sleepstudy_na.csv")
Dyestuff   <- with_md5(lme4::Dyestuff, "tests/data/Dyestuff.csv")
Dyestuff2  <- with_md5(lme4::Dyestuff2, "tests/data/Dyestuff2.csv")
Penicillin <- with_md5(lme4::Penicillin, "tests/data/Penicillin.csv")
Pastes     <- with_md5(lme4::Pastes, "tests/data/Pastes.csv")
cake <- lme4::cake
cake$temperature <- factor(as.character(cake$temperature))   # unordered, baseline "175"
cake <- with_md5(cake, "tests/data/cake.csv")
InstEval <- with_md5(lme4::InstEval, "benchmarks/data/InstEval.csv.gz")
cbpp <- with_md5(lme4::cbpp, "tests/data/cbpp.csv")
grouseticks <- lme4::grouseticks
grouseticks$sHEIGHT <- as.numeric(scale(grouseticks$HEIGHT))
grouseticks <- with_md5(grouseticks, "tests/data/grouseticks.csv")
VerbAgg <- with_md5(lme4::VerbAgg, "tests/data/VerbAgg.csv")

## where Python finds each data set (repo-relative)
data_file <- function(name) {
  switch(name,
         alcohol = , imm10 = , imm23 = , rats = file.path("data", paste0(name, ".csv")),
         InstEval = "benchmarks/data/InstEval.csv.gz",
         file.path("tests/data", paste0(name, ".csv")))
}

## ---------------------------------------------------------------- fitting helpers
timed_fit <- function(fun, reps) {
  warns <- character(); msgs <- character(); times <- numeric(reps); fit <- NULL
  for (i in seq_len(reps)) {
    times[i] <- system.time(
      fit <- withCallingHandlers(fun(),
        warning = function(w) {
          if (i == 1) warns <<- c(warns, conditionMessage(w))
          invokeRestart("muffleWarning")
        },
        message = function(m) {
          if (i == 1) msgs <<- c(msgs, trimws(conditionMessage(m)))
          invokeRestart("muffleMessage")
        })
    )[["elapsed"]]
  }
  times <- round(times, 3)   # system.time() resolution is 1 ms
  list(fit = fit, elapsed = median(times), times = times, warnings = warns, messages = msgs)
}

re_json <- function(re) {
  lapply(re, function(d) list(levels = Chr(rownames(d)), columns = Chr(colnames(d)),
                              values = M(as.matrix(d))))
}

varcorr_json <- function(m) {
  vc <- as.data.frame(VarCorr(m))
  lapply(seq_len(nrow(vc)), function(i)
    list(grp = vc$grp[i], var1 = vc$var1[i], var2 = vc$var2[i],
         vcov = S(vc$vcov[i]), sdcor = S(vc$sdcor[i])))
}

common_json <- function(m) {
  th <- getME(m, "theta")
  V <- as.matrix(vcov(m))
  list(
    fixef = O(fixef(m)),
    se = O(setNames(sqrt(diag(V)), names(fixef(m)))),
    vcov = M(V),
    theta = A(th),
    theta_names = Chr(names(th)),
    loglik = S(as.numeric(logLik(m))),
    aic = S(AIC(m)),
    bic = S(BIC(m)),
    nobs = nobs(m),
    ngroups = as.list(ngrps(m)),
    df_resid = S(df.residual(m)),
    varcorr = varcorr_json(m),
    ranef = re_json(ranef(m)),
    coef = re_json(coef(m)),
    is_singular = isSingular(m),
    optimizer = paste(m@optinfo$optimizer, collapse = ","),
    convergence_messages = Chr(unlist(m@optinfo$conv$lme4$messages))
  )
}

meta <- function(id, data, formula, d) {
  list(id = id, data = data, data_file = data_file(data), data_md5 = attr(d, "md5"),
       formula = formula, lme4_version = LME4_VERSION, R_version = R_VERSION)
}

## ---------------------------------------------------------------- lmer
lmer_case <- function(id, data, formula, d, REML = TRUE, categorical = character(),
                      reps = 3, notes = NULL, extra = NULL) {
  cat(sprintf("lmer  %-24s ", id))
  f <- as.formula(formula)
  tf <- timed_fit(function() lmer(f, data = d, REML = REML), reps)
  m <- tf$fit
  out <- c(meta(id, data, formula, d), list(REML = REML, categorical = Chr(categorical)),
           common_json(m))
  out$sigma <- S(sigma(m))
  out$deviance <- S(suppressWarnings(deviance(m)))   # REML fits: = REML criterion (lme4 warns)
  out$deviance_ml <- S(deviance(m, REML = FALSE))    # ML deviance at the fitted parameters
  out["reml_criterion"] <- list(if (REML) S(REMLcrit(m)) else NULL)
  out$fitted <- A(fitted(m))
  out$resid_pearson_scaled_quantiles <- A(quantile(residuals(m, type = "pearson", scaled = TRUE)))
  out$predict_re0_head <- A(head(predict(m, re.form = NA), 10))
  out$elapsed <- S(tf$elapsed)
  out$elapsed_runs <- A(tf$times)
  out$warnings <- Chr(tf$warnings)
  out$messages <- Chr(tf$messages)
  if (!is.null(extra)) out <- c(out, extra(m))
  out$notes <- notes
  ## fixed field order: the brief's order first
  first <- c("id", "data", "data_file", "data_md5", "formula", "REML", "categorical",
             "lme4_version", "R_version", "fixef", "se", "vcov", "theta", "theta_names",
             "sigma", "loglik", "deviance", "deviance_ml", "reml_criterion", "aic", "bic",
             "nobs", "ngroups", "df_resid", "varcorr", "ranef", "coef", "fitted",
             "resid_pearson_scaled_quantiles", "is_singular", "predict_re0_head", "elapsed")
  out <- out[c(intersect(first, names(out)), setdiff(names(out), first))]
  cat(sprintf("%7.3fs  logLik %.4f%s\n", tf$elapsed, as.numeric(logLik(m)),
              if (length(tf$warnings) || length(tf$messages))
                paste0("  [", paste(c(tf$warnings, tf$messages), collapse = " | "), "]") else ""))
  list(case = out, fit = m)
}

run_lmer <- function() {
  cases <- list()
  add <- function(r) cases[[length(cases) + 1]] <<- r$case
  tut_note <- "UVA StatLab tutorial 'Simulating multilevel data' (J. Jamison, 2023)."

  add(lmer_case("tutorial_vc", "tutorial_vc", "y ~ 1 + (1 | Cluster)", tut_vc,
                categorical = "Cluster",
                notes = paste(tut_note, "Lesson 1 (m0); tutorial reports REML criterion 4011.7, variance 5.930 / 2.954, intercept 2.3557.")))
  add(lmer_case("tutorial_pred", "tutorial_pred", "y ~ 1 + Z + X + (1 | Cluster)", tut_pred,
                categorical = "Cluster",
                notes = paste(tut_note, "Lesson 2 (m1); tutorial reports REML criterion 4005.2, fixef 2.17320 / 2.81310 / 4.02161.")))
  add(lmer_case("tutorial_slopes", "tutorial_slopes", "y ~ X + (1 + X | Cluster)", tut_slopes,
                categorical = "Cluster",
                notes = paste(tut_note, "Lesson 3 (m2). The tutorial writes 'yij ~ X + (1 + X | Cluster)' with yij taken from the global environment; yij is identical to column y of the data. Tutorial reports REML criterion 4040.6, fixef 2.3595 / 5.1799.")))
  add(lmer_case("tutorial_slopes_cor", "tutorial_slopes_cor", "y ~ X + (1 + X | Cluster)", tut_slopes_c,
                categorical = "Cluster",
                notes = paste(tut_note, "Lesson 4 (m3, MASS::mvrnorm with set.seed(609)); formula written with y instead of the tutorial's global yij (identical values). Tutorial reports REML criterion 4057.3, fixef 2.7071 / 5.4977.")))

  add(lmer_case("alcohol_ri", "alcohol", "alcohol ~ 1 + (1 | country)", alcohol,
                categorical = "country"))
  add(lmer_case("alcohol_ri_ml", "alcohol", "alcohol ~ 1 + (1 | country)", alcohol,
                REML = FALSE, categorical = "country"))

  add(lmer_case("sleep_slope", "sleepstudy", "Reaction ~ Days + (Days | Subject)", sleepstudy,
                categorical = "Subject"))
  add(lmer_case("sleep_slope_ml", "sleepstudy", "Reaction ~ Days + (Days | Subject)", sleepstudy,
                REML = FALSE, categorical = "Subject"))
  add(lmer_case("sleep_ri", "sleepstudy", "Reaction ~ Days + (1 | Subject)", sleepstudy,
                categorical = "Subject"))
  add(lmer_case("sleep_slope_only", "sleepstudy", "Reaction ~ Days + (0 + Days | Subject)", sleepstudy,
                categorical = "Subject"))
  add(lmer_case("sleep_uncorr", "sleepstudy", "Reaction ~ Days + (Days || Subject)", sleepstudy,
                categorical = "Subject",
                notes = "lme4 expands (Days || Subject) to (1 | Subject) + (0 + Days | Subject); VarCorr names the second term 'Subject.1'; ranef/coef merge both terms under 'Subject'."))
  add(lmer_case("sleep_uncorr_explicit", "sleepstudy", "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", sleepstudy,
                categorical = "Subject"))

  add(lmer_case("imm10_ri", "imm10", "math ~ homework + (1 | schid)", imm10, categorical = "schid"))
  add(lmer_case("imm10_rs", "imm10", "math ~ homework + (1 + homework | schid)", imm10, categorical = "schid"))
  add(lmer_case("imm10_rs_implicit", "imm10", "math ~ homework + (homework | schid)", imm10, categorical = "schid"))
  add(lmer_case("imm10_slope_only", "imm10", "math ~ homework + (0 + homework | schid)", imm10, categorical = "schid"))
  add(lmer_case("imm10_uncorr", "imm10", "math ~ homework + (1 | schid) + (0 + homework | schid)", imm10, categorical = "schid"))
  r <- lmer_case("imm10_noint", "imm10", "math ~ 0 + homework + (1 | schid)", imm10, categorical = "schid")
  if (length(r$case$warnings) == 0 && length(r$case$convergence_messages) == 0) add(r) else
    cat("  imm10_noint dropped (lme4 did not fit it cleanly)\n")

  add(lmer_case("imm23_rs", "imm23", "math ~ homework + ses + (1 + homework | schid)", imm23, categorical = "schid"))
  add(lmer_case("imm23_rs_ml", "imm23", "math ~ homework + ses + (1 + homework | schid)", imm23,
                REML = FALSE, categorical = "schid"))

  add(lmer_case("dyestuff", "Dyestuff", "Yield ~ 1 + (1 | Batch)", Dyestuff, categorical = "Batch"))
  add(lmer_case("dyestuff_ml", "Dyestuff", "Yield ~ 1 + (1 | Batch)", Dyestuff, REML = FALSE,
                categorical = "Batch"))
  add(lmer_case("dyestuff2", "Dyestuff2", "Yield ~ 1 + (1 | Batch)", Dyestuff2, categorical = "Batch",
                notes = "Singular fit: the Batch variance is estimated as exactly 0."))
  add(lmer_case("penicillin", "Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", Penicillin,
                categorical = c("plate", "sample"), notes = "Crossed random effects."))
  add(lmer_case("pastes", "Pastes", "strength ~ 1 + (1 | batch/cask)", Pastes,
                categorical = c("batch", "cask"),
                notes = "Nested: lme4 expands batch/cask to (1 | batch) + (1 | batch:cask) and names the groups 'cask:batch' (levels 'a:A', ...) and 'batch'."))
  add(lmer_case("cake_factor", "cake", "angle ~ recipe * temperature + (1 | recipe:replicate)", cake,
                categorical = c("recipe", "temperature", "replicate"),
                notes = "temperature is an ORDERED factor in lme4 (polynomial contrasts). Here it was converted to an UNORDERED factor with levels 175 < 185 < ... < 225 (treatment contrasts, baseline 175). In the CSV temperature holds the labels 175..225, which a CSV reader sees as integers: treat it as categorical."))
  add(lmer_case("cake_temp", "cake", "angle ~ recipe * temp + (1 | recipe:replicate)", cake,
                categorical = c("recipe", "replicate"),
                notes = "Same model as cake_factor but with the numeric column temp (linear in temperature)."))

  add(lmer_case("sleep_na", "sleepstudy_na", "Reaction ~ Days + (Days | Subject)", sleep_na,
                categorical = "Subject",
                notes = "Reaction is NA in rows 3, 50 and 100 (1-based). lmer's default na.action = na.omit drops them, so nobs = 177 and 'fitted' / 'predict_re0_head' have the 177 complete rows only; 'fitted_na_exclude' has 180 entries with null in the NA rows (na.action = na.exclude).",
                extra = function(m) list(
                  na_rows = A(c(3, 50, 100)),
                  fitted_na_exclude = A(fitted(lmer(Reaction ~ Days + (Days | Subject), data = sleep_na,
                                                    na.action = na.exclude)))
                )))

  add(lmer_case("insteval", "InstEval", "y ~ service + (1 | s) + (1 | d) + (1 | dept)", InstEval,
                categorical = c("s", "d", "dept", "service"), reps = 1,
                notes = "Single timing run (no repeats). service is a factor with levels 0/1 (fixef name service1)."))
  cases
}

## ---------------------------------------------------------------- glmer
glmer_case <- function(id, data, formula, d, family, nAGQ = 1, categorical = character(),
                       reps = 3, notes = NULL) {
  cat(sprintf("glmer %-24s ", id))
  f <- as.formula(formula)
  tf <- timed_fit(function() glmer(f, data = d, family = family, nAGQ = nAGQ), reps)
  m <- tf$fit
  fam <- stats::family(m)
  out <- c(meta(id, data, formula, d),
           list(family = fam$family, link = fam$link, nAGQ = nAGQ, categorical = Chr(categorical)),
           common_json(m))
  out$deviance <- S(deviance(m))
  out$minus2loglik <- S(-2 * as.numeric(logLik(m)))
  out$fitted <- A(fitted(m))
  out$resid_pearson_quantiles <- A(quantile(residuals(m, type = "pearson")))
  out$predict_re0_head <- A(head(predict(m, re.form = NA), 10))
  out$predict_link_head <- A(head(predict(m, type = "link"), 10))
  out$elapsed <- S(tf$elapsed)
  out$elapsed_runs <- A(tf$times)
  out$warnings <- Chr(tf$warnings)
  out$messages <- Chr(tf$messages)
  out$notes <- notes
  first <- c("id", "data", "data_file", "data_md5", "formula", "family", "link", "nAGQ",
             "categorical", "lme4_version", "R_version", "fixef", "se", "vcov", "theta",
             "theta_names", "loglik", "deviance", "minus2loglik", "aic", "bic", "nobs",
             "ngroups", "df_resid", "varcorr", "ranef", "coef", "fitted",
             "resid_pearson_quantiles", "is_singular", "predict_re0_head",
             "predict_link_head", "elapsed")
  out <- out[c(intersect(first, names(out)), setdiff(names(out), first))]
  cat(sprintf("%7.3fs  AIC %.4f%s\n", tf$elapsed, AIC(m),
              if (length(tf$warnings) || length(tf$messages))
                paste0("  [", paste(c(tf$warnings, tf$messages), collapse = " | "), "]") else ""))
  list(case = out, fit = m)
}

run_glmer <- function() {
  cases <- list()
  add <- function(r) cases[[length(cases) + 1]] <<- r$case
  add(glmer_case("rats_ri", "rats", "cbind(m, n - m) ~ 1 + (1 | batch)", rats, binomial,
                 categorical = "batch",
                 notes = "batch is a factor of the integer labels 1..71. Tutorial reports AIC 319.9."))
  add(glmer_case("imm10_white_rs", "imm10", "white ~ homework + (1 + homework | schid)", imm10,
                 binomial, categorical = "schid",
                 notes = "Singular fit. Tutorial reports AIC 182.4."))
  for (q in c(1, 9, 25))
    add(glmer_case(sprintf("cbpp_agq%d", q), "cbpp",
                   "cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, binomial,
                   nAGQ = q, categorical = c("period", "herd"),
                   notes = if (q > 1) paste(
                     "nAGQ > 1: lme4 1.1-31 reports logLik/deviance/AIC/BIC for nAGQ > 1 on a",
                     "different scale from the Laplace (nAGQ = 1) fit (here -50.0 vs -92.0) because",
                     "it drops an additive constant (long-standing lme4 issue #161,",
                     "https://github.com/lme4/lme4/issues/161). Estimates are comparable; the",
                     "likelihood values are not.")))
  add(glmer_case("grouseticks_pois", "grouseticks",
                 "TICKS ~ YEAR + sHEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)",
                 grouseticks, poisson, categorical = c("YEAR", "BROOD", "INDEX", "LOCATION"),
                 notes = "sHEIGHT = as.numeric(scale(HEIGHT)) (centred and scaled; stored in the CSV) replaces scale(HEIGHT) of the lme4 example. lme4's own cHEIGHT column is only centred."))
  add(glmer_case("cbpp_pois_offset", "cbpp",
                 "incidence ~ period + offset(log(size)) + (1 | herd)", cbpp, poisson,
                 categorical = c("period", "herd"),
                 notes = "Poisson with offset log(size); fitted and predict_* include the offset."))
  add(glmer_case("verbagg", "VerbAgg",
                 "r2 ~ (Anger + Gender + btype + situ) + (1 | id) + (1 | item)", VerbAgg, binomial,
                 categorical = c("Gender", "btype", "situ", "id", "item", "r2"),
                 notes = "r2 is a factor N/Y: Y = success (1). Levels of item/id keep lme4's order in ranef (labels given)."))
  cases
}

## ---------------------------------------------------------------- profile
profile_case <- function(id, data, formula, d, REML = TRUE, family = NULL, method = "profile") {
  cat(sprintf("confint %-22s %-7s ", id, method))
  f <- as.formula(formula)
  m <- if (is.null(family)) lmer(f, data = d, REML = REML) else
    glmer(f, data = d, family = family)
  tf <- timed_fit(function() confint(m, method = method, oldNames = FALSE), 1)
  ci <- tf$fit
  old <- rownames(confint(m, method = "Wald", oldNames = TRUE))
  stopifnot(length(old) == nrow(ci))
  cat(sprintf("%7.3fs\n", tf$elapsed))
  list(id = id, data = data, data_file = data_file(data), data_md5 = attr(d, "md5"),
       formula = formula, REML = if (is.null(family)) REML else NULL,
       family = if (is.null(family)) NULL else family()$family,
       method = method, level = S(0.95), lme4_version = LME4_VERSION, R_version = R_VERSION,
       rownames = Chr(rownames(ci)), rownames_old = Chr(old),
       lower = A(ci[, 1]), upper = A(ci[, 2]), elapsed = S(tf$elapsed),
       warnings = Chr(tf$warnings), messages = Chr(tf$messages))
}

run_profile <- function() {
  list(
    profile_case("tutorial_slopes", "tutorial_slopes", "y ~ X + (1 + X | Cluster)", tut_slopes),
    profile_case("sleep_slope", "sleepstudy", "Reaction ~ Days + (Days | Subject)", sleepstudy),
    profile_case("dyestuff", "Dyestuff", "Yield ~ 1 + (1 | Batch)", Dyestuff),
    profile_case("penicillin", "Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", Penicillin),
    profile_case("rats_ri", "rats", "cbind(m, n - m) ~ 1 + (1 | batch)", rats, family = binomial),
    profile_case("sleep_slope_wald", "sleepstudy", "Reaction ~ Days + (Days | Subject)", sleepstudy,
                 method = "Wald")
  )
}

if ("lmer" %in% parts) write_ref(run_lmer(), "tests/reference/lmer.json")
if ("glmer" %in% parts) write_ref(run_glmer(), "tests/reference/glmer.json")
if ("profile" %in% parts) write_ref(run_profile(), "tests/reference/profile.json")
