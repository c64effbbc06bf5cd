/* HTTP/1.1 response parsing for the policy fetch: framing by length, chunks and close,
 * fed whole and byte by byte; caps and malformed responses; the body handed on in pieces. */
#include "stsm_check.h"
#include "stsm_http.h"

static struct stsm_http_response r;
static uint8_t body[256];
static size_t body_got, body_calls;
static bool body_overrun;

/* The body sink: appends what the parser hands on, and notes a piece past the buffer. */
static void take_body(void *arg, const uint8_t *data, size_t len)
{
    (void)arg;
    body_calls++;
    if (len == 0 || len > sizeof body - body_got) {
        body_overrun = true;
        return;
    }
    memcpy(body + body_got, data, len);
    body_got += len;
}

/* Feeds `text` whole or one byte at a time; returns the first non-OK status or OK. */
static stsm_status_t feed(const char *text, bool bytewise, size_t cap)
{
    body_got = body_calls = 0;
    body_overrun = false;
    stsm_http_response_init(&r, cap, take_body, NULL);
    size_t len = strlen(text);
    for (size_t i = 0; i < len;) {
        size_t n = bytewise ? 1 : len - i;
        stsm_status_t st = stsm_http_response_feed(&r, (const uint8_t *)text + i, n);
        if (st != STSM_OK) {
            return st;
        }
        i += n;
    }
    return STSM_OK;
}

static bool body_is(const char *want)
{
    return !body_overrun && r.body_len == strlen(want) && body_got == r.body_len && memcmp(body, want, r.body_len) == 0;
}

/* Feeds `len` bytes in two pieces cut at `at`; returns the first non-OK status or OK. */
static stsm_status_t feed_split(const char *text, size_t len, size_t at, size_t cap)
{
    body_got = body_calls = 0;
    body_overrun = false;
    stsm_http_response_init(&r, cap, take_body, NULL);
    stsm_status_t st = stsm_http_response_feed(&r, (const uint8_t *)text, at);
    return st != STSM_OK ? st : stsm_http_response_feed(&r, (const uint8_t *)text + at, len - at);
}

/* The body is handed on as it comes, unframed, whatever the cut: every cut of a chunked
 * response (inside a chunk-size line, its extension, between CR and LF, inside the
 * trailers) gives the same body; NUL bytes pass as bytes. */
