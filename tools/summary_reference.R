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
summ <- function(case, fit) write_txt(case, print(summary(fit)))

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
write_txt("varcorr_sleepstudy", print(VarCorr(fm1)))

## ---- R's number formatting on awkward inputs: kind <TAB> digits <TAB> inputs <TAB> result ----
## inputs and results are joined by "|"; numbers are written with 17 significant digits.
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
writeLines(lines, file.path(out, "rformat_cases.txt"))
cat("wrote rformat_cases\n")
