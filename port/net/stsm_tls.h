/*
 * TLS client configuration shared by every connection: Mbed TLS 3.6 with a static
 * allocation arena, a seeded random generator, and certificate verification against a
 * trust store of anchors (subject and public key) searched by issuer on demand
 * (stsm_trust_store).
 *
 * TLS 1.3 is offered (one round trip), TLS 1.2 is the fallback and the minimum.
 * Fail closed: verification is required, the host name is always checked, and only
 * (EC)DHE key exchange with AEAD ciphers is offered. The one exception is
 * opportunistic TLS (RFC 7435, stsm_conn_start_tls_opportunistic()): a second
 * configuration, identical but for letting a chain that fails verification finish the
 * handshake, so that the caller can keep an encrypted but unauthenticated session and
 * log why it is not verified.
 *
 * Sessions that verified are kept for resumption (stsm_tls_session.h), one per host name
 * and port; stsm_conn offers them on the next connection to the same host and port.
 */
#ifndef STSM_TLS_H
#define STSM_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/entropy.h"
#include "mbedtls/ssl.h"
#include "stsm_status.h"
#include "stsm_tls_session.h"
#include "stsm_trust_store.h"

/** A random generator as Mbed TLS takes one (f_rng): fills `out`, 0 on success. */
typedef int (*stsm_tls_rng_t)(void *ctx, unsigned char *out, size_t len);

/** Process-wide TLS state. Allocate statically; fields are private. */
struct stsm_tls {
#if !defined(MBEDTLS_NO_PLATFORM_ENTROPY)
    mbedtls_entropy_context entropy;   /* stsm_tls_init()'s own generator */
    mbedtls_ctr_drbg_context drbg;
#endif
    stsm_tls_rng_t rng;                /* what TLS and PSA draw from */
    void *rng_ctx;
    mbedtls_ssl_config conf;               /* verification required */
    mbedtls_ssl_config conf_opportunistic; /* same, verification optional */
    struct stsm_trust_store store;
    struct stsm_tls_session_table sessions;   /* verified sessions only */
};

/**
 * Sets up the arena (first call only) and builds the client configurations that verify
 * against `store` (copied; its blob must stay in place), drawing every random byte of TLS
 * and PSA from `rng` (with `rng_ctx`), which must be seeded already and stay so. The
 * platform's one generator serves TLS too: on a board whose only entropy is an NV seed, a
 * second generator would store a second seed each boot. STSM_ERR_IO without a generator
 * (`rng` NULL) or when PSA cannot start.
 */
stsm_status_t stsm_tls_init_with_rng(struct stsm_tls *tls, const struct stsm_trust_store *store, stsm_tls_rng_t rng,
                                     void *rng_ctx);

#if !defined(MBEDTLS_NO_PLATFORM_ENTROPY)
/**
 * As stsm_tls_init_with_rng(), with a CTR-DRBG of its own seeded from the OS's entropy
 * (hosts only: a build without platform entropy must be given its generator).
 * STSM_ERR_IO when the entropy source fails.
 */
stsm_status_t stsm_tls_init(struct stsm_tls *tls, const struct stsm_trust_store *store);
#endif

/**
 * Forgets every stored session (wiped): the next connection to any host makes a full
 * handshake. Call it when what a session stood for may have changed (a domain's MTA-STS
 * policy, the trust store).
 */
void stsm_tls_forget_sessions(struct stsm_tls *tls);

/**
 * Offers the session stored for `host`:`port` to `ssl` (set up on the verifying
 * configuration, host name set), for resumption in its handshake. Does nothing when there
 * is none, when `ssl` uses another configuration than tls->conf, or when the stored
 * bytes do not load (then they are forgotten). A server that refuses the session gets a
 * full handshake on the same connection.
 */
void stsm_tls_session_offer(struct stsm_tls *tls, mbedtls_ssl_context *ssl, const char *host, uint16_t port);

/**
 * Stores the current session of `ssl` for `host`:`port`, after a verified handshake or
 * when a TLS 1.3 ticket arrived. Refuses (stores nothing) unless `ssl` uses tls->conf
 * (verification required) and its peer verified (verify result 0), so an opportunistic or
 * unverified session is never kept. A session that does not fit forgets the host's older
 * one. The peer certificate is not kept (it was checked; the verdict is).
 */
void stsm_tls_session_keep(struct stsm_tls *tls, mbedtls_ssl_context *ssl, const char *host, uint16_t port);

/**
 * Maps the result of a failed handshake to a reason: the verify flags when the chain did
 * not verify (untrusted, expired, not yet valid, name mismatch), STSM_ERR_TLS_VERSION for
 * a peer that answered below TLS 1.2, STSM_ERR_NO_MEMORY when Mbed TLS reports a failed
 * allocation (the TLS arena, STSM_TLS_ARENA_SIZE, is exhausted: a board sizing error, not
 * the peer's; as when the arena cannot even set the session up), and
 * STSM_ERR_TLS_HANDSHAKE otherwise. (A peer that
 * refuses the ClientHello with an alert is told apart by the connection.) With
 * MBEDTLS_ERR_X509_CERT_VERIFY_FAILED it maps verify flags alone; flags it does not name
 * (bad key, usage, ...) are STSM_ERR_TLS_UNTRUSTED.
 */
stsm_status_t stsm_tls_failure_reason(int mbedtls_error, uint32_t verify_flags);

/**
 * How long the last and the longest certificate chain verification took, in ms of
 * mbedtls_ms_time() (the board's tick: emulated time under QEMU): from the first trust
 * anchor lookup of a chain to the end of its verification, every signature check
 * included. 0 before the first.
 */
void stsm_tls_verify_time(uint32_t *last_ms, uint32_t *max_ms);

/**
 * Lends the arena's bytes (*size of them) to one boot-time user before the first
 * stsm_tls_init(), for memory never in use at the same time as TLS (the MCU's settings
 * parse). NULL (and *size 0) when they are lent already or TLS has set the arena up.
 * stsm_tls_init() refuses with STSM_ERR_ARGUMENT until stsm_tls_arena_return() (which wipes
 * them) is called.
 */
unsigned char *stsm_tls_arena_lend(size_t *size);
void stsm_tls_arena_return(void);

/**
 * How many allocations from the arena have failed since start-up (wraps at 2^32). A
 * connection reads it around each handshake step: any increase means the arena
 * (STSM_TLS_ARENA_SIZE) ran out during its handshake, and the handshake fails with
 * STSM_ERR_NO_MEMORY whatever Mbed TLS made of the failure (a chain "not trusted" for
 * want of memory to check a signature, a generic PSA error). Counted only in programs
 * linked with --wrap=mbedtls_platform_set_calloc_free (every user of stsm_net is).
 */
uint32_t stsm_tls_arena_failures(void);

/** Arena use in bytes: current and the peak since the last stsm_tls_handshake_begin(). */
void stsm_tls_arena_usage(size_t *current, size_t *peak);

/**
 * Call as each handshake begins (stsm_conn does): starts a new peak measurement of the
 * arena, for the connection's own figure, and drops the timing of a chain verification
 * that an earlier handshake left unfinished (Mbed TLS stops a verification that an
 * allocation failure cuts short without the callback that ends it), so that
 * stsm_tls_verify_time() times the next chain from its own start.
 */
void stsm_tls_handshake_begin(void);

/** The largest arena use since start-up, across all measurements. */
size_t stsm_tls_arena_high_water(void);

#endif /* STSM_TLS_H */
