#!/usr/bin/env Rscript
# Reference draws for tests/test_rng.py: R's own runif/rnorm/sample/MASS::mvrnorm/qnorm output.
#
# Run from the repository root (needs R >= 3.6 with MASS and jsonlite):
#     Rscript tools/r_rng_reference.R            # writes tests/reference/r_rng.json
#
# Every case is a seed and a list of steps; each step calls one function with named arguments
# (exactly as they are stored in the JSON, so Python can replay the same calls) and stores the
# result.  Doubles are written with 17 significant digits (see `verbatim` below), which round-trip
# every double exactly; tests/test_rng.py checks that against hex copies (`hex_check`).
suppressPackageStartupMessages({library(MASS); library(jsonlite)})
RNGkind("Mersenne-Twister", "Inversion", "Rejection")

call_step <- function(fn, args) {
  f <- switch(fn, runif = runif, rnorm = rnorm, sample = sample, mvrnorm = MASS::mvrnorm,
              qnorm = qnorm, stop("unknown function ", fn))
  if (fn == "mvrnorm") args$Sigma <- matrix(unlist(args$Sigma), nrow = length(args$mu), byrow = TRUE)
  out <- suppressWarnings(do.call(f, args))
  if (fn == "mvrnorm") out <- unname(matrix(out, ncol = length(args$mu)))   # always n x p
  out
}

case <- function(name, seed, ...) {
  steps <- list(...)
  if (!is.na(seed)) set.seed(seed)
  steps <- lapply(steps, function(s) { s$result <- call_step(s$fn, s$args); s })
  list(name = name, seed = seed, steps = steps)
}
st <- function(fn, ...) list(fn = fn, args = list(...))

cases <- list(
  # --- runif
  case("runif_10_seed1", 1, st("runif", n = 10)),
  case("runif_1000_seed42", 42, st("runif", n = 1000)),
  case("runif_vector_bounds", 2023, st("runif", n = 7, min = c(-1, 0, 2), max = c(1, 10, 2))),
  case("runif_negative_seed", -5, st("runif", n = 5, min = 10, max = 20)),
  case("runif_big_seed", 2147483647, st("runif", n = 3)),
  # --- rnorm
  case("rnorm_10_seed1", 1, st("rnorm", n = 10)),
  case("rnorm_2000_seed99", 99, st("rnorm", n = 2000, mean = 100, sd = 15)),
  case("rnorm_vector_mean_sd", 7, st("rnorm", n = 9, mean = c(0, 10, -5), sd = c(1, 0.5))),
  case("rnorm_sd_zero_skips", 8, st("rnorm", n = 6, mean = c(1, 2, 3), sd = c(1, 0, 2, 0))),
  case("rnorm_n_as_vector", 9, st("rnorm", n = c(5, 5, 5, 5))),
  # --- sample
  case("sample_1to100_10_seed123", 123, st("sample", x = 100, size = 10)),
  case("sample_permutation_5", 1, st("sample", x = 5)),
  case("sample_permutation_1000", 2, st("sample", x = 1000)),
  case("sample_pop100_size10", 3, st("sample", x = 100, size = 10)),
  case("sample_pop5_replace_1000", 4, st("sample", x = 5, size = 1000, replace = TRUE)),
  case("sample_pop100_replace_1000", 5, st("sample", x = 100, size = 1000, replace = TRUE)),
  case("sample_big_pop_10", 6, st("sample", x = 1e6 + 3, size = 10)),
  case("sample_big_pop_1000", 7, st("sample", x = 1e6 + 3, size = 1000)),
  case("sample_big_pop_replace_1000", 8, st("sample", x = 1e6 + 3, size = 1000, replace = TRUE)),
  case("sample_crosses_2p15", 10, st("sample", x = 40000, size = 30000)),
  case("sample_hash_1e8", 11, st("sample", x = 1e8, size = 20)),
  case("sample_letters_replace", 12, st("sample", x = c("a", "b", "c"), size = 10, replace = TRUE)),
  case("sample_vector_x", 13, st("sample", x = c(2.5, 7, 11, 13, 17, 19), size = 4)),
  case("sample_size1", 14, st("sample", x = 50, size = 1)),
  case("sample_prob_replace", 15,
       st("sample", x = 5, size = 20, replace = TRUE, prob = c(0.1, 0.2, 0.3, 0.2, 0.2))),
  case("sample_prob_noreplace", 16, st("sample", x = 6, size = 4, prob = c(3, 1, 2, 2, 1, 5))),
  case("sample_prob_walker", 17,
       st("sample", x = 300, size = 50, replace = TRUE, prob = 1 + (1:300 %% 7))),
  case("sample_prob_walker_then_runif", 18,
       st("sample", x = 70000, size = 3000, replace = TRUE, prob = 1 + (1:70000 %% 13)),
       st("runif", n = 3)),
  case("sample_prob_ties_noreplace", 19,
       st("sample", x = 8, size = 6, prob = c(1, 1, 2, 2, 1, 3, 3, 1)), st("runif", n = 2)),
  case("sample_prob_ties_replace", 20,
       st("sample", x = 9, size = 30, replace = TRUE, prob = c(2, 1, 2, 1, 2, 1, 2, 1, 2))),
  # --- mvrnorm
  case("mvrnorm_2x2_seed609", 609, st("mvrnorm", n = 20, mu = c(0, 0), Sigma = list(c(5, 1), c(1, 3)))),
  case("mvrnorm_3x3", 31, st("mvrnorm", n = 50, mu = c(1, -2, 0.5),
                               Sigma = list(c(4, 1.2, -0.6), c(1.2, 2, 0.3), c(-0.6, 0.3, 1)))),
  case("mvrnorm_n1", 32, st("mvrnorm", n = 1, mu = c(10, 20), Sigma = list(c(2, 0.5), c(0.5, 1)))),
  case("mvrnorm_singular", 33, st("mvrnorm", n = 5, mu = c(0, 0), Sigma = list(c(1, 1), c(1, 1)))),
  # --- one stream, several calls in a row
  case("mixed_sequence", 2024, st("runif", n = 3), st("rnorm", n = 3), st("sample", x = 10),
       st("runif", n = 2), st("sample", x = 1e6 + 3, size = 3, replace = TRUE), st("rnorm", n = 2)),
  # --- qnorm itself, all branches of AS 241
  case("qnorm_grid", NA, st("qnorm", p = c(1e-300, 1e-20, 1e-15, 1e-12, 1.3e-11, 1e-11, 1e-8,
                                              1e-4, 0.01, 0.074, 0.075, 0.076, 0.2, 0.5, 0.6,
                                              0.924, 0.925, 0.926, 0.99, 0.999999, 1 - 1e-12)))
)

