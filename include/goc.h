/*
 * goc.h - Go's concurrency model in C: the umbrella header.
 *
 * Read this, then docs/design.md. Each module header compiles on its own;
 * this one includes them all, plainly, so that a missing one fails the
 * build.
 */
#ifndef GOC_H
#define GOC_H

#include "goc/calcserver.h"
#include "goc/chan.h"
#include "goc/cmap.h"
#include "goc/loadgen.h"
#include "goc/net.h"
#include "goc/proc.h"
#include "goc/runtime.h"
#include "goc/sync.h"
#include "goc/time.h"

#endif
