## lme4's order and names of random-effect terms (issue: lme4 reorders terms by rev(order(nl)) only
## when a later term is larger, and names deep nesting c:(b:a)).
##   Rscript tools/term_order_reference.R   ->  tests/reference/term_order.json
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
source("tools/reference_helpers.R")
d <- read.csv("tests/data/term_order.csv", stringsAsFactors = TRUE)
cases <- list(
  double_bar = "y ~ x + (x1 || g) + (1 | h)",
  equal_sizes = "y ~ x + (1 | g) + (0 + x1 | g)",
  nested3 = "y ~ 1 + (1 | a/b/c)",
  nested3_slope = "y ~ x + (1 | a/b/c) + (1 | h)"
)
out <- lapply(cases, function(f) {
  m <- lmer(as.formula(f), d, REML = TRUE, control = lmerControl(optimizer = "nloptwrap",
            calc.derivs = FALSE))
  vc <- as.data.frame(VarCorr(m))
  list(formula = f, theta = A(getME(m, "theta")), theta_names = Chr(names(getME(m, "theta"))),
       grp = Chr(vc$grp), var1 = Chr(ifelse(is.na(vc$var1), "", vc$var1)),
       sdcor = A(vc$sdcor), ranef_names = Chr(names(ranef(m))),
       reml = S(REMLcrit(m)), fixef = O(fixef(m)))
})
writeLines(toJSON(out, auto_unbox = TRUE, json_verbatim = TRUE, pretty = TRUE), "tests/reference/term_order.json")