# --- the tutorial's printed data (UVA StatLab, "Simulating multilevel data")
set.seed(707); u0j <- rnorm(20, 0, sqrt(5))
set.seed(777); eij <- rnorm(1000, 0, sqrt(3))
vc_y <- 2 + rep(u0j, each = 50) + eij
set.seed(609); u <- MASS::mvrnorm(20, c(0, 0), matrix(c(5, 1, 1, 3), 2))
tutorial <- list(variance_components_y = vc_y, mvrnorm_609 = unname(u), var_u = unname(var(u)))

state_after_seed <- { set.seed(1); .Random.seed }
state_after_draws <- { set.seed(1); runif(1000); .Random.seed }

out <- list(
  r_version = R.version.string,
  rng_kind = RNGkind(),
  cases = cases,
  tutorial = tutorial,
  random_seed = list(after_set_seed_1 = state_after_seed, after_runif_1000 = state_after_draws)
)
# Exactness check material: the same doubles as C99 hex strings ("%a"), which no parser can round.
# tests/test_rng.py asserts that the JSON numbers equal these, i.e. that the file lost no bits.
out$hex_check <- list(variance_components_y = sprintf("%a", vc_y),
                      runif_1000_seed42 = sprintf("%a", cases[[2]]$steps[[1]]$result))
# jsonlite (1.8) writes at most 15 significant digits whatever `digits` says, which loses the last
# bits of a double.  So every double is pre-formatted with "%.17g" (exact round trip through a
# correctly rounding parser such as Python's) and inserted verbatim.
fmt_num <- function(x) {
  v <- if (is.integer(x)) as.character(x) else sprintf("%.17g", x)
  if (is.matrix(x)) paste0("[", paste0(apply(matrix(v, nrow(x)), 1, function(r) paste0("[", paste(r, collapse = ","), "]")), collapse = ","), "]")
  else if (length(x) == 1) v else paste0("[", paste(v, collapse = ","), "]")
}
verbatim <- function(x) {
  if (is.list(x)) lapply(x, verbatim)
  else if (is.numeric(x)) structure(fmt_num(x), class = "json")
  else x
}
path <- "tests/reference/r_rng.json"
write_json(verbatim(out), path, json_verbatim = TRUE, auto_unbox = TRUE, pretty = FALSE)
cat("wrote", path, "\n")
