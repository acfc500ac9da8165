/*
 * goc/extern.h - GOC_EXTERN, the marker of goc's public API.
 *
 * Every public function and object is declared GOC_EXTERN. The library is
 * compiled with -fvisibility=hidden, so the shared library exports exactly
 * the names so marked and nothing of the runtime's internals. For a user of
 * the headers the marker only states the default visibility.
 */
#ifndef GOC_EXTERN_H
#define GOC_EXTERN_H

#if defined(__GNUC__) || defined(__clang__)
#define GOC_EXTERN __attribute__((visibility("default")))
#else
#define GOC_EXTERN
#endif

#endif
