/* Alert messages: exact rendering, dates, encoded subjects, 8bit versus quoted-printable,
 * line limits, and refusal of header injection and invalid text. */
#include "stsm_check.h"
#include "stsm_message.h"

static char out[16384];

/* What the renderer before the reader gave for random_messages(), hashed. */
#define RANDOM_RENDER_HASH 3285201902u

#define LABEL63 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk"

static struct stsm_message base(void)
{
    struct stsm_message m = { .from = "alerts@printer.example", .to_count = 1, .subject = "Toner low",
                              .body = "Cyan at 5%.\n", .body_len = 12, .date = 1796025942,
                              .id_random = { 0x1234abcd, 0x00ff00ff } };
    m.to[0] = "ops@example.test";
    return m;
}

/* ---- the reader: the same bytes, whatever the pieces ------------------------------- */

static char pieces[sizeof out];
static char places[2][sizeof out];
static int place;
static unsigned body_calls;

/* body_at for a body that moves at every call, its old place overwritten, so a reader that
 * kept a pointer from an earlier call reads '#' instead of the text. `ctx`: the message
 * with the fixed body. */
static const char *moving_body(void *ctx, size_t *len)
{
    const struct stsm_message *m = ctx;
    memset(places[place], '#', m->body_len);
    place ^= 1;
    memcpy(places[place], m->body, m->body_len);
    body_calls++;
    *len = m->body_len;
    return places[place];
}

static struct stsm_message moved(const struct stsm_message *m)
{
    struct stsm_message copy = *m;
    copy.body = NULL;
    copy.body_len = 0;
    copy.body_at = moving_body;
    copy.body_ctx = (void *)m;
    return copy;
}

/* Reads the whole message `cap` bytes at a time into `pieces`; its length, or SIZE_MAX
 * when a read fails or hands out less than asked before the end. */
static size_t read_all(const struct stsm_message *m, bool allow_8bit, size_t cap)
{
    struct stsm_message_reader r;
    if (stsm_message_reader_start(&r, m, allow_8bit) != STSM_OK) {
        return SIZE_MAX;
    }
    size_t total = 0, n;
    do {
        size_t want = cap < sizeof pieces - total ? cap : sizeof pieces - total;
        if (want == 0 || stsm_message_reader_read(&r, pieces + total, want, &n) != STSM_OK || n > want) {
            return SIZE_MAX;
        }
        total += n;
        if (n < want) {
            /* Short only at the end, and nothing after it. */
            return stsm_message_reader_read(&r, pieces, cap, &n) == STSM_OK && n == 0 ? total : SIZE_MAX;
        }
    } while (n > 0);
    return total;
}

/* The reader, with the body fixed and moving, gives `whole` with buffers of 1 to 100
 * bytes and some large ones, and stsm_message_size() its length. */
static void reads_match(const struct stsm_message *m, bool allow_8bit, const char *whole, size_t whole_len)
{
    static const size_t large[] = { 256, 997, 1024, 4096, sizeof pieces };
    size_t size = 0;
    CHECK(stsm_message_size(m, allow_8bit, &size) == STSM_OK && size == whole_len);
    struct stsm_message elsewhere = moved(m);
    size_t caps = 100 + sizeof large / sizeof large[0];
    for (size_t k = 1; k <= caps; k++) {
        size_t cap = k <= 100 ? k : large[k - 101];
        /* Moving costs a copy of the body per read: some sizes suffice. */
        bool move_too = k > 100 || k <= 3 || k == 7 || k == 64 || k == 100;
        for (int move = 0; move < 1 + move_too; move++) {
            size_t n = read_all(move ? &elsewhere : m, allow_8bit, cap);
            if (n != whole_len || memcmp(pieces, whole, whole_len) != 0) {
                CHECK(!"the reader's bytes differ from stsm_message_render()'s");
                size_t at = 0;
                while (at < n && at < whole_len && pieces[at] == whole[at]) {
                    at++;
                }
                printf("     with %zu-byte reads, body %s: %zu bytes for %zu, first difference at %zu\n", cap,
                       move ? "moving" : "fixed", n, whole_len, at);
                return;
            }
        }
    }
    CHECK(true);
}

