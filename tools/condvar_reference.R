#!/usr/bin/env Rscript
## Reference conditional variances of random effects for tests/test_plots.py (caterpillar plots):
## lme4's attr(ranef(m, condVar = TRUE)[[g]], "postVar"), one q x q x n_levels array per term, for
## lmer fits and (with sigma = 1 and the final PIRLS weights) glmer fits.
##
##   cd <repo root>; Rscript tools/condvar_reference.R      # writes tests/reference/condvar.json
##
## The lme4 data sets come from lme4:: (identical to tests/data/*.csv), with their own level order;
## the tests match levels by label.
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
invisible(Sys.setlocale("LC_COLLATE", "C"))
stopifnot(file.exists("tools/condvar_reference.R"))

models <- list(
  list(name = "sleepstudy_corr", data = "sleepstudy", formula = "Reaction ~ Days + (Days | Subject)"),
  list(name = "sleepstudy_diag", data = "sleepstudy", formula = "Reaction ~ Days + (Days || Subject)"),
  list(name = "penicillin_crossed", data = "Penicillin", formula = "diameter ~ 1 + (1 | plate) + (1 | sample)"),
  list(name = "pastes_nested", data = "Pastes", formula = "strength ~ 1 + (1 | batch/cask)"),
  list(name = "rats_glmer", data = "rats", formula = "cbind(m, n - m) ~ 1 + (1 | batch)", family = "binomial"),
  list(name = "cbpp_glmer", data = "cbpp", formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)",
       family = "binomial")
)
## lme4's data sets come from lme4::; the course's (rats) from data/<name>.csv with text labels.
read_data <- function(name) {
  if (file.exists(file.path("data", paste0(name, ".csv")))) {
    d <- read.csv(file.path("data", paste0(name, ".csv")), colClasses = "character")
    for (v in names(d)) if (all(grepl("^-?[0-9.]+$", d[[v]])) && v != "batch") d[[v]] <- as.numeric(d[[v]])
    return(d)
  }
  get(name, asNamespace("lme4"))
}
out <- list(lme4 = as.character(packageVersion("lme4")), R = R.version.string, models = list())
for (mm in models) {
  d <- read_data(mm$data)
  fit <- if (is.null(mm$family)) lmer(as.formula(mm$formula), data = d) else
    glmer(as.formula(mm$formula), data = d, family = mm$family)
  re <- ranef(fit, condVar = TRUE)
  groups <- list()
  for (g in names(re)) {
    pv <- attr(re[[g]], "postVar")
    terms <- if (is.list(pv)) pv else list(pv)
    groups[[g]] <- list(
      levels = rownames(re[[g]]),
      columns = colnames(re[[g]]),
      # n_levels x q x q per term (R stores q x q x n_levels)
      postVar = unname(lapply(terms, function(a) lapply(seq_len(dim(a)[3]), function(i) matrix(a[, , i], dim(a)[1], dim(a)[2]))))
    )
  }
  out$models[[mm$name]] <- list(data = mm$data, formula = mm$formula, sigma = sigma(fit), groups = groups)
}
write_json(out, "tests/reference/condvar.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
cat("wrote tests/reference/condvar.json\n")
