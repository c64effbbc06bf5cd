#include "stsm_tls.h"

#include <stdbool.h>
#include <string.h>

#include "mbedtls/memory_buffer_alloc.h"
#include "mbedtls/platform.h"
#include "mbedtls/x509_crt.h"
#include "psa/crypto.h"
#include "psa/crypto_extra.h"
#include "stsm_config.h"

static unsigned char arena[STSM_TLS_ARENA_SIZE];

/*
 * The largest ClientHello we write has to fit one output record (MBEDTLS_SSL_OUT_CONTENT_LEN;
 * handshake messages are not split). Without a session it is 215 bytes plus the host name
 * (226 measured for "mx.lab.test"); a resumption adds the ticket and a pre_shared_key
 * extension (63 bytes at most, with a SHA-384 binder); after a HelloRetryRequest for
 * P-384 its key share is 65 bytes larger than X25519's. A session is offered only when
 * its serialized form fits STSM_TLS_SESSION_BLOB_MAX, and that form holds the ticket and
 * the host name plus 96 bytes (299 measured for a 192-byte ticket), so the host name
 * cancels out.
 */
#define CLIENT_HELLO_MAX (215u + 63u + 65u + STSM_TLS_SESSION_BLOB_MAX - 96u)
_Static_assert(CLIENT_HELLO_MAX <= MBEDTLS_SSL_OUT_CONTENT_LEN,
               "a ClientHello offering the largest storable session must fit one record");

/* The generator PSA draws from (MBEDTLS_PSA_CRYPTO_EXTERNAL_RNG): that of the last
 * stsm_tls_init_with_rng(), seeded before PSA starts. */
static stsm_tls_rng_t psa_rng;
static void *psa_rng_ctx;

psa_status_t mbedtls_psa_external_get_random(mbedtls_psa_external_random_context_t *context, uint8_t *output,
                                             size_t output_size, size_t *output_length)
{
    (void)context;
    *output_length = 0;
    if (psa_rng == NULL) {
        return PSA_ERROR_INSUFFICIENT_ENTROPY;
    }
    /* PSA wants the whole request at once; a CTR-DRBG gives at most
     * MBEDTLS_CTR_DRBG_MAX_REQUEST bytes per call. */
    for (size_t done = 0; done < output_size;) {
        size_t n = output_size - done;
        n = n < MBEDTLS_CTR_DRBG_MAX_REQUEST ? n : MBEDTLS_CTR_DRBG_MAX_REQUEST;
        if (psa_rng(psa_rng_ctx, output + done, n) != 0) {
            return PSA_ERROR_INSUFFICIENT_ENTROPY;
        }
        done += n;
    }
    *output_length = output_size;
    return PSA_SUCCESS;
}

/* ECDHE key exchange with AEAD ciphers only: forward secrecy, no CBC padding oracles.
 * TLS 1.3 suites are all AEAD; its key exchange is set to (PSK-)ephemeral below. */
static const int ciphersuites[] = {
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
    MBEDTLS_TLS1_3_AES_128_GCM_SHA256,
    MBEDTLS_TLS1_3_AES_256_GCM_SHA384,
    MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256,
#endif
    /* TLS 1.2: every ECDSA suite before any RSA one, so that a server holding both an
     * ECDSA and an RSA certificate that follows our order sends its ECDSA chain. */
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    0,
};

/*
 * Signature algorithms, ECDSA first: a TLS 1.3 server with both an ECDSA and an RSA
 * certificate picks its certificate by our order, and ECDSA chains are smaller and
 * cheaper to verify (test_conn_tls "dual" cases). Then PKCS#1 v1.5 before RSA-PSS. Mbed TLS 3.6 verifies RSA-PSS only in
 * TLS 1.3; in TLS 1.2 it refuses a ServerKeyExchange signed with it (-0x6600). OpenSSL
 * servers take the client's order, and with PSS first they pick it for an RSA key in
 * TLS 1.2. TLS 1.3 forbids PKCS#1 v1.5 in CertificateVerify, so 1.3 servers still pick
 * PSS; v1.5 stays allowed for certificate signatures.
 */
static const uint16_t sig_algs[] = {
    MBEDTLS_TLS1_3_SIG_ECDSA_SECP256R1_SHA256,
    MBEDTLS_TLS1_3_SIG_ECDSA_SECP384R1_SHA384,
    MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA256,
    MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA384,
    MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA512,
    MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA256,
    MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA384,
    MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA512,
    MBEDTLS_TLS1_3_SIG_NONE,
};

