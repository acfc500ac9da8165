/*
 * calc_proto.h - the book's arithmetic server protocol, wire-compatible with
 * gopcp.v2/chapter4/loadgen/testhelper (comm.go, server.go).
 *
 * One request per line, one response per line, '\n' framing; each line is
 * one JSON object with the fields of the book's Go structs, in their order:
 *
 *   {"ID":123,"Operands":[1,2],"Operator":"+"}
 *   {"ID":123,"Formula":"1 + 2 = 3","Result":3,"Err":null}
 *
 * Go's `int` is taken as int64 (the book's 64-bit platforms). Output is
 * byte-identical to encoding/json (Go >= 1.22) for the same values,
 * including its string escaping (<, >, & as \u003c.., U+2028/9 escaped,
 * invalid UTF-8 as \ufffd, \b and \f as such).
 *
 * The book's quirks, all kept unless marked "ours":
 *  1. op() starts from result 0 and, for every operand, REPLACES the
 *     running result instead of combining when the running result is 0:
 *     [5,5,3] "-" = 3 (5-5 is 0, then 3 replaces it), [0,3] "-" = 3,
 *     [2,0,3] "*" = 3, [1,2,5] "/" = 5 (1/2 is 0), [0,5] "/" = 5.
 *     "+" is unaffected (0 + v = v). goc__calc_eval does the same.
 *  2. Consequently a zero divisor only divides when the running result is
 *     non-zero: [0,0] "/" = 0 with formula "0 / 0 = 0" (as Go), but
 *     [5,0] "/" panics the Go server (integer divide by zero kills the
 *     whole process). Ours: an error response, "division by zero".
 *  3. Division truncates toward zero (Go and C agree): [-7,2] "/" = -3.
 *  4. Overflow wraps silently in Go (and MinInt64 / -1 = MinInt64). Ours:
 *     an error response, "int64 overflow".
 *  5. An unknown operator gives Result 0, Err null and formula "1 % 2 = 0"
 *     in Go (and the Go client agrees, as it recomputes op()). Ours: an
 *     error response, "unknown operator".
 *  6. Empty operands give Result 0 and formula " = 0" (no operands, then
 *     " = "); kept. Negative operands are printed bare: "1 - -5 = 6".
 *  7. The Go server marshals its `Err error` field as {} (errors.New's
 *     value has no exported field), so the message never reaches the
 *     wire, and always with ID 0, Formula "", Result 0. The Go client
 *     cannot unmarshal any non-null Err into an `error`, so it reports
 *     every server error as a bad response (2002), never as a callee error
 *     (2003). Ours: Err is a JSON string with the message; we parse Err as
 *     null, a string, or an object (kept as its JSON text, "{}" from Go).
 *     Parse errors answer with ID 0 (as Go); evaluation errors echo the ID.
 *  8. encoding/json is lenient where we are strict (ours): it matches keys
 *     case-insensitively, ignores unknown keys, lets a duplicate key win,
 *     takes null as "leave zero", treats a missing field as zero, and
 *     replaces invalid UTF-8 by U+FFFD. We reject each of these with a
 *     reason. Like Go we reject non-integers (1.5, 1e2), out-of-range
 *     integers and trailing data. A nil Go slice marshals as
 *     "Operands":null, which we reject; the book's client never sends it.
 *  9. The book's client ID is time.Now().UnixNano(): concurrent calls may
 *     share an ID, so the ID check cannot tell their responses apart.
 *
 * Limits (ours): a line holds at most GOC__CALC_MAX_LINE bytes besides the
 * '\n'; at most GOC__CALC_MAX_OPERANDS operands; an operator of at most
 * GOC__CALC_MAX_OPERATOR bytes; strings may not contain U+0000 (\u0000).
 * A formatted request or response always fits in GOC__CALC_MAX_LINE + 1
 * bytes.
 *
 * Errors: 0 on success; -EMSGSIZE for a line over the limit, -E2BIG for
 * too many operands or an over-long operator or formula, -EINVAL for
 * anything else malformed, each with a reason in `err` ("byte 17: ...").
 * On failure the output struct is left unspecified, never half-trusted.
 * No function allocates, keeps state or reports through errno: all are safe
 * to call from any goroutine.
 */
#ifndef GOC_LOADGEN_CALC_PROTO_H
#define GOC_LOADGEN_CALC_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GOC__CALC_MAX_LINE (64 * 1024)
#define GOC__CALC_MAX_OPERANDS 64
#define GOC__CALC_MAX_OPERATOR 15
/* The longest formula of a valid request: each operand up to 20 bytes,
 * separators " op ", then " = " and the result. */
#define GOC__CALC_FORMULA_CAP                                                  \
    (GOC__CALC_MAX_OPERANDS * (20 + GOC__CALC_MAX_OPERATOR + 2) + 3 + 20 + 1)
/* Room for an error message; longer ones are cut at a character. */
#define GOC__CALC_ERR_CAP 256

typedef struct goc__calc_req {
    int64_t id;
    size_t n;                                 /* operands used, <= MAX */
    int64_t operands[GOC__CALC_MAX_OPERANDS]; /* [0, n) valid */
    char op[GOC__CALC_MAX_OPERATOR + 1];      /* UTF-8, NUL-terminated */
} goc__calc_req;

typedef struct goc__calc_resp {
    int64_t id;
    int64_t result;
    bool has_err;                        /* "Err" was not null */
    char formula[GOC__CALC_FORMULA_CAP]; /* UTF-8, NUL-terminated */
    char err[GOC__CALC_ERR_CAP];         /* the message when has_err */
} goc__calc_resp;

/* Parses one request line (without or with its '\n'). */
int goc__calc_parse_request(const char *line, size_t len, goc__calc_req *out,
                            char *err, size_t errlen);
/* Parses one response line; Err may be null, a string or an object. */
int goc__calc_parse_response(const char *line, size_t len, goc__calc_resp *out,
                             char *err, size_t errlen);

/* Computes the book's op() and formula into *out (ID echoed). On division
 * by zero (-EDOM), int64 overflow (-ERANGE), an unknown operator (-EINVAL)
 * or n over the limit (-E2BIG), *out is an error response (Result 0,
 * Formula "", Err set) and the code is returned; never crashes. */
int goc__calc_eval(const goc__calc_req *req, goc__calc_resp *out);

/* Makes *out the error response for id with message msg (cut to fit). */
void goc__calc_resp_error(goc__calc_resp *out, int64_t id, const char *msg);

/* The book's genFormula: "1 + 2 = 3" when equal, else "1 + 2 != 4" (the
 * client's mismatch message). Returns the length, or -ENOBUFS when cap
 * cannot hold it and its NUL. */
int goc__calc_formula(const int64_t *operands, size_t n, const char *op,
                      int64_t result, bool equal, char *buf, size_t cap);

/* Writes the JSON line as encoding/json would, without the '\n', followed
 * by a NUL (which the caller may overwrite with the '\n'). Returns the
 * length, -ENOBUFS when cap cannot hold it and its NUL, or -EINVAL for a
 * struct no parse could produce (n over the limit, unterminated string). */
int goc__calc_format_request(const goc__calc_req *req, char *buf, size_t cap);
int goc__calc_format_response(const goc__calc_resp *resp, char *buf,
                              size_t cap);

#endif
