# The search for the global minimum of one fit. The least-squares objective
# of a mixture of experts has many local minima, so a fit runs many local
# searches; this file decides which, and when to stop.
#
# The default search (nstart = NULL) screens data-driven starts on a
# subsample, in batches, until (after at least `min_starts`) the best SSE has
# been reached by `agree` starts (the minimum is then found from several
# basins, the usual sign that it is the global one) or `max_starts` have run;
# then it moves from the best minimum (search_moves(): an iterated local
# search that changes one expert at a time) until `patience` moves in a row
# found nothing better, and polishes the best few minima with distinct fitted
# values on all the data. A fixed nstart runs that many data-driven starts on
# all the data.

# One local search per start, all on the same data. Returns the runs.
run_starts <- function(thetas, prob) {
  lapply(thetas, function(theta)
    lsq_search(prob$spec, unname(theta), prob$x, prob$y, prob$ctl, solver_bound(prob$box$lower),
               solver_bound(prob$box$upper), prob$sw))
}

# The summary rows of the runs (SSE in the data's units) as a list of
# columns; starts_table() binds such parts into the fit's `starts`.
runs_table <- function(runs, source, stage, yscale) {
  m <- length(runs)
  # the four numbers of every run in one sweep (code, iterations and
  # converged are exact as doubles)
  v <- vapply(runs, function(r) c(r$sse, r$code, r$converged, r$iterations), numeric(4))
  list(source = rep_len(as.character(source), m), stage = rep_len(as.character(stage), m),
       sse = v[1L, ] * yscale^2, code = as.integer(v[2L, ]), converged = as.logical(v[3L, ]),
       iterations = as.integer(v[4L, ]))
}

# The fit's table of starts from parts made by runs_table(), numbered in
# order. Built as a data frame directly: data.frame(), rbind() and cbind()
# cost a fit with one start several times its local search.
starts_table <- function(parts) {
  cols <- c("source", "stage", "sse", "code", "converged", "iterations")
  # one part (a fit from the user's starts alone) is already the columns
  out <- if (length(parts) == 1L) parts[[1L]][cols]
         else lapply(stats::setNames(cols, cols), function(nm) unlist(lapply(parts, `[[`, nm), use.names = FALSE))
  # a column of no rows keeps its type
  proto <- list(source = character(0), stage = character(0), sse = numeric(0), code = integer(0),
                converged = logical(0), iterations = integer(0))
  for (nm in cols) if (is.null(out[[nm]])) out[[nm]] <- proto[[nm]]
  m <- length(out$sse)
  # as structure() would make it, without its overhead
  out <- c(list(start = seq_len(m)), out)
  class(out) <- "data.frame"
  attr(out, "row.names") <- .set_row_names(m)
  out
}

# The run with the smallest finite SSE (the first of equals), which the fit
# keeps; an error when no start gave a finite SSE.
best_run <- function(runs, yscale) {
  sse <- vapply(runs, `[[`, numeric(1), "sse") * yscale^2
  ok <- which(is.finite(sse))
  if (length(ok) == 0L)
    stop("Every start gave a non-finite SSE; check the scale of `x` and `y` or pass `start`.",
         call. = FALSE)
  runs[[ok[which.min(sse[ok])]]]
}

# Indices of the finite values of v, smallest first.
finite_order <- function(v) {
  o <- order(v)
  o[is.finite(v[o])]
}

# Starts whose SSE equals the best one within `tol` relative.
near_best <- function(sse, best, tol = 1e-6) {
  ok <- is.finite(sse)
  ok & abs(sse - best) <= tol * max(abs(best), .Machine$double.xmin)
}

# The screening and polishing search. `prob` is the problem in the fit's
# coordinates (x, y, sw, spec, ctl, box); returns the final runs on all the
# data and the table of every start (parts of starts_table()).
adaptive_search <- function(prob, template, control, weights) {
  n <- nrow(prob$x)
  screen <- n > control$screen_rows
  sub <- prob
  if (screen) {
    # a random subsample, drawn from R's generator like everything else
    rows <- sort(sample.int(n, control$screen_rows))
    sub$x <- prob$x[rows, , drop = FALSE]
    sub$y <- prob$y[rows]
    sub$sw <- if (is.null(prob$sw)) NULL else prob$sw[rows]
    sub_weights <- if (is.null(weights)) NULL else weights[rows]
  } else {
    sub_weights <- weights
  }
  # every data-driven start of the search uses the same rows (unless each
  # draws its own subsample)
  basis <- fixed_start_basis(sub$x, sub$y, control, sub_weights)
  batch <- control$agree + 1L
  runs <- list()
  done <- 0L
  repeat {
    m <- min(batch, control$max_starts - done)
    new <- lapply(data_starts(sub$x, sub$y, template, m, control, sub_weights, from = done + 1L,
                              basis = basis), box_project, box = prob$box)
    runs <- c(runs, run_starts(new, sub))
    done <- done + m
    sse <- vapply(runs, `[[`, numeric(1), "sse")
    # a popular local basin can collect `agree` starts early on, so the rule
    # only applies after `min_starts`
    if (done >= control$min_starts && any(is.finite(sse)) &&
        sum(near_best(sse, min(sse[is.finite(sse)]), control$agree_tol)) >= control$agree) break
    if (done >= control$max_starts) break
  }
  moved <- search_moves(runs, sub, prob$box, template, control, sub_weights, basis)
  runs <- moved$runs
  src <- c(rep("data", done), moved$source)
  tab <- runs_table(runs, src, if (screen) "screen" else "full", prob$yscale)
  if (!screen) return(list(runs = runs, table = list(tab)))
  # polish the best distinct screening minima on all the data
  keep <- distinct_minima(runs, sub, prob$spec, control$polish)
  final <- run_starts(lapply(runs[keep], `[[`, "theta"), prob)
  # a polished run keeps the source of the minimum it refines
  ptab <- runs_table(final, src[keep], "polish", prob$yscale)
  list(runs = final, table = list(tab, ptab))
}

