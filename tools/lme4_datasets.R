#!/usr/bin/env Rscript
## Write the example / test / benchmark data sets used by mlmkit's reference tests.
##
##   cd <repo root> && Rscript tools/lme4_datasets.R            # tests/data + benchmarks/data
##   Rscript tools/lme4_datasets.R --no-1m                      # skip the 1,000,000-row set
##
## Outputs
##   tests/data/{Dyestuff,Dyestuff2,Penicillin,Pastes,cbpp,grouseticks,VerbAgg,cake,sleepstudy}.csv
##   tests/data/sleepstudy_na.csv                      (Reaction NA in rows 3, 50, 100)
##   tests/data/tutorial_{vc,pred,slopes,slopes_cor}.csv (UVA StatLab simulation tutorial)
##   benchmarks/data/InstEval.csv.gz
##   benchmarks/data/bench_100k.csv.gz, benchmarks/data/bench_1m.csv.gz
##
## Numbers are written with the shortest of %.15g / %.16g / %.17g that reads back to the
## identical double, so every file is lossless (checked at the end of this script).
## Written with R 4.2.2 and lme4 1.1-31; see tests/data/README.md.

suppressPackageStartupMessages({
  library(lme4)
  library(MASS)
})

args <- commandArgs(trailingOnly = TRUE)
do_1m <- !("--no-1m" %in% args)

stopifnot(file.exists("tools/lme4_datasets.R"))   # run from the repository root
dir.create("tests/data", recursive = TRUE, showWarnings = FALSE)
dir.create("benchmarks/data", recursive = TRUE, showWarnings = FALSE)

## ---------------------------------------------------------------- helpers
## shortest round-trip decimal representation of a double vector
fmt_num <- function(x) suppressWarnings({
  out <- sprintf("%.15g", x)
  bad <- !is.na(x) & as.numeric(out) != x
  out[bad] <- sprintf("%.16g", x[bad])
  bad <- !is.na(x) & as.numeric(out) != x
  out[bad] <- sprintf("%.17g", x[bad])
  out[is.na(x)] <- NA_character_
  out
})

## write a data frame losslessly: doubles formatted by fmt_num (not quoted), factors /
## characters quoted as write.csv does by default, integers as integers, NA as "NA".
write_lossless <- function(df, path) {
  out <- df
  quote_cols <- integer(0)
  for (j in seq_along(df)) {
    v <- df[[j]]
    if (is.factor(v) || is.character(v)) {
      out[[j]] <- as.character(v)
      quote_cols <- c(quote_cols, j)
    } else if (is.double(v)) {
      out[[j]] <- fmt_num(v)
    } else if (is.logical(v)) {
      out[[j]] <- as.character(v)
    }
  }
  if (!length(quote_cols)) quote_cols <- FALSE
  con <- if (grepl("\\.gz$", path)) gzfile(path, "wb") else file(path, "wb")
  on.exit(close(con))
  write.csv(out, con, row.names = FALSE, quote = quote_cols, na = "NA")
  invisible(path)
}

## read back and compare every column with the original (doubles must be identical)
check_roundtrip <- function(df, path) {
  back <- read.csv(path, stringsAsFactors = FALSE)
  stopifnot(identical(names(back), names(df)), nrow(back) == nrow(df))
  for (nm in names(df)) {
    a <- df[[nm]]; b <- back[[nm]]
    if (is.factor(a) || is.character(a)) {
      ok <- identical(as.character(a), as.character(b))
    } else {
      ok <- identical(is.na(a), is.na(b)) &&
        identical(as.double(a[!is.na(a)]), as.double(b[!is.na(b)]))
    }
    if (!ok) stop(sprintf("round trip failed: %s column %s", path, nm))
  }
  cat(sprintf("  %-40s %8d rows  %9d bytes  round trip OK\n", path, nrow(df),
              file.size(path)))
}

put <- function(df, path) { write_lossless(df, path); check_roundtrip(df, path) }

## ---------------------------------------------------------------- lme4 data sets
cat("lme4", as.character(packageVersion("lme4")), "\n")

