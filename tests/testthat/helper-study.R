# Tiny convergence studies shared by the study tests (milliseconds per fit).

# A two-expert softmax truth, which is also a two-expert sigmoid truth.
soft_truth <- function(expert = "relu") {
  moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1, -1), b = c(0.2, 0.1),
             gating = "softmax", expert = expert)
}

tiny_study <- function(..., seed = 11) {
  convergence_study(soft_truth(), n = c(150, 300), reps = 2, k = 3, sd = 0.1, seed = seed,
                    expert = c("relu", "linear"), ...)
}

# The results without the timings, the only columns that may differ between runs.
no_time <- function(study) {
  d <- as.data.frame(study)
  d[setdiff(names(d), "seconds")]
}

# A tiny study whose results are replaced by synthetic losses with known
# exponents: the sigmoid gate's Voronoi loss falls as n^-1/2, the softmax
# gate's as n^-1/4, expert errors at half those rates and l2 as n^-1/2, with
# log-normal noise, over 7 sizes from 100 to 10000 and 30 replicates.
synthetic_study <- function() {
  st <- shared_study()
  n <- round(10^seq(2, 4, length.out = 7))
  grid <- expand.grid(rep = 1:30, n = n, expert = c("relu", "linear"),
                      gating = c("sigmoid", "softmax"), stringsAsFactors = FALSE)
  set.seed(1)
  noise <- function() exp(rnorm(nrow(grid), 0, 0.1))
  slope <- ifelse(grid$gating == "sigmoid", -0.5, -0.25)
  grid$voronoi <- 3 * grid$n^slope * noise()
  grid$expert_error <- 0.5 * grid$n^(slope / 2) * noise()
  grid$l2 <- grid$n^-0.5 * noise()
  st$results <- grid
  st
}

# The default tiny study, computed once, for the tests that only read it.
shared_study <- local({
  made <- NULL
  function() {
    if (is.null(made)) made <<- tiny_study()
    made
  }
})

# A tiny study whose results are a hand-made table of fit outcomes: per gate,
# expert and n (100, 400, 1600) seven replicates with losses falling as
# n^-1/2, of which some stopped at maxit (code -1), some ended with
# parameters at a bound (at_bound > 0) and some failed (an error, no losses);
# the last replicate of every cell is a stuck fit with a huge loss, which
# moves the mean and not the median.
outcome_study <- function() {
  st <- shared_study()
  grid <- expand.grid(rep = 1:7, n = c(100, 400, 1600), expert = c("relu", "linear"),
                      gating = c("sigmoid", "softmax"), stringsAsFactors = FALSE)
  m <- nrow(grid)
  set.seed(2)
  grid$voronoi <- 2 * grid$n^-0.5 * exp(rnorm(m, 0, 0.2))
  grid$voronoi[grid$rep == 7L] <- 50 * c(1, 3, 9)[match(grid$n[grid$rep == 7L], c(100, 400, 1600))]
  grid$expert_error <- grid$voronoi / 2
  grid$l2 <- grid$n^-0.5 * exp(rnorm(m, 0, 0.2))
  grid$code <- ifelse(runif(m) < 0.1 | grid$rep == 7L, -1L, 1L)
  grid$at_bound <- ifelse(runif(m) < 0.1, sample(1:3, m, replace = TRUE), 0L)
  failed <- runif(m) < 0.1 & grid$rep < 7L
  grid$error <- ifelse(failed, "singular system", NA_character_)
  grid$code[failed] <- NA_integer_
  grid$at_bound[failed] <- NA_integer_
  grid[failed, c("voronoi", "expert_error", "l2")] <- NA_real_
  st$results <- grid
  st
}

# A fitted measure as the study's losses take it (study_losses()): list(spec, theta).
loss_fit <- function(p) list(sigmoe:::params_spec(p), unname(sigmoe:::params_theta(p)))
