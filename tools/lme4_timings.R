#!/usr/bin/env Rscript
## Wall-clock timings of lme4 on the benchmark problems, for comparison with mlmkit.
##
##   cd <repo root> && Rscript tools/lme4_timings.R      # -> benchmarks/lme4_times.json
##   Rscript tools/lme4_timings.R --no-1m                 # skip the 1,000,000-row fit
##
## Each entry is the median of `reps` system.time()[["elapsed"]] measurements of the model
## call only (data reading and factor construction are outside the timed expression).
## Needs the data written by tools/lme4_datasets.R.

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))
args <- commandArgs(trailingOnly = TRUE)
do_1m <- !("--no-1m" %in% args)
stopifnot(file.exists("tools/lme4_timings.R"))

source("tools/reference_helpers.R") # fmt_num, json, S, A, M, O, Chr, read_test

PKG_DATA <- if (file.exists("data/rats.csv")) "data" else "/work/shared/data"
rats <- read.csv(file.path(PKG_DATA, "rats.csv")); rats$batch <- factor(rats$batch)
imm10 <- read.csv(file.path(PKG_DATA, "imm10.csv")); imm10$schid <- factor(imm10$schid)
tut <- read.csv("tests/data/tutorial_slopes.csv"); tut$Cluster <- factor(tut$Cluster)
read_bench <- function(path) {
  d <- read.csv(gzfile(path)); d$g <- factor(d$g); d
}

timings <- list()
time_it <- function(id, what, reps, fun, data = NULL, formula = NULL, summarise = NULL) {
  times <- numeric(reps); cpu <- numeric(reps); res <- NULL; warns <- character()
  for (i in seq_len(reps)) {
    gc(verbose = FALSE)
    st <- system.time(res <- withCallingHandlers(fun(),
      warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") },
      message = function(m) invokeRestart("muffleMessage")))
    times[i] <- round(st[["elapsed"]], 3)
    cpu[i] <- round(st[["user.self"]] + st[["sys.self"]], 3)
  }
  load <- readLines("/proc/loadavg")
  cat(sprintf("%-32s reps %2d  median %9.3f s  (min %.3f, max %.3f)  cpu %9.3f s  load %s\n",
              id, reps, median(times), min(times), max(times), median(cpu),
              sub(" .*", "", load)))
  entry <- list(id = id, what = what, data = data, formula = formula, reps = reps,
                median = S(round(median(times), 4)), min = S(min(times)), times = A(times),
                median_cpu = S(round(median(cpu), 4)), cpu_times = A(cpu),
                loadavg_after = load, warnings = I(unique(warns)))
  if (!is.null(summarise)) entry$fit <- summarise(res)
  timings[[length(timings) + 1]] <<- entry
  invisible(res)
}
fit_summary <- function(m) {
  out <- list(fixef = O(fixef(m)), theta = A(getME(m, "theta")),
              loglik = S(as.numeric(logLik(m))), nobs = nobs(m))
  if (isLMM(m)) {
    out$sigma <- S(sigma(m))
    out$reml_criterion <- if (isREML(m)) S(REMLcrit(m)) else NULL
  }
  out
}

load_start <- readLines("/proc/loadavg")

## ------------------------------------------------------------------ lmer
time_it("sleepstudy_lmer", "lmer REML", 20,
        function() lmer(Reaction ~ Days + (Days | Subject), sleepstudy),
        "tests/data/sleepstudy.csv", "Reaction ~ Days + (Days | Subject)", fit_summary)

b100k <- read_bench("benchmarks/data/bench_100k.csv.gz")
time_it("bench_100k_lmer", "lmer REML", 3,
        function() lmer(y ~ x + (x | g), b100k),
        "benchmarks/data/bench_100k.csv.gz", "y ~ x + (x | g)", fit_summary)
rm(b100k)

if (do_1m) {
  b1m <- read_bench("benchmarks/data/bench_1m.csv.gz")
  time_it("bench_1m_lmer", "lmer REML", 1,
          function() lmer(y ~ x + (x | g), b1m),
          "benchmarks/data/bench_1m.csv.gz", "y ~ x + (x | g)", fit_summary)
  rm(b1m); invisible(gc())
}

