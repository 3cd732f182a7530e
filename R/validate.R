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
  if (is.factor(x))
    return(sprintf("a factor of length %d with %d level%s", length(x), nlevels(x),
                   if (nlevels(x) == 1L) "" else "s"))
  # a Date, a POSIXct time, a difftime: named by their class, not their storage
  if (is.object(x)) return(sprintf("a \"%s\" object of length %d", class(x)[1L], length(x)))
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

# A mixing measure is checked whole, not by its class alone: a `moe_params`
# edited by hand (`p$d <- 3L`, `p$k <- 5L`) would otherwise reach the C model
# with a structure its arrays do not have and give a silently wrong answer.
check_params <- function(x, arg) {
  # fits often start from the same mixing measure (a user's start, a study's
  # truth): the last one that passed needs no second look
  last <- params_checked$last
  if (!is.null(last) && identical(x, last)) return(invisible(x))
  check_consistent(x, arg, "moe_params", "a `moe_params` object (see ?moe_params)", params_problem,
                   "Build it with moe_params().")
  params_checked$last <- x
  invisible(x)
}

params_checked <- new.env(parent = emptyenv())

# x of class `cls` whose first inconsistency (problem(x)) is NULL; otherwise
# an error naming arg, with the remedy.
check_consistent <- function(x, arg, cls, expected, problem, remedy) {
  if (!inherits(x, cls)) abort_arg(arg, expected, x)
  why <- problem(x)
  if (!is.null(why))
    stop(sprintf("`%s` is not a consistent `%s` object: %s. Was it edited by hand? %s", arg, cls,
                 why, remedy), call. = FALSE)
  invisible(x)
}

# The first inconsistency of a mixing measure, or NULL. The invariants are
# those moe_params() establishes; checking them costs O(k d), nothing beside
# an evaluation of the model.
params_problem <- function(p) {
  if (!is.list(p)) return("it is not a list")
  one_of <- function(v, set) is.character(v) && length(v) == 1L && !is.na(v) && v %in% set
  quoted <- function(set) paste0("\"", set, "\"", collapse = ", ")
  if (!one_of(p$gating, gating_types))
    return(sprintf("its `gating` is %s, not one of %s", describe_value(p$gating), quoted(gating_types)))
  if (!one_of(p$expert, expert_types))
    return(sprintf("its `expert` is %s, not one of %s", describe_value(p$expert), quoted(expert_types)))
  if (!is_whole(p$k) || p$k < 1)
    return(sprintf("its `k` is %s, not a whole number >= 1", describe_value(p$k)))
  if (!is_whole(p$d) || p$d < 1)
    return(sprintf("its `d` is %s, not a whole number >= 1", describe_value(p$d)))
  k <- p$k
  d <- p$d
  vec_ok <- function(v) is.numeric(v) && is.null(dim(v)) && length(v) == k
  mat_ok <- function(v) is.numeric(v) && is.matrix(v) && nrow(v) == k && ncol(v) == d
  for (nm in c("beta0", "b"))
    if (!vec_ok(p[[nm]]))
      return(sprintf("its `%s` is %s, but k = %d calls for %d numbers", nm, describe_value(p[[nm]]), k, k))
  for (nm in c("beta1", "a"))
    if (!mat_ok(p[[nm]]))
      return(sprintf("its `%s` is %s, but k = %d and d = %d call for a %d x %d numeric matrix", nm,
                     describe_value(p[[nm]]), k, d, k, d))
  if (!is.null(p$c)) {
    if (p$expert %in% c("linear", "constant"))
      return(sprintf("it has output weights `c`, which the %s expert does not take", p$expert))
    if (!vec_ok(p$c))
      return(sprintf("its `c` is %s, but k = %d calls for %d numbers (or NULL)", describe_value(p$c), k, k))
  }
  if (p$expert == "polynomial") {
    if (!is_whole(p$degree) || p$degree < 1)
      return(sprintf("its `degree` is %s, but the polynomial expert needs a whole number >= 1",
                     describe_value(p$degree)))
  } else if (!is.null(p$degree)) {
    return(sprintf("its `degree` is %s, but only the polynomial expert has a degree (NULL otherwise)",
                   describe_value(p$degree)))
  }
  for (nm in c("beta0", "beta1", "a", "b", "c"))
    if (!all(is.finite(p[[nm]]))) return(sprintf("its `%s` has a value that is not finite", nm))
  if (p$expert == "constant" && any(p$a != 0))
    return("its `a` is not zero, but the constant expert ignores x")
  if (gate_reference(p$gating, k) && (p$beta0[k] != 0 || any(p$beta1[k, ] != 0)))
    return(sprintf("`beta0[%d]` and `beta1[%d, ]` of the %s must be 0", k, k,
                   reference_name(p$gating)))
  NULL
}

# A fit is checked as cheaply as a mixing measure before a method computes
# with it: a fit edited by hand (`f$theta <- f$theta[1:3]`) must give an
# error, never intervals for 3 of 8 parameters.
check_fit <- function(x, arg = "object") {
  check_consistent(x, arg, "moe_fit", "a `moe_fit` object (see ?moe_fit)", fit_problem,
                   "Fit the model again with moe_fit() or moe().")
}