/*
 * An anchor is a name and a key (stsm_trust_store.h), but Mbed TLS takes its trusted
 * issuers as certificates. So each candidate is handed over as the smallest certificate
 * that carries exactly that: version 1 (no extensions), self-issued, valid from 1970 to
 * 9999-12-31 (RFC 5280's "no well-defined expiration"), and an empty signature. Mbed TLS
 * never checks a trusted issuer's own signature, CA bit (a locally trusted v1 certificate
 * needs none) or dates beyond these; it does check, as with a whole root, that the
 * child's issuer matches the subject (x509_name_cmp) and that the child's signature
 * verifies with the key, trying each candidate with that name in turn. Both SEQUENCE
 * headers take the two-byte length form whatever the length (Mbed TLS reads any length
 * form, as BER allows): one layout for every anchor.
 */
static const uint8_t anchor_head[] = {
    0x02, 0x01, 0x01,                                                         /* serial 1 */
    0x30, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02,   /* ecdsa-with-SHA256 */
};
static const uint8_t anchor_validity[] = {
    0x30, 0x22,
    0x18, 0x0F, '1', '9', '7', '0', '0', '1', '0', '1', '0', '0', '0', '0', '0', '0', 'Z',
    0x18, 0x0F, '9', '9', '9', '9', '1', '2', '3', '1', '2', '3', '5', '9', '5', '9', 'Z',
};
static const uint8_t anchor_tail[] = {   /* the signature algorithm again, never used, and no signature */
    0x30, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02, 0x03, 0x01, 0x00,
};
#define SEQUENCE_HEADER 4u

static uint8_t *put_sequence(uint8_t *p, size_t len)
{
    p[0] = 0x30;
    p[1] = 0x82;
    p[2] = (uint8_t)(len >> 8);   /* below 64 KiB: STSM_TRUST_SUBJECT_MAX and STSM_TRUST_KEY_MAX */
    p[3] = (uint8_t)len;
    return p + SEQUENCE_HEADER;
}

/* Not inlined: six copies, three of constant size that would each be unrolled. */
__attribute__((noinline)) static uint8_t *put(uint8_t *p, const void *data, size_t len)
{
    memcpy(p, data, len);
    return p + len;
}

static size_t anchor_tbs_len(const struct stsm_trust_anchor *a)
{
    return sizeof anchor_head + 2 * a->subject_len + sizeof anchor_validity + a->key_len;
}

/* Length of anchor `a` as a certificate (the layout above). */
static size_t anchor_certificate_len(const struct stsm_trust_anchor *a)
{
    return 2 * SEQUENCE_HEADER + anchor_tbs_len(a) + sizeof anchor_tail;
}

/* Writes anchor `a` as a certificate into `out`, anchor_certificate_len(a) bytes. */
static void anchor_certificate(const struct stsm_trust_anchor *a, uint8_t *out)
{
    size_t tbs = anchor_tbs_len(a);
    uint8_t *p = put_sequence(out, SEQUENCE_HEADER + tbs + sizeof anchor_tail);
    p = put_sequence(p, tbs);
    p = put(p, anchor_head, sizeof anchor_head);
    p = put(p, a->subject, a->subject_len);   /* issuer: self-issued */
    p = put(p, anchor_validity, sizeof anchor_validity);
    p = put(p, a->subject, a->subject_len);
    p = put(p, a->key, a->key_len);
    (void)put(p, anchor_tail, sizeof anchor_tail);
}

/* Chain verification time (stsm_tls_verify_time()): from the first anchor lookup of a
 * chain to the verify callback for its leaf, which Mbed TLS calls last. Verification
 * runs within one mbedtls_ssl_handshake() call, so two connections never interleave
 * here. One that stops on a fatal error (out of memory) gets no callback and leaves the
 * timing open: stsm_tls_handshake_begin() drops it, so that the next chain is timed from
 * its own start (it counted from the failed one's, and one failure spoilt the maximum for
 * good). Milliseconds of mbedtls_ms_time() kept in 32 bits: a difference of them is right
 * across a wrap. */
static bool verify_timing;
static uint32_t verify_started;
static uint32_t verify_last_ms, verify_max_ms;

static int after_verify(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    (void)ctx;
    (void)crt;
    (void)flags;
    if (depth == 0 && verify_timing) {
        verify_last_ms = (uint32_t)mbedtls_ms_time() - verify_started;
        verify_max_ms = verify_last_ms > verify_max_ms ? verify_last_ms : verify_max_ms;
        verify_timing = false;
    }
    return 0;
}

