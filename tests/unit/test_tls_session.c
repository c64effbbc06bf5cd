/*
 * The TLS session table (stsm_tls_session.c): found only under the exact host name and
 * port, least recently used evicted at STSM_TLS_SESSION_SLOTS + 1, wiped when replaced,
 * evicted or forgotten, oversized sessions not kept. And stsm_tls_session_keep()'s rule:
 * nothing is stored from a connection on the opportunistic configuration or one whose
 * peer did not verify (a fresh context has no verify result).
 */
#include <stdio.h>
#include <string.h>

#include "stsm_check.h"
#include "stsm_tls.h"
#include "stsm_tls_session.h"

static struct stsm_tls_session_table table;

static bool get_is(const char *host, uint16_t port, const char *want)
{
    size_t len;
    const unsigned char *b = stsm_tls_session_get(&table, host, port, &len);
    if (want == NULL) {
        return b == NULL && len == 0;
    }
    return b != NULL && len == strlen(want) && memcmp(b, want, len) == 0;
}

/* True when no byte of the table still holds `secret` (a wiped slot is all zero). */
static bool nowhere(const char *secret)
{
    const unsigned char *p = (const unsigned char *)&table;
    size_t n = strlen(secret);
    for (size_t i = 0; i + n <= sizeof table; i++) {
        if (memcmp(p + i, secret, n) == 0) {
            return false;
        }
    }
    return true;
}

