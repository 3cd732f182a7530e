# The fits of a convergence study. A study runs thousands of small fits of
# the same few models, whose arguments it has validated once, at setup; at
# n = 1e3 moe_fit()'s own checks and the moe_fit object it builds (fitted
# values, diagnostics, the table of starts) cost about as much as the local
# search. So a study fits through study_fit(): the same search as moe_fit()
# (the same starts, in the same order, in the same coordinates, the same C
# solver), with what does not depend on the data prepared once per model in
# a plan, and nothing returned but what the study records. Its results are
# those of moe_fit(), bit for bit (tests/testthat/test-study-fit.R).

# What every fit of gate g to the data of expert e shares, from the study's
# design: the model's template, its box, the coordinates' model part, the
# solver's settings, and the representations of the truth used as starts
# (as theta, each with its box for the noise). Also what the losses compare
# each fit with (study_loss_target()).
study_fit_plan <- function(setup, e, g) {
  tr <- setup$truths[[e]]
  k <- setup$k
  d <- setup$d
  degree <- tr$data$degree
  template <- moe_params(beta0 = numeric(k), beta1 = matrix(0, k, d, dimnames = list(NULL, paste0("x", seq_len(d)))),
                         a = matrix(0, k, d), b = numeric(k), gating = g, expert = e, degree = degree)
  b <- study_fit_box(setup, g)
  box <- box_theta(b$lower, b$upper, template)
  reps <- study_task_starts(setup, e, g)
  control <- check_control(setup$control)
  tg <- tr$fit[[g]]
  list(template = template, names = params_layout(template)$name, box = box,
       scaling = scaling_model(template, box), spec = params_spec(template),
       ctl = lsq_control_vector(control), control = control,
       starts = lapply(reps, params_theta),
       start_boxes = lapply(reps, function(p) box_theta(b$lower, b$upper, p)),
       loss = study_loss_target(tg, if (is.null(tg)) tr$data else tg, g))
}

# The plans of expert e: the truth's model structure, which draws the
# responses, and the plan of every gate (study_fit_plan()).
study_expert_plan <- function(setup, e) {
  data <- setup$truths[[e]]$data
  list(truth_spec = params_spec(data), truth_theta = params_theta(data),
       gates = lapply(stats::setNames(setup$gating, setup$gating), function(g) study_fit_plan(setup, e, g)))
}

# The plans of every expert of a study, made with its design.
study_fit_plans <- function(setup) {
  lapply(stats::setNames(setup$expert, setup$expert), function(e) study_expert_plan(setup, e))
}

# One fit of a study: moe_fit(x, y, k, gating, expert, degree, start = the
# representations, nstart = nstart, control, lower, upper) on a plan, with
# the starts given as theta (noise included, inside the box). Returns the
# fitted theta (the data's coordinates), the SSE, the solver's code,
# convergence and iterations, which parameters are at a bound, and the SSE of
# every start (moe_fit()'s `starts$sse`).
study_fit <- function(plan, x, y, starts, nstart) {
  tpl <- plan$template
  sc <- fit_scaling_data(x, y, plan$scaling)
  dat <- scale_data(sc, x, y)
  box_fit <- scale_box(sc, plan$box, tpl)
  prob <- list(x = dat$x, y = dat$y, sw = NULL, spec = plan$spec, ctl = plan$ctl, box = box_fit,
               yscale = sc$yscale)
  runs <- run_starts(lapply(starts, function(theta) scale_theta(sc, theta, tpl, "fit")), prob)
  if (nstart > 0L)
    runs <- c(runs, run_starts(lapply(data_starts(dat$x, dat$y, tpl, nstart, plan$control, NULL),
                                      box_project, box = box_fit), prob))
  best <- best_run(runs, sc$yscale)
  theta <- scale_theta(sc, stats::setNames(best$theta, plan$names), tpl, "data")
  list(theta = theta, sse = best$sse * sc$yscale^2, code = best$code, converged = best$converged,
       iterations = best$iterations, at_bound = box_at_bound(theta, plan$box),
       start_sse = vapply(runs, `[[`, numeric(1), "sse", USE.NAMES = FALSE) * sc$yscale^2)
}

# The same summary of a moe_fit object (a study's fit through moe_fit(), when
# it keeps the fits or has losses of its own that take them).
study_fit_result <- function(fit) {
  list(theta = fit$theta, sse = fit$sse, code = fit$convergence$code,
       converged = fit$convergence$converged, iterations = fit$convergence$iterations,
       at_bound = fit$at_bound, start_sse = fit$starts$sse)
}