/*
 * Mbed TLS asks for the trust anchors that may have signed `child`: those whose subject is
 * the child's issuer. Only they are made into certificates, in the arena; Mbed TLS frees
 * them after use.
 */
static int find_issuers(void *ctx, const mbedtls_x509_crt *child, mbedtls_x509_crt **candidates)
{
    const struct stsm_trust_store *store = ctx;
    if (!verify_timing) {
        verify_timing = true;
        verify_started = (uint32_t)mbedtls_ms_time();
    }
    uint32_t first;
    uint32_t n = stsm_trust_store_find(store, child->issuer_raw.p, child->issuer_raw.len, &first);

    *candidates = NULL;
    if (n == 0) {
        return 0;
    }
    mbedtls_x509_crt *chain = mbedtls_calloc(1, sizeof *chain);
    if (chain == NULL) {
        return MBEDTLS_ERR_X509_ALLOC_FAILED;
    }
    mbedtls_x509_crt_init(chain);
    for (uint32_t i = first; i < first + n; i++) {
        struct stsm_trust_anchor a = stsm_trust_store_anchor(store, i);
        /* Written into the arena only for as long as the parse takes (the parse keeps a
         * copy), each at its own size. An anchor that does not parse (a key type or curve
         * not built in, say) is skipped; the others may still complete the chain. */
        size_t len = anchor_certificate_len(&a);
        uint8_t *der = mbedtls_calloc(1, len);
        if (der == NULL) {
            mbedtls_x509_crt_free(chain);
            mbedtls_free(chain);
            return MBEDTLS_ERR_X509_ALLOC_FAILED;
        }
        anchor_certificate(&a, der);
        (void)mbedtls_x509_crt_parse_der(chain, der, len);
        mbedtls_free(der);
    }
    if (chain->raw.p == NULL) {
        mbedtls_x509_crt_free(chain);
        mbedtls_free(chain);
        return 0;
    }
    *candidates = chain;
    return 0;
}

/* One client configuration. Both modes share everything but the authentication mode, so
 * that opportunistic sessions keep the same version floor, suites and checks (the verify
 * result is still computed, and the connection reports it). */
static int build_conf(struct stsm_tls *tls, mbedtls_ssl_config *conf, int authmode)
{
    int ret = mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                          MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0) {
        return ret;
    }
    mbedtls_ssl_conf_authmode(conf, authmode);
    mbedtls_ssl_conf_rng(conf, tls->rng, tls->rng_ctx);
    mbedtls_ssl_conf_ca_cb(conf, find_issuers, &tls->store);
    mbedtls_ssl_conf_verify(conf, after_verify, NULL);
    mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
    mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_3);
#else
    /* A board built for TLS 1.2 only (STSM_LM3S_TLS12_ONLY): its configuration, not code. */
    mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
#endif
    mbedtls_ssl_conf_ciphersuites(conf, ciphersuites);
    mbedtls_ssl_conf_sig_algs(conf, sig_algs);
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
    /* Resumption in TLS 1.3 always adds a fresh ECDHE: a stolen ticket alone never
     * decrypts a session. */
    mbedtls_ssl_conf_tls13_key_exchange_modes(conf, MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL |
                                                    MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_EPHEMERAL);
    /* TLS 1.3 tickets arrive after the handshake; stsm_conn_recv() keeps each one. Off by
     * default in Mbed TLS (tickets are then dropped). */
    mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(conf,
                                                             MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
#endif
    /* No max_fragment_length: Mbed TLS 3.6's TLS 1.3 client fails a server that answers
     * it (-0x7500), and since servers may ignore it the input buffer stays at 16 KiB. */
    return 0;
}

/*
 * Allocations that failed for want of arena (stsm_tls_arena_failures()). Mbed TLS does not
 * always pass an allocation failure up as such: a trust anchor that does not parse is
 * skipped (find_issuers), a signature check that cannot allocate leaves the chain "not
 * trusted", PSA reports a generic error. So the arena's own calloc is wrapped and counts.
 * memory_buffer_alloc keeps its functions private and hands them to
 * mbedtls_platform_set_calloc_free() only: the link wraps that call (port/net/CMakeLists.txt,
 * --wrap), which keeps them and installs the counting calloc in front.
 */
static void *(*arena_calloc)(size_t, size_t);
static uint32_t arena_failures;

static void *counting_calloc(size_t n, size_t size)
{
    void *p = arena_calloc(n, size);
    if (p == NULL && n != 0 && size != 0) {
        arena_failures++;
    }
    return p;
}

int __real_mbedtls_platform_set_calloc_free(void *(*calloc_func)(size_t, size_t), void (*free_func)(void *));
int __wrap_mbedtls_platform_set_calloc_free(void *(*calloc_func)(size_t, size_t), void (*free_func)(void *));

