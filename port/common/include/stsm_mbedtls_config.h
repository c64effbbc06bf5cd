/*
 * Mbed TLS 3.6 configuration shared by every stsmail target: a TLS 1.3 client with TLS 1.2
 * as the fallback, ECDHE and AEAD suites only, X.509 verification, session resumption, and
 * allocation from a static arena. A target's config file includes this and adds its
 * platform hooks (entropy, time).
 */
#ifndef STSM_MBEDTLS_CONFIG_H
#define STSM_MBEDTLS_CONFIG_H

/* Platform: all allocations go through mbedtls_platform_set_calloc_free(), which the
 * port points at a memory_buffer_alloc arena so the peak is measurable. */
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C
#define MBEDTLS_MEMORY_DEBUG            /* tracks the arena's peak (reported per connection) */
#define MBEDTLS_HAVE_TIME
#define MBEDTLS_HAVE_TIME_DATE          /* certificate validity needs the wall clock */
#define MBEDTLS_ERROR_C

/* Randomness. */
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_CTR_DRBG_C

/* Symmetric crypto and hashes. */
#define MBEDTLS_AES_C
#define MBEDTLS_GCM_C
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C
#define MBEDTLS_CIPHER_C
#define MBEDTLS_MD_C
#define MBEDTLS_SHA1_C                  /* still used in some certificate chains */
#define MBEDTLS_SHA224_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA384_C
#define MBEDTLS_SHA512_C
#define MBEDTLS_HKDF_C                  /* TLS 1.3 key schedule (through PSA) */

/* PSA crypto: Mbed TLS 3.6's TLS 1.3 runs its key schedule, ECDHE and record protection
 * through it (TLS 1.2 still uses the legacy modules). Its key store is a fixed table, its
 * memory comes from the same arena (stsm_tls_init() calls psa_crypto_init()). */
#define MBEDTLS_PSA_CRYPTO_C
#define MBEDTLS_PSA_KEY_SLOT_COUNT 16   /* a handshake holds at most about 6 keys */
/* PSA draws from stsm_tls's CTR-DRBG (mbedtls_psa_external_get_random() in stsm_tls.c)
 * instead of seeding a generator of its own: no second entropy and DRBG state in RAM, and
 * on the firmware no extra NV seed write to flash at every boot. */
#define MBEDTLS_PSA_CRYPTO_EXTERNAL_RNG

/* Public key crypto. */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_PKCS1_V21
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_OID_C
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_BASE64_C
#define MBEDTLS_PEM_PARSE_C

/* X.509 and the TLS 1.3 / 1.2 client. Trust anchors are looked up by subject through a callback
 * (stsm_tls.c), never all parsed into RAM. */
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
#define MBEDTLS_X509_TRUSTED_CERTIFICATE_CALLBACK
#define MBEDTLS_X509_RSASSA_PSS_SUPPORT
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE    /* the chain is reported after the handshake */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_PROTO_TLS1_3
#define MBEDTLS_SSL_TLS1_3_COMPATIBILITY_MODE   /* what middleboxes on port 25 expect */
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ENABLED
/* Resumption in TLS 1.3 always with a fresh ECDHE (forward secrecy); pure PSK is off. */
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_EPHEMERAL_ENABLED
#define MBEDTLS_SSL_SESSION_TICKETS     /* TLS 1.3 tickets, TLS 1.2 tickets (RFC 5077) */
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_ENCRYPT_THEN_MAC
#define MBEDTLS_SSL_IN_CONTENT_LEN      16384   /* servers may send full-size records */
/* What we send in one record. Application data of any length is split into records this
 * size (mbedtls_ssl_write() takes one record's worth at a time; every caller loops), so
 * the bound is the largest handshake message, which must fit whole: the ClientHello.
 * Measured: 226 bytes for an 11-character host name, 465 with a 192-byte TLS 1.3 ticket
 * (test_conn_tls). At most 1015 bytes with a session that fits STSM_TLS_SESSION_BLOB_MAX
 * (768) and a HelloRetryRequest for P-384: stsm_tls.c derives it and checks it at build
 * time. The 521 bytes left are the margin for a HelloRetryRequest cookie echoed back.
 * The buffer was 4096; each TLS connection (two may run at once) saves 2.5 KiB. */
#define MBEDTLS_SSL_OUT_CONTENT_LEN     1536

#endif /* STSM_MBEDTLS_CONFIG_H */
