#!/usr/bin/env Rscript
## Reference values for mlmkit.inference.anova (likelihood-ratio tables), computed with lme4.
##
##   cd <repo root>
##   Rscript tools/anova_reference.R          # writes tests/reference/anova.json
##
## Each case lists its models (formula, REML, family) in the order they are passed to anova(),
## lme4's table (rows ordered by npar, as lme4 orders them), whether lme4 printed
## "refitting model(s) with ML (instead of REML)", and the printed table.
## Numbers are written with the shortest %.15g/%.16g/%.17g that reads back to the same double.

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))
stopifnot(file.exists("tools/anova_reference.R"))

source("tools/reference_helpers.R") # fmt_num, json, S, A, M, O, Chr, read_test

sleepstudy <- lme4::sleepstudy
tut_slopes <- read_test("tutorial_slopes", "Cluster")
cbpp <- lme4::cbpp

anova_case <- function(id, data, models, d, family = NULL) {
  fits <- lapply(models, function(m) {
    if (is.null(family)) lmer(as.formula(m$formula), data = d, REML = m$REML)
    else glmer(as.formula(m$formula), data = d, family = family)
  })
  names(fits) <- vapply(models, `[[`, "", "name")
  msgs <- character()
  tab <- withCallingHandlers(
    do.call(anova, c(unname(fits), list(model.names = names(fits)))),
    message = function(m) { msgs <<- c(msgs, conditionMessage(m)); invokeRestart("muffleMessage") })
  cat(id, ":", paste(rownames(tab), collapse = ", "), "\n")
  list(id = id, data = data, family = if (is.null(family)) NULL else family()$family,
       models = lapply(models, function(m) list(name = m$name, formula = m$formula,
                                               REML = if (is.null(family)) m$REML else NULL)),
       rownames = I(rownames(tab)),
       npar = A(tab$npar), AIC = A(tab$AIC), BIC = A(tab$BIC), logLik = A(tab$logLik),
       deviance = A(tab$deviance), Chisq = A(tab$Chisq), Df = A(tab$Df),
       p = A(tab[["Pr(>Chisq)"]]), messages = I(msgs),
       printed = I(capture.output(print(tab))),
       lme4_version = as.character(packageVersion("lme4")))
}

cases <- list(
  anova_case("sleep_ri_slope", "sleepstudy",
             list(list(name = "m0", formula = "Reaction ~ Days + (1 | Subject)", REML = TRUE),
                  list(name = "m1", formula = "Reaction ~ Days + (Days | Subject)", REML = TRUE)),
             sleepstudy),
  anova_case("sleep_ml_reversed", "sleepstudy",
             list(list(name = "full", formula = "Reaction ~ Days + (Days | Subject)", REML = FALSE),
                  list(name = "diag", formula = "Reaction ~ Days + (Days || Subject)", REML = FALSE),
                  list(name = "ri", formula = "Reaction ~ Days + (1 | Subject)", REML = FALSE)),
             sleepstudy),
  anova_case("tutorial_slopes", "tutorial_slopes",
             list(list(name = "m_null", formula = "y ~ 1 + (1 | Cluster)", REML = TRUE),
                  list(name = "m_ri", formula = "y ~ X + (1 | Cluster)", REML = TRUE),
                  list(name = "m_rs", formula = "y ~ X + (1 + X | Cluster)", REML = TRUE)),
             tut_slopes),
  anova_case("cbpp_period", "cbpp",
             list(list(name = "g0", formula = "cbind(incidence, size - incidence) ~ 1 + (1 | herd)"),
                  list(name = "g1", formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)")),
             cbpp, family = binomial)
)
write_json(cases, "tests/reference/anova.json", digits = NA, auto_unbox = TRUE, null = "null",
           na = "null", pretty = TRUE, json_verbatim = TRUE)
cat("wrote tests/reference/anova.json\n")
