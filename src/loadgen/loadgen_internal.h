/*
 * loadgen_internal.h - helpers shared by the load generator's files and
 * its tools and tests (not part of the public API).
 */
#ifndef GOC_LOADGEN_INTERNAL_H
#define GOC_LOADGEN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* ns from call 0's due time to call k's: floor(k * 1e9 / lps), exact for
 * any k >= 0 and 0 < lps <= 1e9. */
int64_t goc__loadgen_due_offset(int64_t k, int64_t lps);
/* Calls due in [0, d): ceil(d * lps / 1e9); -1 when over 2^62. */
int64_t goc__loadgen_planned(int64_t d, int64_t lps);
/* "50ms", "1.5s", "250us", "12ns" (4 significant digits). */
void goc__loadgen_fmt_dur(char *buf, size_t len, int64_t ns);

#endif
