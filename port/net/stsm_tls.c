#include "stsm_tls.h"

#include <stdbool.h>
#include <string.h>

#include "mbedtls/memory_buffer_alloc.h"
#include "mbedtls/platform.h"
#include "mbedtls/x509_crt.h"
#include "stsm_config.h"

static unsigned char arena[STSM_TLS_ARENA_SIZE];

/* ECDHE key exchange with AEAD ciphers only: forward secrecy, no CBC padding oracles. */
static const int ciphersuites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    0,
};

/*
 * Mbed TLS asks for the trust anchors that may have signed `child`: those whose subject is
 * the child's issuer. Only they are parsed, into the arena; Mbed TLS frees them after use.
 */
static int find_issuers(void *ctx, const mbedtls_x509_crt *child, mbedtls_x509_crt **candidates)
{
    const struct stsm_trust_store *store = ctx;
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
        /* An anchor that does not parse (unsupported algorithm, say) is skipped; the
         * others may still complete the chain. */
        (void)mbedtls_x509_crt_parse_der_nocopy(chain, a.cert, a.cert_len);
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
    mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &tls->drbg);
    mbedtls_ssl_conf_ca_cb(conf, find_issuers, &tls->store);
    mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
    mbedtls_ssl_conf_ciphersuites(conf, ciphersuites);
    /* Ask servers for records of at most 4 KiB; many ignore it, so the input buffer stays
     * at the full 16 KiB. */
    mbedtls_ssl_conf_max_frag_len(conf, MBEDTLS_SSL_MAX_FRAG_LEN_4096);
    return 0;
}

stsm_status_t stsm_tls_init(struct stsm_tls *tls, const struct stsm_trust_store *store)
{
    static bool arena_ready;
    static const char personalization[] = "stsmail tls";

    if (!arena_ready) {
        mbedtls_memory_buffer_alloc_init(arena, sizeof arena);
        arena_ready = true;
    }
    tls->store = *store;
    mbedtls_entropy_init(&tls->entropy);
    mbedtls_ctr_drbg_init(&tls->drbg);
    mbedtls_ssl_config_init(&tls->conf);
    mbedtls_ssl_config_init(&tls->conf_opportunistic);

    if (mbedtls_ctr_drbg_seed(&tls->drbg, mbedtls_entropy_func, &tls->entropy,
                              (const unsigned char *)personalization, sizeof personalization - 1) != 0) {
        return STSM_ERR_IO;
    }
    if (build_conf(tls, &tls->conf, MBEDTLS_SSL_VERIFY_REQUIRED) != 0 ||
        build_conf(tls, &tls->conf_opportunistic, MBEDTLS_SSL_VERIFY_OPTIONAL) != 0) {
        return STSM_ERR_NO_MEMORY;
    }
    return STSM_OK;
}

stsm_status_t stsm_tls_failure_reason(int mbedtls_error, uint32_t verify_flags)
{
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

void stsm_tls_arena_reset_peak(void)
{
    arena_high_water = stsm_tls_arena_high_water();
    mbedtls_memory_buffer_alloc_max_reset();
}

size_t stsm_tls_arena_high_water(void)
{
    size_t current, peak;
    stsm_tls_arena_usage(&current, &peak);
    return peak > arena_high_water ? peak : arena_high_water;
}
