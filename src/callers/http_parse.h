/*
 * http_parse.h - a strict, incremental HTTP/1.1 response parser (private;
 * the HTTP caller's, and the tests').
 *
 * It consumes bytes from a buffer as they arrive and keeps nothing of the
 * body: body bytes are counted and skipped, so memory is the caller's read
 * buffer however long the body. A line (status line, header, chunk size,
 * trailer) must fit in the buffer; what the parser has consumed the caller
 * may drop.
 */
#ifndef GOC_HTTP_PARSE_H
#define GOC_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The limit on a response's status line and headers together (each 1xx
 * response's separately), and on its trailers. */
#define GOC__HTTP_MAX_HEADER_BYTES (256 * 1024)

typedef struct goc__http_parser {
    int state;
    bool head_req;   /* the request was HEAD: no body whatever it says */
    int status;      /* the final response's status code */
    int interim;     /* 1xx responses skipped before it */
    bool conn_close; /* the connection ends after this response */
    bool chunked;
    bool has_cl;
    bool got_any; /* a byte of this response (or its 1xx) came */
    int minor;    /* HTTP/1.<minor> */
    bool ka_header;
    int64_t content_length;
    int64_t left; /* body or chunk bytes still to skip */
    int64_t body_bytes;
    size_t header_bytes;
    char why[120]; /* why the response was refused */
} goc__http_parser;

/* Ready for a response (to a HEAD request when head_req). */
void goc__http_parser_reset(goc__http_parser *p, bool head_req);

/* Parses buf[*pos, end): advances *pos over what it consumed. 1: the
 * response is complete (*pos is just after it; what follows belongs to the
 * next response); 0: more bytes are needed (*pos may stop at the start of
 * an incomplete line: keep buf[*pos, end) and append); -1: malformed (the
 * reason in p->why). */
int goc__http_parse(goc__http_parser *p, const char *buf, size_t *pos,
                    size_t end);

/* The connection reached end of file: 1 if that completes the response
 * (a body delimited by the close), -1 otherwise (p->why says what was cut
 * short; "" when no byte of the response had come). */
int goc__http_parse_eof(goc__http_parser *p);

#endif