/* Renders whole (and checks the reader against it). */
static const char *render(const struct stsm_message *m, bool allow_8bit)
{
    size_t len = 0;
    stsm_status_t st = stsm_message_render(m, allow_8bit, out, sizeof out - 1, &len);
    out[st == STSM_OK ? len : 0] = '\0';
    if (st == STSM_OK) {
        reads_match(m, allow_8bit, out, len);
    }
    return out;
}

/* Every line of the rendered message ends in CRLF and is at most 998 octets. */
static bool lines_ok(const char *msg)
{
    size_t run = 0;
    for (const char *p = msg; *p != '\0'; p++) {
        if (*p == '\n') {
            if (p == msg || p[-1] != '\r') {
                return false;
            }
            run = 0;
        } else if (*p != '\r' && ++run > 998) {
            return false;
        }
    }
    return run == 0;
}

static bool contains(const char *haystack, const char *needle)
{
    return strstr(haystack, needle) != NULL;
}

/* The body part of a rendered message, quoted-printable decoded when `qp`; NULL when the
 * message is not as expected. */
static const char *decoded_body(const char *msg, bool qp, char *dec, size_t cap)
{
    const char *cte = strstr(msg, "Content-Transfer-Encoding: ");
    const char *b = strstr(msg, "\r\n\r\n");
    if (cte == NULL || b == NULL ||
        strncmp(cte + 27, qp ? "quoted-printable\r\n" : "8bit\r\n", qp ? 18 : 6) != 0) {
        return NULL;
    }
    size_t n = 0;
    for (const char *p = b + 4; *p != '\0' && n + 1 < cap;) {
        unsigned v;
        if (qp && p[0] == '=' && p[1] == '\r' && p[2] == '\n') {
            p += 3;   /* soft line break */
        } else if (qp && p[0] == '=' && sscanf(p + 1, "%2X", &v) == 1) {
            dec[n++] = (char)v;
            p += 3;
        } else {
            dec[n++] = *p++;
        }
    }
    dec[n] = '\0';
    return dec;
}

/* A body rendered as quoted-printable decodes to the same text as the 8-bit path writes,
 * with and without a final line end: the QP path used to add a CRLF after a body that
 * already ended its last line, so the stored message grew an empty line. */
static void qp_same_text(void)
{
    static char eightbit[8192], qpdec[8192], longbody[6000];
    static const char *const bodies[] = { "Caf\xc3\xa9 =\nline 2\n", "Caf\xc3\xa9 =\nline 2",
                                          "Caf\xc3\xa9\r\n", "Caf\xc3\xa9\r", "Caf\xc3\xa9 \n\n" };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        struct stsm_message m = base();
        m.body = bodies[i];
        m.body_len = strlen(bodies[i]);
        render(&m, true);
        const char *plain = decoded_body(out, false, eightbit, sizeof eightbit);
        render(&m, false);
        const char *qp = decoded_body(out, true, qpdec, sizeof qpdec);
        CHECK(plain != NULL && qp != NULL);
        CHECK_STR(qp, plain != NULL ? plain : "");
        CHECK(lines_ok(out));
    }
    /* A 5000-character line forces quoted-printable whatever the server offers. */
    for (int trailing = 0; trailing < 2; trailing++) {
        struct stsm_message m = base();
        memset(longbody, 'x', 5000);
        memcpy(longbody + 5000, "\nend\n", 6);
        m.body = longbody;
        m.body_len = trailing ? 5006 : 5005;
        render(&m, true);
        const char *qp = decoded_body(out, true, qpdec, sizeof qpdec);
        CHECK(qp != NULL && strlen(qp) == 5007 && strcmp(qp + 5000, "\r\nend\r\n") == 0);
    }
}

/* The preamble (a coalesced alert's count) comes first in the body, the same under 7bit
 * and quoted-printable; anything that would read differently under QP is refused. */