static void test_pieces(void)
{
    static const char chunked[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "1b;name=\"v\"\r\nversion: STSv1\r\nmode: none\r\r\n"
                                  "3\r\n\0\n\0\r\n0\r\nX-T: 1\r\n\r\n";
    static const char want[] = "version: STSv1\r\nmode: none\r\0\n\0";
    size_t len = sizeof chunked - 1, want_len = sizeof want - 1;
    bool all_same = true;
    for (size_t at = 0; at <= len; at++) {
        stsm_status_t st = feed_split(chunked, len, at, sizeof body);
        all_same = all_same && st == STSM_OK && r.complete && !body_overrun && body_got == want_len &&
                   r.body_len == want_len && memcmp(body, want, want_len) == 0;
    }
    CHECK_CASE("chunked body cut at every byte, chunk-size lines included: the same body");
    CHECK(all_same);

    CHECK_CASE("chunked body byte by byte: one piece a byte, no framing byte handed on");
    body_got = body_calls = 0;
    body_overrun = false;
    stsm_http_response_init(&r, sizeof body, take_body, NULL);
    for (size_t i = 0; i < len; i++) {
        CHECK_INT(stsm_http_response_feed(&r, (const uint8_t *)chunked + i, 1), STSM_OK);
    }
    CHECK(r.complete && body_got == want_len && memcmp(body, want, want_len) == 0);
    CHECK_INT(body_calls, want_len);

    CHECK_CASE("whole: one piece a chunk");
    CHECK_INT(feed_split(chunked, len, len, sizeof body), STSM_OK);
    CHECK_INT(body_calls, 2);
    CHECK(!body_overrun && r.body_len == want_len && memcmp(body, want, want_len) == 0);

    CHECK_CASE("no sink: the body is counted");
    stsm_http_response_init(&r, 16, NULL, NULL);
    static const char counted[] = "HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n0123456789abcdef";
    CHECK_INT(stsm_http_response_feed(&r, (const uint8_t *)counted, sizeof counted - 1), STSM_OK);
    CHECK(r.complete);
    CHECK_INT(r.body_len, 16);
}

/* A body of exactly the cap is taken, one byte more is refused before any of the excess is
 * handed on, whatever the framing; lines longer than what is kept of them. */
static void test_limits(void)
{
    static const struct {
        const char *intent;
        const char *text;
        stsm_status_t status;
    } cases[] = {
        { "Content-Length at the cap", "HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n0123456789abcdef", STSM_OK },
        { "Content-Length one over the cap", "HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n0123456789abcdefg",
          STSM_ERR_CAPACITY },
        { "chunks summing to the cap", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
          "8\r\n01234567\r\n8\r\n89abcdef\r\n0\r\n\r\n", STSM_OK },
        { "chunks one over the cap", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
          "8\r\n01234567\r\n9\r\n89abcdefg\r\n0\r\n\r\n", STSM_ERR_CAPACITY },
        { "close-delimited at the cap", "HTTP/1.1 200 OK\r\n\r\n0123456789abcdef", STSM_OK },
        { "close-delimited one over the cap", "HTTP/1.1 200 OK\r\n\r\n0123456789abcdefg", STSM_ERR_CAPACITY },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int bytewise = 0; bytewise <= 1; bytewise++) {
            CHECK_CASE(cases[i].intent);
            CHECK_INT(feed(cases[i].text, bytewise, 16), cases[i].status);
            CHECK(!body_overrun && body_got <= 16 && body_got == r.body_len);
            if (cases[i].status == STSM_OK) {
                CHECK_INT(r.body_len, 16);
                CHECK(memcmp(body, "0123456789abcdef", 16) == 0);
            }
        }
    }

    /* Lines longer than what is kept (STSM_HTTP_LINE_MAX): read on their first bytes, the
     * rest skipped. A response is built as head + `fill` bytes of `c` + tail. */
    static char text[STSM_HTTP_HEADERS_MAX + 1024];
    static const struct {
        const char *intent;
        const char *head;
        char c;
        size_t fill;
        const char *tail;
        stsm_status_t status;
        const char *content_type;   /* expected when OK */
    } lines[] = {
        { "other header at what is kept, LF", "HTTP/1.1 200 OK\r\nX: ", 'x', STSM_HTTP_LINE_MAX - 3,
          "\nContent-Type: text/plain\r\nContent-Length: 16\r\n\r\n0123456789abcdef", STSM_OK, "text/plain" },
        { "other header one over, LF", "HTTP/1.1 200 OK\r\nX: ", 'x', STSM_HTTP_LINE_MAX - 2,
          "\nContent-Type: text/plain\r\nContent-Length: 16\r\n\r\n0123456789abcdef", STSM_OK, "text/plain" },
        { "other header of 8 KiB, then the headers we read", "HTTP/1.1 200 OK\r\nX-Long: ", 'x', 8192,
          "\r\nContent-Type: text/plain\r\nContent-Length: 16\r\n\r\n0123456789abcdef", STSM_OK, "text/plain" },
        { "reason phrase of 4 KiB", "HTTP/1.1 200 ", 'k', 4096,
          "\r\nContent-Type: text/plain\r\nContent-Length: 16\r\n\r\n0123456789abcdef", STSM_OK, "text/plain" },
        { "Content-Type with 2 KiB of parameters keeps its media type",
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8; x=", 'p', 2048,
          "\r\nContent-Length: 16\r\n\r\n0123456789abcdef", STSM_OK, "text/plain" },
        { "Content-Type whose media type runs past what is kept is not taken for a prefix",
          "HTTP/1.1 200 OK\r\nContent-Type:", ' ', STSM_HTTP_LINE_MAX - 23,
          "text/plainx\r\nContent-Length: 16\r\n\r\n0123456789abcdef", STSM_OK, "" },
        { "Content-Length padded past what is kept", "HTTP/1.1 200 OK\r\nContent-Length:", ' ',
          STSM_HTTP_LINE_MAX, "16\r\n\r\n0123456789abcdef", STSM_ERR_PEER_PROTOCOL, NULL },
        { "Transfer-Encoding padded past what is kept", "HTTP/1.1 200 OK\r\nTransfer-Encoding:", ' ',
          STSM_HTTP_LINE_MAX, "chunked\r\n\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n", STSM_ERR_PEER_PROTOCOL, NULL },
        { "field name longer than what is kept", "HTTP/1.1 200 OK\r\nX", 'n', STSM_HTTP_LINE_MAX,
          ": v\r\nContent-Length: 16\r\n\r\n0123456789abcdef", STSM_ERR_PEER_PROTOCOL, NULL },
        { "chunk extension of 4 KiB", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10;", 'e', 4096,
          "\r\n0123456789abcdef\r\n0\r\n\r\n", STSM_OK, "" },
        { "trailer of 4 KiB", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n0\r\nT: ",
          't', 4096, "\r\n\r\n", STSM_OK, "" },
        { "long junk after a chunk's data", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef",
          'j', STSM_HTTP_LINE_MAX + 1, "\r\n0\r\n\r\n", STSM_ERR_PEER_PROTOCOL, NULL },
        /* The headers' bytes count every byte after the status line but the LFs: "X: ",
         * the fill, three CRs and "Content-Length: 16" are the fill + 24. */
        { "headers of exactly STSM_HTTP_HEADERS_MAX bytes", "HTTP/1.1 200 OK\r\nX: ", 'x',
          STSM_HTTP_HEADERS_MAX - 24, "\r\nContent-Length: 16\r\n\r\n0123456789abcdef", STSM_OK, "" },
        { "headers of STSM_HTTP_HEADERS_MAX + 1 bytes", "HTTP/1.1 200 OK\r\nX: ", 'x',
          STSM_HTTP_HEADERS_MAX - 23, "\r\nContent-Length: 16\r\n\r\n0123456789abcdef", STSM_ERR_PEER_PROTOCOL, NULL },
        { "headers over STSM_HTTP_HEADERS_MAX in one skipped line", "HTTP/1.1 200 OK\r\nX: ", 'x',
          STSM_HTTP_HEADERS_MAX, "\r\nContent-Length: 16\r\n\r\n0123456789abcdef", STSM_ERR_PEER_PROTOCOL, NULL },
        { "a status line's skipped part over STSM_HTTP_HEADERS_MAX", "HTTP/1.1 200 ", 'k',
          STSM_HTTP_HEADERS_MAX + STSM_HTTP_LINE_MAX, "\r\nContent-Length: 16\r\n\r\n0123456789abcdef", STSM_ERR_PEER_PROTOCOL, NULL },
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        size_t n = strlen(lines[i].head);
        memcpy(text, lines[i].head, n);
        memset(text + n, lines[i].c, lines[i].fill);
        n += lines[i].fill;
        n += (size_t)snprintf(text + n, sizeof text - n, "%s", lines[i].tail);
        for (int bytewise = 0; bytewise <= 1; bytewise++) {
            CHECK_CASE(lines[i].intent);
            CHECK_INT(feed(text, bytewise, sizeof body), lines[i].status);
            if (lines[i].status == STSM_OK) {
                CHECK(r.complete && body_is("0123456789abcdef"));
                CHECK_STR(r.content_type, lines[i].content_type);
            }
        }
    }
}