# Iterated local search from the best minimum found so far. Each move starts
# a local search from the best minimum with one expert's parameters (its gate
# and its expert) changed; the moves take turns:
#   "swap":  expert j replaced by expert j of a fresh data-driven start (j in
#            turn 1, 2, ..., k);
#   "cross": expert j replaced by expert i of one of the ten next-best minima
#            (i, j and the minimum at random), which recombines the pieces
#            other basins found.
# With one expert these are only restarts, and the moves are jumps instead:
#   "jump":  every parameter moved by relative Gaussian noise of size
#            `hop_size` (basin hopping; swaps when hop_size = 0). On mcycle
#            with one linear expert every data start ends 61% above the
#            minimum the jumps reach. With more experts, jumps taking turns
#            with the other moves lost fits on the mcycle problems of
#            bench/multistart.R (194 of 200 development fits against 199).
# The moves stop once `patience` of them in a row did not lower the best SSE
# by more than `agree_tol` relative, or after `hops` moves. Where a random
# start reaches the best basin once in hundreds (the ReLU mixtures of
# bench/multistart.R), recombining the experts of good minima finds it far
# more often than further random starts do.
search_moves <- function(runs, sub, box, template, control, weights, basis = NULL) {
  k <- template$k
  kinds <- if (k > 1L) c("swap", "cross") else if (control$hop_size > 0) "jump" else "swap"
  sse <- vapply(runs, `[[`, numeric(1), "sse")
  source <- character(0)
  stale <- 0L
  h <- 0L
  while (h < control$hops && stale < control$patience && any(is.finite(sse))) {
    h <- h + 1L
    ok <- ifelse(is.finite(sse), sse, Inf)
    top <- which.min(ok)
    best <- runs[[top]]$theta
    kind <- kinds[(h - 1L) %% length(kinds) + 1L]
    if (kind == "cross") {
      donors <- setdiff(utils::head(finite_order(ok), 11L), top)
      if (length(donors) == 0L) kind <- "swap"
    }
    start <- switch(kind,
      swap = {
        j <- ((h - 1L) %/% length(kinds)) %% k + 1L
        # any start after the first is a random one
        fresh <- data_starts(sub$x, sub$y, template, 1L, control, weights, from = 2L, basis = basis)[[1L]]
        replace_expert(best, fresh, j, j, template)
      },
      cross = {
        donor <- runs[[donors[sample.int(length(donors), 1L)]]]$theta
        replace_expert(best, donor, sample.int(k, 1L), sample.int(k, 1L), template)
      },
      jump = best + stats::rnorm(length(best), 0, control$hop_size) * (abs(best) + 0.1))
    run <- run_starts(list(box_project(start, box)), sub)
    runs <- c(runs, run)
    source <- c(source, kind)
    new <- run[[1L]]$sse
    stale <- if (is.finite(new) && new < ok[top] - control$agree_tol * abs(ok[top])) 0L else stale + 1L
    sse <- c(sse, new)
  }
  list(runs = runs, source = source)
}

# theta with expert j's parameters (gate and expert) set to those of expert i
# of `donor` (both in the layout of `template`). Under softmax gating the
# reference expert k has no gate parameters: its gate is 0, which is what
# another expert receives from it, and it receives only the expert part.
replace_expert <- function(theta, donor, i, j, template) {
  p <- theta_params(theta, template)
  q <- theta_params(donor, template)
  p$beta0[j] <- q$beta0[i]
  p$beta1[j, ] <- q$beta1[i, ]
  p$a[j, ] <- q$a[i, ]
  p$b[j] <- q$b[i]
  if (!is.null(p$c)) p$c[j] <- q$c[i]
  unname(params_theta(p))
}

# The polished minima: the `m` best runs of the screening (by SSE) whose
# fitted values on the subsample differ two by two by more than
# `distinct_fit` times the residual standard deviation of the best run (root
# mean square, weighted as the fit is). Minima whose SSEs differ by less
# than the subsample's noise can rank the other way on all the rows, so
# several are polished; runs that ended in the same basin have nearly the
# same fitted values (and SSEs that differ only in the last digits), and one
# of them is enough.
distinct_minima <- function(runs, sub, spec, m) {
  sse <- vapply(runs, `[[`, numeric(1), "sse")
  cand <- finite_order(sse)
  if (length(cand) == 0L) return(integer(0))
  scale <- distinct_fit * sqrt(sse[cand[1L]] / length(sub$y))
  keep <- integer(0)
  kept <- list()
  for (i in cand) {
    if (length(keep) >= m) break
    f <- model_eval_theta(spec, runs[[i]]$theta, sub$x)
    far <- vapply(kept, function(g) {
      diff <- if (is.null(sub$sw)) g - f else sub$sw * (g - f)
      sqrt(mean(diff^2)) > scale
    }, logical(1))
    if (all(far)) {
      keep <- c(keep, i)
      kept[[length(kept) + 1L]] <- f
    }
  }
  keep
}

# Fitted values closer than this many residual standard deviations (RMS)
# belong to the same minimum (distinct_minima()).
distinct_fit <- 0.02
