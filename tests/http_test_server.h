/*
 * http_test_server.h - a small HTTP/1.1 server for the tests, on goc's
 * sockets, that misbehaves on request. The request's path picks what it
 * does (each connection serves requests in a loop, pipelined ones too):
 *
 *   /ok             200, Content-Length 5, "hello"
 *   /status/NNN     status NNN, Content-Length 0 (no header for 204, 304)
 *   /chunked        200, "hello world" in 3 chunks, an extension, a trailer
 *   /interim        100 Continue and 103 Early Hints, then /ok's response
 *   /close          /ok's response with "Connection: close", then closes
 *   /http10         "HTTP/1.0 200 OK", Content-Length 5: then closes
 *   /eof-body       200 with no length: "hello", then closes
 *   /close-mid      200, Content-Length 100, 10 bytes, then closes
 *   /garbage        "HELLO WORLD\r\n\r\n"
 *   /bad-length     Content-Length: 12a
 *   /bad-chunk      chunked with a chunk size "zz"
 *   /huge-headers   300 KiB of headers
 *   /stall          nothing; closes after 3 s
 *   /drip           /chunked's response one byte at a time, 1 ms apart
 *   /endless        200, chunked, 64 KiB chunks until the client goes
 *   /echo           200 with the request's head and body as the body
 *   other           404, Content-Length 0
 *
 * It counts connections and requests, and keeps the last request's bytes.
 */
#ifndef GOC_HTTP_TEST_SERVER_H
#define GOC_HTTP_TEST_SERVER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hts hts;

/* Starts one on 127.0.0.1 (an ephemeral port), from a goroutine. */
hts *hts_start(void);
/* "127.0.0.1:port". */
const char *hts_addr(hts *s);
int64_t hts_conns(hts *s);
int64_t hts_requests(hts *s);
/* Reads that brought bytes, over every connection. */
int64_t hts_reads(hts *s);
/* The last request, head and body (NUL-terminated, cut at 8 KiB). */
void hts_last_request(hts *s, char *buf, size_t n);
/* Closes the listener and every connection, waits for its goroutines,
 * frees it. */
void hts_stop(hts *s);

#endif
