/*
 * Fixed capacities of stsmail, with their defaults: the pools, tables, buffers and list
 * lengths of firmware/ and port/net/ that a board may size are set here (protocol
 * constants, such as an RFC's limit, stay in their module's header, and so do the few
 * capacities derived from these: see the note below). Each says what it bounds and what
 * happens at the limit.
 *
 * A board overrides any of them in one place, its stsm_board_config.h (in
 * port/<board>/include, on the include path of every target of that board), which this
 * header includes first; a build may still override one with -D (a test does, for
 * instance). The board header defines only what differs, each within #ifndef, so a -D
 * takes precedence over the board, and the board over the default here.
 */
#ifndef STSM_CONFIG_H
#define STSM_CONFIG_H

#include "stsm_board_config.h"

/** Longest line, without CRLF, accepted from a server in a connectivity probe. RFC 5321
 *  section 4.5.3.1.5 caps reply lines at 512 octets including CRLF. */
#ifndef STSM_PROBE_LINE_MAX
#define STSM_PROBE_LINE_MAX 510
#endif

/** Longest DNS host name in text form (RFC 1035: 255 octets on the wire). */
#ifndef STSM_HOSTNAME_MAX
#define STSM_HOSTNAME_MAX 253
#endif

/** Largest DNS message we accept, over UDP (EDNS0 payload size we advertise) or TCP. */
#ifndef STSM_DNS_MSG_MAX
#define STSM_DNS_MSG_MAX 4096
#endif

/** EDNS0 UDP payload size advertised in queries (the DNS flag day 2020 value). */
#ifndef STSM_DNS_EDNS_PAYLOAD
#define STSM_DNS_EDNS_PAYLOAD 1232
#endif

/** Records of the asked type kept from one answer. An MX answer with more keeps those of
 *  the lowest preference values, an A or AAAA answer its first ones (the rest are counted
 *  in stsm_dns_answer.dropped); a TXT answer with more is an error (STSM_ERR_CAPACITY). */
#ifndef STSM_DNS_MAX_RECORDS
#define STSM_DNS_MAX_RECORDS 16
#endif

/** A/AAAA records kept from the additional section (used to skip address queries). */
#ifndef STSM_DNS_MAX_EXTRA
#define STSM_DNS_MAX_EXTRA 16
#endif

/** CNAMEs followed from the asked name before giving up (the chain is an error then). */
#ifndef STSM_DNS_MAX_CNAME_HOPS
#define STSM_DNS_MAX_CNAME_HOPS 8
#endif

/** Compression pointers followed while reading one name. */
#ifndef STSM_DNS_MAX_POINTERS
#define STSM_DNS_MAX_POINTERS 16
#endif

/** Bytes for names and TXT data of one decoded answer (each stored once, NUL-terminated). */
#ifndef STSM_DNS_POOL_SIZE
#define STSM_DNS_POOL_SIZE 3072
#endif

/** Tries of one DNS query, rotating over the known servers. */
#ifndef STSM_DNS_TRIES
#define STSM_DNS_TRIES 4
#endif

/** Time for one UDP try; it doubles after each full round over the servers. */
#ifndef STSM_DNS_TRY_TIMEOUT_MS
#define STSM_DNS_TRY_TIMEOUT_MS 1000
#endif

/** Time a DNS query has left once it first falls back to TCP (after a truncated UDP
 *  answer), for all its exchanges and tries from then on. */
#ifndef STSM_DNS_TCP_TIMEOUT_MS
#define STSM_DNS_TCP_TIMEOUT_MS 5000
#endif

/** A UDP try that lwIP refused to send (ERR_MEM from a full ARP queue while the next hop
 *  is resolved, no buffer, no route yet) is sent again after this long, without counting
 *  as a try, for as long as the try's own timeout would have lasted. */
#ifndef STSM_DNS_RESEND_MS
#define STSM_DNS_RESEND_MS 5
#endif

/** Bytes of RAM holding cached DNS answers (each stored compactly: its records, CNAME
 *  chain and names, about 100-300 bytes). The oldest-used answers give way when full; an
 *  answer larger than all of it is not cached. 0 disables the cache. */