static void test_table(void)
{
    stsm_tls_session_init(&table);
    CHECK_INT(stsm_tls_session_count(&table), 0);
    CHECK(get_is("mx1.example.test", 25, NULL));

    /* exact host name and port */
    CHECK_INT(stsm_tls_session_put(&table, "mx1.example.test", 25, "S-mx1", 5), STSM_OK);
    CHECK(get_is("mx1.example.test", 25, "S-mx1"));
    CHECK(get_is("mx1.example.test", 465, NULL));
    CHECK(get_is("MX1.example.test", 25, NULL));
    CHECK(get_is("mx1.example.test.", 25, NULL));
    CHECK(get_is("mx1.example.tes", 25, NULL));
    CHECK(get_is("x1.example.test", 25, NULL));
    CHECK(get_is("", 25, NULL));

    /* replacing a host's session keeps one slot, and the old bytes are gone */
    CHECK_INT(stsm_tls_session_put(&table, "mx1.example.test", 25, "T-mx1", 5), STSM_OK);
    CHECK_INT(stsm_tls_session_count(&table), 1);
    CHECK(get_is("mx1.example.test", 25, "T-mx1"));
    CHECK(nowhere("S-mx1"));

    /* fill the table, use mx1 so it is recent; the N+1st host evicts the least recent */
    char host[32];
    for (int i = 2; i <= STSM_TLS_SESSION_SLOTS; i++) {
        char blob[16];
        snprintf(host, sizeof host, "h%d.example.test", i);
        snprintf(blob, sizeof blob, "S-h%d", i);
        CHECK_INT(stsm_tls_session_put(&table, host, 443, blob, strlen(blob)), STSM_OK);
    }
    CHECK_INT(stsm_tls_session_count(&table), STSM_TLS_SESSION_SLOTS);
    CHECK(get_is("mx1.example.test", 25, "T-mx1"));   /* now the most recently used */
    CHECK_INT(stsm_tls_session_put(&table, "new.example.test", 443, "S-new", 5), STSM_OK);
    CHECK_INT(stsm_tls_session_count(&table), STSM_TLS_SESSION_SLOTS);
    CHECK(get_is("h2.example.test", 443, NULL));      /* the least recently used went */
    CHECK(nowhere("S-h2"));
    CHECK(get_is("mx1.example.test", 25, "T-mx1"));
    CHECK(get_is("new.example.test", 443, "S-new"));

    /* oversized: refused, and the host's older session is forgotten with it */
    static unsigned char big[STSM_TLS_SESSION_BLOB_MAX + 1];
    memset(big, 'B', sizeof big);
    uint32_t not_kept = stsm_tls_session_not_kept(&table);
    CHECK_INT(stsm_tls_session_put(&table, "new.example.test", 443, big, sizeof big), STSM_ERR_CAPACITY);
    CHECK_INT(stsm_tls_session_not_kept(&table), not_kept + 1);   /* counted, for reports */
    CHECK(get_is("new.example.test", 443, NULL));
    CHECK(nowhere("S-new"));
    CHECK_INT(stsm_tls_session_put(&table, "new.example.test", 443, big, sizeof big - 1), STSM_OK);
    CHECK_INT(stsm_tls_session_not_kept(&table), not_kept + 1);
    CHECK_INT(stsm_tls_session_put(&table, "new.example.test", 443, big, 0), STSM_ERR_CAPACITY);
    CHECK(get_is("new.example.test", 443, NULL));

    /* a reserved slot left uncommitted, or committed with a bad length, holds nothing */
    size_t cap;
    unsigned char *w = stsm_tls_session_reserve(&table, "mx1.example.test", 25, &cap);
    CHECK(w != NULL && cap == STSM_TLS_SESSION_BLOB_MAX);
    CHECK(get_is("mx1.example.test", 25, NULL));
    CHECK(nowhere("T-mx1"));
    memcpy(w, "U-mx1", 5);
    stsm_tls_session_commit(&table, w, cap + 1);
    CHECK(get_is("mx1.example.test", 25, NULL));
    CHECK(nowhere("U-mx1"));
    CHECK_INT(stsm_tls_session_not_kept(&table), not_kept + 3);

    /* host names: empty, NULL, too long */
    char longname[STSM_HOSTNAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK_INT(stsm_tls_session_put(&table, longname, 25, "x", 1), STSM_ERR_ARGUMENT);
    CHECK_INT(stsm_tls_session_put(&table, "", 25, "x", 1), STSM_ERR_ARGUMENT);
    CHECK_INT(stsm_tls_session_put(&table, NULL, 25, "x", 1), STSM_ERR_ARGUMENT);
    CHECK(stsm_tls_session_reserve(&table, longname, 25, &cap) == NULL && cap == 0);
    longname[STSM_HOSTNAME_MAX] = '\0';   /* exactly the longest name: kept */
    CHECK_INT(stsm_tls_session_put(&table, longname, 25, "S-long", 6), STSM_OK);
    CHECK(get_is(longname, 25, "S-long"));

    /* drop one, forget all: wiped */
    stsm_tls_session_drop(&table, longname, 25);
    CHECK(get_is(longname, 25, NULL));
    CHECK(nowhere("S-long"));
    CHECK_INT(stsm_tls_session_put(&table, "mx1.example.test", 25, "V-mx1", 5), STSM_OK);
    CHECK(stsm_tls_session_count(&table) > 1);
    stsm_tls_session_forget_all(&table);
    CHECK_INT(stsm_tls_session_count(&table), 0);
    CHECK_INT(stsm_tls_session_not_kept(&table), not_kept + 3);   /* the count stays */
    CHECK(nowhere("V-mx1") && nowhere("S-h3"));
    CHECK(get_is("mx1.example.test", 25, NULL));
    /* the table works on after forgetting */
    CHECK_INT(stsm_tls_session_put(&table, "mx1.example.test", 25, "W-mx1", 5), STSM_OK);
    CHECK(get_is("mx1.example.test", 25, "W-mx1"));
}

static void setup(mbedtls_ssl_context *ssl, const mbedtls_ssl_config *conf)
{
    mbedtls_ssl_init(ssl);
    CHECK_INT(mbedtls_ssl_setup(ssl, conf), 0);
    CHECK_INT(mbedtls_ssl_set_hostname(ssl, "mx1.example.test"), 0);
}

/* stsm_tls_session_keep() stores nothing from an unverified connection, on either
 * configuration; stsm_tls_forget_sessions() empties the table. */
static void test_keep_rule(void)
{
    static struct stsm_tls tls;
    struct stsm_trust_store store;
    memset(&store, 0, sizeof store);
    CHECK_INT(stsm_tls_init(&tls, &store), STSM_OK);

    mbedtls_ssl_context ssl;
    setup(&ssl, &tls.conf);
    stsm_tls_session_keep(&tls, &ssl, "mx1.example.test", 25);   /* no verify result yet */
    CHECK_INT(stsm_tls_session_count(&tls.sessions), 0);
    mbedtls_ssl_free(&ssl);

    setup(&ssl, &tls.conf_opportunistic);
    stsm_tls_session_keep(&tls, &ssl, "mx1.example.test", 25);
    CHECK_INT(stsm_tls_session_count(&tls.sessions), 0);
    /* a stored session is never offered to the opportunistic configuration */
    CHECK_INT(stsm_tls_session_put(&tls.sessions, "mx1.example.test", 25, "junk", 4), STSM_OK);
    stsm_tls_session_offer(&tls, &ssl, "mx1.example.test", 25);
    CHECK_INT(stsm_tls_session_count(&tls.sessions), 1);   /* untouched: not even loaded */
    mbedtls_ssl_free(&ssl);

    /* on the verifying configuration, bytes that do not load are forgotten */
    setup(&ssl, &tls.conf);
    stsm_tls_session_offer(&tls, &ssl, "mx1.example.test", 25);
    CHECK_INT(stsm_tls_session_count(&tls.sessions), 0);
    mbedtls_ssl_free(&ssl);

    CHECK_INT(stsm_tls_session_put(&tls.sessions, "a.example.test", 443, "S-a", 3), STSM_OK);
    CHECK_INT(stsm_tls_session_put(&tls.sessions, "b.example.test", 443, "S-b", 3), STSM_OK);
    stsm_tls_forget_sessions(&tls);
    CHECK_INT(stsm_tls_session_count(&tls.sessions), 0);
}

/* An allocation that failed, in whichever module and however Mbed TLS combined the codes,
 * is the arena (STSM_TLS_ARENA_SIZE) running out: our memory, not the peer's fault. */
static void test_arena_exhausted(void)
{
    CHECK_CASE("arena exhausted");
    CHECK_INT(stsm_tls_failure_reason(MBEDTLS_ERR_SSL_ALLOC_FAILED, 0), STSM_ERR_NO_MEMORY);
    CHECK_INT(stsm_tls_failure_reason(MBEDTLS_ERR_X509_ALLOC_FAILED, 0), STSM_ERR_NO_MEMORY);
    CHECK_INT(stsm_tls_failure_reason(MBEDTLS_ERR_X509_INVALID_FORMAT + MBEDTLS_ERR_MPI_ALLOC_FAILED, 0),
              STSM_ERR_NO_MEMORY);
    CHECK_INT(stsm_tls_failure_reason(MBEDTLS_ERR_PK_ALLOC_FAILED, 0), STSM_ERR_NO_MEMORY);
    /* Even when the chain's check was cut short by it and left flags behind. */
    CHECK_INT(stsm_tls_failure_reason(MBEDTLS_ERR_X509_ALLOC_FAILED, MBEDTLS_X509_BADCERT_NOT_TRUSTED),
              STSM_ERR_NO_MEMORY);
    CHECK_CASE("other failures keep their reasons");
    CHECK_INT(stsm_tls_failure_reason(MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE, 0), STSM_ERR_TLS_HANDSHAKE);
    CHECK_INT(stsm_tls_failure_reason(MBEDTLS_ERR_X509_CERT_VERIFY_FAILED, MBEDTLS_X509_BADCERT_EXPIRED),
              STSM_ERR_TLS_EXPIRED);
    CHECK_INT(stsm_tls_failure_reason(MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION, 0), STSM_ERR_TLS_VERSION);
}

int main(void)
{
    test_table();
    test_keep_rule();
    test_arena_exhausted();
    return stsm_check_summary("test_tls_session");
}