put(lme4::Dyestuff,   "tests/data/Dyestuff.csv")
put(lme4::Dyestuff2,  "tests/data/Dyestuff2.csv")
put(lme4::Penicillin, "tests/data/Penicillin.csv")
put(lme4::Pastes,     "tests/data/Pastes.csv")
put(lme4::cbpp,       "tests/data/cbpp.csv")

## grouseticks: lme4 already ships cHEIGHT = HEIGHT - mean(HEIGHT) (centred only).
## We add sHEIGHT = as.numeric(scale(HEIGHT)) (centred AND scaled), used in the glmer
## reference instead of scale(HEIGHT) inside the formula.
gt <- lme4::grouseticks
gt$sHEIGHT <- as.numeric(scale(gt$HEIGHT))
put(gt, "tests/data/grouseticks.csv")

put(lme4::VerbAgg, "tests/data/VerbAgg.csv")

## cake: `temperature` is an ORDERED factor in lme4 (polynomial contrasts). In the CSV it is
## just the labels 175..225; the references treat it as an UNORDERED factor (treatment
## contrasts, baseline 175). `temp` is the same temperature as a number.
put(lme4::cake, "tests/data/cake.csv")

put(lme4::sleepstudy, "tests/data/sleepstudy.csv")

ss_na <- lme4::sleepstudy
ss_na$Reaction[c(3, 50, 100)] <- NA
put(ss_na, "tests/data/sleepstudy_na.csv")

put(lme4::InstEval, "benchmarks/data/InstEval.csv.gz")

## ---------------------------------------------------------------- tutorial data
## Laura Jamison, "Simulating multilevel data" (UVA Library StatLab, 2023-09-13);
## source text in /work/shared/source-material/000_1d1751893ef10178.txt. The code below
## is the tutorial's code, statement for statement (same seeds, same order of draws).

## Lesson 1: variance components model  m0 <- lmer(y ~ 1 + (1 | Cluster), data = df)
C <- 20; N <- 50
g00 <- 2
tau2 <- 5
set.seed(707)
u0j <- rnorm(n = C, mean = 0, sd = sqrt(tau2))
u0j <- rep(x = u0j, each = N)
sigma2 <- 3
set.seed(777)
eij <- rnorm(n = N*C, mean = 0, sd = sqrt(sigma2))
yij <- g00 + u0j + eij
ID <- 1:(N*C)
Cluster <- rep(x = seq(1, C), each = N)
df_vc <- data.frame(y = yij, ID = ID, Cluster = Cluster, eij = eij, u0j = u0j,
                    g00 = rep(x = g00, times = N*C))
put(df_vc, "tests/data/tutorial_vc.csv")

## Lesson 2: level-1 and level-2 predictors  m1 <- lmer(y ~ 1 + Z + X + (1 | Cluster))
N <- 50; C <- 20
g00 <- 2
g01 <- 3
set.seed(111)
Zj <- as.vector(replicate(n = C, expr = rnorm(1, mean = 0, sd = 3)))
Zj <- rep(x = Zj, each = N)
B1 <- 4
set.seed(555)
X1ij <- as.vector(replicate(n = C, expr = rnorm(N, 0, 1)))
tau2 <- 5
sigma2 <- 3
set.seed(707)
u0j <- rnorm(n = C, mean = 0, sd = sqrt(tau2))
u0j <- rep(x = u0j, each = N)
set.seed(111)
eij <- rnorm(n = N*C, mean = 0, sd = sqrt(sigma2))
yij <- g00 + g01*Zj + u0j + B1*X1ij + eij
ID <- 1:(N*C)
Cluster <- rep(x = seq(1, C), each = N)
df_pred <- data.frame(y = yij, ID = ID, Cluster = Cluster,
                      g00 = rep(x = g00, times = N*C), g01 = rep(x = g01, times = N*C),
                      Z = Zj, u0j = u0j, B1 = rep(x = B1, times = N*C),
                      X = X1ij, eij = eij)
