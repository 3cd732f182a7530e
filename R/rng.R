# Reproducible randomness without touching the session's generator: studies,
# the bootstrap of rate_table() and the default evaluation sample of the
# losses draw from their own L'Ecuyer-CMRG streams and put the session's
# .Random.seed (or its absence) and RNG kinds back afterwards.

# Run expr with the RNG state `seed` (a .Random.seed vector, or a number for
# set.seed with the L'Ecuyer-CMRG generator), then put the session's state back.
with_rng <- function(seed, expr) {
  restore <- rng_save()
  on.exit(rng_restore(restore), add = TRUE)
  rng_set(seed)
  expr
}

rng_set <- function(seed) {
  if (length(seed) == 1L) {
    set.seed(seed, kind = "L'Ecuyer-CMRG", normal.kind = "Inversion", sample.kind = "Rejection")
  } else {
    assign(".Random.seed", seed, envir = globalenv())
  }
  invisible(NULL)
}

rng_save <- function() {
  list(seed = get0(".Random.seed", envir = globalenv(), inherits = FALSE), kind = RNGkind())
}

rng_restore <- function(saved) {
  if (is.null(saved$seed)) {
    suppressWarnings(RNGkind(saved$kind[1L], saved$kind[2L], saved$kind[3L]))
    if (exists(".Random.seed", envir = globalenv(), inherits = FALSE))
      rm(".Random.seed", envir = globalenv())
  } else {
    assign(".Random.seed", saved$seed, envir = globalenv())
  }
}