# The first inconsistency of a fit, or NULL: its mixing measure, its
# structure, theta and J'J must agree (they are what vcov(), confint(),
# summary() and predict() combine).
fit_problem <- function(f) {
  p <- f$coefficients
  if (!inherits(p, "moe_params")) return("its `coefficients` are not a `moe_params` object")
  pp <- params_problem(p)
  if (!is.null(pp)) return(sprintf("its `coefficients` are inconsistent (%s)", pp))
  for (nm in c("k", "d"))
    if (!is_whole(f[[nm]]) || f[[nm]] != p[[nm]])
      return(sprintf("its `%s` is %s but its coefficients have %s = %d", nm, describe_value(f[[nm]]),
                     nm, as.integer(p[[nm]])))
  for (nm in c("gating", "expert"))
    if (!identical(f[[nm]], p[[nm]]))
      return(sprintf("its `%s` is %s but its coefficients have %s", nm, describe_value(f[[nm]]),
                     describe_value(p[[nm]])))
  if (!identical(f$degree, p$degree))
    return("its `degree` differs from that of its coefficients")
  npar <- n_free_params(p$k, p$d, p$gating, p$expert, !is.null(p$c))
  theta <- f$theta
  if (!is.numeric(theta) || !is.null(dim(theta)) || length(theta) != npar)
    return(sprintf("its `theta` is %s, but the model has %d free parameters", describe_value(theta), npar))
  if (!is_whole(f$npar) || f$npar != npar)
    return(sprintf("its `npar` is %s, but the model has %d free parameters", describe_value(f$npar), npar))
  if (!isTRUE(all.equal(unname(params_theta(p)), unname(as.double(theta)), tolerance = 1e-10)))
    return("its `theta` does not match its coefficients")
  jtj <- f$jtj
  if (!is.numeric(jtj) || !is.matrix(jtj) || nrow(jtj) != npar || ncol(jtj) != npar)
    return(sprintf("its `jtj` is %s, but the model has %d free parameters (a %d x %d matrix)",
                   describe_value(jtj), npar, npar, npar))
  for (nm in c("lower", "upper"))
    if (!is.null(f[[nm]]) && (!is.numeric(f[[nm]]) || length(f[[nm]]) != npar))
      return(sprintf("its `%s` is %s, but the model has %d free parameters", nm,
                     describe_value(f[[nm]]), npar))
  if (!is.null(f$at_bound) && (!is.logical(f$at_bound) || length(f$at_bound) != npar))
    return(sprintf("its `at_bound` is %s, but the model has %d free parameters",
                   describe_value(f$at_bound), npar))
  if (!is.matrix(f$x) || !is.numeric(f$x) || ncol(f$x) != p$d)
    return(sprintf("its `x` is %s, not a numeric matrix with d = %d columns", describe_value(f$x), p$d))
  if (!is.numeric(f$y) || length(f$y) != nrow(f$x))
    return(sprintf("its `y` is %s, not %d numbers (one per row of `x`)", describe_value(f$y), nrow(f$x)))
  for (nm in c("sse", "nobs", "df.residual"))
    if (!is.numeric(f[[nm]]) || length(f[[nm]]) != 1L || is.na(f[[nm]]))
      return(sprintf("its `%s` is %s, not a number", nm, describe_value(f[[nm]])))
  NULL
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
  # as lm() takes it, through model.response(): FALSE and TRUE as 0 and 1
  if (is.logical(y) && is.null(dim(y))) y <- as.double(y)
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
    if (is.null(nm) || !nzchar(nm[1L]))
      stop(sprintf(paste0("%d value%s given beyond the arguments the function takes; name the ",
                          "arguments (see its help page)."), ...length(),
                   if (...length() > 1L) "s" else ""), call. = FALSE)
    stop(sprintf("Unknown argument `%s`: check the spelling of the arguments.", nm[1L]), call. = FALSE)
  }
}

# An argument a function cannot run without, asked for by name rather than
# left to R's "argument is missing, with no default" (which names no
# expectation). `what` says what the argument is.
abort_missing <- function(arg, what) {
  stop(sprintf("`%s` must be given: %s.", arg, what), call. = FALSE)
}

# A choice argument whose default is the vector of its choices, as with
# match.arg(): the untouched default is the first choice; anything else must
# be one of them (unique abbreviations allowed) and is named in the error.
check_choice_arg <- function(x, choices, arg) {
  if (identical(x, choices)) return(choices[1L])
  check_choice(x, choices, arg)
}

# Digits of a print method: what print() and format() accept. `min = 0` for
# methods whose digits are decimal places (formatC(format = "f")), where 0
# means none.
check_digits <- function(digits, arg = "digits", min = 1) {
  check_whole(digits, arg, min = min, max = 22)
}

# Colours of a plot: a vector of colour names, "#RRGGBB" codes or palette
# numbers that grDevices::col2rgb() understands.
check_colours <- function(col, arg = "col") {
  expected <- "a vector of colours (names such as \"red\", \"#RRGGBB\" codes or palette numbers)"
  if (!is.atomic(col) || !(is.character(col) || is.numeric(col)) || length(col) < 1L ||
      !is.null(dim(col)) || anyNA(col))
    abort_arg(arg, expected, col)
  ok <- vapply(col, function(v) !inherits(try(grDevices::col2rgb(v), silent = TRUE), "try-error"),
               logical(1))
  if (!all(ok))
    stop(sprintf("`%s` must be %s; %s is not a colour.", arg, expected,
                 describe_value(col[!ok][1L])), call. = FALSE)
  col
}

# A confidence level: one number strictly between 0 and 1, with the same
# message for 1.5 as for 1 (`expected` says it).
check_level <- function(level, arg = "level", expected = "a number strictly between 0 and 1") {
  if (!is.numeric(level) || length(level) != 1L || !is.finite(level) || level <= 0 || level >= 1)
    abort_arg(arg, expected, level)
  as.double(level)
}
