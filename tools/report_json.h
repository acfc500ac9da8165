/*
 * report_json.h - the JSON tree of report_json.c's strict parser (RFC
 * 8259), for the tests that check a report against docs/report.schema.json.
 */
#ifndef GOC_TOOLS_REPORT_JSON_H
#define GOC_TOOLS_REPORT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { LGR_JNULL, LGR_JBOOL, LGR_JNUM, LGR_JSTR, LGR_JARR, LGR_JOBJ };

typedef struct lgr_json {
    int type;
    size_t pos;   /* byte offset of the value in the text */
    bool b;       /* LGR_JBOOL */
    double num;   /* LGR_JNUM */
    bool integer; /* LGR_JNUM without fraction or exponent, fits int64 */
    int64_t i;    /* LGR_JNUM when integer */
    char *s;      /* LGR_JSTR */
    size_t n;     /* LGR_JARR, LGR_JOBJ: children */
    struct lgr_json *kids;
    char **keys; /* LGR_JOBJ: kids[i]'s key */
} lgr_json;

/* The tree of one JSON text, or NULL with "NAME:LINE:COL: what" in err. */
lgr_json *lgr_json_parse(const char *text, size_t len, const char *name,
                         char *err, size_t errlen);
void lgr_json_free(lgr_json *j);
/* obj's member key, or NULL (also when obj is not an object). */
const lgr_json *lgr_json_get(const lgr_json *obj, const char *key);

#endif
