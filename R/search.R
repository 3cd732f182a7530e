# The search for the global minimum of one fit. The least-squares objective
# of a mixture of experts has many local minima, so a fit runs many local
# searches; this file decides which, and when to stop.
#
# The default search (nstart = NULL) screens data-driven starts on a
# subsample, in batches, until (after at least `min_starts`) the best SSE has
# been reached by `agree` starts (the minimum is then found from several
# basins, the usual sign that it is the global one) or `max_starts` have run;
# then it hops `hops` times from the best minimum (a random jump of relative
# size `hop_size`, then a local search), and polishes the best few distinct
# minima on all the data. A fixed nstart runs that many data-driven starts on
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
  list(source = rep_len(as.character(source), m), stage = rep_len(as.character(stage), m),
       sse = vapply(runs, `[[`, numeric(1), "sse") * yscale^2,
       code = vapply(runs, `[[`, integer(1), "code"),
       converged = vapply(runs, `[[`, logical(1), "converged"),
       iterations = vapply(runs, `[[`, integer(1), "iterations"))
}

# The fit's table of starts from parts made by runs_table(), numbered in
# order. Built as a data frame directly: data.frame(), rbind() and cbind()
# cost a fit with one start several times its local search.
starts_table <- function(parts) {
  cols <- c("source", "stage", "sse", "code", "converged", "iterations")
  out <- lapply(stats::setNames(cols, cols), function(nm) unlist(lapply(parts, `[[`, nm), use.names = FALSE))
  # a column of no rows keeps its type
  proto <- list(source = character(0), stage = character(0), sse = numeric(0), code = integer(0),
                converged = logical(0), iterations = integer(0))
  for (nm in cols) if (is.null(out[[nm]])) out[[nm]] <- proto[[nm]]
  m <- length(out$sse)
  structure(c(list(start = seq_len(m)), out), class = "data.frame", row.names = .set_row_names(m))
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
  batch <- control$agree + 1L
  runs <- list()
  thetas <- list()
  done <- 0L
  repeat {
    m <- min(batch, control$max_starts - done)
    new <- lapply(data_starts(sub$x, sub$y, template, m, control, sub_weights, from = done + 1L),
                  box_project, box = prob$box)
    runs <- c(runs, run_starts(new, sub))
    thetas <- c(thetas, new)
    done <- done + m
    sse <- vapply(runs, `[[`, numeric(1), "sse")
    # a popular local basin can collect `agree` starts early on, so the rule
    # only applies after `min_starts`
    if (done >= control$min_starts && any(is.finite(sse)) &&
        sum(near_best(sse, min(sse[is.finite(sse)]), control$agree_tol)) >= control$agree) break
    if (done >= control$max_starts) break
  }
  # basin hopping from the best minimum: its neighbourhood holds the minima a
  # rugged landscape hides from random starts
  src <- rep("data", length(runs))
  for (h in seq_len(control$hops)) {
    sse <- vapply(runs, `[[`, numeric(1), "sse")
    if (!any(is.finite(sse))) break
    best <- runs[[which.min(ifelse(is.finite(sse), sse, Inf))]]$theta
    jump <- best + stats::rnorm(length(best), 0, control$hop_size) * (abs(best) + 0.1)
    runs <- c(runs, run_starts(list(box_project(jump, prob$box)), sub))
    src <- c(src, "hop")
  }
  tab <- runs_table(runs, src, if (screen) "screen" else "full", prob$yscale)
  if (!screen) return(list(runs = runs, table = list(tab)))
  # polish the best distinct screening minima on all the data
  sse <- tab$sse
  order_ok <- order(sse)[is.finite(sse[order(sse)])]
  keep <- integer(0)
  for (i in order_ok) {
    if (length(keep) >= control$polish) break
    if (!any(near_best(sse[keep], sse[i], control$agree_tol))) keep <- c(keep, i)
  }
  final <- run_starts(lapply(runs[keep], `[[`, "theta"), prob)
  ptab <- runs_table(final, "data", "polish", prob$yscale)
  list(runs = final, table = list(tab, ptab))
}
