/* The Gram matrix of a block's columns: the upper triangle of C'C for the
 * columns C = [J, r] of a Jacobian block and its residuals, which gives J'J
 * and J'r in one sweep over the rows.
 *
 * This is the fit's inner product. BLAS's dsyrk (with dgemv for J'r) serves
 * it poorly here: the blocks have a few hundred to a few thousand rows and
 * 10 to 50 columns, where its packing copies cost as much as the products
 * (39% of a study's time went to dsyrk, 14 points of it to the copies:
 * bench/profile.sh). bench/study-ab.R and bench/fit.R measure the fit before
 * and after.
 *
 * Each entry is summed in MOE_GRAM_LANES interleaved partial sums (row r goes
 * to lane r mod MOE_GRAM_LANES), which are added in lane order, then the rows
 * past the last whole group of lanes, in row order. That order is fixed by
 * the source: every clone (AVX-512, AVX2, baseline) vectorises the lanes its
 * own way and returns the same bits, and the result does not depend on the
 * BLAS or the CPU. Columns are taken four by four (a 4 x 4 tile of entries
 * reads eight columns once per group of rows), with the last tile padded by
 * repeating a column; which tile computes an entry does not change it. */
#include "moe.h"

#define MOE_GRAM_LANES 8
#define MOE_GRAM_TILE 4

/* The kernels below are inlined into each clone of moe_gram_upper(), so that
 * they are compiled for the clone's instruction set (a function of their own
 * would be the baseline's). */
#if defined(__GNUC__)
#define MOE_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define MOE_ALWAYS_INLINE inline
#endif

/* The total of one entry: its lanes c in order, then the rows of x y past the
 * last whole group of lanes (from `whole` to m), in row order. */
static MOE_ALWAYS_INLINE double lane_total(const double *c, const double *x, const double *y,
                                           int whole, int m)
{
    double s = c[0];
    for (int l = 1; l < MOE_GRAM_LANES; l++) s += c[l];
    for (int r = whole; r < m; r++) s += x[r] * y[r];
    return s;
}

/* The four columns of the tile that starts at column `first`; past the last
 * of the q columns, the last one again. */
static inline void tile_columns(const double *const *col, int q, int first,
                                const double *out[MOE_GRAM_TILE])
{
    for (int a = 0; a < MOE_GRAM_TILE; a++) out[a] = col[first + a < q ? first + a : q - 1];
}

/* out[a][b] = sum over rows of x_a y_b, for four columns x and four y. */
static MOE_ALWAYS_INLINE void gram_tile(const double *const *xc, const double *const *yc, int m,
                             double out[MOE_GRAM_TILE][MOE_GRAM_TILE])
{
    enum { L = MOE_GRAM_LANES };
    const double *restrict x0 = xc[0], *restrict x1 = xc[1], *restrict x2 = xc[2],
                 *restrict x3 = xc[3];
    const double *restrict y0 = yc[0], *restrict y1 = yc[1], *restrict y2 = yc[2],
                 *restrict y3 = yc[3];
    double c00[L] = {0}, c01[L] = {0}, c02[L] = {0}, c03[L] = {0};
    double c10[L] = {0}, c11[L] = {0}, c12[L] = {0}, c13[L] = {0};
    double c20[L] = {0}, c21[L] = {0}, c22[L] = {0}, c23[L] = {0};
    double c30[L] = {0}, c31[L] = {0}, c32[L] = {0}, c33[L] = {0};
    int whole = m - m % L;
    for (int r = 0; r < whole; r += L) {
        MOE_SIMD
        for (int l = 0; l < L; l++) {
            double a0 = x0[r + l], a1 = x1[r + l], a2 = x2[r + l], a3 = x3[r + l];
            double b0 = y0[r + l], b1 = y1[r + l], b2 = y2[r + l], b3 = y3[r + l];
            c00[l] += a0 * b0; c01[l] += a0 * b1; c02[l] += a0 * b2; c03[l] += a0 * b3;
            c10[l] += a1 * b0; c11[l] += a1 * b1; c12[l] += a1 * b2; c13[l] += a1 * b3;
            c20[l] += a2 * b0; c21[l] += a2 * b1; c22[l] += a2 * b2; c23[l] += a2 * b3;
            c30[l] += a3 * b0; c31[l] += a3 * b1; c32[l] += a3 * b2; c33[l] += a3 * b3;
        }
    }
#define MOE_GRAM_OUT(a, b) out[a][b] = lane_total(c##a##b, x##a, y##b, whole, m)
    MOE_GRAM_OUT(0, 0); MOE_GRAM_OUT(0, 1); MOE_GRAM_OUT(0, 2); MOE_GRAM_OUT(0, 3);
    MOE_GRAM_OUT(1, 0); MOE_GRAM_OUT(1, 1); MOE_GRAM_OUT(1, 2); MOE_GRAM_OUT(1, 3);
    MOE_GRAM_OUT(2, 0); MOE_GRAM_OUT(2, 1); MOE_GRAM_OUT(2, 2); MOE_GRAM_OUT(2, 3);
    MOE_GRAM_OUT(3, 0); MOE_GRAM_OUT(3, 1); MOE_GRAM_OUT(3, 2); MOE_GRAM_OUT(3, 3);
#undef MOE_GRAM_OUT
}

