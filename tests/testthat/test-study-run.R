# Running the tasks of a study (R/study-run.R): the same results under any
# plan, the same numbers as a plain loop of fits, the kind of start that won
# and the random stream of each gate.

test_that("results are identical under sequential and multisession plans", {
  skip_on_cran()
  skip_if_not_installed("future.apply")
  skip_if_not_installed("future")
  # the workers must find this installation of sigmoe
  old_libs <- Sys.getenv("R_LIBS")
  Sys.setenv(R_LIBS = paste(.libPaths(), collapse = .Platform$path.sep))
  old_plan <- future::plan(future::sequential)
  on.exit({
    future::plan(old_plan)
    Sys.setenv(R_LIBS = old_libs)
  }, add = TRUE)
  a <- tiny_study()
  future::plan(future::multisession, workers = 2)
  b <- tiny_study()
  expect_identical(b$workers, 2L)
  expect_identical(no_time(a), no_time(b))
})

test_that("split starts divide an atom's weight among its copies", {
  x <- seq(-1, 1, by = 0.05)
  soft <- soft_truth()
  sig <- sigmoe:::truth_for_gate(soft, "sigmoid")
  # splitting the softmax reference atom, re-expressed relative to its last copy
  s1 <- sigmoe:::surplus_start(soft, 4, split = c(2, 2))
  expect_identical(s1$k, 4L)
  expect_equal(moe_mean(s1, x), moe_mean(soft, x))
  expect_equal(s1$beta0, c(0.5 + log(3), 0, 0, 0))
  expect_equal(as.numeric(voronoi_loss(s1, soft)), 0, tolerance = 1e-14)
  # sigmoid: two copies with half the weight each
  s2 <- sigmoe:::surplus_start(sig, 3, split = 1)
  expect_equal(plogis(s2$beta0[1:2]), rep(plogis(sig$beta0[1]) / 2, 2))
  expect_equal(unname(s2$beta1[1:2, 1]), rep(unname(sig$beta1[1, 1]), 2))
  expect_equal(as.numeric(voronoi_loss(s2, sig)), 0, tolerance = 1e-14)
  # noise comes from the RNG, and a box takes the noisy start back in
  set.seed(1)
  s3 <- sigmoe:::noisy_start(s2, init_sd = 0.05)
  expect_false(isTRUE(all.equal(s3$b, s2$b)))
  set.seed(1)
  s4 <- sigmoe:::noisy_start(s2, init_sd = 0.5, lower = -3, upper = 3)
  expect_true(all(abs(sigmoe:::params_theta(s4)) <= 3))
  expect_true(any(abs(sigmoe:::params_theta(s4)) == 3))
})