static void preamble(void)
{
    char why[160];
    struct stsm_message m = base();
    m.preamble = "This alert was raised 999 times.\n\n";
    CHECK(contains(render(&m, false), "\r\n\r\nThis alert was raised 999 times.\r\n\r\nCyan at 5%.\r\n"));
    m.body = "Caf\xc3\xa9\n";
    m.body_len = 6;
    CHECK(contains(render(&m, false), "quoted-printable\r\n\r\nThis alert was raised 999 times.\r\n\r\nCaf=C3=A9\r\n"));
    static const char line76[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n";
    static const char *const bad[] = { "no line end", "a = b\n", "trailing space \n", "tab\there\n",
                                       "caf\xc3\xa9\n", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n" };
    m.preamble = line76;
    CHECK(stsm_message_check(&m, why, sizeof why) == STSM_OK);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m.preamble = bad[i];
        CHECK(stsm_message_check(&m, why, sizeof why) == STSM_ERR_ARGUMENT && contains(why, "preamble"));
    }
}


/* ---- random bodies ------------------------------------------------------------------ */

static uint32_t seed = 20261130;

static uint32_t random_u32(void)
{
    seed = seed * 1103515245u + 12345u;
    return seed >> 8;
}

/* A random UTF-8 body: words, spaces and tabs (also before line ends), '=', '.', controls,
 * 2- and 3-byte characters (unless `ascii`), CR, LF and CRLF, and now and then a line
 * longer than 998 octets. */
static size_t random_body(char *b, size_t cap, bool ascii)
{
    size_t n = 0, target = random_u32() % 2500;
    while (n < target && n + 1100 < cap) {
        switch (random_u32() % 12) {
        case 0: b[n++] = '\r'; break;
        case 1: b[n++] = '\n'; break;
        case 2: b[n++] = '\r'; b[n++] = '\n'; break;
        case 3: b[n++] = ' '; break;
        case 4: b[n++] = '\t'; break;
        case 5: b[n++] = '='; break;
        case 6: b[n++] = '.'; break;
        case 7: b[n++] = 0x01; break;
        case 8: memcpy(b + n, ascii ? "e" : "\xc3\xa9", ascii ? 1 : 2); n += ascii ? 1 : 2; break;
        case 9: memcpy(b + n, ascii ? "E" : "\xe2\x82\xac", ascii ? 1 : 3); n += ascii ? 1 : 3; break;
        case 10: {
            size_t run = random_u32() % 90;
            memset(b + n, 'a' + (int)(run % 26), run);
            n += run;
            break;
        }
        default:
            if (random_u32() % 150 == 0) {
                size_t run = 990 + random_u32() % 40;   /* around the 998-octet limit */
                memset(b + n, 'L', run);
                n += run;
            } else {
                b[n++] = 'z';
            }
            break;
        }
    }
    return n;
}

/* Random bodies, with and without a preamble, as 7bit, 8bit and quoted-printable: the
 * reader gives render's bytes with every buffer size, fixed or moving. The hash of every
 * render is the one the renderer gave before the reader existed (so render, now built on
 * the reader, writes what it always wrote). */
static void random_messages(void)
{
    static char body[6000];
    static const char *const preambles[] = { NULL, "This alert was raised 3 times:\nfirst at 1, last at 2.\n\n",
                                             "x\n", "\n" };
    uint32_t hash = 2166136261u;
    size_t forms[3] = { 0 };
    for (int i = 0; i < 160; i++) {
        struct stsm_message m = base();
        m.body = body;
        m.body_len = random_body(body, sizeof body, random_u32() % 3 == 0);
        m.preamble = preambles[random_u32() % 4];
        bool allow_8bit = random_u32() % 2 == 0;
        render(&m, allow_8bit);
        for (const char *p = out; *p != '\0'; p++) {
            hash = (hash ^ (uint8_t)*p) * 16777619u;
        }
        forms[contains(out, "quoted-printable\r\n") ? 0 : contains(out, "8bit\r\n") ? 1 : 2]++;
    }
    CHECK(forms[0] > 10 && forms[1] > 10 && forms[2] > 10);
    CHECK_INT(hash, RANDOM_RENDER_HASH);
}

static size_t lost_after = SIZE_MAX;   /* body_at calls that still find the body */
static bool lost_by_shrinking;         /* then it is found a byte short instead of not at all */

/* body_at for a body lost from storage, or changed, after some calls. */
static const char *losing_body(void *ctx, size_t *len)
{
    const struct stsm_message *m = ctx;
    *len = m->body_len;
    if (lost_after == 0) {
        if (!lost_by_shrinking) {
            return NULL;
        }
        --*len;
    } else {
        lost_after--;
    }
    return m->body;
}

/* A body that cannot be found fails the start (STSM_ERR_IO, not a refused message), and one
 * lost or changed mid-way fails that read and every later one, with no byte handed out. */
static void body_lost(void)
{
    char why[120];
    struct stsm_message fixed = base();
    struct stsm_message m = fixed;
    m.body_at = losing_body;
    m.body_ctx = &fixed;
    struct stsm_message_reader r;
    size_t n = 1, size = 0;
    lost_after = 0;
    CHECK_INT(stsm_message_reader_start(&r, &m, false), STSM_ERR_IO);
    CHECK_INT(stsm_message_reader_read(&r, pieces, 10, &n), STSM_ERR_IO);
    CHECK_INT(n, 0);
    CHECK_INT(stsm_message_check(&m, why, sizeof why), STSM_ERR_ARGUMENT);
    CHECK(contains(why, "cannot be found"));
    CHECK_INT(stsm_message_size(&m, false, &size), STSM_ERR_IO);
    CHECK_INT(stsm_message_render(&m, false, out, sizeof out, &n), STSM_ERR_IO);
    static char longer[100];
    memset(longer, 'b', sizeof longer);
    fixed.body = longer;
    fixed.body_len = sizeof longer;
    for (int shrink = 0; shrink < 2; shrink++) {
        lost_by_shrinking = shrink;
        lost_after = 3;   /* the check, the start, the first read of the body */
        CHECK_INT(stsm_message_reader_start(&r, &m, false), STSM_OK);
        size_t total = 0;
        stsm_status_t st;
        while ((st = stsm_message_reader_read(&r, pieces, 16, &n)) == STSM_OK && n > 0) {
            total += n;
        }
        CHECK_INT(st, STSM_ERR_IO);
        CHECK_INT(n, 0);
        CHECK_INT(stsm_message_reader_read(&r, pieces, 16, &n), STSM_ERR_IO);
        CHECK(total > 200 && total < 400);   /* the head, a little body, never the end */
        lost_after = SIZE_MAX;
    }
}

int main(void)
{
    struct stsm_message m = base();

    CHECK_CASE("preamble");
    preamble();

    CHECK_CASE("plain ASCII alert, exact bytes");
    CHECK_STR(render(&m, false),
              "Date: Mon, 30 Nov 2026 08:05:42 +0000\r\n"
              "Message-ID: <1796025942.1234abcd00ff00ff@printer.example>\r\n"
              "From: alerts@printer.example\r\n"
              "To: ops@example.test\r\n"
              "Subject: Toner low\r\n"
              "MIME-Version: 1.0\r\n"
              "Content-Type: text/plain; charset=utf-8\r\n"
              "Content-Transfer-Encoding: 7bit\r\n"
              "\r\n"
              "Cyan at 5%.\r\n");

    static const struct {
        int64_t t;
        const char *date;
    } dates[] = {
        { 0, "Date: Thu, 1 Jan 1970 00:00:00 +0000" },
        { 951782400, "Date: Tue, 29 Feb 2000 00:00:00 +0000" },
        { 4133980799, "Date: Fri, 31 Dec 2100 23:59:59 +0000" },
    };
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
        CHECK_CASE(dates[i].date);
        m.date = dates[i].t;
        CHECK(strncmp(render(&m, false), dates[i].date, strlen(dates[i].date)) == 0);
    }
    m = base();

    CHECK_CASE("display name, several recipients, extra header");
    m.from_name = "Printer 3F";
    m.to[1] = "boss@example.test";
    m.to_count = 2;
    m.extra[0] = (struct stsm_message_header){ "X-Alert-Id", "toner-42" };
    m.extra_count = 1;
    render(&m, false);
    CHECK(contains(out, "\r\nFrom: \"Printer 3F\" <alerts@printer.example>\r\n"));
    CHECK(contains(out, "\r\nTo: ops@example.test,\r\n boss@example.test\r\n"));
    CHECK(contains(out, "\r\nX-Alert-Id: toner-42\r\n"));
    m = base();

    CHECK_CASE("UTF-8 subject becomes RFC 2047 encoded words");
    m.subject = "Drucker: Toner fast leer \xe2\x80\x94 bitte wechseln, Gr\xc3\xbc\xc3\x9f""e vom B\xc3\xbcro im dritten Stock";
    render(&m, false);
    CHECK(contains(out, "\r\nSubject: =?UTF-8?B?"));
    CHECK(contains(out, "?=\r\n =?UTF-8?B?"));   /* folded into several words */
    CHECK(lines_ok(out));
    for (const char *w = strstr(out, "=?UTF-8?B?"); w != NULL; w = strstr(w + 1, "=?UTF-8?B?")) {
        CHECK(strstr(w, "?=") - w + 2 <= 75);   /* RFC 2047: a word is at most 75 characters */
    }
    m = base();

    CHECK_CASE("8-bit body as 8bit when the server takes it");
    m.body = "Caf\xc3\xa9 = caf\xc3\xa9\n";
    m.body_len = strlen(m.body);
    CHECK(stsm_message_is_8bit(&m));
    render(&m, true);
    CHECK(contains(out, "Content-Transfer-Encoding: 8bit\r\n\r\nCaf\xc3\xa9 = caf\xc3\xa9\r\n"));

    CHECK_CASE("8-bit body as quoted-printable otherwise");
    render(&m, false);
    CHECK(contains(out, "Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=C3=A9 =3D caf=C3=A9\r\n"));

    CHECK_CASE("quoted-printable: soft breaks at 76, trailing space kept visible");
    static char longbody[3000];
    memset(longbody, 'x', 2000);
    memcpy(longbody + 2000, "\xc3\xa9 \n", 4);
    m.body = longbody;
    m.body_len = 2004;
    render(&m, true);   /* a line over 998 octets forces quoted-printable even with 8BITMIME */
    CHECK(contains(out, "Content-Transfer-Encoding: quoted-printable"));
    CHECK(contains(out, "=\r\nxxx"));
    CHECK(contains(out, "=C3=A9=20\r\n"));
    CHECK(lines_ok(out));
    const char *bodystart = strstr(out, "\r\n\r\n") + 4;
    size_t run = 0, longest = 0;
    for (const char *p = bodystart; *p != '\0'; p++) {
        run = *p == '\n' ? 0 : run + (*p != '\r');
        longest = run > longest ? run : longest;
    }
    CHECK(longest <= 76);
    m = base();

    CHECK_CASE("body line ends normalised, last line closed");
    m.body = "a\rb\r\nc\nd";
    m.body_len = strlen(m.body);
    render(&m, false);
    CHECK(contains(out, "\r\n\r\na\r\nb\r\nc\r\nd\r\n"));
    CHECK(lines_ok(out));
    m = base();

    static const struct {
        const char *intent;
        const char *why;
        int field;
        const char *value;
    } refusals[] = {
        { "CR LF in the subject", "header injection: the subject", 0, "Hi\r\nBcc: evil@x.test" },
        { "LF in the subject", "header injection: the subject", 0, "Hi\nX: y" },
        { "LF in a recipient", "header injection: recipient 1", 1, "ops@example.test\nBcc: x@y" },
        { "CR in an extra header", "header injection: header X-Note", 2, "a\rb" },
        { "LF in the sender", "header injection: the sender", 3, "a@b.test\n" },
        { "sender not an address", "the sender 'printer'", 3, "printer" },
        { "recipient with a display name", "recipient 'Ops <ops@example.test>'", 1, "Ops <ops@example.test>" },
        { "invalid UTF-8 subject", "the subject must be valid UTF-8", 0, "bad \xc3\x28" },
        { "overlong UTF-8 encoding", "the subject must be valid UTF-8", 0, "\xc0\xaf" },
        { "invalid UTF-8 body", "the body is not valid UTF-8", 4, "\xff" },
        { "recipient with an empty local part", "recipient '@example.test' has an empty local part", 1,
          "@example.test" },
        { "sender with an empty local part", "the sender '@printer.example' has an empty local part", 3,
          "@printer.example" },
        { "recipient with an empty domain", "recipient 'ops@' has an empty domain", 1, "ops@" },
        { "recipient with two '@'", "recipient 'ops@a@example.test' has more than one '@'", 1, "ops@a@example.test" },
        { "domain with an empty label", "recipient 'ops@example..test' has an empty label", 1, "ops@example..test" },
        { "domain starting with a dot", "recipient 'ops@.example.test' has an empty label", 1, "ops@.example.test" },
        { "domain ending with a dot", "recipient 'ops@example.test.' has an empty label", 1, "ops@example.test." },
        { "sender domain with an empty label", "the sender 'alerts@printer..example' has an empty label", 3,
          "alerts@printer..example" },
        { "domain label of 64", "recipient 'ops@abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcd' has a domain label "
          "longer than 63", 1,
          "ops@" LABEL63 "x.test" },
        { "domain of 255", "recipient 'o@abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdef' has a "
          "domain longer than 253", 1, "o@" LABEL63 "." LABEL63 "." LABEL63 "." LABEL63 },
        { "address of 255", "recipient 'oabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefg' is "
          "longer than 254", 1, "o" LABEL63 LABEL63 "@" LABEL63 "." LABEL63 },
    };
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        CHECK_CASE(refusals[i].intent);
        m = base();
        switch (refusals[i].field) {
        case 0: m.subject = refusals[i].value; break;
        case 1: m.to[0] = refusals[i].value; break;
        case 2:
            m.extra[0] = (struct stsm_message_header){ "X-Note", refusals[i].value };
            m.extra_count = 1;
            break;
        case 3: m.from = refusals[i].value; break;
        default: m.body = refusals[i].value; m.body_len = strlen(refusals[i].value); break;
        }
        char why[200] = "";
        size_t len;
        CHECK_INT(stsm_message_check(&m, why, sizeof why), STSM_ERR_ARGUMENT);
        CHECK(strncmp(why, refusals[i].why, strlen(refusals[i].why)) == 0);
        if (strncmp(why, refusals[i].why, strlen(refusals[i].why)) != 0) {
            printf("     message was: %s\n", why);
        }
        CHECK_INT(stsm_message_render(&m, true, out, sizeof out, &len), STSM_ERR_ARGUMENT);
        struct stsm_message_reader r;
        CHECK_INT(stsm_message_reader_start(&r, &m, true), STSM_ERR_ARGUMENT);
        CHECK_INT(stsm_message_reader_read(&r, pieces, 10, &len), STSM_ERR_ARGUMENT);
        CHECK_INT(stsm_message_size(&m, true, &len), STSM_ERR_ARGUMENT);
    }

    CHECK_CASE("addresses at the limits are accepted");
    {
        char why[200] = "";
        m = base();
        m.to[0] = "x@" LABEL63 "." LABEL63 "." LABEL63 "." "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefgh";
        CHECK_INT(strlen(m.to[0]), STSM_SMTP_ADDRESS_MAX);   /* a 252-character domain */
        CHECK_INT(stsm_message_check(&m, why, sizeof why), STSM_OK);
        m.to[0] = "o@" LABEL63 ".test";
        CHECK_INT(stsm_message_check(&m, why, sizeof why), STSM_OK);
        m.to[0] = "o@[192.0.2.1]";
        CHECK_INT(stsm_message_check(&m, why, sizeof why), STSM_OK);
    }

    CHECK_CASE("quoted-printable ends its body as the 8-bit path does");
    qp_same_text();

    CHECK_CASE("random bodies: the reader in pieces gives render's bytes");
    random_messages();

    CHECK_CASE("a body lost from storage fails closed");
    body_lost();

    CHECK_CASE("output buffer too small");
    m = base();
    size_t len;
    CHECK_INT(stsm_message_render(&m, false, out, 100, &len), STSM_ERR_CAPACITY);

    return stsm_check_summary("test_message");
}