put(df_pred, "tests/data/tutorial_pred.csv")

## Lesson 3: random slope, independent draws  m2 <- lmer(yij ~ X + (1 + X | Cluster))
N <- 50; C <- 20
g00 <- 2
g01 <- 5
tau2_u0 <- 5
set.seed(707)
u0j <- rnorm(n = C, mean = 0, sd = sqrt(tau2_u0))
u0j <- rep(x = u0j, each = N)
b0j <- g00 + u0j
tau2_u1 <- 3
set.seed(5707)
u1j <- rnorm(n = C, mean = 0, sd = sqrt(tau2_u1))
u1j <- rep(x = u1j, each = N)
b1j <- g01 + u1j
sigma2 <- 3
set.seed(111)
eij <- rnorm(n = N*C, mean = 0, sd = sqrt(sigma2))
set.seed(555)
X1ij <- as.vector(replicate(n = C, expr = rnorm(N, 0, 1)))
yij <- b0j + b1j*X1ij + eij
ID <- 1:(N*C)
Cluster <- rep(x = seq(1, C), each = N)
df_slopes <- data.frame(y = yij, ID = ID, Cluster = Cluster, eij = eij, u0j = u0j,
                        g00 = rep(x = g00, times = N*C), u1j = u1j,
                        g01 = rep(x = g01, times = N*C), b0j = b0j, b1j = b1j, X = X1ij)
put(df_slopes, "tests/data/tutorial_slopes.csv")

## Lesson 4: correlated random slope (MASS::mvrnorm, seed 609); reuses X1ij, eij, ID, Cluster
tau2_u0 <- 5
tau2_u1 <- 3
Cov_u1j.u0j <- 1
var_mat <- matrix(data = c(tau2_u0, Cov_u1j.u0j, Cov_u1j.u0j, tau2_u1), nrow = 2, ncol = 2)
set.seed(609)
u <- mvrnorm(n = C, mu = c(0, 0), Sigma = var_mat)
u0j <- u[, 1]
u1j <- u[, 2]
u0j <- rep(x = u0j, each = N)
u1j <- rep(x = u1j, each = N)
b0j <- g00 + u0j
b1j <- g01 + u1j
yij <- b0j + b1j*X1ij + eij
df_slopes_cor <- data.frame(y = yij, ID = ID, Cluster = Cluster, eij = eij, u0j = u0j,
                            g00 = rep(x = g00, times = N*C), u1j = u1j,
                            g01 = rep(x = g01, times = N*C), b0j = b0j, b1j = b1j, X = X1ij)
put(df_slopes_cor, "tests/data/tutorial_slopes_cor.csv")

## ---------------------------------------------------------------- benchmark data
## y = (1 + u0[g]) + (2 + u1[g]) * x + e,  x ~ N(0, 1), e ~ N(0, 1),
## (u0, u1) ~ N(0, [[1, .15], [.15, .25]])  (sd 1 and 0.5, correlation 0.3).
## x and y are rounded to 4 decimals (to keep the gzip files small); the rounded values
## ARE the data set (the lme4 timings/fits use the files as written).
sim_bench <- function(n_groups, per_group, seed) {
  set.seed(seed)
  Sigma <- matrix(c(1, 0.3 * 1 * 0.5, 0.3 * 1 * 0.5, 0.25), 2, 2)
  u <- mvrnorm(n_groups, mu = c(0, 0), Sigma = Sigma)
  g <- rep(seq_len(n_groups), each = per_group)
  x <- rnorm(n_groups * per_group)
  e <- rnorm(n_groups * per_group)
  y <- (1 + u[g, 1]) + (2 + u[g, 2]) * x + e
  data.frame(y = round(y, 4), x = round(x, 4), g = as.integer(g))
}
put(sim_bench(1000L, 100L, seed = 100000L), "benchmarks/data/bench_100k.csv.gz")
if (do_1m) put(sim_bench(10000L, 100L, seed = 1000000L), "benchmarks/data/bench_1m.csv.gz")

cat("done\n")
