/*
 * Capacity overrides of the mps2-an385 board (see firmware/core/stsm_config.h, which
 * includes this first and holds the defaults). Only what differs from the defaults is
 * here, each within #ifndef so that a build's -D still wins.
 */
#ifndef STSM_BOARD_CONFIG_H
#define STSM_BOARD_CONFIG_H

/* Four cached policies (an appliance mails few domains) fit one 12 KiB flash slot. */
#ifndef STSM_STS_CACHE_ENTRIES
#define STSM_STS_CACHE_ENTRIES 4
#endif

/* Ten `mx` patterns in 512 bytes a policy (ten of 50 characters, two of the longest):
 * real policies list a few of 10 to 40. */
#ifndef STSM_STS_MAX_MX
#define STSM_STS_MAX_MX 10
#endif
#ifndef STSM_STS_MX_TEXT_MAX
#define STSM_STS_MX_TEXT_MAX 512
#endif

/* One TLS session at a time. The lab's worst case is TLS 1.3 with ECDSA (the
 * policy over HTTPS, then STARTTLS): 28268 bytes on this board (lab.firmware_network at
 * f5c8b3e, OUT_CONTENT_LEN 1536). On the host the same servers peak higher than TLS 1.2
 * with ECDSA (-10%) or with an RSA-2048 key (-8.6%), so those fit too. 32 KiB is the
 * peak plus 16% (4.5 KiB): about one more RSA-2048 certificate of a longer real-world
 * chain. An arena too small always fails the connection, but not always under its own
 * name: "out of memory" (STSM_ERR_NO_MEMORY) when Mbed TLS reports the allocation
 * (setup, TLS 1.3 key exchange: stsm_tls.h); a TLS 1.2 chain check it cuts short says
 * "untrusted", and some PSA allocations say "handshake failed" (Mbed TLS -0x0001). */
#ifndef STSM_TLS_ARENA_SIZE
#define STSM_TLS_ARENA_SIZE 32768
#endif
/* Two sessions kept for resumption: a delivery uses two hosts, the domain's MTA-STS
 * policy host and its MX (or the relay), and an appliance mails few domains; a third host
 * takes the least recently used slot. 1030 bytes a slot (four took 4120). */
#ifndef STSM_TLS_SESSION_SLOTS
#define STSM_TLS_SESSION_SLOTS 2
#endif

/* The longest pipelined flight for eight recipients (STSM_SMTP_FLIGHT_MAX) is 2480
 * bytes, and an AUTH PLAIN line 693. */
#ifndef STSM_SMTP_OUT_MAX
#define STSM_SMTP_OUT_MAX 2560
#endif

/* Two messages per connection: each batch slot costs its recipients' results in the
 * delivery and 160 bytes in the agent (the batch's text, STSM_AGENT_TEXT_MAX, is shared),
 * and alerts seldom queue up on a device. */
#ifndef STSM_DELIVERY_BATCH_MAX
#define STSM_DELIVERY_BATCH_MAX 2
#endif
#ifndef STSM_AGENT_BATCH_MAX
#define STSM_AGENT_BATCH_MAX 2
#endif

/* cJSON's parse arena: the settings are parsed once, at boot, before any TLS, so the parse
 * borrows the TLS arena's 32 KiB (firmware/app/stsm_mcu_boot.c: the lending refuses once
 * TLS owns the arena, and TLS refuses to start while it is lent) instead of 8 KiB of its
 * own. The largest valid settings file (every key, each text at its longest, eight
 * recipients: 5 KiB of JSON) takes 7368 bytes on this board (40-byte cJSON items; the
 * firmware's cjson_arena_peak at 1e932e0; qemu.settings checks it still parses). The
 * board's own arena stays as small as the code allows. */