#ifndef STSM_DNS_CACHE_BYTES
#define STSM_DNS_CACHE_BYTES 8192
#endif

/** Longest time a DNS answer is served from the cache, whatever its TTL says. */
#ifndef STSM_DNS_CACHE_TTL_MAX_S
#define STSM_DNS_CACHE_TTL_MAX_S 3600
#endif

/** Longest time a NODATA or NXDOMAIN answer is served from the cache (never longer than the
 *  TTLs of the CNAMEs that led to it). Short, because the SOA is not read: it spares the
 *  repeat of a delivery its queries while a record published meanwhile (an _mta-sts TXT, an
 *  AAAA) is seen within a minute. */
#ifndef STSM_DNS_CACHE_NEGATIVE_TTL_S
#define STSM_DNS_CACHE_NEGATIVE_TTL_S 60
#endif

/** MX hosts kept for one domain: with more, those of the lowest preference values are kept
 *  and the rest counted (stsm_mx_set.hosts_dropped); never an error. */
#ifndef STSM_MX_MAX_HOSTS
#define STSM_MX_MAX_HOSTS 10
#endif

/** `mx` patterns kept from one MTA-STS policy (1 to 255). Real policies list a few; with
 *  more, the first ones are kept and hosts only the others name do not match (fail
 *  closed, counted in stsm_sts_policy.mx_dropped). A pattern costs its text (below) and a
 *  few bytes of the cache's write list. */
#ifndef STSM_STS_MAX_MX
#define STSM_STS_MAX_MX 32
#endif

/** Bytes of `mx` pattern text one policy keeps, each pattern with its NUL, in every parsed
 *  or cached policy (at least STSM_HOSTNAME_MAX + 1: one pattern of any valid length fits).
 *  Patterns from the first that does not fit on are dropped and counted as those past
 *  STSM_STS_MAX_MX are, never cut. 4096: 16 patterns of the longest, 32 of 127
 *  characters; real ones are 10 to 40. */
#ifndef STSM_STS_MX_TEXT_MAX
#define STSM_STS_MX_TEXT_MAX 4096
#endif

/** Bytes of one domain's MX host names and CNAME targets, each kept once with its NUL (10
 *  hosts of 50 bytes with a CNAME each); with more, the worst hosts are left out and
 *  counted. */
#ifndef STSM_MX_NAMES_MAX
#define STSM_MX_NAMES_MAX 1024
#endif

/** IPv4 and IPv6 addresses kept per MX host (more are dropped and the host is flagged). */
#ifndef STSM_MX_MAX_ADDRESSES
#define STSM_MX_MAX_ADDRESSES 8
#endif

/** Bytes of the static arena all Mbed TLS allocations come from (one handshake with a
 *  16 KiB input and 4 KiB output record buffer peaks around 30-40 KiB). */
#ifndef STSM_TLS_ARENA_SIZE
#define STSM_TLS_ARENA_SIZE (64 * 1024)
#endif

/** Time for a TLS handshake, from start to verified. */
#ifndef STSM_TLS_HANDSHAKE_TIMEOUT_MS
#define STSM_TLS_HANDSHAKE_TIMEOUT_MS 30000
#endif

/** Longest SMTP reply line accepted, without CRLF (RFC 5321 section 4.5.3.1.5: 512 with it). */
#ifndef STSM_SMTP_LINE_MAX
#define STSM_SMTP_LINE_MAX 510
#endif

/** Lines of one SMTP reply (an EHLO reply lists one extension per line; real ones have
 *  under 30). More is a protocol error. Capabilities are read line by line, so this and
 *  the text limit below never hide one. */
#ifndef STSM_SMTP_REPLY_LINES_MAX
#define STSM_SMTP_REPLY_LINES_MAX 128
#endif

/** Bytes of reply text kept for logs and results (the first lines; the rest is dropped). */
#ifndef STSM_SMTP_REPLY_TEXT_MAX
#define STSM_SMTP_REPLY_TEXT_MAX 256
#endif

