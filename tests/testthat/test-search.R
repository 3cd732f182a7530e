# The default search (R/search.R): the expert moves, their stopping rule and
# the choice of minima to polish, each checked against a computation of its
# own, and what the moves buy on a rugged landscape.

test_that("replace_expert() moves one expert's gate and expert parameters, and nothing else", {
  # sigmoid gate, d = 2, with output weights: every parameter of expert j
  # comes from expert i of the donor
  p <- moe_params(beta0 = c(0.1, 0.2, 0.3), beta1 = matrix(1:6, 3), a = matrix(7:12, 3),
                  b = c(-1, -2, -3), c = c(2, 3, 4), gating = "sigmoid", expert = "relu")
  q <- moe_params(beta0 = c(-0.1, -0.2, -0.3), beta1 = matrix(-(1:6), 3), a = matrix(-(7:12), 3),
                  b = c(1, 2, 3), c = c(-2, -3, -4), gating = "sigmoid", expert = "relu")
  theta <- sigmoe:::params_theta(p)
  out <- sigmoe:::replace_expert(theta, sigmoe:::params_theta(q), 3L, 1L, p)
  r <- sigmoe:::theta_params(out, p)
  expect_identical(r$beta0, c(-0.3, 0.2, 0.3))
  expect_identical(unname(r$beta1), rbind(c(-3, -6), c(2, 5), c(3, 6)))
  expect_identical(unname(r$a), rbind(c(-9, -12), c(8, 11), c(9, 12)))
  expect_identical(r$b, c(3, -2, -3))
  expect_identical(r$c, c(-4, 3, 4))
  expect_null(names(out))
  # softmax: the reference expert k has gate 0 relative to itself, which is
  # what another expert receives from it; it receives only an expert part
  s <- moe_params(beta0 = c(1, 2, 0), beta1 = matrix(c(3, 4, 0), 3), a = matrix(5:7, 3),
                  b = c(8, 9, 10), gating = "softmax", expert = "linear")
  t2 <- moe_params(beta0 = c(-1, -2, 0), beta1 = matrix(c(-3, -4, 0), 3), a = matrix(-(5:7), 3),
                   b = c(-8, -9, -10), gating = "softmax", expert = "linear")
  from_ref <- sigmoe:::theta_params(
    sigmoe:::replace_expert(sigmoe:::params_theta(s), sigmoe:::params_theta(t2), 3L, 1L, s), s)
  expect_identical(from_ref$beta0, c(0, 2, 0))
  expect_identical(unname(from_ref$beta1[, 1]), c(0, 4, 0))
  expect_identical(unname(from_ref$a[, 1]), c(-7, 6, 7))
  expect_identical(from_ref$b, c(-10, 9, 10))
  to_ref <- sigmoe:::theta_params(
    sigmoe:::replace_expert(sigmoe:::params_theta(s), sigmoe:::params_theta(t2), 1L, 3L, s), s)
  expect_identical(to_ref$beta0, c(1, 2, 0))
  expect_identical(unname(to_ref$beta1[, 1]), c(3, 4, 0))
  expect_identical(unname(to_ref$a[, 1]), c(5, 6, -5))
  expect_identical(to_ref$b, c(8, 9, -8))
})

# The moves of a fit's starts table, and where the rule says they stop,
# recomputed from the table: a move improves when its SSE is below the best
# before it by more than agree_tol relative.
moves_rule <- function(st, ctl) {
  screen <- st[st$stage != "polish", ]
  first <- which(screen$source != "data")
  if (length(first) == 0L) return(list(moves = 0L, stop_at = 0L))
  best <- min(screen$sse[seq_len(first[1] - 1L)])
  stale <- 0L
  for (h in seq_along(first)) {
    s <- screen$sse[first[h]]
    if (s < best - ctl$agree_tol * abs(best)) stale <- 0L else stale <- stale + 1L
    best <- min(best, s)
    if (stale >= ctl$patience || h >= ctl$hops) return(list(moves = length(first), stop_at = h))
  }
  list(moves = length(first), stop_at = NA_integer_)
}