test_that("with bounds = NULL and split starts a study is a plain loop of unbounded fits", {
  # Everything below is written out from the documented design, not from the
  # study's code: the L'Ecuyer-CMRG streams, the evaluation sample, the data,
  # today's split start with its noise, one unbounded local search per fit.
  tr <- soft_truth()
  sizes <- c(150, 300)
  reps <- 2L
  st <- convergence_study(tr, n = sizes, reps = reps, k = 3, sd = 0.1, seed = 7, eval_n = 500,
                          bounds = NULL, surplus = "split")
  got <- as.data.frame(st)

  saved <- get0(".Random.seed", envir = globalenv(), inherits = FALSE)
  kinds <- RNGkind()
  on.exit({
    RNGkind(kinds[1L], kinds[2L], kinds[3L])
    if (is.null(saved)) rm(".Random.seed", envir = globalenv())
    else assign(".Random.seed", saved, envir = globalenv())
  }, add = TRUE)
  set.seed(7, kind = "L'Ecuyer-CMRG", normal.kind = "Inversion", sample.kind = "Rejection")
  s0 <- .Random.seed
  x_eval <- matrix(runif(500, -1, 1), ncol = 1)
  truths <- list(
    sigmoid = moe_params(beta0 = c(0.5, -0.5), beta1 = c(3, -3), a = c(1, -1), b = c(0.2, 0.1),
                         gating = "sigmoid", expert = "relu"),
    softmax = tr)
  starts <- list(
    sigmoid = moe_params(beta0 = qlogis(plogis(c(0.5, 0.5, -0.5)) / c(2, 2, 1)), beta1 = c(3, 3, -3),
                         a = c(1, 1, -1), b = c(0.2, 0.2, 0.1), gating = "sigmoid", expert = "relu"),
    softmax = moe_params(beta0 = c(0.5 - log(2), 0.5 - log(2), 0), beta1 = c(3, 3, 0),
                         a = c(1, 1, -1), b = c(0.2, 0.2, 0.1), gating = "softmax", expert = "relu"))
  s <- s0
  want <- NULL
  for (n in sizes) for (r in seq_len(reps)) {
    s <- parallel::nextRNGStream(s)
    assign(".Random.seed", s, envir = globalenv())
    x <- matrix(runif(n, -1, 1), ncol = 1)
    y <- moe_mean(tr, x) + rnorm(n, 0, 0.1)
    sub <- s
    for (g in c("sigmoid", "softmax")) {
      sub <- parallel::nextRNGSubStream(sub)
      assign(".Random.seed", sub, envir = globalenv())
      theta <- sigmoe:::params_theta(starts[[g]])
      start <- sigmoe:::theta_params(theta + rnorm(length(theta), 0, 0.05), starts[[g]])
      fit <- moe_fit(x, y, 3, gating = g, expert = "relu", start = start, nstart = 0)
      want <- rbind(want, data.frame(
        gating = g, n = n, rep = r, sse = fit$sse,
        voronoi = as.numeric(voronoi_loss(fit, truths[[g]])),
        expert_error = max(expert_error(fit, truths[[g]], x_eval))))
    }
  }
  got <- got[order(got$n, got$rep, got$gating), c("gating", "n", "rep", "sse", "voronoi", "expert_error")]
  want <- want[order(want$n, want$rep, want$gating), ]
  rownames(got) <- rownames(want) <- NULL
  expect_equal(got$n, want$n)
  expect_identical(got$sse, want$sse)
  expect_identical(got$voronoi, want$voronoi)
  expect_identical(got$expert_error, want$expert_error)
  expect_identical(unique(as.data.frame(st)$at_bound), 0L)
  expect_identical(sigmoe:::study_box_label(st), "no box (unbounded)")
})

test_that("a global search records which kind of start won and by how much", {
  st <- tiny_study(init = "global", nstart = 2)
  d <- as.data.frame(st)
  expect_identical(unique(d$init), "global")
  expect_identical(st$setup$surplus, c(sigmoid = "dead+scaled", softmax = "split+dead"))
  # linear and ReLU experts are homogeneous: both run the scaled copies
  expect_identical(unique(d$surplus[d$gating == "sigmoid"]), "dead+scaled")
  expect_true(all(d$start %in% c("split", "dead", "scaled", "data")))
  expect_true(all(d$start[d$gating == "softmax"] %in% c("split", "dead", "data")))
  expect_true(all(is.finite(d$sse_gap) & d$sse_gap >= 0))
  # the winner is the fit's lowest SSE; the gap is measured to the best other kind
  cell <- study_replay(st, gating = "sigmoid", n = 300, rep = 1, expert = "relu")
  fs <- cell$fit$starts
  kinds <- c(names(cell$start), rep("data", 2L))
  best <- which.min(fs$sse)
  expect_identical(cell$result$start, kinds[best])
  other <- kinds != kinds[best]
  expect_equal(cell$result$sse_gap, (min(fs$sse[other]) - fs$sse[best]) / fs$sse[best])
  expect_identical(fs$source, c("user", "user", "data", "data"))
  expect_identical(cell$fit$sse, min(fs$sse))
})

test_that("near-truth and multistart rows name their start and have no gap", {
  d <- as.data.frame(shared_study())
  expect_identical(d$start, d$surplus)
  expect_identical(unique(d$start[d$gating == "sigmoid"]), "dead")
  expect_identical(unique(d$start[d$gating == "softmax"]), "split")
  expect_true(all(is.na(d$sse_gap)))
  expect_true(all(d$at_bound >= 0L))
  m <- as.data.frame(tiny_study(init = "multistart", nstart = 2))
  expect_identical(unique(m$start), "data")
  expect_true(all(is.na(m$surplus)) && all(is.na(m$sse_gap)))
})

test_that("gate g starts from the g-th sub-stream of its task's stream", {
  s <- sigmoe:::with_rng(1L, .Random.seed)
  substream <- function(seed, times) {
    for (i in seq_len(times)) seed <- parallel::nextRNGSubStream(seed)
    seed
  }
  expect_identical(sigmoe:::gate_seed(s, "sigmoid"), substream(s, 1L))
  expect_identical(sigmoe:::gate_seed(s, "softmax"), substream(s, 2L))
  expect_identical(sigmoe:::gate_seed(s, "normalized_sigmoid"), substream(s, 3L))
})