/* The same bound reached with many short header lines, none of them cut: at
 * STSM_HTTP_HEADERS_MAX bytes the response is read, one byte more refuses it. */
static void test_header_total(void)
{
    static char text[2 * STSM_HTTP_HEADERS_MAX];   /* the headers and an LF for each line */
    static const char tail[] = "Content-Length: 16\r\n\r\n0123456789abcdef";
    for (size_t over = 0; over <= 1; over++) {
        /* Counted: each line but its LF, the Content-Length line's 19, the empty line's CR. */
        size_t want = STSM_HTTP_HEADERS_MAX + over - 20, n = (size_t)snprintf(text, sizeof text, "HTTP/1.1 200 OK\r\n");
        while (want > 0) {
            size_t line = want > 64 ? 64 : want;   /* "X:" and at least one more byte, CR last */
            if (want - line > 0 && want - line < 4) {
                line -= 4;
            }
            memcpy(text + n, "X:", 2);
            memset(text + n + 2, 'v', line - 3);
            memcpy(text + n + line - 1, "\r\n", 2);
            n += line + 1;
            want -= line;
        }
        memcpy(text + n, tail, sizeof tail);
        for (int bytewise = 0; bytewise <= 1; bytewise++) {
            CHECK_CASE(over ? "short header lines of STSM_HTTP_HEADERS_MAX + 1 bytes"
                            : "short header lines of exactly STSM_HTTP_HEADERS_MAX bytes");
            CHECK_INT(feed(text, bytewise, sizeof body), over ? STSM_ERR_PEER_PROTOCOL : STSM_OK);
            if (!over) {
                CHECK(r.complete && body_is("0123456789abcdef"));
                CHECK_INT(r.header_bytes, STSM_HTTP_HEADERS_MAX);
            }
        }
    }
}