/** Largest rendered message (headers and encoded body) a delivery sends. */
#ifndef STSM_MESSAGE_MAX
#define STSM_MESSAGE_MAX (16 * 1024)
#endif

/** Time to open a TCP connection to a mail server. */
#ifndef STSM_CONNECT_TIMEOUT_MS
#define STSM_CONNECT_TIMEOUT_MS 30000
#endif

/* ---- Messages and recipients ------------------------------------------------------- */

/** Recipients of one message, wherever they come from (the settings' /mail/to, --to
 *  options, an alert's list), and so of one SMTP transaction (its RCPT TO commands). A
 *  longer list is refused with an error naming this limit, never cut short; each
 *  recipient costs a result slot in every message of a batch. 1 to 32 (the outbox keeps
 *  a 32-bit pending-recipient mask). */
#ifndef STSM_SMTP_MAX_RCPT
#define STSM_SMTP_MAX_RCPT 8
#endif

/** Longest mailbox, without the angle brackets (RFC 5321 section 4.5.3.1.3: a path is 256
 *  octets with them). A longer address is refused. */
#ifndef STSM_SMTP_ADDRESS_MAX
#define STSM_SMTP_ADDRESS_MAX 254
#endif

/** Command bytes the SMTP engine queues at once (a pipelined flight: MAIL, the RCPTs and
 *  BDAT). A flight that would not fit is an error, never cut. */
#ifndef STSM_SMTP_OUT_MAX
#define STSM_SMTP_OUT_MAX 4096
#endif

/** Extra header fields of one message; a message with more is refused. */
#ifndef STSM_MESSAGE_MAX_EXTRA
#define STSM_MESSAGE_MAX_EXTRA 4
#endif

/** Subject bytes (UTF-8) of one message; a longer subject is refused. */
#ifndef STSM_MESSAGE_SUBJECT_MAX
#define STSM_MESSAGE_SUBJECT_MAX 400
#endif

/* ---- Settings and command line ----------------------------------------------------- */

/** Longest file path in the settings; a longer one is a settings error naming its path. */
#ifndef STSM_SETTINGS_PATH_MAX
#define STSM_SETTINGS_PATH_MAX 200
#endif

/** Bytes of the static arena cJSON allocates from while the settings file is parsed (and
 *  only then): a board sizes it to its largest valid settings file (every key, each text
 *  at its longest), which depends on its pointer size. A file whose parse needs more is
 *  refused, naming this arena. */
#ifndef STSM_SETTINGS_ARENA_SIZE
#define STSM_SETTINGS_ARENA_SIZE (16 * 1024)
#endif

/** Longest host name, address, user name or secret in the settings; longer is a settings
 *  error naming its path. */
#ifndef STSM_SETTINGS_TEXT_MAX
#define STSM_SETTINGS_TEXT_MAX 254
#endif

/** Bytes of the one pool that holds every text of a struct stsm_settings (host names,
 *  addresses, user, password, paths), each with its NUL; an absent text takes none. A file
 *  whose texts need more is refused, naming the JSON path of the first text that did not
 *  fit and "settings texts (STSM_SETTINGS_TEXT_POOL) full". The default holds every text
 *  at its longest (/network/interface 15, /mail/from_name 64, three paths, six names or
 *  addresses and the recipients), so on the host only a text's own limit refuses it; a
 *  board sizes it to the files it takes. */
#ifndef STSM_SETTINGS_TEXT_POOL
#define STSM_SETTINGS_TEXT_POOL                                                                    \
    (16 + 65 + 3 * (STSM_SETTINGS_PATH_MAX + 1) + (6 + STSM_SMTP_MAX_RCPT) * (STSM_SETTINGS_TEXT_MAX + 1))
#endif

/** Bytes of a --key option; as the outbox's alert key (STSM_OUTBOX_KEY_MAX). */
#ifndef STSM_CLI_KEY_MAX
#define STSM_CLI_KEY_MAX STSM_OUTBOX_KEY_MAX
#endif

/* ---- Outbox and store -------------------------------------------------------------- */