int __wrap_mbedtls_platform_set_calloc_free(void *(*calloc_func)(size_t, size_t), void (*free_func)(void *))
{
    arena_calloc = calloc_func;
    return __real_mbedtls_platform_set_calloc_free(counting_calloc, free_func);
}

uint32_t stsm_tls_arena_failures(void)
{
    return arena_failures;
}

/* The arena's bytes before the first stsm_tls_init(): lent to one boot-time user at most,
 * and never again once the allocator has its metadata in them. */
static bool arena_lent;
static bool arena_ready;

unsigned char *stsm_tls_arena_lend(size_t *size)
{
    if (arena_lent || arena_ready) {
        *size = 0;
        return NULL;
    }
    arena_lent = true;
    *size = sizeof arena;
    return arena;
}

void stsm_tls_arena_return(void)
{
    if (arena_lent) {
        mbedtls_platform_zeroize(arena, sizeof arena);
        arena_lent = false;
    }
}

stsm_status_t stsm_tls_init_with_rng(struct stsm_tls *tls, const struct stsm_trust_store *store, stsm_tls_rng_t rng,
                                     void *rng_ctx)
{
    if (arena_lent) {
        return STSM_ERR_ARGUMENT;   /* called while a boot-time user holds the bytes: never share them */
    }
    if (rng == NULL) {
        return STSM_ERR_IO;   /* no TLS without a seeded generator */
    }
    if (!arena_ready) {
        mbedtls_memory_buffer_alloc_init(arena, sizeof arena);
        arena_ready = true;
    }
    tls->store = *store;
    tls->rng = rng;
    tls->rng_ctx = rng_ctx;
    stsm_tls_session_init(&tls->sessions);
    mbedtls_ssl_config_init(&tls->conf);
    mbedtls_ssl_config_init(&tls->conf_opportunistic);

    /* After the arena (PSA allocates from it) and with the generator (PSA draws from it).
     * Calling it again is harmless. */
    psa_rng = rng;
    psa_rng_ctx = rng_ctx;
    if (psa_crypto_init() != PSA_SUCCESS) {
        return STSM_ERR_IO;
    }
    if (build_conf(tls, &tls->conf, MBEDTLS_SSL_VERIFY_REQUIRED) != 0 ||
        build_conf(tls, &tls->conf_opportunistic, MBEDTLS_SSL_VERIFY_OPTIONAL) != 0) {
        return STSM_ERR_NO_MEMORY;
    }
    return STSM_OK;
}

#if !defined(MBEDTLS_NO_PLATFORM_ENTROPY)
stsm_status_t stsm_tls_init(struct stsm_tls *tls, const struct stsm_trust_store *store)
{
    static const char personalization[] = "stsmail tls";

    mbedtls_entropy_init(&tls->entropy);
    mbedtls_ctr_drbg_init(&tls->drbg);
    if (mbedtls_ctr_drbg_seed(&tls->drbg, mbedtls_entropy_func, &tls->entropy,
                              (const unsigned char *)personalization, sizeof personalization - 1) != 0) {
        return STSM_ERR_IO;
    }
    return stsm_tls_init_with_rng(tls, store, mbedtls_ctr_drbg_random, &tls->drbg);
}
#endif

void stsm_tls_forget_sessions(struct stsm_tls *tls)
{
    stsm_tls_session_forget_all(&tls->sessions);
}

void stsm_tls_session_offer(struct stsm_tls *tls, mbedtls_ssl_context *ssl, const char *host, uint16_t port)
{
    size_t len;
    const unsigned char *blob = stsm_tls_session_get(&tls->sessions, host, port, &len);
    if (blob == NULL || mbedtls_ssl_context_get_config(ssl) != &tls->conf) {
        return;
    }
    mbedtls_ssl_session session;
    mbedtls_ssl_session_init(&session);
    if (mbedtls_ssl_session_load(&session, blob, len) != 0 || mbedtls_ssl_set_session(ssl, &session) != 0) {
        stsm_tls_session_drop(&tls->sessions, host, port);
    }
    mbedtls_ssl_session_free(&session);   /* set_session copied it; this wipes ours */
}

