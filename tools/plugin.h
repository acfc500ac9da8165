/*
 * plugin.h - goc-loadgen's optional parts that link big libraries (MPI,
 * OpenSSL) are plugins it loads only when a run needs them (as one of
 * several MPI ranks; an https:// target), so that a run without them maps
 * none of those libraries: goc-loadgen-mpi.so (loadgen_mpi.c) and
 * goc-loadgen-tls.so (tls.c). A plugin takes goc's and cli.c's functions
 * from the program, which exports them: one goc runtime for both.
 */
#ifndef GOC_TOOLS_PLUGIN_H
#define GOC_TOOLS_PLUGIN_H

/* dlopen of plugin `file` (RTLD_NOW | RTLD_GLOBAL) from, in order: $env if
 * set (its path); beside the program (a build tree: tools/); the
 * program's ../LIBDIR/goc (an install, also moved); the install's
 * libdir/goc (GOC_LOADGEN_PLUGIN_DIR). NULL after saying why
 * (cli_error). */
void *cli_plugin_open(const char *file, const char *env);
/* dlsym, or NULL after saying which is missing. */
void *cli_plugin_sym(void *h, const char *file, const char *name);

#endif