/** Messages the outbox keeps at once. A new one beyond first takes the place of a settled
 *  message, then (if the outbox's settings allow) of one of lower severity, reported;
 *  otherwise it is refused (STSM_ERR_FULL). */
#ifndef STSM_OUTBOX_MAX
#define STSM_OUTBOX_MAX 16
#endif

/** Bytes of a message's content record (the staging buffer in struct stsm_outbox): the
 *  body may take this, or the store's record size if smaller, less the rest of the
 *  content. A message that does not fit is refused. */
#ifndef STSM_OUTBOX_RECORD_MAX
#define STSM_OUTBOX_RECORD_MAX 2048
#endif

/** First attempts remembered for the per-domain hourly cap; when all are within the hour,
 *  no further first attempt is made until the oldest ages out. */
#ifndef STSM_OUTBOX_CAP_TRACK
#define STSM_OUTBOX_CAP_TRACK 64
#endif

/** Alert key bytes (printable ASCII); a longer key is refused. */
#ifndef STSM_OUTBOX_KEY_MAX
#define STSM_OUTBOX_KEY_MAX 64
#endif

/** Bytes of a message's last error text kept; a longer text is shortened (it is a note for
 *  people, not data). */
#ifndef STSM_OUTBOX_ERROR_MAX
#define STSM_OUTBOX_ERROR_MAX 120
#endif

/** Live keys the store's RAM index holds; a put of a new key beyond is refused. */
#ifndef STSM_STORE_KEYS_MAX
#define STSM_STORE_KEYS_MAX 64
#endif

/** Erase pages a store area may have; a larger area is refused when opened. */
#ifndef STSM_STORE_PAGES_MAX
#define STSM_STORE_PAGES_MAX 64
#endif

/** Deletes a put leaves room for (see stsm_store_put): a put that would leave less is
 *  refused, so that a full store can still be emptied. */
#ifndef STSM_STORE_DELETE_RESERVE
#define STSM_STORE_DELETE_RESERVE 2
#endif

/* ---- Delivery ---------------------------------------------------------------------- */

/** Messages one delivery carries at most over one connection: each costs ~3.1 KiB in the
 *  delivery and ~3.3 KiB in the agent on the host (16: +75 KiB over 4). The rest wait for
 *  the next connection. */
#ifndef STSM_DELIVERY_BATCH_MAX
#define STSM_DELIVERY_BATCH_MAX 16
#endif

/** Bytes naming the servers that decided an attempt's recipients, each name once with its
 *  NUL: four of the longest names, dozens of usual ones (at least one settings text). */
#ifndef STSM_DELIVERY_HOST_TEXT_MAX
#define STSM_DELIVERY_HOST_TEXT_MAX 1024
#endif

/* Derived from the capacities here, in their module's header, and overridable like these:
 * STSM_OUTBOX_TEXT_MAX (stsm_outbox.h: a message's key, recipients and subject) and
 * STSM_AGENT_TEXT_MAX (stsm_agent.h: the batch's text). */

/** Messages one agent attempt carries over one connection (at most
 *  STSM_DELIVERY_BATCH_MAX; a board sets that one alone). */
#ifndef STSM_AGENT_BATCH_MAX
#define STSM_AGENT_BATCH_MAX STSM_DELIVERY_BATCH_MAX
#endif

/* ---- MTA-STS and HTTP -------------------------------------------------------------- */

/** Domains the MTA-STS cache keeps (policies and failure markers); a new domain takes the
 *  least recently used failure marker's slot, a new policy then the least recently used
 *  policy's. */
#ifndef STSM_STS_CACHE_ENTRIES
#define STSM_STS_CACHE_ENTRIES 8
#endif

/** Bytes kept of an HTTP status, header or chunk-size line: all the parser reads of one
 *  (status code, chunk size, Content-Type's media type, Content-Length,
 *  Transfer-Encoding) is in its first bytes; the rest of a longer line is skipped
 *  (stsm_http.h). At least 96. */
#ifndef STSM_HTTP_LINE_MAX
#define STSM_HTTP_LINE_MAX 128
#endif

/** All header bytes of one HTTP response; more fails the response. */
#ifndef STSM_HTTP_HEADERS_MAX
#define STSM_HTTP_HEADERS_MAX (16 * 1024)
#endif