#ifndef STSM_SETTINGS_ARENA_IN_TLS_ARENA
#define STSM_SETTINGS_ARENA_IN_TLS_ARENA 1
#endif
#ifndef STSM_SETTINGS_ARENA_SIZE
#define STSM_SETTINGS_ARENA_SIZE 8
#endif
/* The settings' texts in 2040 bytes, eight at their longest (255 with the NUL) in any mix:
 * the relay with AUTH and its policy domain, the EHLO name, the sender and its display
 * name all at their longest take 1595, leaving 445 for the recipients (eight of 54
 * characters; an alert's are a few of 20-40). Every text at its longest would take 4254
 * (this board's 28 KiB settings area holds such a file): 2214 bytes more, for file paths
 * the device does not use (/tls/trust_store, /mta_sts/cache_file, /outbox/store_file:
 * 603) and eight recipients of 254 characters. A file whose texts need more is refused,
 * naming the pool (STSM_SETTINGS_TEXT_POOL) and the first text that did not fit. */
#ifndef STSM_SETTINGS_TEXT_POOL
#define STSM_SETTINGS_TEXT_POOL (8 * (STSM_SETTINGS_TEXT_MAX + 1))
#endif

/* DNS answers cached in 1 KiB of RAM: four to eight answers of 100-250 bytes, enough for
 * the domain an appliance alerts (its MX, the MX host's address, the _mta-sts TXT and the
 * policy host's address); the oldest-used give way. */
#ifndef STSM_DNS_CACHE_BYTES
#define STSM_DNS_CACHE_BYTES 1024
#endif
/* DNS replies up to the EDNS0 size we advertise (1232 B), over UDP or TCP: the resolver's
 * one reply buffer. A longer reply over TCP (an MX list of 40 hosts, 4 KiB) ends its query
 * with STSM_ERR_CAPACITY and the delivery defers, saying so; real MX, TXT and address
 * answers are a few hundred bytes. The one decoded answer: 10 records (STSM_MX_MAX_HOSTS),
 * 8 additional addresses, and its names and TXT text in 1.5 KiB, more than a 1232-byte
 * message's names take unless compression makes them repeat long names. */
#ifndef STSM_DNS_MSG_MAX
#define STSM_DNS_MSG_MAX 1232
#endif
#ifndef STSM_DNS_MAX_RECORDS
#define STSM_DNS_MAX_RECORDS 10
#endif
#ifndef STSM_DNS_MAX_EXTRA
#define STSM_DNS_MAX_EXTRA 8
#endif
#ifndef STSM_DNS_POOL_SIZE
#define STSM_DNS_POOL_SIZE 1536
#endif
/* Four addresses per MX host: hosts with more are pools where any address serves, and a
 * device sending a few alerts tries an address or two before the next host; the rest are
 * dropped and the host flagged (stsm_mx_host.addresses_dropped), as beyond 8 on the host. */
#ifndef STSM_MX_MAX_ADDRESSES
#define STSM_MX_MAX_ADDRESSES 4
#endif

/* The outbox's store: its ring is sixteen 4 KiB pages (mps2-an385.ld), and its keys are
 * two a message (STSM_OUTBOX_MAX, 16), the id high-water record and a few for other users
 * of a store; 12 bytes a key and 4 a page of RAM. A bigger area or more keys than this is
 * refused at mount (the agent does not start), so raise these with the area. */
#ifndef STSM_STORE_PAGES_MAX
#define STSM_STORE_PAGES_MAX 16
#endif
#ifndef STSM_STORE_KEYS_MAX
#define STSM_STORE_KEYS_MAX 40
#endif
/* A message's key, recipients and subject in 1 KiB (a raise with more is refused): the
 * agent's batch text holds one such message and its preamble (1224 bytes). */
#ifndef STSM_OUTBOX_TEXT_MAX
#define STSM_OUTBOX_TEXT_MAX 1024
#endif
/* First attempts remembered for the per-domain cap (16 bytes each): two for each message
 * the outbox keeps. */
#ifndef STSM_OUTBOX_CAP_TRACK
#define STSM_OUTBOX_CAP_TRACK 32
#endif

#endif /* STSM_BOARD_CONFIG_H */
