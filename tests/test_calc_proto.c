/*
 * test_calc_proto.c - the book's arithmetic protocol (src/calc/
 * calc_proto.c): byte-compatibility with Go's encoding/json of the book's
 * structs, op()'s quirks, a table of malformed requests, round trips.
 *
 * The expected strings in go_pairs and in calc_format_escapes were produced
 * by the book's own op(), genFormula() and json.Marshal of ServerReq /
 * ServerResp (Go 1.19), copied here verbatim.
 */
#include <errno.h>

#include "calc/calc_proto.h"
#include "goc_test.h"

/* {request as the book's client sends it, response as its server sends} */
static const char *const go_pairs[][2] = {
    {"{\"ID\":1515155,\"Operands\":[1,2],\"Operator\":\"+\"}",
     "{\"ID\":1515155,\"Formula\":\"1 + 2 = 3\",\"Result\":3,\"Err\":null}"},
    {"{\"ID\":1700000000123456789,\"Operands\":[1000,1],\"Operator\":\"-\"}",
     "{\"ID\":1700000000123456789,\"Formula\":\"1000 - 1 = 999\","
     "\"Result\":999,\"Err\":null}"},
    {"{\"ID\":3,\"Operands\":[12,34],\"Operator\":\"*\"}",
     "{\"ID\":3,\"Formula\":\"12 * 34 = 408\",\"Result\":408,\"Err\":null}"},
    {"{\"ID\":4,\"Operands\":[7,2],\"Operator\":\"/\"}",
     "{\"ID\":4,\"Formula\":\"7 / 2 = 3\",\"Result\":3,\"Err\":null}"},
    {"{\"ID\":5,\"Operands\":[-7,2],\"Operator\":\"/\"}",
     "{\"ID\":5,\"Formula\":\"-7 / 2 = -3\",\"Result\":-3,\"Err\":null}"},
    /* Quirk 1: a zero running result is replaced by the next operand. */
    {"{\"ID\":6,\"Operands\":[5,5,3],\"Operator\":\"-\"}",
     "{\"ID\":6,\"Formula\":\"5 - 5 - 3 = 3\",\"Result\":3,\"Err\":null}"},
    {"{\"ID\":7,\"Operands\":[0,3],\"Operator\":\"-\"}",
     "{\"ID\":7,\"Formula\":\"0 - 3 = 3\",\"Result\":3,\"Err\":null}"},
    {"{\"ID\":8,\"Operands\":[2,0,3],\"Operator\":\"*\"}",
     "{\"ID\":8,\"Formula\":\"2 * 0 * 3 = 3\",\"Result\":3,\"Err\":null}"},
    {"{\"ID\":9,\"Operands\":[1,2,5],\"Operator\":\"/\"}",
     "{\"ID\":9,\"Formula\":\"1 / 2 / 5 = 5\",\"Result\":5,\"Err\":null}"},
    {"{\"ID\":10,\"Operands\":[0,5],\"Operator\":\"/\"}",
     "{\"ID\":10,\"Formula\":\"0 / 5 = 5\",\"Result\":5,\"Err\":null}"},
    /* Quirk 2: 0 / 0 never divides. */
    {"{\"ID\":11,\"Operands\":[0,0],\"Operator\":\"/\"}",
     "{\"ID\":11,\"Formula\":\"0 / 0 = 0\",\"Result\":0,\"Err\":null}"},
    /* Quirk 6: no operands; negative operands printed bare. */
    {"{\"ID\":12,\"Operands\":[],\"Operator\":\"+\"}",
     "{\"ID\":12,\"Formula\":\" = 0\",\"Result\":0,\"Err\":null}"},
    {"{\"ID\":13,\"Operands\":[42],\"Operator\":\"*\"}",
     "{\"ID\":13,\"Formula\":\"42 = 42\",\"Result\":42,\"Err\":null}"},
    {"{\"ID\":14,\"Operands\":[1,-5],\"Operator\":\"-\"}",
     "{\"ID\":14,\"Formula\":\"1 - -5 = 6\",\"Result\":6,\"Err\":null}"},
    {"{\"ID\":-15,\"Operands\":[9223372036854775807,-9223372036854775808],"
     "\"Operator\":\"+\"}",
     "{\"ID\":-15,\"Formula\":\"9223372036854775807 + -9223372036854775808 "
     "= -1\",\"Result\":-1,\"Err\":null}"},
    {"{\"ID\":16,\"Operands\":[-9223372036854775808,1],\"Operator\":\"*\"}",
     "{\"ID\":16,\"Formula\":\"-9223372036854775808 * 1 = "
     "-9223372036854775808\",\"Result\":-9223372036854775808,\"Err\":null}"},
    {"{\"ID\":0,\"Operands\":[3,0,0],\"Operator\":\"-\"}",
     "{\"ID\":0,\"Formula\":\"3 - 0 - 0 = 3\",\"Result\":3,\"Err\":null}"},
    {"{\"ID\":18,\"Operands\":[1000,1000,1000],\"Operator\":\"*\"}",
     "{\"ID\":18,\"Formula\":\"1000 * 1000 * 1000 = 1000000000\","
     "\"Result\":1000000000,\"Err\":null}"},
};

