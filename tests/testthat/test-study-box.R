# The box of a study (R/study-box.R): chosen to hold the truth and every
# start, stated in one line, given to every fit, counted in `at_bound`, part
# of the cache key, and checked.

test_that("the automatic box is twice the largest parameter of the truth and the starts", {
  st <- shared_study()
  b <- st$setup$bounds
  # sigmoid: dead copies of atom 1 (slope 3) have beta0 = -(8 + max |3 x|) over x_eval
  dead_beta0 <- -(8 + max(abs(3 * st$x_eval)))
  expect_identical(b$half, ceiling(2 * abs(dead_beta0)))
  expect_identical(c(b$lower, b$upper), c(-b$half, b$half))
  expect_identical(b$gates$sigmoid, list(lower = -b$half, upper = b$half))
  expect_identical(sigmoe:::study_box_label(st),
                   sprintf("box [-%d, %d] on every free parameter", b$half, b$half))
  expect_output(print(st), sprintf("box \\[-%d, %d\\] on every free parameter \\(bounds = \"auto\"\\)",
                                   b$half, b$half))
  # every start and the truth lie inside, with room to spare
  for (e in names(st$setup$starts)) for (g in names(st$setup$starts[[e]]))
    for (s in st$setup$starts[[e]][[g]])
      expect_lte(max(abs(sigmoe:::params_theta(s))), b$half / 2)
  # a truth with small parameters gets the smallest box, [-10, 10]
  flat <- moe_params(beta0 = c(0.3, -1), beta1 = c(0, 2), a = c(1, -1), b = c(0, 0.5), expert = "relu")
  z <- convergence_study(flat, n = c(150, 300), reps = 1, k = 3, sd = 0.1, seed = 1, gating = "sigmoid")
  expect_identical(z$setup$bounds$half, 10)
  # every fit gets the box
  cell <- study_replay(st, gating = "softmax", n = 150, rep = 1, expert = "linear")
  expect_true(all(cell$fit$lower == -b$half) && all(cell$fit$upper == b$half))
  expect_identical(cell$result$at_bound, sum(cell$fit$at_bound))
})

test_that("a box can be a number, a list in moe_fit's forms, or none", {
  tr <- soft_truth()
  run <- function(...) convergence_study(tr, n = c(150, 300), reps = 1, k = 3, sd = 0.1, seed = 2,
                                         expert = "relu", ...)
  a <- run(bounds = 25)
  expect_identical(sigmoe:::study_box_label(a), "box [-25, 25] on every free parameter")
  cell <- study_replay(a, gating = "sigmoid", n = 150, rep = 1)
  expect_true(all(cell$fit$upper == 25))
  # a tight box holds fits at its bounds, and the rows count them
  t3 <- run(bounds = 3, surplus = "split")
  d <- as.data.frame(t3)
  expect_true(any(d$at_bound > 0))
  cell <- study_replay(t3, gating = "sigmoid", n = 300, rep = 1)
  expect_identical(cell$result$at_bound, sum(cell$fit$at_bound))
  expect_true(all(abs(cell$fit$theta) <= 3))
  l <- run(bounds = list(lower = list(beta1 = -20), upper = list(beta1 = 20, b = 5)))
  expect_identical(sigmoe:::study_box_label(l),
                   "box on the free parameters: beta0 free, beta1 in [-20, 20], a free, b in [-Inf, 5]")
  cell <- study_replay(l, gating = "softmax", n = 300, rep = 1)
  expect_identical(unname(cell$fit$upper[grepl("^b\\[", names(cell$fit$upper))]), rep(5, 3))
  n0 <- run(bounds = NULL)
  expect_identical(sigmoe:::study_box_label(n0), "no box (unbounded)")
  expect_output(print(n0), "no box \\(unbounded\\)")
  # a study stored before studies had a box ran unbounded
  old <- n0
  old$setup$bounds <- NULL
  expect_identical(sigmoe:::study_box_label(old), "no box (unbounded)")
})

test_that("the box is part of the cache key", {
  dir <- tempfile("study-box-cache-")
  on.exit(unlink(dir, recursive = TRUE), add = TRUE)
  tr <- soft_truth()
  run <- function(...) convergence_study(tr, n = c(150, 300), reps = 1, k = 3, sd = 0.1, seed = 2,
                                         expert = "relu", cache_dir = dir, ...)
  a <- run(bounds = 30)
  expect_identical(no_time(run(bounds = 30)), no_time(a))
  expect_error(run(bounds = 40), "differs in `bounds`")
  expect_error(run(bounds = 30, surplus = "split"), "differs in `surplus`")
})

test_that("bad `bounds` values are rejected with errors that name it", {
  tr <- soft_truth()
  run <- function(...) {
    args <- utils::modifyList(list(truth = tr, n = c(150, 300), reps = 1, k = 3, sd = 0.1, seed = 1),
                              list(...))
    do.call(convergence_study, args)
  }
  expect_error(run(bounds = "none"), "`bounds` must be \"auto\", NULL, a number > 0")
  expect_error(run(bounds = -1), "`bounds` must be \"auto\", NULL, a number > 0")
  expect_error(run(bounds = Inf), "`bounds` must be \"auto\", NULL, a number > 0")
  expect_error(run(bounds = c(1, 2)), "`bounds` must be \"auto\"")
  expect_error(run(bounds = list(low = 1)), "`bounds` must be \"auto\"")
  expect_error(run(bounds = list(lower = "a")),
               "`bounds` must be a box for the fitted models: `lower` must be")
  expect_error(run(bounds = list(lower = 1, upper = 2)), "`bounds` must be a box .* must contain 0")
  # the dead copies of the sigmoid start need beta0 = -(8 + 3 max|x|)
  expect_error(run(bounds = 5), paste0("`bounds` must contain the truth and every start of the study: ",
                                       "the \"dead\" start of the sigmoid gate"))
  expect_error(run(bounds = 2.5, surplus = "split"), "the \"split\" start of the sigmoid gate")
  # the truth's atom in the place of its copy
  expect_error(run(bounds = list(lower = -10, upper = list(beta1 = c(10, 2, 10), beta0 = 10, a = 10,
                                                            b = 10)), surplus = "split"),
               "the \"split\" start .* beta1\\[2,1\\] = 3")
})