void stsm_tls_session_keep(struct stsm_tls *tls, mbedtls_ssl_context *ssl, const char *host, uint16_t port)
{
    if (mbedtls_ssl_context_get_config(ssl) != &tls->conf || mbedtls_ssl_get_verify_result(ssl) != 0) {
        return;
    }
    mbedtls_ssl_session session;
    mbedtls_ssl_session_init(&session);
    if (mbedtls_ssl_get_session(ssl, &session) != 0) {
        mbedtls_ssl_session_free(&session);
        return;
    }
    /* The peer certificate would make up most of the saved bytes, and resuming does not
     * need it: the chain was verified for this host name and the session keeps that
     * verdict. A resumed session is told by its missing certificate (stsm_conn.c). */
    if (session.MBEDTLS_PRIVATE(peer_cert) != NULL) {
        mbedtls_x509_crt_free(session.MBEDTLS_PRIVATE(peer_cert));
        mbedtls_free(session.MBEDTLS_PRIVATE(peer_cert));
        session.MBEDTLS_PRIVATE(peer_cert) = NULL;
    }
    size_t cap, len = 0;
    unsigned char *blob = stsm_tls_session_reserve(&tls->sessions, host, port, &cap);
    if (blob != NULL && mbedtls_ssl_session_save(&session, blob, cap, &len) != 0) {
        len = 0;   /* too large: the slot stays empty */
    }
    if (blob != NULL) {
        stsm_tls_session_commit(&tls->sessions, blob, len);
    }
    mbedtls_ssl_session_free(&session);
}

/* Mbed TLS adds a low-level code (bits 0-6) to a high-level one (bits 7-15); an
 * allocation that failed in any module is the arena running out. */
static bool arena_exhausted(int mbedtls_error)
{
    static const uint16_t high_alloc_failed[] = {
        -MBEDTLS_ERR_SSL_ALLOC_FAILED, -MBEDTLS_ERR_X509_ALLOC_FAILED, -MBEDTLS_ERR_PK_ALLOC_FAILED,
        -MBEDTLS_ERR_ECP_ALLOC_FAILED, -MBEDTLS_ERR_CIPHER_ALLOC_FAILED, -MBEDTLS_ERR_MD_ALLOC_FAILED,
    };
    if (mbedtls_error >= 0) {
        return false;
    }
    unsigned code = (unsigned)-mbedtls_error;
    if ((code & 0x007Fu) == (unsigned)-MBEDTLS_ERR_MPI_ALLOC_FAILED) {
        return true;
    }
    for (size_t i = 0; i < sizeof high_alloc_failed / sizeof high_alloc_failed[0]; i++) {
        if ((code & 0xFF80u) == high_alloc_failed[i]) {
            return true;
        }
    }
    return false;
}

stsm_status_t stsm_tls_failure_reason(int mbedtls_error, uint32_t verify_flags)
{
    if (arena_exhausted(mbedtls_error)) {
        return STSM_ERR_NO_MEMORY;   /* the arena (STSM_TLS_ARENA_SIZE), not the peer: as at setup */
    }
    if (mbedtls_error == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED || verify_flags != 0) {
        if (verify_flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
            return STSM_ERR_TLS_UNTRUSTED;
        }
        if (verify_flags & MBEDTLS_X509_BADCERT_EXPIRED) {
            return STSM_ERR_TLS_EXPIRED;
        }
        if (verify_flags & MBEDTLS_X509_BADCERT_FUTURE) {
            return STSM_ERR_TLS_NOT_YET_VALID;
        }
        if (verify_flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) {
            return STSM_ERR_TLS_NAME_MISMATCH;
        }
        return STSM_ERR_TLS_UNTRUSTED;   /* any other verify failure: do not trust it */
    }
    if (mbedtls_error == MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION) {
        return STSM_ERR_TLS_VERSION;
    }
    return STSM_ERR_TLS_HANDSHAKE;
}

void stsm_tls_arena_usage(size_t *current, size_t *peak)
{
    size_t blocks;
    mbedtls_memory_buffer_alloc_cur_get(current, &blocks);
    mbedtls_memory_buffer_alloc_max_get(peak, &blocks);
}

/* The largest peak of any measurement so far: each connection resets the peak for its
 * own figure, so the run-wide one is kept here. */
static size_t arena_high_water;

void stsm_tls_handshake_begin(void)
{
    arena_high_water = stsm_tls_arena_high_water();
    mbedtls_memory_buffer_alloc_max_reset();
    verify_timing = false;
}

size_t stsm_tls_arena_high_water(void)
{
    size_t current, peak;
    stsm_tls_arena_usage(&current, &peak);
    return peak > arena_high_water ? peak : arena_high_water;
}

void stsm_tls_verify_time(uint32_t *last_ms, uint32_t *max_ms)
{
    *last_ms = verify_last_ms;
    *max_ms = verify_max_ms;
}
