#!/usr/bin/env Rscript
## lme4's printed model summaries, the references for tests/test_display.py.
##
##   cd <repo root> && Rscript tools/summary_reference.R
##
## Writes tests/reference/summaries/<case>.txt: exactly what print(summary(fit)) writes to the
## console (R 4.2.2, lme4 1.1-31, options width = 80, digits = 7, plain ASCII quotes), plus
##   varcorr_sleepstudy.txt   print(VarCorr(fit))
##   rformat_cases.txt        R's format(), round(), zapsmall() and abbreviate() on awkward inputs,
##                            tab separated, so the Python re-implementation is tested value by value.
## The data are the repository's CSV files; each is given the variable name the tutorials use, so the
## "Data:" lines read as in the tutorials.

suppressPackageStartupMessages(library(lme4))
options(useFancyQuotes = FALSE, width = 80, digits = 7)
stopifnot(file.exists("tools/summary_reference.R"))   # run from the repository root
out <- "tests/reference/summaries"
dir.create(out, recursive = TRUE, showWarnings = FALSE)

shared <- function(name) {
  for (d in c("mlmkit/data", "data", "/work/shared/data"))
    if (file.exists(f <- file.path(d, name))) return(f)
  stop("cannot find ", name)
}
write_txt <- function(case, expr) {
  txt <- capture.output(expr)
  writeLines(txt, file.path(out, paste0(case, ".txt")))
  cat("wrote", case, "\n")
}
keep <- function(fit) suppressMessages(suppressWarnings(fit))
## <case>.fit.txt: lme4's fitted quantities (17 significant digits), one "key<TAB>values" line each, so
## that the Python renderer can be fed lme4's own numbers and must then print lme4's text exactly.
dump_fit <- function(case, fit) {
  v <- function(key, x) paste(c(key, if (is.numeric(x)) sprintf("%.17g", x) else as.character(x)),
                              collapse = "\t")
  vc <- as.data.frame(VarCorr(fit))
  ng <- ngrps(fit)
  glmm <- isGLMM(fit)
  msgs <- unlist(fit@optinfo$conv$lme4$messages)
  lines <- c(v("formula", deparse(fit@call$formula, width.cutoff = 500L)),
             v("REML", as.integer(isREML(fit))),
             v("family", if (glmm) family(fit)$family else character()),
             v("link", if (glmm) family(fit)$link else character()),
             v("nAGQ", if (glmm) fit@devcomp$dims[["nAGQ"]] else numeric()),
             v("nobs", nobs(fit)), v("groups", names(ng)), v("ngroups", as.numeric(ng)),
             v("reml_criterion", if (isREML(fit)) REMLcrit(fit) else numeric()),
             v("aic", AIC(fit)), v("bic", BIC(fit)), v("loglik", as.numeric(logLik(fit))),
             v("df_resid", df.residual(fit)), v("sigma", sigma(fit)),
             v("fixef_names", names(fixef(fit))), v("fixef", unname(fixef(fit))),
             v("vcov", as.vector(as.matrix(vcov(fit)))),
             v("vc_grp", vc$grp), v("vc_var1", ifelse(is.na(vc$var1), "NA", vc$var1)),
             v("vc_var2", ifelse(is.na(vc$var2), "NA", vc$var2)), v("vc_vcov", vc$vcov),
             v("vc_sdcor", vc$sdcor), v("pearson", unname(residuals(fit, "pearson"))),
             v("singular", as.integer(isSingular(fit))), v("optimizer", fit@optinfo$optimizer),
             v("messages", setdiff(msgs, "boundary (singular) fit: see help('isSingular')")),
             v("n_dropped", length(attr(model.frame(fit), "na.action"))))
  writeLines(lines, file.path(out, paste0(case, ".fit.txt")))
}
summ <- function(case, fit) {
  write_txt(case, print(summary(fit)))
  dump_fit(case, fit)
}

sleepstudy <- read.csv("tests/data/sleepstudy.csv")
sleepstudy$Subject <- factor(sleepstudy$Subject)
sleepstudy_na <- read.csv("tests/data/sleepstudy_na.csv")
sleepstudy_na$Subject <- factor(sleepstudy_na$Subject)
df <- read.csv("tests/data/tutorial_vc.csv")
mlmdata <- read.csv(shared("imm10.csv"))
rats_df <- read.csv(shared("rats.csv"))
Penicillin <- read.csv("tests/data/Penicillin.csv")
Pastes <- read.csv("tests/data/Pastes.csv")
Dyestuff2 <- read.csv("tests/data/Dyestuff2.csv")
cbpp <- read.csv("tests/data/cbpp.csv", colClasses = c("character", "numeric", "numeric", "character"))
cake <- read.csv("tests/data/cake.csv", colClasses = c("character", "character", "character",
                                                       "numeric", "numeric"))

fm1 <- lmer(Reaction ~ Days + (Days | Subject), sleepstudy)
summ("sleepstudy_reml", fm1)
summ("sleepstudy_ml", lmer(Reaction ~ Days + (Days | Subject), sleepstudy, REML = FALSE))
summ("sleepstudy_na", lmer(Reaction ~ Days + (Days | Subject), sleepstudy_na))
summ("tutorial_vc", lmer(y ~ 1 + (1 | Cluster), data = df))
summ("imm10_slopes", lmer(math ~ homework + (1 + homework | schid), data = mlmdata))
summ("imm10_uncorrelated", lmer(math ~ homework + (1 | schid) + (0 + homework | schid), data = mlmdata))
summ("penicillin", lmer(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin))
summ("pastes_nested", lmer(strength ~ 1 + (1 | batch/cask), Pastes))
summ("dyestuff2_singular", keep(lmer(Yield ~ 1 + (1 | Batch), Dyestuff2)))
summ("cake_factors", lmer(angle ~ recipe + temperature + (1 | recipe:replicate), cake))
summ("cake_many_fixed", suppressMessages(lmer(angle ~ recipe * temperature + (1 | recipe:replicate), cake)))
summ("rats_glmer", glmer(cbind(m, n - m) ~ 1 + (1 | batch), data = rats_df, family = binomial))
summ("rats_glmer_agq", glmer(cbind(m, n - m) ~ 1 + (1 | batch), data = rats_df, family = binomial,
                             nAGQ = 9))