int main(void)
{
    for (int bytewise = 0; bytewise <= 1; bytewise++) {
        CHECK_CASE(bytewise ? "Content-Length (byte by byte)" : "Content-Length");
        CHECK_INT(feed("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\nhelloEXTRA",
                       bytewise, sizeof body), STSM_OK);
        CHECK(r.complete);
        CHECK_INT(r.status, 200);
        CHECK_STR(r.content_type, "text/plain");
        CHECK(body_is("hello"));

        CHECK_CASE(bytewise ? "chunked (byte by byte)" : "chunked");
        CHECK_INT(feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: TEXT/Plain\r\n\r\n"
                       "5;ext=1\r\nhello\r\nA\r\n, chunked!\r\n0\r\nX-Trailer: y\r\n\r\n", bytewise, sizeof body), STSM_OK);
        CHECK(r.complete);
        CHECK_STR(r.content_type, "text/plain");
        CHECK(body_is("hello, chunked!"));

        CHECK_CASE(bytewise ? "delimited by close (byte by byte)" : "delimited by close");
        CHECK_INT(feed("HTTP/1.0 200 OK\nContent-Type: text/plain\n\nbody to the end", bytewise, sizeof body), STSM_OK);
        CHECK(!r.complete);
        CHECK_INT(stsm_http_response_eof(&r), STSM_OK);
        CHECK(r.complete && body_is("body to the end"));
    }

    CHECK_CASE("a redirect is just a status to the caller");
    CHECK_INT(feed("HTTP/1.1 301 Moved\r\nLocation: https://elsewhere/\r\nContent-Length: 0\r\n\r\n", false, sizeof body), STSM_OK);
    CHECK(r.complete);
    CHECK_INT(r.status, 301);

    CHECK_CASE("body larger than the buffer (length known)");
    CHECK_INT(feed("HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n", false, sizeof body), STSM_ERR_CAPACITY);
    CHECK_CASE("body larger than the buffer (chunked)");
    CHECK_INT(feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFF\r\n", false, 16), STSM_ERR_CAPACITY);
    CHECK_CASE("body larger than the buffer (close)");
    CHECK_INT(feed("HTTP/1.1 200 OK\r\n\r\n0123456789abcdefX", false, 16), STSM_ERR_CAPACITY);

    /* An orderly end (close_notify) still cannot complete a body framed otherwise. */
    static const struct {
        const char *intent;
        const char *text;
    } cut[] = {
        { "Content-Length body cut short", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc" },
        { "Content-Length body, nothing of it", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" },
        { "headers unfinished", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" },
        { "status line unfinished", "HTTP/1.1 200 O" },
        { "chunked, inside a chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel" },
        { "chunked, between chunks", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n" },
        { "chunked, last chunk without the empty line",
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n" },
        { "chunked, inside the trailers",
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: y\r\n" },
    };
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
        CHECK_CASE(cut[i].intent);
        CHECK_INT(feed(cut[i].text, false, sizeof body), STSM_OK);
        CHECK(!r.complete);
        CHECK_INT(stsm_http_response_eof(&r), STSM_ERR_PEER_CLOSED);
        CHECK(!r.complete);
    }

    CHECK_CASE("a complete Content-Length body stays complete at the end");
    CHECK_INT(feed("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", false, sizeof body), STSM_OK);
    CHECK(r.complete);
    CHECK_INT(stsm_http_response_eof(&r), STSM_OK);
    CHECK(body_is("abc"));

    static const struct {
        const char *intent;
        const char *text;
    } bad[] = {
        { "not HTTP", "SSH-2.0-OpenSSH\r\n" },
        { "HTTP/2 status line", "HTTP/2 200\r\n\r\n" },
        { "status out of range", "HTTP/1.1 600 What\r\n\r\n" },
        { "two different lengths", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n" },
        { "signed length", "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n" },
        { "unknown transfer coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n" },
        { "obsolete line folding", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n" },
        { "space before the colon", "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n" },
        { "bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n" },
        { "length and chunked (smuggling)",
          "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" },
        { "chunked and length (smuggling)",
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n" },
        { "chunk without its CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_CASE(bad[i].intent);
        CHECK_INT(feed(bad[i].text, false, sizeof body), STSM_ERR_PEER_PROTOCOL);
    }

    CHECK_CASE("over-long header line not ended: skipped, the response is not complete");
    static char big[STSM_HTTP_LINE_MAX + 64];
    memset(big, 'x', sizeof big - 1);
    memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
    CHECK_INT(feed(big, false, sizeof body), STSM_OK);
    CHECK(!r.complete && r.line_len == STSM_HTTP_LINE_MAX);
    CHECK_INT(stsm_http_response_eof(&r), STSM_ERR_PEER_CLOSED);

    test_pieces();
    test_limits();
    test_header_total();

    CHECK_CASE("request");
    char req[256];
    CHECK(stsm_http_get_request(req, sizeof req, "mta-sts.example.test", "/.well-known/mta-sts.txt") > 0);
    CHECK_STR(req, "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.example.test\r\nUser-Agent: stsmail\r\n"
                   "Accept: text/plain\r\nConnection: close\r\n\r\n");
    CHECK_INT(stsm_http_get_request(req, 20, "mta-sts.example.test", "/"), 0);
    return stsm_check_summary("test_http");
}
