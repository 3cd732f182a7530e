# check_* helpers: every exported function validates its arguments here, in R,
# before any .Call, with a message that names the argument, what was expected
# and what was given.

describe_value <- function(x) {
  article <- function(word) paste(if (grepl("^[aeiou]", word)) "an" else "a", word)
  if (is.null(x)) return("NULL")
  if (is.function(x)) return("a function")
  if (is.data.frame(x))
    return(sprintf("a data frame with %d column%s", ncol(x), if (ncol(x) == 1L) "" else "s"))
  if (is.matrix(x)) return(sprintf("%s matrix %d x %d", article(typeof(x)), nrow(x), ncol(x)))
  if (is.list(x)) return(sprintf("a list of length %d", length(x)))
  if (length(x) == 1L) {
    if (is.na(x)) return(if (is.character(x)) "NA (character)" else format(x))
    if (is.character(x)) return(sprintf("\"%s\"", x))
    return(format(x))
  }
  sprintf("%s vector of length %d", article(typeof(x)), length(x))
}

abort_arg <- function(arg, expected, x, call = NULL) {
  stop(sprintf("`%s` must be %s, not %s.", arg, expected, describe_value(x)),
       call. = FALSE)
}

is_whole <- function(x) {
  is.numeric(x) && length(x) == 1L && !is.na(x) && is.finite(x) &&
    abs(x - round(x)) < 1e-8
}

# Whole numbers become integers, so none may pass the integer range.
check_whole <- function(x, arg, min = -Inf, max = .Machine$integer.max) {
  int_max <- .Machine$integer.max
  stated <- max < int_max
  max <- min(max, int_max)
  if (!is_whole(x) || x < min || x > max) {
    bound <- if (stated) sprintf("between %s and %s", format(min), format(max))
             else if (is_whole(x) && x > max) sprintf("between %s and %d (the integer range)", format(min), int_max)
             else sprintf(">= %s", format(min))
    abort_arg(arg, sprintf("a whole number %s", bound), x)
  }
  as.integer(round(x))
}

check_number <- function(x, arg, min = -Inf, max = Inf, open_min = FALSE) {
  ok <- is.numeric(x) && length(x) == 1L && !is.na(x) && is.finite(x) &&
    (if (open_min) x > min else x >= min) && x <= max
  if (!ok) {
    rel <- if (open_min) ">" else ">="
    bound <- if (is.finite(min) && is.finite(max)) sprintf(" in [%s, %s]", min, max)
             else if (is.finite(min)) sprintf(" %s %s", rel, min) else ""
    abort_arg(arg, sprintf("a single finite number%s", bound), x)
  }
  as.numeric(x)
}

check_flag <- function(x, arg) {
  if (!is.logical(x) || length(x) != 1L || is.na(x)) abort_arg(arg, "TRUE or FALSE", x)
  x
}

check_choice <- function(x, choices, arg) {
  if (!is.character(x) || length(x) != 1L || is.na(x))
    abort_arg(arg, sprintf("one of %s", paste0("\"", choices, "\"", collapse = ", ")), x)
  hit <- pmatch(x, choices)
  if (is.na(hit))
    stop(sprintf("`%s` must be one of %s, not \"%s\".", arg,
                 paste0("\"", choices, "\"", collapse = ", "), x), call. = FALSE)
  choices[hit]
}

# Index of the first non-finite element (0 if none), without allocating a
# logical copy (the data may be large).
first_nonfinite <- function(x) {
  .Call(C_first_nonfinite, if (is.double(x)) x else as.double(x))
}

all_finite <- function(x) first_nonfinite(x) == 0

check_finite_numeric <- function(x, arg) {
  if (!is.numeric(x)) abort_arg(arg, "numeric", x)
  bad <- first_nonfinite(x)
  if (bad > 0)
    stop(sprintf("`%s` must contain only finite values; element %s is %s.",
                 arg, format(bad), format(x[bad])), call. = FALSE)
  invisible(x)
}

# The design matrix: a numeric matrix (or a vector when d = 1, or a data frame
# of numeric columns), returned as a double matrix. A double matrix comes back
# as it is, never copied (the data may be large): its column names, or x1..xd,
# come from x_names().
check_x <- function(x, arg = "x") {
  if (is.data.frame(x)) {
    num <- vapply(x, is.numeric, logical(1))
    if (!all(num))
      stop(sprintf("`%s` must have only numeric columns; column \"%s\" is %s.", arg,
                   names(x)[!num][1], class(x[[which(!num)[1]]])[1]), call. = FALSE)
    x <- as.matrix(x)
  }
  if (is.null(dim(x))) {
    if (!is.numeric(x)) abort_arg(arg, "a numeric matrix or vector", x)
    x <- matrix(x, ncol = 1L)
  }
  if (!is.matrix(x) || !is.numeric(x)) abort_arg(arg, "a numeric matrix or vector", x)
  if (ncol(x) < 1L) stop(sprintf("`%s` must have at least one column.", arg), call. = FALSE)
  if (!is.double(x)) storage.mode(x) <- "double"
  check_finite_numeric(x, arg)
  x
}

x_names <- function(x) {
  nm <- colnames(x)
  if (is.null(nm)) paste0("x", seq_len(ncol(x))) else nm
}

# The same check as is_whole(), elementwise.
is_whole_vec <- function(x) is.finite(x) & abs(x - round(x)) < 1e-8

# The degree of a polynomial expert, NULL for the other experts.
check_degree <- function(degree, expert) {
  if (expert != "polynomial") return(NULL)
  if (is.null(degree)) stop("`degree` must be given for the polynomial expert.", call. = FALSE)
  check_whole(degree, "degree", min = 1)
}

check_params <- function(x, arg) {
  if (!inherits(x, "moe_params"))
    abort_arg(arg, "a `moe_params` object (see ?moe_params)", x)
  invisible(x)
}

check_x_dim <- function(x, d, arg = "x") {
  x <- check_x(x, arg)
  if (ncol(x) != d)
    stop(sprintf("`%s` must have d = %d column%s (the model's inputs), not %d.", arg, d,
                 if (d == 1L) "" else "s", ncol(x)), call. = FALSE)
  x
}

check_y <- function(y, n) {
  if (is.matrix(y) && ncol(y) == 1L) y <- drop(y)
  if (!is.numeric(y) || !is.null(dim(y))) abort_arg("y", "a numeric vector", y)
  if (length(y) != n)
    stop(sprintf("`y` must have one value per row of `x` (n = %d), not %d values.", n, length(y)),
         call. = FALSE)
  if (!is.double(y)) y <- as.double(y)
  check_finite_numeric(y, "y")
  y
}

# `...` of an exported function that takes none, there to catch misspelt
# arguments.
check_dots_empty <- function(...) {
  if (...length()) {
    nm <- names(list(...))
    what <- if (is.null(nm) || !nzchar(nm[1L])) "an unnamed argument" else sprintf("`%s`", nm[1L])
    stop(sprintf("Unknown argument %s: check the spelling of the arguments.", what), call. = FALSE)
  }
}
