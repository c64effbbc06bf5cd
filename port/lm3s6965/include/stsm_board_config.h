/*
 * Capacity overrides of the lm3s6965evb board (firmware/core/stsm_config.h includes this
 * first and holds the defaults): the smallest sane capacities for 64 KiB of SRAM, one
 * delivery at a time. Each within #ifndef so that a build's -D still wins.
 */
#ifndef STSM_BOARD_CONFIG_H
#define STSM_BOARD_CONFIG_H

/* One TLS session: the 16 KiB inbound record buffer, the 4 KiB outbound one and the
 * handshake with its chain check. The bring-up's policy fetch over verified HTTPS peaked
 * at 25616 bytes on this board (lab.lm3s_bringup); a full lab delivery at 28000 with the
 * same TLS 1.2 configuration on mps2-an385 before the trust anchors shrank (470635f).
 * 28 KiB: the fetch's peak plus 12%. */
#ifndef STSM_TLS_ARENA_SIZE
#define STSM_TLS_ARENA_SIZE (28 * 1024)
#endif
/* No TLS session kept for resumption: one delivery at a time to one relay every few
 * minutes at most, so a full handshake each time costs time, not RAM we do not have. */
#ifndef STSM_TLS_SESSION_SLOTS
#define STSM_TLS_SESSION_SLOTS 0
#endif

/* One message per connection, one attempt at a time. */
#ifndef STSM_DELIVERY_BATCH_MAX
#define STSM_DELIVERY_BATCH_MAX 1
#endif
#ifndef STSM_AGENT_BATCH_MAX
#define STSM_AGENT_BATCH_MAX 1
#endif

/* One cached policy of up to four MX patterns: a device sends its alerts to one relay
 * domain, so a second entry would only ever hold a policy no delivery asks for. */
#ifndef STSM_STS_CACHE_ENTRIES
#define STSM_STS_CACHE_ENTRIES 1
#endif
#ifndef STSM_STS_MAX_MX
#define STSM_STS_MAX_MX 4
#endif
/* Four patterns of 63 characters, or one of the longest. */
#ifndef STSM_STS_MX_TEXT_MAX
#define STSM_STS_MX_TEXT_MAX 256
#endif

/* DNS answers cached in 256 bytes: the relay domain's MX and its host's address between
 * alerts minutes apart; what does not fit is asked again, never cut. */
#ifndef STSM_DNS_CACHE_BYTES
#define STSM_DNS_CACHE_BYTES 256
#endif
/* UDP replies of up to 768 bytes (what we advertise in EDNS0): an MX, A or TXT answer of
 * an alert relay's domain is far smaller; a longer one comes by TCP and, over 768 bytes,
 * defers the delivery (STSM_ERR_CAPACITY), never truncates. */
#ifndef STSM_DNS_EDNS_PAYLOAD
#define STSM_DNS_EDNS_PAYLOAD 768
#endif
#ifndef STSM_DNS_MSG_MAX
#define STSM_DNS_MSG_MAX 768
#endif
/* One decoded answer at a time (the resolver's): two MX names of the longest kind, four
 * of 150 bytes, or a TXT record and a few names; no more than a 768-byte reply carries of
 * usual names. A larger answer defers the delivery, never truncates. */
#ifndef STSM_DNS_POOL_SIZE
#define STSM_DNS_POOL_SIZE 640
#endif
#ifndef STSM_DNS_MAX_RECORDS
#define STSM_DNS_MAX_RECORDS 8
#endif
#ifndef STSM_DNS_MAX_EXTRA
#define STSM_DNS_MAX_EXTRA 8
#endif
/* The names of the servers that decided an attempt's recipients: one relay or MX name of
 * the longest kind (a name that no longer fits is reported as not kept, never cut). */
#ifndef STSM_DELIVERY_HOST_TEXT_MAX
#define STSM_DELIVERY_HOST_TEXT_MAX 256
#endif
/* A domain's MX names and CNAME targets: four hosts of up to 63 characters with a CNAME
 * each (more, and the worst hosts are left out and counted, never cut). */
#ifndef STSM_MX_NAMES_MAX
#define STSM_MX_NAMES_MAX 512
#endif
#ifndef STSM_MX_MAX_HOSTS
#define STSM_MX_MAX_HOSTS 4
#endif
#ifndef STSM_MX_MAX_ADDRESSES
#define STSM_MX_MAX_ADDRESSES 4
#endif

/* The settings are parsed once, at boot, before TLS is set up: the parse borrows the TLS
 * arena's bytes (stsm_mcu_boot.c; stsm_tls_arena_lend() and stsm_tls_init() each refuse
 * while the other holds them), so cJSON's own arena is a token 8 bytes. A parse peaked at
 * 272 bytes on mps2-an385. */
#ifndef STSM_SETTINGS_ARENA_IN_TLS_ARENA
#define STSM_SETTINGS_ARENA_IN_TLS_ARENA 1
#endif
#ifndef STSM_SETTINGS_ARENA_SIZE
#define STSM_SETTINGS_ARENA_SIZE 8
#endif
/* The settings' file paths (trust store, policy cache, outbox) are the host's: the device
 * has its provisioned areas. 32 bytes each, not 200. */
#ifndef STSM_SETTINGS_PATH_MAX
#define STSM_SETTINGS_PATH_MAX 32
#endif
/* The settings' texts in 1020 bytes, four at their longest (255 with the NUL) in any mix:
 * a relay with AUTH, the EHLO name, the sender and two recipients of usual lengths take a
 * few hundred. Every text at its longest would take 2220, more than the 2 KiB settings
 * area lets a file carry (1911: the eight texts of 254 characters that fit it, with their
 * keys). A file whose texts need more is refused, naming the pool
 * (STSM_SETTINGS_TEXT_POOL) and the first text that did not fit. */
#ifndef STSM_SETTINGS_TEXT_POOL
#define STSM_SETTINGS_TEXT_POOL (4 * (STSM_SETTINGS_TEXT_MAX + 1))
#endif
/* Two recipients an alert (a settings file with more is refused, naming this): each one
 * costs RAM in the outbox text, the delivery's results and the SMTP flight. */
#ifndef STSM_SMTP_MAX_RCPT
#define STSM_SMTP_MAX_RCPT 2
#endif
/* The longest pipelined flight for two recipients (STSM_SMTP_FLIGHT_MAX) fits 1 KiB. */
#ifndef STSM_SMTP_OUT_MAX
#define STSM_SMTP_OUT_MAX 1024
#endif

/* The outbox: four 4 KiB pages of flash (lm3s6965.ld), a few alerts waiting at most. */
#ifndef STSM_OUTBOX_MAX
#define STSM_OUTBOX_MAX 4
#endif
#ifndef STSM_OUTBOX_RECORD_MAX
#define STSM_OUTBOX_RECORD_MAX 1024
#endif
/* An alert's key, recipients and subject in 512 bytes (the record would allow about
 * 980): each byte is RAM in the agent's batch text and the queue's message copy. */
#ifndef STSM_OUTBOX_TEXT_MAX
#define STSM_OUTBOX_TEXT_MAX 512
#endif
#ifndef STSM_OUTBOX_CAP_TRACK
#define STSM_OUTBOX_CAP_TRACK 8
#endif
#ifndef STSM_STORE_KEYS_MAX
#define STSM_STORE_KEYS_MAX 16
#endif
#ifndef STSM_STORE_PAGES_MAX
#define STSM_STORE_PAGES_MAX 4
#endif

#endif /* STSM_BOARD_CONFIG_H */
