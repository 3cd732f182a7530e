/* sigmoe: the SIMD and fast-math part shared by the kernels.
 *
 * Included by moe.h, so that every file doing floating-point arithmetic is
 * compiled under the same rules (the pragma below), and the gates and
 * experts share one branch-free exponential and sigmoid.
 */
#ifndef SIGMOE_SIMD_H
#define SIGMOE_SIMD_H

#include <stdint.h>
#include <string.h>
#include <math.h>

/* ---- vectorisation ----
 * Elementwise loops over rows are vectorised with OpenMP's simd directive
 * (R compiles at -O2, where gcc hardly vectorises on its own); without OpenMP
 * the loops stay as they are.
 *
 * Two settings make gcc's vector code possible and keep it exact:
 * - no-trapping-math lets gcc turn the selects of branch-free code (z >= 0 ?
 *   a : b) into vector blends instead of branches. It only tells gcc that
 *   floating-point exceptions are not inspected (R never does); every value
 *   computed is unchanged.
 * - fp-contract=off forbids fusing a * b + c into one instruction, so that the
 *   AVX-512 clone (below), whose instruction set has fused multiply-add,
 *   rounds exactly as the SSE2 and AVX2 ones. With it, every clone of a
 *   kernel returns bit-identical results, and fits do not depend on the CPU
 *   through sigmoe's own code.
 * clang does not trap by default and does not contract across statements. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize ("no-trapping-math", "fp-contract=off")
#endif

#ifdef _OPENMP
#define MOE_SIMD _Pragma("omp simd")
#else
#define MOE_SIMD
#endif

/* MOE_CLONES compiles a kernel for AVX-512, AVX2 and the baseline x86-64
 * instruction set; the loader picks the best the CPU has (gcc's function
 * multi-versioning, which needs glibc's ifunc). Elsewhere it is empty, and
 * defining it empty (-DMOE_CLONES=) builds the baseline kernels alone. */
#ifndef MOE_CLONES
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__GLIBC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define MOE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#endif
#ifndef MOE_CLONES
#define MOE_CLONES
#endif

/* 2^n for t = 1.5 * 2^52 + n with -1022 <= n <= 1023: n sits in the low bits
 * of t's significand, and moves into the exponent field. */
static inline double moe_pow2_bits(double t)
{
    uint64_t u;
    memcpy(&u, &t, sizeof u);
    u = (u - UINT64_C(0x4338000000000000) + UINT64_C(1023)) << 52;
    double out;
    memcpy(&out, &u, sizeof out);
    return out;
}

/* e^x for x <= 0 (also -0, -Inf and NaN) without a branch or a call, so that
 * loops over it vectorise (libm's exp is scalar and was half of a fit's
 * time). It agrees with libm's exp to a relative 2.3e-16 over the whole range,
 * subnormal results included (tests/testthat/test-gating.R). x = n log 2 + r
 * with |r| <= log(2) / 2; e^r by its Taylor polynomial of degree 13
 * (truncation error below 5e-18); 2^n applied as two
 * factors 2^n1 2^n2 so that each stays a normal number down to x = -745.5,
 * below which e^x rounds to 0. NaN propagates through r. */
static inline double moe_exp_nonpos(double x)
{
    const double shift = 6755399441055744.0; /* 1.5 * 2^52: rounds to an integer */
    const double log2e = 1.4426950408889634074;
    const double ln2_hi = 6.93147180369123816490e-01; /* 33 bits: n * ln2_hi is exact */
    const double ln2_lo = 1.90821492927058770002e-10;
    x = x < -745.5 ? -745.5 : x;
    double t = x * log2e + shift;
    double n = t - shift;
    double r = (x - n * ln2_hi) - n * ln2_lo;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    double t1 = n * 0.5 + shift;
    double t2 = (n - (t1 - shift)) + shift;
    return p * moe_pow2_bits(t1) * moe_pow2_bits(t2);
}

/* sigma(z) and 1 - sigma(z) = sigma(-z) from e = e^{-|z|}, branch-free: with
 * s = sign(z), the numerators (1 + s + (1 - s) e) / 2 and
 * (1 - s + (1 + s) e) / 2 are exactly 1 or e, so both keep full relative
 * precision in the tails. */
static inline void moe_sigmoid_pair(double z, double *s, double *one_minus_s)
{
    double e = moe_exp_nonpos(-fabs(z)), sg = copysign(1.0, z);
    *s = 0.5 * ((1.0 + sg) + (1.0 - sg) * e) / (1.0 + e);
    *one_minus_s = 0.5 * ((1.0 - sg) + (1.0 + sg) * e) / (1.0 + e);
}

/* sigma(z) alone: the same arithmetic as moe_sigmoid_pair (the unused half
 * is dropped by the compiler), so values never depend on whether a
 * derivative is asked for. */
static inline double moe_sigmoid(double z)
{
    double s, om;
    moe_sigmoid_pair(z, &s, &om);
    return s;
}

#endif
