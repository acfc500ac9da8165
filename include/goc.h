/*
 * goc.h - Go's concurrency model in C: the umbrella header.
 *
 * Read this, then docs/design.md. Each module header compiles on its own.
 */
#ifndef GOC_H
#define GOC_H

#include "goc/runtime.h"
#if __has_include("goc/chan.h")
#include "goc/chan.h"
#endif
#if __has_include("goc/time.h")
#include "goc/time.h"
#endif
#if __has_include("goc/sync.h")
#include "goc/sync.h"
#endif
#if __has_include("goc/net.h")
#include "goc/net.h"
#endif
#if __has_include("goc/proc.h")
#include "goc/proc.h"
#endif
#if __has_include("goc/cmap.h")
#include "goc/cmap.h"
#endif
#if __has_include("goc/loadgen.h")
#include "goc/loadgen.h"
#endif
#if __has_include("goc/calcserver.h")
#include "goc/calcserver.h"
#endif

#endif
