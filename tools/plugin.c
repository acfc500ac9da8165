/*
 * plugin.c - loading goc-loadgen's plugins (plugin.h).
 */
#include "plugin.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void *cli_plugin_open(const char *file, const char *env)
{
    char path[PATH_MAX + 64], why[512] = "";
    const char *v = getenv(env);
    if (v && *v) {
        void *h = dlopen(v, RTLD_NOW | RTLD_GLOBAL);
        if (!h)
            cli_error("cannot load %s (%s): %s", file, env, dlerror());
        return h;
    }
    /* Beside the program, then in ../LIBDIR/goc from it (an install
     * moved elsewhere than its prefix). */
    static const char *const rel[] = {"",
#ifdef GOC_LOADGEN_PLUGIN_RELDIR
                                      "../" GOC_LOADGEN_PLUGIN_RELDIR "/"
#endif
    };
    ssize_t n = readlink("/proc/self/exe", path, PATH_MAX);
    char *slash = n > 0 ? (path[n] = '\0', strrchr(path, '/')) : NULL;
    for (size_t i = 0; slash && !why[0] && i < sizeof rel / sizeof rel[0];
         i++) {
        snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "%s%s",
                 rel[i], file);
        if (access(path, R_OK) == 0) {
            void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
            if (h)
                return h;
            snprintf(why, sizeof why, "%s", dlerror());
        }
    }
#ifdef GOC_LOADGEN_PLUGIN_DIR
    if (!why[0]) {
        snprintf(path, sizeof path, "%s/%s", GOC_LOADGEN_PLUGIN_DIR, file);
        void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
        if (h)
            return h;
        snprintf(why, sizeof why, "%s", dlerror());
    }
#endif
    cli_error("cannot load %s: %s (set %s to its path)", file,
              why[0] ? why : "not found beside the program", env);
    return NULL;
}

void *cli_plugin_sym(void *h, const char *file, const char *name)
{
    void *p = dlsym(h, name);
    if (!p)
        cli_error("%s lacks %s", file, name);
    return p;
}