time_it("insteval_lmer", "lmer REML", 1,
        function() lmer(y ~ service + (1 | s) + (1 | d) + (1 | dept), InstEval),
        "benchmarks/data/InstEval.csv.gz", "y ~ service + (1 | s) + (1 | d) + (1 | dept)",
        fit_summary)

## ------------------------------------------------------------------ glmer
time_it("rats_glmer", "glmer binomial Laplace", 10,
        function() glmer(cbind(m, n - m) ~ 1 + (1 | batch), rats, family = binomial),
        "data/rats.csv", "cbind(m, n - m) ~ 1 + (1 | batch)", fit_summary)
time_it("imm10_glmer", "glmer binomial Laplace (singular fit)", 10,
        function() glmer(white ~ homework + (1 + homework | schid), imm10, family = binomial),
        "data/imm10.csv", "white ~ homework + (1 + homework | schid)", fit_summary)
time_it("verbagg_glmer", "glmer binomial Laplace", 3,
        function() glmer(r2 ~ (Anger + Gender + btype + situ) + (1 | id) + (1 | item),
                         VerbAgg, family = binomial),
        "tests/data/VerbAgg.csv", "r2 ~ (Anger + Gender + btype + situ) + (1 | id) + (1 | item)",
        fit_summary)

## ------------------------------------------------------------------ profile
m_tut <- lmer(y ~ X + (1 + X | Cluster), tut)
time_it("tutorial_slopes_profile", "confint(m, method = 'profile', oldNames = FALSE)", 3,
        function() confint(m_tut, method = "profile", oldNames = FALSE),
        "tests/data/tutorial_slopes.csv", "y ~ X + (1 + X | Cluster)")

## ------------------------------------------------------------------ parametric bootstrap
## tutorial-size random-intercept model: 20 clusters x 50, y ~ X + (1 | Cluster).
## 1,000 x (simulate() + refit()); simulate() is done once for all 1,000 responses inside
## the timed expression.
m_ri <- lmer(y ~ X + (1 | Cluster), tut)
nsim <- 1000L
boot_res <- time_it("tutorial_ri_simulate_refit_1000",
        "1000 x simulate() + refit(), lmer REML; 1 rep of the whole loop", 1,
        function() {
          ys <- simulate(m_ri, nsim = nsim, seed = 20240101)
          vapply(ys, function(y) fixef(refit(m_ri, newresp = y))[["X"]], 0)
        },
        "tests/data/tutorial_slopes.csv", "y ~ X + (1 | Cluster)")
timings[[length(timings)]]$per_refit <- S(round(as.numeric(timings[[length(timings)]]$median) / nsim, 6))
timings[[length(timings)]]$nsim <- nsim
timings[[length(timings)]]$boot_X_mean_sd <- A(c(mean(boot_res), sd(boot_res)))

## ------------------------------------------------------------------ machine info
cpu <- grep("^model name", readLines("/proc/cpuinfo"), value = TRUE)
mem <- grep("^MemTotal", readLines("/proc/meminfo"), value = TRUE)
out <- list(
  lme4_version = as.character(packageVersion("lme4")),
  Matrix_version = as.character(packageVersion("Matrix")),
  R_version = R.version.string,
  machine = list(
    nproc = as.integer(system("nproc", intern = TRUE)),
    detectCores = parallel::detectCores(),
    cpu = if (length(cpu)) trimws(sub("^model name\\s*:", "", cpu[1])) else NA,
    memory = trimws(sub("^MemTotal:", "", mem)),
    platform = R.version$platform,
    BLAS = extSoftVersion()[["BLAS"]],
    LAPACK = La_library(),
    loadavg_start = load_start,
    loadavg_end = readLines("/proc/loadavg")
  ),
  date = format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z"),
  note = paste("median: median wall time (system.time elapsed) of the model call only; data",
               "reading excluded. median_cpu: median user+system CPU time of this R process",
               "(less sensitive to other load; lme4 here is single-threaded, reference BLAS).",
               "The machine is shared with other processes (see loadavg_*), so wall times",
               "are upper bounds."),
  timings = timings
)
dir.create("benchmarks", showWarnings = FALSE)
write_json(out, "benchmarks/lme4_times.json", digits = NA, auto_unbox = TRUE, null = "null",
           na = "null", pretty = TRUE, json_verbatim = TRUE)
cat("wrote benchmarks/lme4_times.json\n")