static char line[GOC__CALC_MAX_LINE + 2];

static void req_eq(const goc__calc_req *a, const goc__calc_req *b)
{
    ASSERT_EQ(a->id, b->id);
    ASSERT_UEQ(a->n, b->n);
    for (size_t i = 0; i < a->n; i++)
        ASSERT_EQ(a->operands[i], b->operands[i]);
    ASSERT_STR_EQ(a->op, b->op);
}

static void resp_eq(const goc__calc_resp *a, const goc__calc_resp *b)
{
    ASSERT_EQ(a->id, b->id);
    ASSERT_EQ(a->result, b->result);
    ASSERT_EQ(a->has_err, b->has_err);
    ASSERT_STR_EQ(a->formula, b->formula);
    ASSERT_STR_EQ(a->err, b->err);
}

GOC_TEST(calc_compat_go)
{
    for (size_t i = 0; i < sizeof go_pairs / sizeof go_pairs[0]; i++) {
        const char *rq = go_pairs[i][0], *rs = go_pairs[i][1];
        goc__calc_req req;
        goc__calc_resp resp, back;
        char err[256];
        int rc = goc__calc_parse_request(rq, strlen(rq), &req, err, sizeof err);
        if (rc != 0)
            GOC_FAIL_("%s: %s", rq, err);
        ASSERT_EQ(goc__calc_format_request(&req, line, sizeof line),
                  strlen(rq));
        ASSERT_STR_EQ(line, rq);
        ASSERT_EQ(goc__calc_eval(&req, &resp), 0);
        ASSERT_EQ(goc__calc_format_response(&resp, line, sizeof line),
                  strlen(rs));
        ASSERT_STR_EQ(line, rs);
        rc = goc__calc_parse_response(rs, strlen(rs), &back, err, sizeof err);
        if (rc != 0)
            GOC_FAIL_("%s: %s", rs, err);
        resp_eq(&resp, &back);
    }
    return 0;
}

