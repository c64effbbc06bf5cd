/* Alert messages: exact rendering, dates, encoded subjects, 8bit versus quoted-printable,
 * line limits, and refusal of header injection and invalid text. */
#include "stsm_check.h"
#include "stsm_message.h"

static char out[16384];

#define LABEL63 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk"

static struct stsm_message base(void)
{
    struct stsm_message m = { .from = "alerts@printer.example", .to_count = 1, .subject = "Toner low",
                              .body = "Cyan at 5%.\n", .body_len = 12, .date = 1796025942,
                              .id_random = { 0x1234abcd, 0x00ff00ff } };
    m.to[0] = "ops@example.test";
    return m;
}

static const char *render(const struct stsm_message *m, bool allow_8bit)
{
    size_t len = 0;
    stsm_status_t st = stsm_message_render(m, allow_8bit, out, sizeof out - 1, &len);
    out[st == STSM_OK ? len : 0] = '\0';
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

    CHECK_CASE("output buffer too small");
    m = base();
    size_t len;
    CHECK_INT(stsm_message_render(&m, false, out, 100, &len), STSM_ERR_CAPACITY);

    return stsm_check_summary("test_message");
}
