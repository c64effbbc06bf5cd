/* HTTP/1.1 response parsing for the policy fetch: framing by length, chunks and close,
 * fed whole and byte by byte; caps and malformed responses. */
#include "stsm_check.h"
#include "stsm_http.h"

static struct stsm_http_response r;
static uint8_t body[256];

/* Feeds `text` whole or one byte at a time; returns the first non-OK status or OK. */
static stsm_status_t feed(const char *text, bool bytewise, size_t cap)
{
    stsm_http_response_init(&r, body, cap);
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
    return r.body_len == strlen(want) && memcmp(body, want, r.body_len) == 0;
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

    CHECK_CASE("over-long header line");
    static char big[STSM_HTTP_LINE_MAX + 64];
    memset(big, 'x', sizeof big - 1);
    memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
    CHECK_INT(feed(big, false, sizeof body), STSM_ERR_PEER_PROTOCOL);

    CHECK_CASE("request");
    char req[256];
    CHECK(stsm_http_get_request(req, sizeof req, "mta-sts.example.test", "/.well-known/mta-sts.txt") > 0);
    CHECK_STR(req, "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.example.test\r\nUser-Agent: stsmail\r\n"
                   "Accept: text/plain\r\nConnection: close\r\n\r\n");
    CHECK_INT(stsm_http_get_request(req, 20, "mta-sts.example.test", "/"), 0);
    return stsm_check_summary("test_http");
}