/* out[a] = sum over rows of x_a y, for four columns x and one y: the last
 * column when it is alone in its tile, where a 4 x 4 tile would compute
 * sixteen sums for four. The same lanes and order as gram_tile(). */
static MOE_ALWAYS_INLINE void gram_column(const double *const *xc, const double *y, int m,
                                          double out[MOE_GRAM_TILE])
{
    enum { L = MOE_GRAM_LANES };
    const double *restrict x0 = xc[0], *restrict x1 = xc[1], *restrict x2 = xc[2],
                 *restrict x3 = xc[3];
    const double *restrict y0 = y;
    double c0[L] = {0}, c1[L] = {0}, c2[L] = {0}, c3[L] = {0};
    int whole = m - m % L;
    for (int r = 0; r < whole; r += L) {
        MOE_SIMD
        for (int l = 0; l < L; l++) {
            double b = y0[r + l];
            c0[l] += x0[r + l] * b; c1[l] += x1[r + l] * b;
            c2[l] += x2[r + l] * b; c3[l] += x3[r + l] * b;
        }
    }
    out[0] = lane_total(c0, x0, y0, whole, m);
    out[1] = lane_total(c1, x1, y0, whole, m);
    out[2] = lane_total(c2, x2, y0, whole, m);
    out[3] = lane_total(c3, x3, y0, whole, m);
}

MOE_CLONES
void moe_gram_upper(const double *const *col, int q, int m, double *G)
{
    /* the columns in tiles of four; a last tile of one column takes
     * gram_column(), a last tile of two or three repeats its last column */
    int qt = (q + MOE_GRAM_TILE - 1) / MOE_GRAM_TILE * MOE_GRAM_TILE;
    for (int j0 = 0; j0 < qt; j0 += MOE_GRAM_TILE) {
        if (j0 == q - 1) {
            for (int i0 = 0; i0 <= j0; i0 += MOE_GRAM_TILE) {
                const double *xc[MOE_GRAM_TILE];
                tile_columns(col, q, i0, xc);
                double out[MOE_GRAM_TILE];
                gram_column(xc, col[j0], m, out);
                for (int a = 0; a < MOE_GRAM_TILE && i0 + a <= j0; a++)
                    G[(i0 + a) + (size_t) j0 * q] = out[a];
            }
            break;
        }
        const double *yc[MOE_GRAM_TILE];
        tile_columns(col, q, j0, yc);
        for (int i0 = 0; i0 <= j0; i0 += MOE_GRAM_TILE) {
            const double *xc[MOE_GRAM_TILE];
            tile_columns(col, q, i0, xc);
            double out[MOE_GRAM_TILE][MOE_GRAM_TILE];
            gram_tile(xc, yc, m, out);
            for (int b = 0; b < MOE_GRAM_TILE && j0 + b < q; b++)
                for (int a = 0; a < MOE_GRAM_TILE && i0 + a <= j0 + b; a++)
                    G[(i0 + a) + (size_t) (j0 + b) * q] = out[a][b];
        }
    }
}