GOC_TEST(calc_format_escapes)
{
    /* json.Marshal(ServerResp{ID: 1, Formula: <below>, Result: -1}) */
    static const char formula[] = "<>&\"\\\n\r\t\x01\x1f\x7f/\xe2\x80\xa8"
                                  "\xe2\x80\xa9\xc3\xa9\xe2\x82\xac"
                                  "\xf0\x9f\x98\x80\xff\xc3(";
    static const char go[] = "{\"ID\":1,\"Formula\":\"\\u003c\\u003e\\u0026"
                             "\\\"\\\\\\n\\r\\t\\u0001\\u001f\x7f/\\u2028"
                             "\\u2029\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                             "\\ufffd\\ufffd(\",\"Result\":-1,\"Err\":null}";
    static goc__calc_resp r, back;
    char err[256];
    r.id = 1;
    r.result = -1;
    memcpy(r.formula, formula, sizeof formula);
    ASSERT_EQ(goc__calc_format_response(&r, line, sizeof line), sizeof go - 1);
    ASSERT_STR_EQ(line, go);
    /* Go >= 1.22 writes \b and \f in short form. */
    strcpy(r.formula, "\b\f");
    goc__calc_format_response(&r, line, sizeof line);
    ASSERT_STR_EQ(line, "{\"ID\":1,\"Formula\":\"\\b\\f\",\"Result\":-1,"
                        "\"Err\":null}");
    /* Escapes decode; surrogate pairs join; output is raw UTF-8 as Go's. */
    static const char in[] = "{\"ID\":1,\"Formula\":\"\\u00e9\\ud83d\\ude00"
                             "\\/\\u003C\",\"Result\":2,\"Err\":\"\\u2028\"}";
    ASSERT_EQ(
        goc__calc_parse_response(in, sizeof in - 1, &back, err, sizeof err), 0);
    ASSERT_STR_EQ(back.formula, "\xc3\xa9\xf0\x9f\x98\x80/<");
    ASSERT_STR_EQ(back.err, "\xe2\x80\xa8");
    ASSERT(back.has_err);
    goc__calc_format_response(&back, line, sizeof line);
    ASSERT_STR_EQ(line, "{\"ID\":1,\"Formula\":\"\xc3\xa9\xf0\x9f\x98\x80/"
                        "\\u003c\",\"Result\":2,\"Err\":\"\\u2028\"}");
    return 0;
}

GOC_TEST(calc_formula_and_buffers)
{
    static const int64_t ops[] = {1, 2};
    char buf[64];
    ASSERT_EQ(goc__calc_formula(ops, 2, "+", 4, false, buf, sizeof buf), 10);
    ASSERT_STR_EQ(buf, "1 + 2 != 4"); /* the book client's mismatch text */
    ASSERT_EQ(goc__calc_formula(ops, 2, "+", 3, true, buf, 10), 9);
    ASSERT_EQ(goc__calc_formula(ops, 2, "+", 3, true, buf, 9), -ENOBUFS);
    ASSERT_EQ(goc__calc_formula(ops, 2, "+", 3, true, buf, 0), -ENOBUFS);

    goc__calc_req req = {.id = 1, .n = 2, .operands = {1, 2}, .op = "+"};
    size_t n = strlen("{\"ID\":1,\"Operands\":[1,2],\"Operator\":\"+\"}");
    ASSERT_EQ(goc__calc_format_request(&req, buf, n + 1), n);
    for (size_t cap = 0; cap <= n; cap++)
        ASSERT_EQ(goc__calc_format_request(&req, buf, cap), -ENOBUFS);
    goc__calc_resp resp;
    ASSERT_EQ(goc__calc_eval(&req, &resp), 0);
    int len = goc__calc_format_response(&resp, line, sizeof line);
    ASSERT_GT(len, 0);
    ASSERT_EQ(goc__calc_format_response(&resp, buf, (size_t)len), -ENOBUFS);
    ASSERT_EQ(goc__calc_format_response(&resp, buf, (size_t)len + 1), len);
    return 0;
}

GOC_TEST(calc_lenient_layout)
{
    /* Any member order, JSON whitespace, a trailing "\r\n", -0. */
    static const char in[] = " \t{ \"Operator\" : \"*\" ,\"Operands\":[ -0 ,"
                             "\n3 ], \"ID\":-0}\r\n";
    goc__calc_req req;
    char err[128];
    ASSERT_EQ(goc__calc_parse_request(in, sizeof in - 1, &req, err, sizeof err),
              0);
    ASSERT_EQ(req.id, 0);
    ASSERT_UEQ(req.n, 2);
    ASSERT_EQ(req.operands[0], 0);
    ASSERT_EQ(req.operands[1], 3);
    ASSERT_STR_EQ(req.op, "*");
    /* Exactly 64 KiB of line is accepted; padding is whitespace. */
    const char *base = go_pairs[0][0];
    size_t blen = strlen(base);
    memset(line, ' ', GOC__CALC_MAX_LINE);
    memcpy(line, base, blen);
    ASSERT_EQ(goc__calc_parse_request(line, GOC__CALC_MAX_LINE, &req, err,
                                      sizeof err),
              0);
    ASSERT_EQ(goc__calc_parse_request(line, GOC__CALC_MAX_LINE + 1, &req, err,
                                      sizeof err),
              -EMSGSIZE);
    ASSERT(strstr(err, "exceeds the limit of 65536") != NULL);
    /* 64 operands fit, and the longest formula of them too. */
    char *p = line;
    p += sprintf(p, "{\"ID\":1,\"Operands\":[");
    for (int i = 0; i < GOC__CALC_MAX_OPERANDS; i++)
        p += sprintf(p, "%s-9223372036854775808", i ? "," : "");
    sprintf(p, "],\"Operator\":\"/\"}");
    ASSERT_EQ(
        goc__calc_parse_request(line, strlen(line), &req, err, sizeof err), 0);
    ASSERT_UEQ(req.n, GOC__CALC_MAX_OPERANDS);
    goc__calc_resp resp;
    /* MIN, MIN/MIN = 1, 1/MIN = 0, then MIN replaces the 0 (quirk 1)... */
    ASSERT_EQ(goc__calc_eval(&req, &resp), 0);
    ASSERT_EQ(resp.result, INT64_MIN);
    /* No error buffer is fine too. */
    ASSERT_EQ(goc__calc_parse_request("x", 1, &req, NULL, 0), -EINVAL);
    return 0;
}

/* Malformed requests: each fails in the parser or the evaluator with the
 * code and a reason containing `why`. */
static const struct {
    const char *line;
    size_t len; /* 0: strlen(line) */
    int code;
    const char *why;
} bad[] = {
#define R(ops, op) "{\"ID\":9,\"Operands\":" ops ",\"Operator\":" op "}"
    /* Not an object at all. */
    {"", 0, -EINVAL, "empty line"},
    {" \t\r\n", 0, -EINVAL, "empty line"},
    {"null", 0, -EINVAL, "expected a JSON object, found null"},
    {"[1,2]", 0, -EINVAL, "expected a JSON object, found an array"},
    {"42", 0, -EINVAL, "expected a JSON object, found a number"},
    {"\"ID\"", 0, -EINVAL, "expected a JSON object, found a string"},
    {"\xef\xbb\xbf" R("[1,2]", "\"+\""), 0, -EINVAL,
     "expected a JSON object, found byte 0xef"},
    {"ID=1", 0, -EINVAL, "expected a JSON object, found 'I'"},
    /* Broken syntax. */
    {"{", 0, -EINVAL, "expected a string key, found the end"},
    {"{\"ID\":1", 0, -EINVAL, "expected ',' or '}', found the end"},
    {"{\"ID\":1,}", 0, -EINVAL, "offset 8: expected a string key"},
    {"{ID:1}", 0, -EINVAL, "expected a string key, found 'I'"},
    {"{'ID':1}", 0, -EINVAL, "expected a string key, found '''"},
    {"{\"ID\" 1}", 0, -EINVAL, "expected ':' after the key, found '1'"},
    {"{\"ID\":}", 0, -EINVAL, "expected an integer, found '}'"},
    {"{\"ID\":1 \"Operands\":[]}", 0, -EINVAL, "expected ',' or '}'"},
    {"{\"ID\":tru}", 0, -EINVAL, "invalid literal (expected true)"},
    {"{\"ID\":NaN}", 0, -EINVAL, "expected an integer, found 'N'"},
    {"{\"ID\":1 /* c */}", 0, -EINVAL, "expected ',' or '}', found '/'"},
    {"{\"ID\":1\0}", 9, -EINVAL, "found byte 0x00"},
    {R("[1,2]", "\"+\"") "x", 0, -EINVAL, "trailing data after the JSON"},
    {R("[1,2]", "\"+\"") R("[1,2]", "\"+\""), 0, -EINVAL, "trailing data"},
    /* Missing, unknown and repeated fields. */
    {"{}", 0, -EINVAL, "missing field \"ID\""},
    {"{\"ID\":1,\"Operator\":\"+\"}", 0, -EINVAL, "missing field \"Operands\""},
    {"{\"ID\":1,\"Operands\":[1]}", 0, -EINVAL, "missing field \"Operator\""},
    {"{\"Operands\":[1],\"Operator\":\"+\"}", 0, -EINVAL,
     "missing field \"ID\""},
    {"{\"id\":1,\"Operands\":[1,2],\"Operator\":\"+\"}", 0, -EINVAL,
     "unknown field \"id\""},
    {"{\"ID\":1,\"Extra\":true}", 0, -EINVAL, "unknown field \"Extra\""},
    {"{\"Operands_and_a_very_long_unknown_name\":1}", 0, -EINVAL,
     "unknown field \"Operands_and_a_very_long_unknow...\""},
    {"{\"ID\":1,\"ID\":2}", 0, -EINVAL, "duplicate field \"ID\""},
    /* Wrong types. */
    {"{\"ID\":\"1\"}", 0, -EINVAL, "ID: expected an integer, found a string"},
    {"{\"ID\":null}", 0, -EINVAL, "ID: expected an integer, found null"},
    {"{\"ID\":true}", 0, -EINVAL, "ID: expected an integer, found a boolean"},
    {"{\"ID\":[1]}", 0, -EINVAL, "ID: expected an integer, found an array"},
    {"{\"ID\":{}}", 0, -EINVAL, "ID: expected an integer, found an object"},
    {"{\"ID\":1.5}", 0, -EINVAL, "ID: 1.5 is not an integer"},
    {"{\"ID\":1e3}", 0, -EINVAL, "ID: 1e3 is not an integer"},
    {"{\"ID\":9223372036854775808}", 0, -EINVAL,
     "ID: 9223372036854775808 overflows int64"},
    {"{\"ID\":-9223372036854775809}", 0, -EINVAL, "overflows int64"},
    {R("\"1,2\"", "\"+\""), 0, -EINVAL,
     "Operands: expected an array of integers, found a string"},
    {R("null", "\"+\""), 0, -EINVAL,
     "Operands: expected an array of integers, found null"},
    {R("{}", "\"+\""), 0, -EINVAL, "found an object"},
    {R("[1,\"2\"]", "\"+\""), 0, -EINVAL,
     "Operands[1]: expected an integer, found a string"},
    {R("[1,2.5]", "\"+\""), 0, -EINVAL, "Operands[1]: 2.5 is not an integer"},
    {R("[[1],2]", "\"+\""), 0, -EINVAL,
     "Operands[0]: expected an integer, found an array"},
    {R("[1,99999999999999999999999999999999]", "\"+\""), 0, -EINVAL,
     "Operands[1]: 999999999999999999999999... overflows int64"},
    {R("[1,null]", "\"+\""), 0, -EINVAL, "Operands[1]: expected an integer"},
    {R("[1,2]", "1"), 0, -EINVAL, "Operator: expected a string, found a num"},
    {R("[1,2]", "null"), 0, -EINVAL, "Operator: expected a string, found null"},
    {R("[1,2]", "[\"+\"]"), 0, -EINVAL, "Operator: expected a string"},
    /* Broken numbers and arrays. */
    {R("[01,2]", "\"+\""), 0, -EINVAL, "invalid number: leading zero"},
    {R("[-,2]", "\"+\""), 0, -EINVAL, "a digit must follow '-'"},
    {R("[+1,2]", "\"+\""), 0, -EINVAL, "expected an integer, found '+'"},
    {R("[1.,2]", "\"+\""), 0, -EINVAL, "a digit must follow '.'"},
    {R("[1e,2]", "\"+\""), 0, -EINVAL, "a digit must follow the exponent"},
    {R("[0x10]", "\"+\""), 0, -EINVAL, "expected ',' or ']', found 'x'"},
    {R("[1,2,]", "\"+\""), 0, -EINVAL, "Operands[2]: expected an integer"},
    {R("[1 2]", "\"+\""), 0, -EINVAL, "expected ',' or ']', found '2'"},
    {"{\"ID\":9,\"Operands\":[1,2", 0, -EINVAL,
     "expected ',' or ']', found the end of the line"},
    /* Broken strings. */
    {R("[1,2]", "\"+"), 0, -EINVAL, "unterminated string"},
    {R("[1,2]", "'+'"), 0, -EINVAL, "expected a string, found '''"},
    {R("[1,2]", "\"\\x\""), 0, -EINVAL, "invalid escape in a string"},
    {R("[1,2]", "\"\\u12\""), 0, -EINVAL, "invalid \\u escape"},
    {R("[1,2]", "\"\\ud800\""), 0, -EINVAL, "unpaired surrogate"},
    {R("[1,2]", "\"\\udc00\""), 0, -EINVAL, "unpaired surrogate"},
    {R("[1,2]", "\"\\u0000\""), 0, -EINVAL, "\\u0000 is not allowed"},
    {R("[1,2]", "\"+\t\""), 0, -EINVAL, "control character 0x09"},
    {R("[1,2]", "\"\xff\""), 0, -EINVAL, "invalid UTF-8 in a string"},
    {R("[1,2]", "\"\xc0\xab\""), 0, -EINVAL, "invalid UTF-8"}, /* overlong */
    {R("[1,2]", "\"\xed\xa0\x80\""), 0, -EINVAL, "invalid UTF-8"}, /* D800 */
    /* Limits. */
    {R("[1,2]", "\"0123456789abcdef\""), 0, -E2BIG,
     "Operator: longer than 15 bytes"},
    {R("[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,"
       "26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,"
       "48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65]",
       "\"+\""),
     0, -E2BIG, "Operands: more than 64 operands"},
    /* Well-formed, but the evaluator refuses (the Go server would crash or
     * answer nonsense). */
    {R("[1,2]", "\"%\""), 0, -EINVAL, "unknown operator \"%\""},
    {R("[1,2]", "\"\""), 0, -EINVAL, "unknown operator \"\""},
    {R("[1,2]", "\"plus\""), 0, -EINVAL, "unknown operator \"plus\""},
    {R("[1,2]", "\"+\\n\""), 0, -EINVAL, "unknown operator \"+?\""},
    {R("[5,0]", "\"/\""), 0, -EDOM, "division by zero: 5 / 0 (operand 2)"},
    {R("[0,5,0]", "\"/\""), 0, -EDOM, "division by zero: 5 / 0 (operand 3)"},
    {R("[9223372036854775807,1]", "\"+\""), 0, -ERANGE,
     "int64 overflow: 9223372036854775807 + 1 (operand 2)"},
    {R("[-9223372036854775808,1]", "\"-\""), 0, -ERANGE, "int64 overflow"},
    {R("[4294967296,4294967296]", "\"*\""), 0, -ERANGE, "int64 overflow"},
    {R("[-9223372036854775808,-1]", "\"/\""), 0, -ERANGE,
     "int64 overflow: -9223372036854775808 / -1"},
#undef R
};

GOC_TEST(calc_malformed_requests)
{
    size_t nbad = sizeof bad / sizeof bad[0];
    ASSERT_GE(nbad, 40);
    for (size_t i = 0; i < nbad; i++) {
        size_t len = bad[i].len ? bad[i].len : strlen(bad[i].line);
        goc__calc_req req;
        goc__calc_resp resp;
        char err[256] = "";
        int rc =
            goc__calc_parse_request(bad[i].line, len, &req, err, sizeof err);
        if (rc == 0) { /* an evaluator case: the error comes as a reply */
            rc = goc__calc_eval(&req, &resp);
            if (rc != 0) {
                ASSERT(resp.has_err);
                ASSERT_EQ(resp.id, 9);
                ASSERT_EQ(resp.result, 0);
                ASSERT_STR_EQ(resp.formula, "");
                strcpy(err, resp.err);
            }
        }
        if (rc != bad[i].code || strstr(err, bad[i].why) == NULL)
            GOC_FAIL_("case %zu <%s>: got %d \"%s\", want %d \"%s\"", i,
                      bad[i].line, rc, err, bad[i].code, bad[i].why);
        for (const char *p = err; *p; p++)
            ASSERT((unsigned char)*p >= 0x20 && *p != 0x7F);
    }
    return 0;
}

GOC_TEST(calc_error_response)
{
    static const char div0[] = "{\"ID\":9,\"Operands\":[5,0],"
                               "\"Operator\":\"/\"}";
    goc__calc_req req;
    goc__calc_resp resp, back;
    char err[256];
    ASSERT_EQ(
        goc__calc_parse_request(div0, sizeof div0 - 1, &req, err, sizeof err),
        0);
    ASSERT_EQ(goc__calc_eval(&req, &resp), -EDOM);
    goc__calc_format_response(&resp, line, sizeof line);
    ASSERT_STR_EQ(line, "{\"ID\":9,\"Formula\":\"\",\"Result\":0,\"Err\":"
                        "\"division by zero: 5 / 0 (operand 2)\"}");
    ASSERT_EQ(
        goc__calc_parse_response(line, strlen(line), &back, err, sizeof err),
        0);
    resp_eq(&resp, &back);

    /* The Go server's error reply: the message is lost in "{}". */
    static const char go[] = "{\"ID\":0,\"Formula\":\"\",\"Result\":0,"
                             "\"Err\":{}}";
    ASSERT_EQ(
        goc__calc_parse_response(go, sizeof go - 1, &back, err, sizeof err), 0);
    ASSERT(back.has_err);
    ASSERT_STR_EQ(back.err, "{}");
    static const char obj[] = "{\"ID\":0,\"Formula\":\"\",\"Result\":0,"
                              "\"Err\":{\"Op\":\"read\",\"N\":[1,{}]}}";
    ASSERT_EQ(
        goc__calc_parse_response(obj, sizeof obj - 1, &back, err, sizeof err),
        0);
    ASSERT_STR_EQ(back.err, "{\"Op\":\"read\",\"N\":[1,{}]}");

    /* A long message is cut at a character, never inside one. */
    char msg[300];
    memset(msg, 'a', 254);
    strcpy(msg + 254, "\xc3\xa9 and more");
    goc__calc_resp_error(&resp, 3, msg);
    ASSERT_EQ(strlen(resp.err), 254);
    ASSERT_EQ(resp.id, 3);
    sprintf(line, "{\"ID\":1,\"Formula\":\"\",\"Result\":0,\"Err\":\"%s\"}",
            msg);
    ASSERT_EQ(
        goc__calc_parse_response(line, strlen(line), &back, err, sizeof err),
        0);
    ASSERT_STR_EQ(back.err, resp.err);

    /* Unknown operators, too long to echo whole, are cut as well. */
    goc__calc_req odd = {.id = 4, .n = 1, .operands = {1}};
    memset(odd.op, 'x', sizeof odd.op); /* no NUL: misuse, still safe */
    ASSERT_EQ(goc__calc_eval(&odd, &resp), -EINVAL);
    ASSERT(strstr(resp.err, "unknown operator") != NULL);
    ASSERT_EQ(goc__calc_format_request(&odd, line, sizeof line), -EINVAL);
    odd.op[0] = '\0';
    odd.n = GOC__CALC_MAX_OPERANDS + 1;
    ASSERT_EQ(goc__calc_format_request(&odd, line, sizeof line), -EINVAL);
    ASSERT_EQ(goc__calc_eval(&odd, &resp), -E2BIG);
    ASSERT(resp.has_err);
    return 0;
}

GOC_TEST(calc_malformed_responses)
{
    static const struct {
        const char *line;
        const char *why;
    } cases[] = {
        {"{\"ID\":1,\"Formula\":\"\",\"Result\":0}", "missing field \"Err\""},
        {"{\"ID\":1,\"Formula\":\"\",\"Err\":null}",
         "missing field \"Result\""},
        {"{\"ID\":1,\"Formula\":\"\",\"Result\":\"3\",\"Err\":null}",
         "Result: expected an integer, found a string"},
        {"{\"ID\":1,\"Formula\":3,\"Result\":3,\"Err\":null}",
         "Formula: expected a string, found a number"},
        {"{\"ID\":1,\"Formula\":\"\",\"Result\":3,\"Err\":7}",
         "Err: expected null, a string or an object, found a number"},
        {"{\"ID\":1,\"Formula\":\"\",\"Result\":3,\"Err\":[]}",
         "found an array"},
        {"{\"ID\":1,\"Formula\":\"\",\"Result\":3,\"Err\":{\"a\":}}",
         "expected a value, found '}'"},
        {"{\"ID\":1,\"Formula\":\"\",\"Result\":3,\"Err\":nul}",
         "invalid literal (expected null)"},
        {"{\"ID\":1,\"Formula\":\"\",\"Result\":3,\"Err\":null,\"X\":1}",
         "unknown field \"X\""},
        {"{\"ID\":1,\"Formula\":\"\",\"Result\":1.0,\"Err\":null}",
         "Result: 1.0 is not an integer"},
    };
    goc__calc_resp r;
    char err[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = goc__calc_parse_response(cases[i].line, strlen(cases[i].line),
                                          &r, err, sizeof err);
        if (rc != -EINVAL || strstr(err, cases[i].why) == NULL)
            GOC_FAIL_("<%s>: got %d \"%s\", want \"%s\"", cases[i].line, rc,
                      err, cases[i].why);
    }
    /* Nesting is bounded. */
    char *p = line;
    p += sprintf(p, "{\"ID\":1,\"Formula\":\"\",\"Result\":3,\"Err\":");
    for (int i = 0; i < 40; i++)
        p += sprintf(p, "{\"a\":");
    p += sprintf(p, "1");
    for (int i = 0; i < 40; i++)
        *p++ = '}';
    strcpy(p, "}");
    ASSERT_EQ(goc__calc_parse_response(line, strlen(line), &r, err, sizeof err),
              -EINVAL);
    ASSERT(strstr(err, "nesting deeper than 32") != NULL);
    /* A formula longer than any valid one is refused. */
    p = line + sprintf(line, "{\"ID\":1,\"Formula\":\"");
    memset(p, '1', GOC__CALC_FORMULA_CAP);
    strcpy(p + GOC__CALC_FORMULA_CAP, "\",\"Result\":3,\"Err\":null}");
    ASSERT_EQ(goc__calc_parse_response(line, strlen(line), &r, err, sizeof err),
              -E2BIG);
    ASSERT(strstr(err, "Formula: longer than") != NULL);
    return 0;
}

static uint64_t rng_next(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static int64_t rng_operand(uint64_t *s)
{
    switch (rng_next(s) % 6) {
    case 0:
        return 0;
    case 1:
        return INT64_MIN + (int64_t)(rng_next(s) % 3);
    case 2:
        return INT64_MAX - (int64_t)(rng_next(s) % 3);
    case 3:
        return (int64_t)(rng_next(s) % 2001) - 1000;
    default:
        return (int64_t)rng_next(s);
    }
}

/* format -> parse is the identity, for requests and for responses. */
GOC_TEST(calc_round_trip)
{
    static const char *const pieces[] = {
        "+", "-",   "*",    "/",        "\"",           "\\",
        "<", "\n",  "\x01", "\xc3\xa9", "\xe2\x80\xa8", "\xf0\x9f\x98\x80",
        "%", "\x7f"};
    uint64_t seed = 1;
    long iters = goc_test_iters(20000, 1000);
    for (long it = 0; it < iters; it++) {
        goc__calc_req req = {0}, req2;
        goc__calc_resp resp, resp2;
        char err[256];
        req.id = rng_operand(&seed);
        req.n = rng_next(&seed) % 4 == 0 ? rng_next(&seed) % 65
                                         : rng_next(&seed) % 4;
        for (size_t i = 0; i < req.n; i++)
            req.operands[i] = rng_operand(&seed);
        size_t k = rng_next(&seed) % 5;
        for (size_t i = 0; i < k; i++) {
            const char *pc = pieces[rng_next(&seed) % 14];
            if (strlen(req.op) + strlen(pc) <= GOC__CALC_MAX_OPERATOR)
                strcat(req.op, pc);
        }
        int n = goc__calc_format_request(&req, line, sizeof line);
        ASSERT_GT(n, 0);
        int rc =
            goc__calc_parse_request(line, (size_t)n, &req2, err, sizeof err);
        if (rc != 0)
            GOC_FAIL_("%s: %s", line, err);
        req_eq(&req, &req2);
        rc = goc__calc_eval(&req, &resp);
        ASSERT(rc == 0 || resp.has_err);
        n = goc__calc_format_response(&resp, line, sizeof line);
        ASSERT_GT(n, 0);
        rc = goc__calc_parse_response(line, (size_t)n, &resp2, err, sizeof err);
        if (rc != 0)
            GOC_FAIL_("%s: %s", line, err);
        resp_eq(&resp, &resp2);
    }
    return 0;
}
