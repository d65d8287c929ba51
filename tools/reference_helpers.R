## Helpers shared by the reference scripts in tools/ (each sources this file from the repository root):
## lossless JSON output and reading a test data set with R's factors.
##
## jsonlite's writer keeps at most 15 significant digits, which does not round-trip every double.
## fmt_num writes the shortest of %.15g/%.16g/%.17g that reads back to the same double, and the
## helpers wrap such text as verbatim JSON: S a scalar, A an array, M a matrix (rows), O a named
## numeric vector as an object, Chr a character vector always written as an array.
## Use with jsonlite::toJSON(..., json_verbatim = TRUE).

fmt_num <- function(x) suppressWarnings({
  x <- as.numeric(x)
  if (any(is.infinite(x))) stop("Inf in output")
  out <- sprintf("%.15g", x)
  bad <- !is.na(x) & as.numeric(out) != x
  out[bad] <- sprintf("%.16g", x[bad])
  bad <- !is.na(x) & as.numeric(out) != x
  out[bad] <- sprintf("%.17g", x[bad])
  out[is.na(x)] <- "null"
  out
})
json <- function(s) structure(s, class = "json")
S <- function(x) { if (is.null(x)) return(NULL); stopifnot(length(x) == 1); json(fmt_num(x)) }
A <- function(x) json(paste0("[", paste(fmt_num(x), collapse = ","), "]"))
M <- function(m) {
  m <- unname(as.matrix(m))
  rows <- vapply(seq_len(nrow(m)), function(i)
    paste0("[", paste(fmt_num(m[i, ]), collapse = ","), "]"), "")
  json(paste0("[", paste(rows, collapse = ","), "]"))
}
O <- function(x) setNames(lapply(unname(x), S), names(x))          # named numeric -> object
Chr <- function(x) I(as.character(x))                              # always a JSON array

## A data set from tests/data with the named columns as factors (R's level order).
read_test <- function(name, factors = character()) {
  d <- read.csv(file.path("tests/data", paste0(name, ".csv")), stringsAsFactors = FALSE)
  for (f in factors) d[[f]] <- factor(d[[f]])
  d
}