summ("imm10_glmer", keep(glmer(white ~ homework + (1 + homework | schid), data = mlmdata,
                               family = binomial(link = "logit"))))
summ("cbpp_glmer", glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, binomial))
## lme4's default PIRLS tolerance (tolPwrss = 1e-7) leaves cbpp's conditional modes short of convergence,
## which moves its finite-difference standard errors by ~1.3%; mlmkit converges PIRLS to ~1e-13, so its
## end-to-end summary is compared with lme4 run to the same precision.
summ("cbpp_glmer_tight", glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, binomial,
                               control = glmerControl(tolPwrss = 1e-12)))
local({  # the "Control:" line only records the tolerance; mlmkit's summary has no such line
  f <- "tests/reference/summaries/cbpp_glmer_tight.txt"
  x <- readLines(f); writeLines(x[!startsWith(x, "Control:")], f)
})
write_txt("varcorr_sleepstudy", print(VarCorr(fm1)))

## ---- R's number formatting on awkward inputs: kind <TAB> digits <TAB> inputs <TAB> result ----
## inputs and results are joined by "|" (lines of deparse and cat output by a literal \\n);
## numbers are written with 17 significant digits.
num <- function(x) paste(sprintf("%.17g", x), collapse = "|")
set.seed(20240607)
vecs <- list(c(612.1, 35.07, 654.94), c(0.5, 0.25, 1e-3), c(123456.7, 0.001), c(1e-8, 1),
             c(-1.9369, 0.1211), c(9996, 1), c(0.15, 0.25, 0.35), c(1e5, 1e-5), c(-0.5, 0.5, 2.675),
             c(0, 1, -1), c(3.14159e10, 2), c(99999.5, 0.1), c(1, NaN, 2.5), c(1.005, 2.0049999))
for (i in 1:40) vecs[[length(vecs) + 1]] <- signif(rnorm(sample(1:5, 1)) * 10^sample(-6:6, 1), sample(1:9, 1))
lines <- character()
for (v in vecs) for (d in c(1, 3, 4, 5, 7)) {
  lines <- c(lines, paste("format", d, num(v), paste(format(v, digits = d), collapse = "|"), sep = "\t"))
  lines <- c(lines, paste("round", d, num(v), num(round(v, d)), sep = "\t"))
  lines <- c(lines, paste("zapsmall", d, num(v), num(zapsmall(v, d)), sep = "\t"))
}
for (v in list(c(0.07, 1), c(-0.81, 1), c(0.5, NaN))) lines <- c(lines,
  paste("format_nsmall2", 7, num(v), paste(format(v, nsmall = 2), collapse = "|"), sep = "\t"))
nm <- list(c("(Intercept)", "Days"), c("(Intercept)", "recipeB", "recipeC", "temperature185"),
           c("homework", "period2", "period3", "period4"), c("x", "xy", "xyz"),
           c("alpha beta", "alphabet", "ALPHA"), c("sexMale:ageYoung", "sexMale:ageOld"),
           c("treatmentplacebo", "treatmentdrug", "treatmentdrugs"), c("I(x^2)", "log(dose)"))
for (n in nm) for (m in c(1, 4, 6, 11)) lines <- c(lines,
  paste("abbreviate", m, paste(n, collapse = "|"), paste(abbreviate(n, minlength = m), collapse = "|"), sep = "\t"))
## formulas as deparse() prints them in the "Formula:" line (inputs as a Python user might type them)
fml <- c("Reaction~Days+(Days|Subject)", "cbind(m,n-m)~1+(1|batch)", "y ~ x - 1", "y~-1+x",
         "y ~ I(x^2) + log(z, base = 2)", "y ~ a*b + a:b + (1|g1/g2)", "y ~ x + (x || g)", "y ~ 0.50 + x",
         "log(reaction_time_ms) ~ days_of_sleep_deprivation + age_in_years + (days_of_sleep_deprivation | subject_identifier)",
         "y ~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11 + x12 + x13 + x14 + x15 + x16 + x17 + x18 + x19 + x20 + (1 | g)",
         "outcome_variable_with_a_long_name ~ (1 + predictor_one + predictor_two + predictor_three | grouping)")
for (f in fml) lines <- c(lines, paste("deparse", 60, f, paste(deparse(eval(parse(text = f)[[1]])), collapse = "\\n"), sep = "\t"))
## cat(fill = TRUE) of lme4's "Number of obs" line with many grouping factors
grp <- list(c(Subject = 18), c(plate = 24, sample = 6),
            c(a_long_grouping_factor = 1200, another_long_grouping_factor = 300, third_factor = 25))
for (g in grp) lines <- c(lines, paste("groups", 80, paste(names(g), g, sep = ", ", collapse = "; "),
  paste(capture.output(cat(sprintf("Number of obs: %d, groups: ", 5000L), paste(paste(names(g), g, sep = ", "), collapse = "; "), fill = TRUE)), collapse = "\\n"), sep = "\t"))
writeLines(lines, file.path(out, "rformat_cases.txt"))
cat("wrote rformat_cases\n")
