/*
 * fuzz_calc.c - libFuzzer target for the arithmetic protocol
 * (src/calc/calc_proto.c).
 *
 * Each input is tried as a request line and as a response line. Besides
 * the sanitizers' checks, it traps when one of these properties fails:
 *   - a failed parse returns -EINVAL, -EMSGSIZE or -E2BIG with a reason;
 *   - format(parse(x)) parses back to the same value, and formatting that
 *     again gives the same bytes (the written form is canonical);
 *   - eval succeeds exactly with the result of the book's op() under Go's
 *     wrapping arithmetic (a separate model below), and a zero divisor is
 *     reported where the Go server would panic;
 *   - every response eval makes formats and parses back unchanged.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined -Iinclude -Isrc
 *        tests/fuzz/fuzz_calc.c src/calc/calc_proto.c
 * Seeds: tests/fuzz/corpus_calc/. With -DGOC_FUZZ_STANDALONE it is a plain
 * program that runs the files named on its command line (for builds
 * without libFuzzer).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calc/calc_proto.h"

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_calc: %s (line %d)\n", #cond, __LINE__);     \
            abort();                                                           \
        }                                                                      \
    } while (0)

static char buf[GOC__CALC_MAX_LINE + 1], buf2[GOC__CALC_MAX_LINE + 1];
static char err[256];
static goc__calc_req req, req2;
static goc__calc_resp resp, resp2;

/* The book's op() as Go runs it: wrapping arithmetic, MinInt64 / -1 ==
 * MinInt64. Returns false where Go panics (integer divide by zero). */
static bool go_op(const goc__calc_req *r, int64_t *out)
{
    uint64_t acc = 0;
    for (size_t i = 0; i < r->n; i++) {
        uint64_t v = (uint64_t)r->operands[i];
        if (acc == 0) {
            acc = v;
            continue;
        }
        switch (r->op[0]) {
        case '+': acc += v; break;
        case '-': acc -= v; break;
        case '*': acc *= v; break;
        default:
            if (v == 0)
                return false;
            if ((int64_t)acc != INT64_MIN || (int64_t)v != -1)
                acc = (uint64_t)((int64_t)acc / (int64_t)v);
        }
    }
    *out = (int64_t)acc;
    return true;
}

static void check_failure(int rc)
{
    CHECK(rc == -EINVAL || rc == -EMSGSIZE || rc == -E2BIG);
    CHECK(memchr(err, '\0', sizeof err) != NULL && err[0] != '\0');
}

static void check_resp_round_trip(const goc__calc_resp *r)
{
    int n = goc__calc_format_response(r, buf, sizeof buf);
    CHECK(n > 0);
    CHECK(goc__calc_parse_response(buf, (size_t)n, &resp2, err,
                                   sizeof err) == 0);
    CHECK(resp2.id == r->id && resp2.result == r->result &&
          resp2.has_err == r->has_err);
    CHECK(strcmp(resp2.formula, r->formula) == 0);
    CHECK(strcmp(resp2.err, r->err) == 0);
    CHECK(goc__calc_format_response(&resp2, buf2, sizeof buf2) == n);
    CHECK(memcmp(buf, buf2, (size_t)n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *line = (const char *)data;
    int rc = goc__calc_parse_request(line, size, &req, err, sizeof err);
    if (rc == 0) {
        int n = goc__calc_format_request(&req, buf, sizeof buf);
        CHECK(n > 0);
        CHECK(goc__calc_parse_request(buf, (size_t)n, &req2, err,
                                      sizeof err) == 0);
        CHECK(req2.id == req.id && req2.n == req.n);
        CHECK(memcmp(req2.operands, req.operands,
                     req.n * sizeof req.operands[0]) == 0);
        CHECK(strcmp(req2.op, req.op) == 0);
        CHECK(goc__calc_format_request(&req2, buf2, sizeof buf2) == n);
        CHECK(memcmp(buf, buf2, (size_t)n) == 0);

        int64_t want;
        bool known = strlen(req.op) == 1 && strchr("+-*/", req.op[0]);
        rc = goc__calc_eval(&req, &resp);
        CHECK(resp.id == req.id);
        if (rc == 0) {
            CHECK(known && go_op(&req, &want) && resp.result == want);
            CHECK(!resp.has_err);
        } else {
            CHECK(rc == -EINVAL || rc == -EDOM || rc == -ERANGE);
            CHECK(resp.has_err && resp.err[0] != '\0');
            CHECK(resp.result == 0 && resp.formula[0] == '\0');
            CHECK((rc == -EINVAL) == !known);
            if (rc == -EDOM)
                CHECK(!go_op(&req, &want));
        }
        check_resp_round_trip(&resp);
    } else
        check_failure(rc);

    rc = goc__calc_parse_response(line, size, &resp, err, sizeof err);
    if (rc == 0)
        check_resp_round_trip(&resp);
    else
        check_failure(rc);
    return 0;
}

#ifdef GOC_FUZZ_STANDALONE
int main(int argc, char **argv)
{
    static uint8_t in[GOC__CALC_MAX_LINE * 2];
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (f == NULL) {
            perror(argv[i]);
            return 1;
        }
        size_t n = fread(in, 1, sizeof in, f);
        fclose(f);
        LLVMFuzzerTestOneInput(in, n);
    }
    printf("fuzz_calc: %d inputs ok\n", argc - 1);
    return 0;
}
#endif