test_that("the moves take turns and stop after `patience` fruitless moves or `hops` moves", {
  mc <- MASS::mcycle
  for (s in 1:3) {
    set.seed(s)
    fit <- quietly(moe_fit(mc$times, mc$accel, 3))
    st <- fit$starts
    ctl <- moe_control()
    moves <- st$source[st$source != "data"]
    expect_true(length(moves) > 0)
    # the data starts come first, the moves after them
    expect_true(all(st$source[seq_len(sum(st$source == "data"))] == "data"))
    # swap and cross take turns
    expect_identical(moves, rep_len(c("swap", "cross"), length(moves)))
    rule <- moves_rule(st, ctl)
    expect_identical(rule$stop_at, rule$moves)
  }
  # a short patience, and a cap on the moves
  set.seed(4)
  short <- quietly(moe_fit(mc$times, mc$accel, 3, control = list(patience = 2)))
  rule <- moves_rule(short$starts, moe_control(patience = 2))
  expect_identical(rule$stop_at, rule$moves)
  # one expert: the moves are jumps
  set.seed(4)
  one <- quietly(moe_fit(mc$times, mc$accel, 1, expert = "linear", control = list(patience = 3)))
  moves <- one$starts$source[one$starts$source != "data"]
  expect_true(length(moves) >= 3 && all(moves == "jump"))
  expect_identical(moves_rule(one$starts, moe_control(patience = 3))$stop_at, length(moves))
  set.seed(4)
  capped <- quietly(moe_fit(mc$times, mc$accel, 3, control = list(hops = 5, patience = 1000)))
  expect_identical(sum(capped$starts$source != "data"), 5L)
  set.seed(4)
  none <- quietly(moe_fit(mc$times, mc$accel, 3, control = list(hops = 0)))
  expect_true(all(none$starts$source == "data"))
})

test_that("distinct_minima() polishes one run per basin, by fitted values", {
  truth <- moe_params(c(0, 0), c(6, -6), c(1, -1), c(0.2, 0.2))
  set.seed(3)
  x <- matrix(stats::runif(400, -2, 2))
  spec <- sigmoe:::params_spec(truth)
  th <- sigmoe:::params_theta(truth)
  f0 <- sigmoe:::model_eval_theta(spec, th, x)
  y <- f0 + stats::rnorm(400, 0, 0.1)
  other <- th
  other[["b[2]"]] <- other[["b[2]"]] + 0.5
  nudged <- th
  # a change of the fitted values far below 2% of the residual sd
  nudged[["b[1]"]] <- nudged[["b[1]"]] + 1e-6
  run <- function(theta) list(theta = unname(theta),
                              sse = sum((y - sigmoe:::model_eval_theta(spec, theta, x))^2))
  runs <- list(run(other), run(nudged), run(th))
  sub <- list(x = x, y = y, sw = NULL)
  # by SSE: th, nudged, other; nudged is th's basin, so other comes second
  keep <- sigmoe:::distinct_minima(runs, sub, spec, 3L)
  sse <- vapply(runs, `[[`, 0, "sse")
  expect_identical(keep, c(order(sse)[1], 1L))
  expect_identical(sigmoe:::distinct_minima(runs, sub, spec, 1L), order(sse)[1])
  # non-finite SSEs are never polished
  runs[[3]]$sse <- NaN
  expect_false(3L %in% sigmoe:::distinct_minima(runs, sub, spec, 3L))
  # the distance is weighted as the fit is: where `other` differs from the
  # truth (the second expert's side, x < 0) carries no weight, it is the
  # truth's basin too
  f_other <- sigmoe:::model_eval_theta(spec, other, x)
  differs <- abs(f_other - f0) > 1e-8
  expect_true(any(differs) && !all(differs))
  runs <- list(run(th), run(other))
  wsub <- list(x = x, y = y, sw = ifelse(differs, 0, 1))
  expect_identical(sigmoe:::distinct_minima(runs, wsub, spec, 3L), order(vapply(runs, `[[`, 0, "sse"))[1])
  expect_length(sigmoe:::distinct_minima(runs, sub, spec, 3L), 2L)
})

test_that("on a rugged landscape the default search does as well as 200 random starts", {
  # mcycle with ReLU experts without output weights: a random start reaches
  # the best basin about once in several hundred
  mc <- MASS::mcycle
  for (s in 1:2) {
    set.seed(1000 + s)
    many <- quietly(moe_fit(mc$times, mc$accel, 3, nstart = 200))
    set.seed(s)
    fit <- quietly(moe_fit(mc$times, mc$accel, 3))
    expect_lte(fit$sse, many$sse * 1.001)
  }
})

test_that("with one expert the jumps reach a minimum that no data start reaches", {
  # one linear expert under a sigmoid gate on mcycle: the data-driven starts
  # end in a poor minimum (the gate shuts the expert off)
  mc <- MASS::mcycle
  set.seed(2)
  many <- quietly(moe_fit(mc$times, mc$accel, 1, expert = "linear", nstart = 50))
  set.seed(2)
  fit <- quietly(moe_fit(mc$times, mc$accel, 1, expert = "linear"))
  expect_lt(fit$sse, 0.7 * many$sse)
  # the first start to get there was a jump
  first <- fit$starts$source[which(fit$starts$sse < 0.7 * many$sse)[1]]
  expect_identical(first, "jump")
  # without jumps the moves are restarts
  set.seed(2)
  flat <- quietly(moe_fit(mc$times, mc$accel, 1, expert = "linear", control = list(hop_size = 0)))
  expect_true(all(flat$starts$source %in% c("data", "swap")))
})