/* ---- TLS sessions and DNS cache notes ---------------------------------------------- */

/** TLS sessions kept for resumption: the least recently used one goes first when a new
 *  host needs a slot. */
#ifndef STSM_TLS_SESSION_SLOTS
#define STSM_TLS_SESSION_SLOTS 4
#endif

/** Bytes of one serialized TLS session (without the peer certificate: see stsm_tls.c). A
 *  TLS 1.3 session is about 110 bytes plus the host name and the server's ticket; one that
 *  does not fit is not kept (the next connection makes a full handshake). */
#ifndef STSM_TLS_SESSION_BLOB_MAX
#define STSM_TLS_SESSION_BLOB_MAX 768
#endif

/** Bytes of the caller's note kept with a cached DNS answer (the resolver keeps the
 *  server's address); with a longer one the answer is not cached. */
#ifndef STSM_DNS_CACHE_ORIGIN_MAX
#define STSM_DNS_CACHE_ORIGIN_MAX 24
#endif

/* ---- Capacities that bound one another --------------------------------------------- */

/* The settings' and the command line's recipient lists were capacities of their own; both
 * are STSM_SMTP_MAX_RCPT now. An override of the old names is unused: it must at least
 * not disagree (remove it). */
#if (defined(STSM_SETTINGS_MAX_TO) && STSM_SETTINGS_MAX_TO != STSM_SMTP_MAX_RCPT) ||                      \
    (defined(STSM_CLI_MAX_TO) && STSM_CLI_MAX_TO != STSM_SMTP_MAX_RCPT)
#error "STSM_SETTINGS_MAX_TO and STSM_CLI_MAX_TO are gone: STSM_SMTP_MAX_RCPT bounds the recipients of one message"
#endif
_Static_assert(STSM_SMTP_MAX_RCPT >= 1, "STSM_SMTP_MAX_RCPT: a message has a recipient");

/** The longest run of commands stsm_smtp.c queues at once: a pipelined flight of RSET,
 *  MAIL FROM with SIZE (20 digits) and BODY, one RCPT TO per recipient, BDAT n LAST and
 *  QUIT; or one AUTH PLAIN line (user and secret in base64). The engine relies on
 *  STSM_SMTP_OUT_MAX holding it (a command that did not fit would be lost). */
#define STSM_SMTP_FLIGHT_MAX                                                                       \
    (6 + (STSM_SMTP_ADDRESS_MAX + 54) + STSM_SMTP_MAX_RCPT * (STSM_SMTP_ADDRESS_MAX + 12) + 32 + 6)
#define STSM_SMTP_AUTH_LINE_MAX (13 + 4 * ((2 * STSM_SMTP_ADDRESS_MAX + 2 + 2) / 3))
_Static_assert(STSM_SMTP_OUT_MAX >= STSM_SMTP_FLIGHT_MAX && STSM_SMTP_OUT_MAX >= STSM_SMTP_AUTH_LINE_MAX,
               "STSM_SMTP_OUT_MAX below the longest command flight (STSM_SMTP_FLIGHT_MAX: about "
               "STSM_SMTP_MAX_RCPT + 1 addresses of STSM_SMTP_ADDRESS_MAX)");
_Static_assert(STSM_CLI_KEY_MAX <= STSM_OUTBOX_KEY_MAX,
               "STSM_CLI_KEY_MAX above STSM_OUTBOX_KEY_MAX: the outbox would refuse what --key takes");
_Static_assert(STSM_SMTP_ADDRESS_MAX <= STSM_SETTINGS_TEXT_MAX,
               "STSM_SMTP_ADDRESS_MAX above STSM_SETTINGS_TEXT_MAX: the settings could not hold a valid address");
_Static_assert(STSM_SETTINGS_TEXT_POOL >= STSM_SETTINGS_TEXT_MAX + 1,
               "STSM_SETTINGS_TEXT_POOL below one text at its longest (STSM_SETTINGS_TEXT_MAX + 1)");

#endif /* STSM_CONFIG_H */
