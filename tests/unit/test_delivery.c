/*
 * The delivery (firmware/agent/stsm_delivery.c) with the real SMTP engine, against
 * scripted stand-ins for the connection (a transport), the MX route, the MTA-STS lookup
 * and the resolver (delivery_fakes.c), on a fake clock the test moves; no lwIP runs. Each case is a script of
 * events fired in a chosen order, and what must have come of it. Regression tests for the
 * review of issue 10: cases 1, 2, 3 and 5 fail on the code before 9bda46a; 4a, 4b, 6, 7a,
 * 8a and 8b on the code before 424dac5 (findings 3 and 4, opportunistic TLS, the downgrade
 * race). 7b and 8c guard the other side (the verifying start; the plaintext retry that
 * 8a/8b must not see does exist). Issue 12: 22a-22d fail on the code before the relay's
 * session opened beside its policy fetch (22e is their control). STSM_TEST_VERBOSE=1
 * prints every case's log and bytes.
 */
#include <limits.h>
#include <stdlib.h>

#include "delivery_fakes.h"
#include "lwip/init.h"
#include "lwip/timeouts.h"
#include "stsm_check.h"
#include "stsm_delivery.h"

enum op {
    ROUTE,          /* the MX answer: the hosts in `text`, comma-separated, in preference order */
    ROUTE_FAILS,    /* (set before the start) stsm_route_start refuses with `n` */
    ROUTE_ERROR,    /* the MX route ends with the error `n` (the MX query failed) */
    ROUTE_NAMES_FULL, /* as ROUTE, but the names ran out: the first host's lookup failed (capacity) */
    POLICY,         /* the MTA-STS lookup ends with policy `text` (`n`: its TXT is a CNAME) */
    NO_POLICY,      /* the MTA-STS lookup ends: no STS record */
    RELAY_ADDRESS,  /* the relay's A answer */
    CONNECTED,      /* the connection's events ... */
    TLS_READY,      /* ... `n`: what stsm_conn_tls_verify_status says */
    FAILED,         /* ... `n`: the status */
    SERVER,         /* the server sends `text` */
    TRICKLE,        /* the server sends `text` one byte every `n` ms */
    WAIT,           /* `n` ms pass */
    LATE,           /* `n` ms pass before the timer list is served (once) */
    IS_CLOSED,      /* check: no connection is open or opening */
    CONNECTS,       /* check: exactly `n` connections were opened so far */
    ALL_DONE,       /* check: `done` ran, and from here on nothing happens (no log line) */
    ACCEPT_FETCH,   /* (set before the start) the healing fetch starts when asked */
    POLICY_CACHED,  /* the MTA-STS lookup ends with policy `text` from the cache */
    HEAL_POLICY,    /* the healing fetch ends with the live policy `text` */
    STATE,          /* check: the delivery is in state `text` */
    SENT_HAS,       /* check: the client has sent `text` (any connection) */
    NOT_SENT,       /* check: the client has not sent `text` */
    SETTLED,        /* check: the `settled` calls so far, "index:outcome " each */
    CONNECTS_TO,    /* check: the connections so far went to `text` ("address:port " each) */
    STOP,           /* stsm_delivery_stop(): a shutdown */
    CACHED,         /* (set before the start) the cache holds policy `text` unexpired (in force at once) */
    CHECKED,        /* the TXT check beside a cached policy ends: the id unchanged */
    CHECKED_NEW,    /* ... a new id: its policy is due to be fetched (stsm_sts_lookup_refresh) */
    CHECKED_GONE,   /* ... no STS record any more */
    REFRESHED,      /* the refresh fetch ends with policy `text` (NULL: it failed) */
    REFRESHES,      /* check: stsm_sts_lookup_refresh() was called `n` times so far */
    DONES,          /* check: `done` ran `n` times so far */
    FETCHES,        /* check: the healing fetch was asked for `n` times so far */
    END,
};

struct step {
    enum op op;
    const char *text;
    long n;
    bool same_turn;   /* the next step happens before the timer list is served again */
};

struct expect {
    enum stsm_smtp_outcome outcome;   /* of the one recipient */
    stsm_status_t status;
    bool mail_sent;                   /* MAIL FROM went out on some connection */
    bool nothing_sent;                /* not one byte went out */
    unsigned connects;
    int start_tls, start_tls_opportunistic;   /* -1: not checked */
    const char *log;                  /* a log line contains this (NULL: not checked) */
    long done_at_ms;                  /* `done` ran this long after the start (-1: not checked) */
};

struct scenario {
    const char *intent;
    const char *settings;             /* JSON members added to the base settings */
    const struct step *steps;
    struct expect expect;             /* of recipient 0 and the connection */
    const char *const *to;            /* the recipients (NULL: ops@victim.example alone) */
    const bool *envelope;             /* the envelope mask (NULL: all) */
    const char *outcomes;             /* every recipient's outcome, "delivered,pending" (NULL: not checked) */
    const char *settled;              /* every `settled` call, as SETTLED (NULL: not checked) */
};

/* ---- the scripts' pieces --------------------------------------------------------------- */

#define ENFORCE_VICTIM "version: STSv1\nmode: enforce\nmx: mx.victim.example\nmax_age: 86400\n"
#define TESTING_VICTIM "version: STSv1\nmode: testing\nmx: mx.victim.example\nmax_age: 86400\n"
#define RELAY_WITH_AUTH                                                                        \
    ",\"delivery\": {\"mode\": \"relay\", \"relay\": {\"host\": \"relay.example.net\", "        \
    "\"auth\": {\"user\": \"printer\", \"password\": \"s3cret\"}}}"
#define ENFORCE_RELAY "version: STSv1\nmode: enforce\nmx: relay.example.net\nmax_age: 86400\n"

#define GREETING_TO_STARTTLS                                                                   \
    { SERVER, "220 mx ESMTP\r\n", 0, false },                                                  \
    { SERVER, "250-mx\r\n250-8BITMIME\r\n250 STARTTLS\r\n", 0, false },                        \
    { SERVER, "220 2.0.0 go ahead\r\n", 0, false }
#define EHLO_AFTER_TLS { SERVER, "250-mx\r\n250 8BITMIME\r\n", 0, false }
#define PLAINTEXT_EHLO                                                                         \
    { SERVER, "220 mx ESMTP\r\n", 0, false }, { SERVER, "250-mx\r\n250 8BITMIME\r\n", 0, false }
/* MAIL, RCPT, DATA, the message: what a server answers if the client gets that far. */
#define TRANSACTION                                                                            \
    { SERVER, "250 2.1.0 ok\r\n", 0, false }, { SERVER, "250 2.1.5 ok\r\n", 0, false },        \
    { SERVER, "354 go\r\n", 0, false }, { SERVER, "250 2.0.0 queued\r\n", 0, false }

/* ---- the scenarios --------------------------------------------------------------------- */

/* 1. 9bda46a: the policy (enforce, another MX) arrives while the provisional connect is pending. */
static const struct step enforce_during_connect[] = {
    { ROUTE, "mx.attacker.example", 0, false }, { POLICY, ENFORCE_VICTIM, 0, false },
    { CONNECTED, NULL, 0, false }, GREETING_TO_STARTTLS, { TLS_READY, NULL, STSM_OK, false },
    EHLO_AFTER_TLS, TRANSACTION, { END, NULL, 0, false },
};
/* 2. 9bda46a: the same under testing: delivered, and the log says enforce would refuse it. */
static const struct step testing_during_connect[] = {
    { ROUTE, "mx.attacker.example", 0, false }, { POLICY, TESTING_VICTIM, 0, false },
    { CONNECTED, NULL, 0, false }, GREETING_TO_STARTTLS, { TLS_READY, NULL, STSM_OK, false },
    EHLO_AFTER_TLS, TRANSACTION, { END, NULL, 0, false },
};
/* 3. 9bda46a: an unusable policy (strict no-CNAME txt) during a connect drops the connection. */
static const struct step unusable_policy_during_connect[] = {
    { ROUTE, "mx.victim.example", 0, false }, { POLICY, ENFORCE_VICTIM, 1, false },
    { IS_CLOSED, NULL, 0, false }, { ALL_DONE, NULL, 0, false }, { CONNECTED, NULL, 0, false }, PLAINTEXT_EHLO,
    { END, NULL, 0, false },
};
/* 4a. Finding 4: a greeting trickled a byte every 2 s ends at the 10 s attempt deadline. */
static const struct step trickled_to_deadline[] = {
    { ROUTE, "mx.slow.example", 0, false }, { CONNECTED, NULL, 0, false },
    { TRICKLE, "220 mx.slow.example ESMTP ready\r\n", 2000, false }, { END, NULL, 0, false },
};
/* 4b. Finding 4: arriving bytes do not stretch the reply timeout (3 s at timeout_percent 1). */
static const struct step trickled_past_reply_timeout[] = {
    { ROUTE, "mx.slow.example", 0, false }, { CONNECTED, NULL, 0, false },
    { TRICKLE, "220 mx.slow.example ESMTP ready\r\n", 1000, false }, { END, NULL, 0, false },
};
/* 5. 9bda46a: a route that cannot start, with the timer list served after the deadline. */
static const struct step route_fails_timers_late[] = {
    { ROUTE_FAILS, NULL, STSM_ERR_NO_MEMORY, false }, { LATE, NULL, 11000, false },
    { END, NULL, 0, false },
};
/* 9b. The MX answer is beyond what this device decodes (more TXT-like data than the answer
 *     pool, names beyond it: STSM_ERR_CAPACITY from the resolver): a local limit defers,
 *     says why, and connects nowhere, never a host guessed from a partial answer. */
static const struct step route_beyond_capacity[] = {
    { ROUTE_ERROR, NULL, STSM_ERR_CAPACITY, false }, { NO_POLICY, NULL, 0, false },
    { CONNECTS, NULL, 0, false }, { ALL_DONE, NULL, 0, false }, { END, NULL, 0, false },
};
/* 9c. The route's names ran out mid-route (a CNAME target did not fit): that host is
 *     skipped saying why, never tried, and the next one delivers; with none left, deferred. */
static const struct step route_names_full_next[] = {
    { NO_POLICY, NULL, 0, false }, { ROUTE_NAMES_FULL, "mx1.victim.example,mx2.victim.example", 0, false },
    { CONNECTS_TO, "192.0.2.26:25 ", 0, false }, { CONNECTED, NULL, 0, false }, PLAINTEXT_EHLO, TRANSACTION,
    { END, NULL, 0, false },
};
static const struct step route_names_full_none[] = {
    { ROUTE_NAMES_FULL, "mx1.victim.example", 0, false }, { NO_POLICY, NULL, 0, false },
    { CONNECTS, NULL, 0, false }, { ALL_DONE, NULL, 0, false }, { END, NULL, 0, false },
};
/* 17a. A shutdown in the middle of a transaction (DATA sent, no 354 yet): the connection
 *      goes at once, the message never does, the recipient is deferred as stopped. */
static const struct step stop_mid_transaction[] = {
    { ROUTE, "mx.victim.example", 0, false }, { CONNECTED, NULL, 0, false }, PLAINTEXT_EHLO,
    { SERVER, "250 2.1.0 ok\r\n", 0, false }, { SERVER, "250 2.1.5 ok\r\n", 0, false },
    { SENT_HAS, "DATA\r\n", 0, false }, { STOP, NULL, 0, false }, { IS_CLOSED, NULL, 0, false },
    { ALL_DONE, NULL, 0, false }, { SERVER, "354 go\r\n", 0, false }, { NOT_SENT, "Subject:", 0, false },
    { END, NULL, 0, false },
};
/* 17b. A shutdown while the MX lookup runs: DNS cannot be cancelled, so `done` waits for
 *      its answer, and nothing connects. */
static const struct step stop_during_lookup[] = {
    { STOP, NULL, 0, false }, { STATE, "expired", 0, false }, { ROUTE, "mx.victim.example", 0, false },
    { ALL_DONE, NULL, 0, false }, { CONNECTS, NULL, 0, false }, { END, NULL, 0, false },
};
/* 6. Finding 3: relay tls "none" under an enforce policy: no STARTTLS offered, no mail. */
static const struct step relay_none_enforce[] = {
    { RELAY_ADDRESS, NULL, 0, false }, { POLICY, ENFORCE_RELAY, 0, false },
    { CONNECTED, NULL, 0, false }, PLAINTEXT_EHLO, TRANSACTION, { END, NULL, 0, false },
};
/* 7a. Opportunistic TLS: a name mismatch at "may" keeps the session encrypted; delivered. */
static const struct step may_name_mismatch[] = {
    { NO_POLICY, NULL, 0, false }, { ROUTE, "mx.victim.example", 0, false },
    { CONNECTED, NULL, 0, false }, GREETING_TO_STARTTLS,
    { TLS_READY, NULL, STSM_ERR_TLS_NAME_MISMATCH, false }, EHLO_AFTER_TLS, TRANSACTION,
    { END, NULL, 0, false },
};
/* 7b. At tls_level "verify" the verifying start is used, never the opportunistic one. */
static const struct step verify_level[] = {
    { NO_POLICY, NULL, 0, false }, { ROUTE, "mx.victim.example", 0, false },
    { CONNECTED, NULL, 0, false }, GREETING_TO_STARTTLS, { TLS_READY, NULL, STSM_OK, false },
    EHLO_AFTER_TLS, TRANSACTION, { END, NULL, 0, false },
};
/* 8a. Downgrade race: a handshake failure while the policy is pending schedules no plaintext
 *     retry; the enforce policy then comes, and a plaintext server never gets MAIL FROM. */
static const struct step handshake_fails_policy_pending[] = {
    { ROUTE, "mx.victim.example", 0, false }, { CONNECTED, NULL, 0, false }, GREETING_TO_STARTTLS,
    { FAILED, NULL, STSM_ERR_TLS_HANDSHAKE, false }, { WAIT, NULL, 1000, false },
    { CONNECTS, NULL, 1, false }, { POLICY, ENFORCE_VICTIM, 0, false },
    { CONNECTED, NULL, 0, false }, PLAINTEXT_EHLO, TRANSACTION, { END, NULL, 0, false },
};
/* 8b. The same with the enforce policy arriving in the same turn as the failure. */
static const struct step handshake_fails_policy_same_turn[] = {
    { ROUTE, "mx.victim.example", 0, false }, { CONNECTED, NULL, 0, false }, GREETING_TO_STARTTLS,
    { FAILED, NULL, STSM_ERR_TLS_HANDSHAKE, true }, { POLICY, ENFORCE_VICTIM, 0, false },
    { CONNECTED, NULL, 0, false }, PLAINTEXT_EHLO, TRANSACTION, { END, NULL, 0, false },
};

/* 8c. Control for 8a/8b: with no policy, the same failure is retried once in plaintext. */
static const struct step handshake_fails_no_policy[] = {
    { NO_POLICY, NULL, 0, false }, { ROUTE, "mx.victim.example", 0, false },
    { CONNECTED, NULL, 0, false }, GREETING_TO_STARTTLS, { FAILED, NULL, STSM_ERR_TLS_HANDSHAKE, false },
    { CONNECTS, NULL, 2, false }, { CONNECTED, NULL, 0, false }, PLAINTEXT_EHLO, TRANSACTION,
    { END, NULL, 0, false },
};

/* 10. MX fallback in preference order: refused connect, 421 at the greeting, then delivered. */
static const struct step mx_fallback[] = {
    { NO_POLICY, NULL, 0, false }, { ROUTE, "mx1.victim.example,mx2.victim.example,mx3.victim.example", 0, false },
    { CONNECTS_TO, "192.0.2.25:25 ", 0, false }, { FAILED, NULL, STSM_ERR_CONNECT, false },
    { CONNECTS_TO, "192.0.2.25:25 192.0.2.26:25 ", 0, false }, { CONNECTED, NULL, 0, false },
    { SERVER, "421 4.3.2 busy\r\n", 0, false },
    { CONNECTS_TO, "192.0.2.25:25 192.0.2.26:25 192.0.2.27:25 ", 0, false }, { CONNECTED, NULL, 0, false },
    PLAINTEXT_EHLO, TRANSACTION, { END, NULL, 0, false },
};
/* 11a. The provisional session holds before MAIL FROM until the policy decision (none here). */
static const struct step held_until_policy[] = {
    { ROUTE, "mx.victim.example", 0, false }, { CONNECTED, NULL, 0, false }, PLAINTEXT_EHLO,
    { STATE, "held", 0, false }, { WAIT, NULL, 2000, false }, { NOT_SENT, "MAIL FROM", 0, false },
    { NO_POLICY, NULL, 0, false }, { SENT_HAS, "MAIL FROM:<alerts@printer.example>", 0, false },
    TRANSACTION, { END, NULL, 0, false },
};
/* 11b. Its STARTTLS handshake waits for the policy (testing: opportunistic), then holds no more. */
static const struct step tls_waits_for_policy[] = {
    { ROUTE, "mx.victim.example", 0, false }, { CONNECTED, NULL, 0, false }, GREETING_TO_STARTTLS,
    { STATE, "tls_wait", 0, false }, { POLICY, TESTING_VICTIM, 0, false }, { STATE, "session", 0, false },
    { TLS_READY, NULL, STSM_OK, false }, EHLO_AFTER_TLS, TRANSACTION, { END, NULL, 0, false },
};
/* 12a. tls_level verify, an untrusted certificate: deferred, never in plaintext. */
static const struct step verify_untrusted[] = {
    { NO_POLICY, NULL, 0, false }, { ROUTE, "mx.victim.example", 0, false }, { CONNECTED, NULL, 0, false },
    GREETING_TO_STARTTLS, { FAILED, NULL, STSM_ERR_TLS_UNTRUSTED, false }, { END, NULL, 0, false },
};
/* 12a'. The TLS arena ran out during the handshake: deferred as no_memory, the arena named. */
static const struct step verify_arena_exhausted[] = {
    { NO_POLICY, NULL, 0, false }, { ROUTE, "mx.victim.example", 0, false }, { CONNECTED, NULL, 0, false },
    GREETING_TO_STARTTLS, { FAILED, NULL, STSM_ERR_NO_MEMORY, false }, { END, NULL, 0, false },
};
/* 12b. Enforce policy, a certificate for another name: deferred (verifying handshake). */
static const struct step enforce_name_mismatch[] = {
    { POLICY, ENFORCE_VICTIM, 0, false }, { ROUTE, "mx.victim.example", 0, false }, { CONNECTED, NULL, 0, false },
    GREETING_TO_STARTTLS, { FAILED, NULL, STSM_ERR_TLS_NAME_MISMATCH, false }, { END, NULL, 0, false },
};
/* 12c. tls_level encrypt, the handshake fails: deferred, no plaintext retry (TLS required). */
static const struct step encrypt_handshake_fails[] = {
    { NO_POLICY, NULL, 0, false }, { ROUTE, "mx.victim.example", 0, false }, { CONNECTED, NULL, 0, false },
    GREETING_TO_STARTTLS, { FAILED, NULL, STSM_ERR_TLS_HANDSHAKE, false }, { END, NULL, 0, false },
};
/* 12d/12e. STARTTLS not offered at encrypt or verify: no MAIL FROM. */
static const struct step not_offered[] = {
    { NO_POLICY, NULL, 0, false }, { ROUTE, "mx.victim.example", 0, false }, { CONNECTED, NULL, 0, false },
    PLAINTEXT_EHLO, { END, NULL, 0, false },
};
/* 12f. TLS cut without close_notify in the middle of the message: deferred, not delivered. */
static const struct step truncated_mid_data[] = {
    { NO_POLICY, NULL, 0, false }, { ROUTE, "mx.victim.example", 0, false }, { CONNECTED, NULL, 0, false },
    GREETING_TO_STARTTLS, { TLS_READY, NULL, STSM_OK, false }, EHLO_AFTER_TLS,
    { SERVER, "250 2.1.0 ok\r\n", 0, false }, { SERVER, "250 2.1.5 ok\r\n", 0, false },
    { SERVER, "354 go\r\n", 0, false }, { FAILED, NULL, STSM_ERR_TLS_TRUNCATED, false }, { END, NULL, 0, false },
};
/* 13a. Stale-policy healing: the cached enforce policy matches no MX; the live one does. */
#define ENFORCE_MOVED "version: STSv1\nmode: enforce\nmx: mx.moved.example\nmax_age: 86400\n"
static const struct step stale_policy_healed[] = {
    { ACCEPT_FETCH, NULL, 0, false }, { POLICY_CACHED, ENFORCE_VICTIM, 0, false },
    { ROUTE, "mx.moved.example", 0, false }, { STATE, "healing", 0, false }, { CONNECTS, NULL, 0, false },
    { HEAL_POLICY, ENFORCE_MOVED, 0, false }, { CONNECTED, NULL, 0, false }, GREETING_TO_STARTTLS,
    { TLS_READY, NULL, STSM_OK, false }, EHLO_AFTER_TLS, TRANSACTION, { END, NULL, 0, false },
};
/* 13b. The same when the live policy cannot be fetched: deferred, nothing sent. */
static const struct step stale_policy_not_healed[] = {
    { POLICY_CACHED, ENFORCE_VICTIM, 0, false }, { ROUTE, "mx.moved.example", 0, false },
    { END, NULL, 0, false },
};
/* 14a. Relay, STARTTLS verified: recipients of two domains in one session. */
static const struct step relay_two_domains[] = {
    { RELAY_ADDRESS, NULL, 0, false }, { NO_POLICY, NULL, 0, false }, { CONNECTED, NULL, 0, false },
    GREETING_TO_STARTTLS, { TLS_READY, NULL, STSM_OK, false }, EHLO_AFTER_TLS,
    { SERVER, "250 2.1.0 ok\r\n", 0, false }, { SERVER, "250 2.1.5 ok\r\n", 0, false },
    { SERVER, "250 2.1.5 ok\r\n", 0, false }, { SERVER, "354 go\r\n", 0, false },
    { SERVER, "250 2.0.0 queued\r\n", 0, false }, { CONNECTS_TO, "192.0.2.30:587 ", 0, false },
    { END, NULL, 0, false },
};
/* 14b. Relay with implicit TLS (port 465), addressed by a literal: no lookup at all. */
static const struct step relay_implicit_literal[] = {
    { CONNECTS_TO, "192.0.2.40:465 ", 0, false }, { CONNECTED, NULL, 0, false }, { TLS_READY, NULL, STSM_OK, false }, PLAINTEXT_EHLO, TRANSACTION,
    { END, NULL, 0, false },
};
/* 15a. Each recipient is reported the moment it is final: the 550 at RCPT before the data,
 *      the delivery on the 250 after it, both before `done`. */
static const struct step settled_as_known[] = {
    { NO_POLICY, NULL, 0, false }, { ROUTE, "mx.victim.example", 0, false }, { CONNECTED, NULL, 0, false },
    PLAINTEXT_EHLO, { SERVER, "250 2.1.0 ok\r\n", 0, false }, { SERVER, "550 5.1.1 no such user\r\n", 0, false },
    { SETTLED, "0:failed ", 0, false }, { SERVER, "250 2.1.5 ok\r\n", 0, false }, { SERVER, "354 go\r\n", 0, false },
    { SETTLED, "0:failed ", 0, false }, { SERVER, "250 2.0.0 queued\r\n", 0, true },
    { SETTLED, "0:failed 1:delivered ", 0, false }, { END, NULL, 0, false },
};
/* 15b. The connection drops after the data, before the server's 250: deferred, reported. */
static const struct step settled_cut_after_data[] = {
    { NO_POLICY, NULL, 0, false }, { ROUTE, "mx.victim.example", 0, false }, { CONNECTED, NULL, 0, false },
    PLAINTEXT_EHLO, { SERVER, "250 2.1.0 ok\r\n", 0, false }, { SERVER, "250 2.1.5 ok\r\n", 0, false },
    { SERVER, "354 go\r\n", 0, false }, { SETTLED, "", 0, false }, { FAILED, NULL, STSM_ERR_PEER_CLOSED, false },
    { SETTLED, "0:deferred ", 0, false }, { END, NULL, 0, false },
};
/* 16a. Envelope subset: only the second recipient gets a RCPT; the To header names both. */
static const struct step envelope_second_only[] = {
    { NO_POLICY, NULL, 0, false }, { ROUTE, "mx.victim.example", 0, false }, { CONNECTED, NULL, 0, false },
    PLAINTEXT_EHLO, TRANSACTION, { NOT_SENT, "RCPT TO:<ops@victim.example>", 0, false },
    { SENT_HAS, "RCPT TO:<dev@victim.example>", 0, false },
    { SENT_HAS, "To: ops@victim.example,\r\n dev@victim.example\r\n", 0, false }, { END, NULL, 0, false },
};
/* 16b. A recipient of another domain left out of the envelope: its domain is never looked up. */
static const struct step envelope_skips_domain[] = {
    { NO_POLICY, NULL, 0, false }, { ROUTE, "mx.victim.example", 0, false }, { CONNECTED, NULL, 0, false },
    PLAINTEXT_EHLO, { SERVER, "250 2.1.0 ok\r\n", 0, false }, { SERVER, "250 2.1.5 ok\r\n", 0, false },
    { SERVER, "250 2.1.5 ok\r\n", 0, false }, { SERVER, "354 go\r\n", 0, false },
    { SERVER, "250 2.0.0 queued\r\n", 0, false }, { NOT_SENT, "other.example>", 0, false },
    { END, NULL, 0, false },
};

/* 20. A policy the cache holds unexpired is in force at once; its TXT id is checked beside
 *     the delivery (issue 12). 20a-20d fail on the code before it (the session waited for the
 *     lookup: TLS and MAIL FROM held, or a provisional connection to a host outside the
 *     cached enforce policy). A policy the check finds due is fetched (a second TLS
 *     session) only once no session is open: 20c, 20g. */
#define TESTING_OTHER "version: STSv1\nmode: testing\nmx: mx.other.example\nmax_age: 86400\n"
/* 20a. Verified STARTTLS and the whole transaction before the TXT answer; the recipient is
 *      settled at once, `done` waits for the check (the delivery's storage is in use). */
static const struct step cached_delivers_before_txt[] = {
    { CACHED, ENFORCE_VICTIM, 0, false }, { ROUTE, "mx.victim.example", 0, false }, { CONNECTED, NULL, 0, false },
    GREETING_TO_STARTTLS, { TLS_READY, NULL, STSM_OK, false }, EHLO_AFTER_TLS, TRANSACTION,
    { SERVER, "221 bye\r\n", 0, false }, { SETTLED, "0:delivered ", 0, false }, { DONES, NULL, 0, false },
    { STATE, "next_group", 0, false }, { CHECKED, NULL, 0, false }, { ALL_DONE, NULL, 0, false },
    { END, NULL, 0, false },
};
/* 20b. Enforce under the cached policy: an MX outside it is never connected to; once the
 *      check ends (id unchanged) and the live policy cannot be fetched, deferred. */
static const struct step cached_enforce_refuses[] = {
    { CACHED, ENFORCE_VICTIM, 0, false }, { ROUTE, "mx.attacker.example", 0, false }, { CONNECTS, NULL, 0, false },
    { STATE, "healing", 0, false }, { FETCHES, NULL, 0, false }, { CHECKED, NULL, 0, false },
    { FETCHES, NULL, 1, false }, { ALL_DONE, NULL, 0, false }, { END, NULL, 0, false },
};
/* 20c. A new id found mid-session does not weaken the policy in force: the handshake still
 *      verifies and its failure defers (no plaintext); the new policy (testing, another MX)
 *      is fetched only once the session is over, and cached, not applied. */
static const struct step refreshed_does_not_weaken[] = {
    { CACHED, ENFORCE_VICTIM, 0, false }, { ROUTE, "mx.victim.example", 0, false }, { CONNECTED, NULL, 0, false },
    { SERVER, "220 mx ESMTP\r\n", 0, false }, { CHECKED_NEW, NULL, 0, false },
    { SERVER, "250-mx\r\n250-8BITMIME\r\n250 STARTTLS\r\n", 0, false }, { SERVER, "220 2.0.0 go ahead\r\n", 0, false },
    { REFRESHES, NULL, 0, false }, { FAILED, NULL, STSM_ERR_TLS_UNTRUSTED, false }, { CONNECTS, NULL, 1, false },
    { REFRESHES, NULL, 1, false }, { DONES, NULL, 0, false }, { REFRESHED, TESTING_OTHER, 0, false },
    { ALL_DONE, NULL, 0, false }, { END, NULL, 0, false },
};
/* 20g. A new id found while the MX session holds TLS: the policy fetch (a second TLS
 *      session) waits for the session's end; the recipient is settled before it, `done`
 *      after it. A fetch that fails keeps the cached policy, logged. */
static const struct step refresh_waits_for_session[] = {
    { CACHED, ENFORCE_VICTIM, 0, false }, { ROUTE, "mx.victim.example", 0, false }, { CONNECTED, NULL, 0, false },
    GREETING_TO_STARTTLS, { TLS_READY, NULL, STSM_OK, false }, { CHECKED_NEW, NULL, 0, false }, EHLO_AFTER_TLS,
    { SERVER, "250 2.1.0 ok\r\n", 0, false }, { SERVER, "250 2.1.5 ok\r\n", 0, false },
    { SERVER, "354 go\r\n", 0, false }, { REFRESHES, NULL, 0, false }, { SERVER, "250 2.0.0 queued\r\n", 0, false },
    { SETTLED, "0:delivered ", 0, false }, { IS_CLOSED, NULL, 0, false }, { REFRESHES, NULL, 1, false },
    { DONES, NULL, 0, false }, { REFRESHED, NULL, 0, false }, { ALL_DONE, NULL, 0, false }, { END, NULL, 0, false },
};
/* 20d. The MX moved: the new policy the check fetched heals the cached one (no second fetch). */
static const struct step check_heals_cached[] = {
    { CACHED, ENFORCE_VICTIM, 0, false }, { ROUTE, "mx.moved.example", 0, false }, { STATE, "healing", 0, false },
    { CONNECTS, NULL, 0, false }, { CHECKED_NEW, NULL, 0, false }, { REFRESHES, NULL, 1, false },
    { STATE, "healing", 0, false }, { REFRESHED, ENFORCE_MOVED, 0, false }, { CONNECTED, NULL, 0, false },
    GREETING_TO_STARTTLS, { TLS_READY, NULL, STSM_OK, false }, EHLO_AFTER_TLS, TRANSACTION,
    { FETCHES, NULL, 0, false }, { END, NULL, 0, false },
};
/* 20e. The TXT record is gone before the MX answer: the cached policy stays in force. */
static const struct step cached_txt_gone[] = {
    { CACHED, ENFORCE_VICTIM, 0, false }, { CHECKED_GONE, NULL, 0, false }, { ROUTE, "mx.victim.example", 0, false },
    { CONNECTED, NULL, 0, false }, GREETING_TO_STARTTLS, { TLS_READY, NULL, STSM_OK, false }, EHLO_AFTER_TLS,
    TRANSACTION, { END, NULL, 0, false },
};
/* 20f. Strict no-CNAME scope txt judges the TXT answer itself: the cached policy waits for it. */
static const struct step cached_strict_txt_waits[] = {
    { CACHED, ENFORCE_VICTIM, 0, false }, { ROUTE, "mx.victim.example", 0, false }, { CONNECTED, NULL, 0, false },
    GREETING_TO_STARTTLS, { STATE, "tls_wait", 0, false }, { CHECKED, NULL, 0, false }, { STATE, "session", 0, false },
    { TLS_READY, NULL, STSM_OK, false }, EHLO_AFTER_TLS, TRANSACTION, { END, NULL, 0, false },
};

/* 21a. The policy arrives while STARTTLS waits, and refuses the host by name: no handshake,
 *      the connection goes, deferred as no usable MX (it started a verifying handshake
 *      with a host it would refuse, and told a certificate error instead). */
static const struct step tls_wait_refused_by_name[] = {
    { ROUTE, "mx.attacker.example", 0, false }, { CONNECTED, NULL, 0, false }, GREETING_TO_STARTTLS,
    { STATE, "tls_wait", 0, false }, { POLICY, ENFORCE_VICTIM, 0, false }, { IS_CLOSED, NULL, 0, false },
    { ALL_DONE, NULL, 0, false }, { END, NULL, 0, false },
};
/* 21b. A held plaintext session with a host the enforce policy names: deferred for the TLS
 *      it lacks (tls_not_offered), as when the policy came first, not as "no usable MX". */
static const struct step held_plaintext_named[] = {
    { ROUTE, "mx.victim.example", 0, false }, { CONNECTED, NULL, 0, false }, PLAINTEXT_EHLO,
    { STATE, "held", 0, false }, { POLICY, ENFORCE_VICTIM, 0, false }, { IS_CLOSED, NULL, 0, false },
    { END, NULL, 0, false },
};

/* 22a. Relay with STARTTLS (issue 12): the session opens as soon as the relay's address is
 *      known, beside the policy fetch; the handshake waits for the policy, AUTH follows TLS.
 *      Fails on the code before (the connection waited for the policy: no connect at 1). */
static const struct step relay_connects_before_policy[] = {
    { RELAY_ADDRESS, NULL, 0, false }, { CONNECTS, NULL, 1, false }, { CONNECTED, NULL, 0, false },
    GREETING_TO_STARTTLS, { STATE, "tls_wait", 0, false }, { WAIT, NULL, 2000, false },
    { NOT_SENT, "AUTH", 0, false }, { POLICY, ENFORCE_RELAY, 0, false }, { STATE, "session", 0, false },
    { NOT_SENT, "AUTH", 0, false }, { TLS_READY, NULL, STSM_OK, false },
    { SERVER, "250-mx\r\n250-AUTH PLAIN\r\n250 PIPELINING\r\n", 0, false }, { SENT_HAS, "AUTH PLAIN ", 0, false },
    { NOT_SENT, "MAIL FROM", 0, false }, { SERVER, "235 2.7.0 ok\r\n", 0, false },
    { SENT_HAS, "MAIL FROM:<alerts@printer.example>", 0, false }, { SENT_HAS, "DATA\r\n", 0, false },
    { SERVER, "250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go\r\n", 0, false }, { SERVER, "250 2.0.0 queued\r\n", 0, false },
    { CONNECTS_TO, "192.0.2.30:587 ", 0, false }, { END, NULL, 0, false },
};
/* 22b. The enforce policy, arriving while STARTTLS's handshake waits, does not list the
 *      relay: no handshake, no AUTH, the connection goes; deferred. */
static const struct step relay_refused_in_tls_wait[] = {
    { RELAY_ADDRESS, NULL, 0, false }, { CONNECTED, NULL, 0, false }, GREETING_TO_STARTTLS,
    { STATE, "tls_wait", 0, false }, { POLICY, ENFORCE_VICTIM, 0, false }, { IS_CLOSED, NULL, 0, false },
    { NOT_SENT, "AUTH", 0, false }, { END, NULL, 0, false },
};
/* 22c. The same policy arriving while the connect is pending: the connection goes before
 *      a byte is sent. */
static const struct step relay_refused_during_connect[] = {
    { RELAY_ADDRESS, NULL, 0, false }, { CONNECTS, NULL, 1, false }, { POLICY, ENFORCE_VICTIM, 0, false },
    { IS_CLOSED, NULL, 0, false }, { CONNECTED, NULL, 0, false }, PLAINTEXT_EHLO, { END, NULL, 0, false },
};
/* 22d. No STARTTLS offered while the policy is pending: no AUTH in plaintext, deferred
 *      (TLS is required by the settings); the delivery ends once the lookup does. */
static const struct step relay_early_no_starttls[] = {
    { RELAY_ADDRESS, NULL, 0, false }, { CONNECTED, NULL, 0, false }, { SERVER, "220 mx ESMTP\r\n", 0, false },
    { SERVER, "250-mx\r\n250 AUTH PLAIN\r\n", 0, false }, { NOT_SENT, "AUTH", 0, false }, { DONES, NULL, 0, false },
    { NO_POLICY, NULL, 0, false }, { DONES, NULL, 1, false }, { END, NULL, 0, false },
};
/* 22e. Control: relay tls "none" still waits for the policy before connecting. */
static const struct step relay_none_waits[] = {
    { RELAY_ADDRESS, NULL, 0, false }, { CONNECTS, NULL, 0, false }, { NO_POLICY, NULL, 0, false },
    { CONNECTS, NULL, 1, false }, { CONNECTED, NULL, 0, false }, PLAINTEXT_EHLO, TRANSACTION, { END, NULL, 0, false },
};

static const char *const two_victims[] = { "ops@victim.example", "dev@victim.example", NULL };
static const char *const two_domains[] = { "ops@victim.example", "noc@other.example", NULL };
static const char *const three_mixed[] = { "ops@victim.example", "noc@other.example", "dev@victim.example", NULL };
static const bool second_only[] = { false, true };
static const bool skip_second[] = { true, false, true };

#define DELIVERED(status) STSM_SMTP_DELIVERED, status
#define DEFERRED(status) STSM_SMTP_DEFERRED, status

static const struct scenario scenarios[] = {
    { "17a shutdown mid-transaction: connection dropped, deferred as stopped", ",\"mta_sts\": {\"enabled\": false}",
      stop_mid_transaction, { DEFERRED(STSM_ERR_STOPPED), true, false, 1, 0, 0, "stopped (shutdown)", -1 }, NULL, NULL,
      NULL, NULL },
    { "17b shutdown during the MX lookup: done once DNS answers, nothing connects",
      ",\"mta_sts\": {\"enabled\": false}", stop_during_lookup,
      { DEFERRED(STSM_ERR_STOPPED), false, true, 0, 0, 0, "stopped (shutdown)", -1 }, NULL, NULL, NULL, NULL },
    { "1 enforce policy arrives during the connect; MX outside it: no handshake", "",
      enforce_during_connect,
      { DEFERRED(STSM_ERR_STS_NO_MATCH), false, false, 1, 0, 0, "refused before MAIL FROM", -1 }, NULL, NULL, NULL, NULL },
    { "2 testing policy arrives during the connect; MX outside it", "",
      testing_during_connect,
      { DELIVERED(STSM_OK), true, false, 1, 0, 1, "would be refused under enforce", -1 }, NULL, NULL, NULL, NULL },
    { "3 unusable enforce policy (txt CNAME, strict) during the connect",
      ",\"mta_sts\": {\"strict_cname\": [\"txt\"]}", unusable_policy_during_connect,
      { DEFERRED(STSM_ERR_STS_NO_MATCH), false, true, 1, 0, 0, "policy not usable", -1 }, NULL, NULL, NULL, NULL },
    { "4a greeting trickled 1 byte/2 s: attempt deadline 10 s",
      ",\"delivery\": {\"attempt_timeout\": 10}, \"mta_sts\": {\"enabled\": false}", trickled_to_deadline,
      { DEFERRED(STSM_ERR_TIMEOUT), false, false, 1, 0, 0, "deadline (10 s", 10000 }, NULL, NULL, NULL, NULL },
    { "4b greeting trickled 1 byte/s: reply timeout 3 s (timeout_percent 1)",
      ",\"delivery\": {\"timeout_percent\": 1, \"attempt_timeout\": 600}, \"mta_sts\": {\"enabled\": false}",
      trickled_past_reply_timeout,
      { DEFERRED(STSM_ERR_TIMEOUT), false, false, 1, 0, 0, NULL, 3000 }, NULL, NULL, NULL, NULL },
    { "5 route cannot start; timer list served 11 s late",
      ",\"delivery\": {\"attempt_timeout\": 10}", route_fails_timers_late,
      { DEFERRED(STSM_ERR_NO_MEMORY), false, true, 0, 0, 0, NULL, 11000 }, NULL, NULL, NULL, NULL },
    { "6 relay tls none, enforce policy covers the relay, no STARTTLS",
      ",\"delivery\": {\"mode\": \"relay\", \"relay\": {\"host\": \"relay.example.net\", \"tls\": \"none\"}}",
      relay_none_enforce,
      { DEFERRED(STSM_ERR_TLS_NOT_OFFERED), false, false, 1, 0, 0, NULL, -1 }, NULL, NULL, NULL, NULL },
    { "7a tls_level may, no policy, name mismatch: encrypted, delivered", "",
      may_name_mismatch,
      { DELIVERED(STSM_OK), true, false, 1, 0, 1, "TLS encrypted but NOT verified", -1 }, NULL, NULL, NULL, NULL },
    { "7b tls_level verify: the verifying handshake", ",\"delivery\": {\"tls_level\": \"verify\"}",
      verify_level,
      { DELIVERED(STSM_OK), true, false, 1, 1, 0, "TLS verified", -1 }, NULL, NULL, NULL, NULL },
    { "8a handshake fails while the policy is pending; then enforce", "",
      handshake_fails_policy_pending,
      { DEFERRED(STSM_ERR_TLS_HANDSHAKE), false, false, 1, 0, 0, NULL, -1 }, NULL, NULL, NULL, NULL },
    { "8b handshake fails and the enforce policy arrives in the same turn", "",
      handshake_fails_policy_same_turn,
      { DEFERRED(STSM_ERR_TLS_HANDSHAKE), false, false, 1, 0, 0, NULL, -1 }, NULL, NULL, NULL, NULL },
    { "9b the MX answer is beyond the device's DNS capacity: deferred, no connection", "",
      route_beyond_capacity,
      { DEFERRED(STSM_ERR_CAPACITY), false, true, 0, 0, 0, "MX lookup of victim.example failed", -1 }, NULL, NULL,
      NULL, NULL },
    { "9c the route's names ran out: that host skipped saying why, the next delivers", "",
      route_names_full_next,
      { DELIVERED(STSM_OK), true, false, 1, 0, 0, "no IPv4 address (capacity exceeded), skipped", -1 }, NULL, NULL,
      NULL, NULL },
    { "9d the route's names ran out for its only host: deferred, no connection", "",
      route_names_full_none,
      { DEFERRED(STSM_ERR_CAPACITY), false, true, 0, 0, 0, "fill the 1024 bytes stsmail keeps", -1 }, NULL, NULL,
      NULL, NULL },
    { "8c control: handshake fails with no policy: one plaintext retry, delivered", "",
      handshake_fails_no_policy,
      { DELIVERED(STSM_OK), true, false, 2, 0, 1, "retrying in plaintext", -1 }, NULL, NULL, NULL, NULL },
    { .intent = "10 MX fallback in preference order: refused, 421, delivered by the third", .settings = "",
      .steps = mx_fallback,
      .expect = { DELIVERED(STSM_OK), true, false, 3, 0, 0, "mx3.victim.example (preference 30)", -1 } },
    { .intent = "11a provisional session held before MAIL FROM until the policy decision", .settings = "",
      .steps = held_until_policy, .expect = { DELIVERED(STSM_OK), true, false, 1, 0, 0, NULL, -1 } },
    { .intent = "11b provisional STARTTLS waits for the policy (testing): opportunistic", .settings = "",
      .steps = tls_waits_for_policy,
      .expect = { DELIVERED(STSM_OK), true, false, 1, 0, 1, "the handshake waits for the MTA-STS lookup", -1 } },
    { .intent = "12a tls_level verify, untrusted certificate", .settings = ",\"delivery\": {\"tls_level\": \"verify\"}",
      .steps = verify_untrusted,
      .expect = { DEFERRED(STSM_ERR_TLS_UNTRUSTED), false, false, 1, 1, 0, "deferred at tls", -1 } },
    { .intent = "12a' TLS arena exhausted in the handshake: no_memory, the arena named",
      .settings = ",\"delivery\": {\"tls_level\": \"verify\"}", .steps = verify_arena_exhausted,
      .expect = { DEFERRED(STSM_ERR_NO_MEMORY), false, false, 1, 1, 0, "TLS arena (STSM_TLS_ARENA_SIZE, ", -1 } },
    { .intent = "12b enforce policy, certificate name mismatch", .settings = "", .steps = enforce_name_mismatch,
      .expect = { DEFERRED(STSM_ERR_TLS_NAME_MISMATCH), false, false, 1, 1, 0, NULL, -1 } },
    { .intent = "12c tls_level encrypt, handshake fails: no plaintext retry",
      .settings = ",\"delivery\": {\"tls_level\": \"encrypt\"}", .steps = encrypt_handshake_fails,
      .expect = { DEFERRED(STSM_ERR_TLS_HANDSHAKE), false, false, 1, 0, 1, NULL, -1 } },
    { .intent = "12d tls_level encrypt, STARTTLS not offered", .settings = ",\"delivery\": {\"tls_level\": \"encrypt\"}",
      .steps = not_offered, .expect = { DEFERRED(STSM_ERR_TLS_NOT_OFFERED), false, false, 1, 0, 0, NULL, -1 } },
    { .intent = "12e tls_level verify, STARTTLS not offered", .settings = ",\"delivery\": {\"tls_level\": \"verify\"}",
      .steps = not_offered, .expect = { DEFERRED(STSM_ERR_TLS_NOT_OFFERED), false, false, 1, 0, 0, NULL, -1 } },
    { .intent = "12f TLS truncated in the middle of the message", .settings = "", .steps = truncated_mid_data,
      .expect = { DEFERRED(STSM_ERR_PEER_CLOSED), true, false, 1, 0, 1, NULL, -1 } },
    { .intent = "13a stale cached policy healed by the live one", .settings = "", .steps = stale_policy_healed,
      .expect = { DELIVERED(STSM_OK), true, false, 1, 1, 0, "it replaces the cached one", -1 } },
    { .intent = "13b stale cached policy, live fetch refused: deferred", .settings = "",
      .steps = stale_policy_not_healed,
      .expect = { DEFERRED(STSM_ERR_STS_NO_MATCH), false, true, 0, 0, 0, "fetching the live policy once", -1 } },
    { .intent = "14a relay, STARTTLS verified, two domains in one session",
      .settings = ",\"delivery\": {\"mode\": \"relay\", \"relay\": {\"host\": \"relay.example.net\"}}",
      .steps = relay_two_domains, .expect = { DELIVERED(STSM_OK), true, false, 1, 1, 0, "TLS verified", -1 },
      .to = two_domains, .outcomes = "delivered,delivered", .settled = "0:delivered 1:delivered " },
    { .intent = "14b relay by address, implicit TLS",
      .settings = ",\"delivery\": {\"mode\": \"relay\", \"relay\": {\"host\": \"192.0.2.40\", \"tls\": \"implicit\"}}",
      .steps = relay_implicit_literal, .expect = { DELIVERED(STSM_OK), true, false, 1, 1, 0, NULL, -1 } },
    { .intent = "15a settled: the 550 at RCPT at once, the delivery on the 250, before done", .settings = "",
      .steps = settled_as_known, .expect = { STSM_SMTP_FAILED, STSM_OK, true, false, 1, 0, 0, NULL, -1 },
      .to = two_victims, .outcomes = "failed,delivered", .settled = "0:failed 1:delivered " },
    { .intent = "15b settled: connection lost after the data, before the 250", .settings = "",
      .steps = settled_cut_after_data, .expect = { DEFERRED(STSM_ERR_PEER_CLOSED), true, false, 1, 0, 0, NULL, -1 },
      .settled = "0:deferred " },
    { .intent = "16a envelope: the second recipient only; To names both", .settings = "",
      .steps = envelope_second_only, .expect = { STSM_SMTP_PENDING, STSM_OK, true, false, 1, 0, 0, NULL, -1 },
      .to = two_victims, .envelope = second_only, .outcomes = "pending,delivered", .settled = "1:delivered " },
    { .intent = "20a cached policy: verified TLS and MAIL FROM before the TXT answer; done after the check",
      .settings = "", .steps = cached_delivers_before_txt,
      .expect = { DELIVERED(STSM_OK), true, false, 1, 1, 0, "in force at once", -1 }, .settled = "0:delivered " },
    { .intent = "20b cached enforce policy: an MX outside it is never connected to; deferred", .settings = "",
      .steps = cached_enforce_refuses,
      .expect = { DEFERRED(STSM_ERR_STS_NO_MATCH), false, true, 0, 0, 0, "MX mx.attacker.example skipped", -1 } },
    { .intent = "20c a new id found mid-session does not weaken the policy in force; fetched after it", .settings = "",
      .steps = refreshed_does_not_weaken,
      .expect = { DEFERRED(STSM_ERR_TLS_UNTRUSTED), false, false, 1, 1, 0, "this one keeps policy id 20261130", -1 } },
    { .intent = "20g a new id found while the session holds TLS: the policy fetch waits for its end", .settings = "",
      .steps = refresh_waits_for_session,
      .expect = { DELIVERED(STSM_OK), true, false, 1, 1, 0, "the new policy could not be fetched, the cached one stays",
                  -1 }, .settled = "0:delivered " },
    { .intent = "20d MX moved: the policy the TXT check fetched heals the cached one", .settings = "",
      .steps = check_heals_cached,
      .expect = { DELIVERED(STSM_OK), true, false, 1, 1, 0, "it replaces the cached one", -1 } },
    { .intent = "20e TXT record gone: the cached policy stays in force", .settings = "", .steps = cached_txt_gone,
      .expect = { DELIVERED(STSM_OK), true, false, 1, 1, 0, "the TXT record is gone or failing, the cached policy stays",
                  -1 } },
    { .intent = "20f strict scope txt: the cached policy waits for the TXT answer",
      .settings = ",\"mta_sts\": {\"strict_cname\": [\"txt\"]}", .steps = cached_strict_txt_waits,
      .expect = { DELIVERED(STSM_OK), true, false, 1, 1, 0, NULL, -1 } },
    { .intent = "21a policy arrives during STARTTLS's wait, host refused by name: no handshake", .settings = "",
      .steps = tls_wait_refused_by_name,
      .expect = { DEFERRED(STSM_ERR_STS_NO_MATCH), false, false, 1, 0, 0, "refused before MAIL FROM: not in", -1 } },
    { .intent = "21b held plaintext host the enforce policy names: tls_not_offered", .settings = "",
      .steps = held_plaintext_named,
      .expect = { DEFERRED(STSM_ERR_TLS_NOT_OFFERED), false, false, 1, 0, 0, "refused before MAIL FROM", -1 } },
    { .intent = "22a relay STARTTLS: connected before the policy answer; handshake waits, AUTH after TLS",
      .settings = RELAY_WITH_AUTH,
      .steps = relay_connects_before_policy,
      .expect = { DELIVERED(STSM_OK), true, false, 1, 1, 0, "connecting while the MTA-STS policy", -1 } },
    { .intent = "22b relay refused by the enforce policy while its handshake waits: no TLS, no AUTH",
      .settings = RELAY_WITH_AUTH,
      .steps = relay_refused_in_tls_wait,
      .expect = { DEFERRED(STSM_ERR_STS_NO_MATCH), false, false, 1, 0, 0, "not in the MTA-STS policy", -1 } },
    { .intent = "22c relay refused by the enforce policy during the connect: nothing sent",
      .settings = ",\"delivery\": {\"mode\": \"relay\", \"relay\": {\"host\": \"relay.example.net\"}}",
      .steps = relay_refused_during_connect,
      .expect = { DEFERRED(STSM_ERR_STS_NO_MATCH), false, true, 1, 0, 0, "not in the MTA-STS policy", -1 } },
    { .intent = "22d relay connected early, no STARTTLS offered: no AUTH, deferred",
      .settings = RELAY_WITH_AUTH,
      .steps = relay_early_no_starttls,
      .expect = { DEFERRED(STSM_ERR_TLS_NOT_OFFERED), false, false, 1, 0, 0, NULL, -1 } },
    { .intent = "22e control: relay tls none waits for the policy before connecting",
      .settings = ",\"delivery\": {\"mode\": \"relay\", \"relay\": {\"host\": \"relay.example.net\", "
                  "\"tls\": \"none\"}}",
      .steps = relay_none_waits, .expect = { DELIVERED(STSM_OK), true, false, 1, 0, 0, NULL, -1 } },
    { .intent = "16b envelope: another domain's recipient left out is never looked up", .settings = "",
      .steps = envelope_skips_domain, .expect = { DELIVERED(STSM_OK), true, false, 1, 0, 0, NULL, -1 },
      .to = three_mixed, .envelope = skip_second, .outcomes = "delivered,pending,delivered",
      .settled = "0:delivered 2:delivered " },
};

/* ---- the runner ------------------------------------------------------------------------ */

static struct stsm_delivery delivery;
static struct stsm_settings settings;
static struct stsm_sts_cache cache;
static char log_text[65536];
static size_t log_len;
static unsigned dones;
static uint32_t start_ms, done_ms;
static size_t quiet_from;          /* ALL_DONE: the log's length then (0: not marked) */

static void on_log(void *arg, const char *line)
{
    (void)arg;
    int n = snprintf(log_text + log_len, sizeof log_text - log_len, "  | %s\n", line);
    if (n > 0 && (size_t)n < sizeof log_text - log_len) {
        log_len += (size_t)n;
    }
}

static char trace_text[16384];
static size_t trace_len;

/* State changes, kept apart from the log (which ALL_DONE watches). */
static void on_trace(void *arg, const char *line)
{
    (void)arg;
    int n = snprintf(trace_text + trace_len, sizeof trace_text - trace_len, "  ~ %s\n", line);
    if (n > 0 && (size_t)n < sizeof trace_text - trace_len) {
        trace_len += (size_t)n;
    }
}

static void on_done(void *arg, struct stsm_delivery *d)
{
    (void)arg;
    (void)d;
    dones++;
    done_ms = fake_now_ms;
}

static char settled_text[256];
static unsigned settled_calls[STSM_SMTP_MAX_RCPT];
static bool settled_wrong;        /* a call after `done`, or not about rcpt[index] */

static void on_settled(void *arg, size_t message, size_t index, const struct stsm_delivery_rcpt *r)
{
    (void)arg;
    size_t used = strlen(settled_text);
    snprintf(settled_text + used, sizeof settled_text - used, "%zu:%s ", index,
             stsm_smtp_outcome_str(r->result.outcome));
    if (message != 0 || index >= STSM_SMTP_MAX_RCPT || r != &delivery.rcpt[index] || dones != 0 ||
        r->result.outcome == STSM_SMTP_PENDING) {
        settled_wrong = true;
        return;
    }
    settled_calls[index]++;
}

static void advance(uint32_t ms)
{
    fake_clock_advance(ms);
}

static void play(const struct step *s)
{
    switch (s->op) {
    case ROUTE:
        CHECK(fake.route_done != NULL);
        if (fake.route_done != NULL) {
            fake_route_answer(s->text);
        }
        break;
    case ROUTE_FAILS:
        fake.route_start_status = (stsm_status_t)s->n;
        break;
    case ROUTE_NAMES_FULL:
        CHECK(fake.route_done != NULL);
        if (fake.route_done != NULL) {
            fake_route_names_full(s->text);
        }
        break;
    case ROUTE_ERROR:
        CHECK(fake.route_done != NULL);
        if (fake.route_done != NULL) {
            fake_route_fails((stsm_status_t)s->n);
        }
        break;
    case POLICY:
    case NO_POLICY:
        CHECK(fake.sts_done != NULL);
        if (fake.sts_done != NULL) {
            fake_sts_answer(s->op == POLICY ? s->text : NULL, s->n != 0);
        }
        break;
    case RELAY_ADDRESS:
        CHECK(fake.query_done != NULL);
        if (fake.query_done != NULL) {
            fake_resolver_answer();
        }
        break;
    case CONNECTED:
        fake_conn_event(STSM_CONN_CONNECTED, STSM_OK);
        break;
    case TLS_READY:
        fake.verify_status = (stsm_status_t)s->n;
        fake_conn_event(STSM_CONN_TLS_READY, STSM_OK);
        break;
    case FAILED:
        fake_conn_event(STSM_CONN_FAILED, (stsm_status_t)s->n);
        break;
    case SERVER:
        fake_server_sends(s->text, strlen(s->text));
        break;
    case TRICKLE:
        for (const char *c = s->text; *c != '\0'; c++) {
            advance((uint32_t)s->n);
            fake_server_sends(c, 1);
        }
        break;
    case WAIT:
        advance((uint32_t)s->n);
        break;
    case LATE:
        fake_now_ms += (uint32_t)s->n;
        fake_clock_serve();
        break;
    case ACCEPT_FETCH:
        fake.fetch_accepts = true;
        break;
    case POLICY_CACHED:
        CHECK(fake.sts_done != NULL);
        if (fake.sts_done != NULL) {
            fake_sts_answer_cached(s->text);
        }
        break;
    case HEAL_POLICY:
        CHECK(fake.fetch_done != NULL);
        if (fake.fetch_done != NULL) {
            fake_fetch_answer(s->text);
        }
        break;
    case STATE:
        CHECK_STR(stsm_delivery_state_name(stsm_delivery_state(&delivery)), s->text);
        break;
    case SENT_HAS:
        CHECK(strstr(fake.sent, s->text) != NULL);
        break;
    case NOT_SENT:
        CHECK(strstr(fake.sent, s->text) == NULL);
        break;
    case SETTLED:
        CHECK_STR(settled_text, s->text);
        break;
    case CONNECTS_TO:
        CHECK_STR(fake.connect_log, s->text);
        break;
    case IS_CLOSED:
        CHECK(!fake.live);
        CHECK_INT(fake.closes_live, 1);
        break;
    case CONNECTS:
        CHECK_INT(fake.connects, s->n);
        break;
    case ALL_DONE:
        CHECK_INT(dones, 1);
        quiet_from = log_len;
        break;
    case STOP:
        stsm_delivery_stop(&delivery);
        break;
    case CACHED:
        fake.sts_cached = s->text;
        break;
    case CHECKED:
    case CHECKED_NEW:
    case CHECKED_GONE:
        CHECK(fake.sts_done != NULL);
        if (fake.sts_done != NULL) {
            fake_sts_checked(s->op == CHECKED_GONE ? STSM_STS_TXT_NONE : STSM_STS_TXT_OK, s->op == CHECKED_NEW);
        }
        break;
    case REFRESHED:
        CHECK(fake.sts_done != NULL && fake.refresh_starts > 0);
        if (fake.sts_done != NULL) {
            fake_sts_refreshed(s->text);
        }
        break;
    case REFRESHES:
        CHECK_INT(fake.refresh_starts, s->n);
        break;
    case DONES:
        CHECK_INT(dones, s->n);
        break;
    case FETCHES:
        CHECK_INT(fake.fetch_starts, s->n);
        break;
    case END:
        break;
    }
}

static void run(const struct scenario *sc)
{
    static const char base[] = "{\"network\": {\"interface\": \"tap0\"}, \"tls\": {\"trust_store\": \"t.bin\"}, "
                               "\"mail\": {\"from\": \"alerts@printer.example\", \"to\": [\"ops@victim.example\"]}";
    char json[1024], why[200];
    unsigned failed_before = stsm_checks_failed;
    CHECK_CASE(sc->intent);
    snprintf(json, sizeof json, "%s%s}", base, sc->settings);
    if (stsm_settings_parse(json, strlen(json), &settings, why, sizeof why) != STSM_OK) {
        printf("settings of [%s]: %s\n", sc->intent, why);
        CHECK(!"settings parse");
        return;
    }
    struct stsm_message m = { .from = "alerts@printer.example", .subject = "toner low",
                              .body = "Tray 2 is empty.\n", .date = 1796083200 };
    m.body_len = strlen(m.body);
    m.to[0] = "ops@victim.example";
    m.to_count = 1;
    if (sc->to != NULL) {
        for (m.to_count = 0; sc->to[m.to_count] != NULL; m.to_count++) {
            m.to[m.to_count] = sc->to[m.to_count];
        }
    }
    stsm_sts_cache_init(&cache);
    settled_text[0] = '\0';
    memset(settled_calls, 0, sizeof settled_calls);
    settled_wrong = false;

    fake_reset();
    log_len = 0;
    log_text[0] = '\0';
    trace_len = 0;
    trace_text[0] = '\0';
    dones = 0;
    quiet_from = 0;
    size_t step = 0;
    while (sc->steps[step].op == ROUTE_FAILS || sc->steps[step].op == ACCEPT_FETCH || sc->steps[step].op == CACHED) {
        play(&sc->steps[step++]);   /* a setting of the stand-in, before anything starts */
    }
    start_ms = fake_now_ms;
    struct stsm_delivery_options options = { .transport = &fake_transport, .transport_ctx = &fake,
                                             .clock = &fake_clock, .trace = on_trace,
                                             .settled = on_settled, .envelope = sc->envelope };
    stsm_delivery_set_options(&delivery, &options);
    CHECK_INT(stsm_delivery_start(&delivery, &settings, &m, NULL, &cache, 1796083200, on_log, on_done, NULL),
              STSM_OK);
    bool serve = sc->steps[step].op != LATE;
    for (; sc->steps[step].op != END; step++) {
        if (serve) {
            fake_clock_serve();
        }
        play(&sc->steps[step]);
        serve = !sc->steps[step].same_turn && sc->steps[step + 1].op != LATE;
    }
    /* Whatever the script left running ends by the deadline; nothing may happen after. */
    advance(2u * 3600u * 1000u);

    const struct expect *e = &sc->expect;
    const struct stsm_smtp_result *r = &delivery.rcpt[0].result;
    CHECK_INT(dones, 1);
    CHECK_STR(stsm_smtp_outcome_str(r->outcome), stsm_smtp_outcome_str(e->outcome));
    CHECK_STR(stsm_status_id(r->status), stsm_status_id(e->status));
    CHECK_INT(strstr(fake.sent, "MAIL FROM") != NULL, e->mail_sent);
    if (e->nothing_sent) {
        CHECK_INT(fake.sent_len, 0);
    }
    CHECK_INT(fake.connects, e->connects);
    CHECK(!fake.live);
    /* The delivery connects over IPv4 alone: its route never asks AAAA. */
    CHECK(fake.route_starts == 0 || fake.route_ipv4_only);
    if (e->start_tls >= 0) {
        CHECK_INT(fake.start_tls, e->start_tls);
    }
    if (e->start_tls_opportunistic >= 0) {
        CHECK_INT(fake.start_tls_opportunistic, e->start_tls_opportunistic);
    }
    if (e->log != NULL) {
        CHECK(strstr(log_text, e->log) != NULL);
    }
    /* Every recipient of the envelope was reported once, before `done`, with its result;
     * one outside it never, and it stays pending. */
    CHECK(!settled_wrong);
    for (size_t i = 0; i < m.to_count; i++) {
        bool in = sc->envelope == NULL || sc->envelope[i];
        CHECK_INT(settled_calls[i], in ? 1 : 0);
        CHECK_INT(delivery.rcpt[i].result.outcome == STSM_SMTP_PENDING, !in);
    }
    if (sc->outcomes != NULL) {
        char outcomes[128] = "";
        for (size_t i = 0; i < m.to_count; i++) {
            size_t used = strlen(outcomes);
            snprintf(outcomes + used, sizeof outcomes - used, "%s%s", i ? "," : "",
                     stsm_smtp_outcome_str(delivery.rcpt[i].result.outcome));
        }
        CHECK_STR(outcomes, sc->outcomes);
    }
    if (sc->settled != NULL) {
        CHECK_STR(settled_text, sc->settled);
    }
    if (quiet_from > 0 && log_len != quiet_from) {
        CHECK(!"logged after ALL_DONE");
        printf("  after ALL_DONE:\n%s", log_text + quiet_from);
    }
    if (e->done_at_ms >= 0 && dones > 0) {
        long took = (long)(done_ms - start_ms);
        CHECK(took >= e->done_at_ms && took <= e->done_at_ms + 100);
        if (!(took >= e->done_at_ms && took <= e->done_at_ms + 100)) {
            printf("  done after %ld ms, expected %ld\n", took, e->done_at_ms);
        }
    }
    if (stsm_checks_failed != failed_before || getenv("STSM_TEST_VERBOSE") != NULL) {
        printf("[%s] log:\n%s%s  | sent: %s\n", sc->intent, log_text, trace_text, fake.sent);
    }
}

/* An envelope without a recipient is refused at the start: nothing runs, `done` never. */
static void test_empty_envelope(void)
{
    static const bool none[] = { false };
    char json[400], why[200];
    CHECK_CASE("16c empty envelope refused");
    snprintf(json, sizeof json, "{\"network\": {\"interface\": \"tap0\"}, \"tls\": {\"trust_store\": \"t.bin\"}, "
             "\"mail\": {\"from\": \"alerts@printer.example\", \"to\": [\"ops@victim.example\"]}}");
    CHECK_INT(stsm_settings_parse(json, strlen(json), &settings, why, sizeof why), STSM_OK);
    struct stsm_message m = { .from = "alerts@printer.example", .subject = "s", .body = "b\n", .body_len = 2,
                              .date = 1796083200 };
    m.to[0] = "ops@victim.example";
    m.to_count = 1;
    fake_reset();
    dones = 0;
    log_len = 0;
    struct stsm_delivery_options options = { .transport = &fake_transport, .transport_ctx = &fake,
                                             .clock = &fake_clock, .envelope = none };
    stsm_delivery_set_options(&delivery, &options);
    CHECK_INT(stsm_delivery_start(&delivery, &settings, &m, NULL, NULL, 1796083200, on_log, on_done, NULL),
              STSM_ERR_ARGUMENT);
    advance(3600u * 1000u);
    CHECK_INT(dones, 0);
    CHECK_INT(fake.connects + fake.route_starts, 0);
    CHECK(strstr(log_text, "no recipient in the envelope") != NULL);
}

static char fired[16];

static void fire(void *arg)
{
    size_t used = strlen(fired);
    snprintf(fired + used, sizeof fired - used, "%s", (const char *)arg);
}

/* The lwIP clock keeps the stsm_timer.h contract: a timer runs once, at its time, in
 * arming order among equals; re-arming moves it; disarming one leaves the others. */
static void test_lwip_clock(void)
{
    const struct stsm_clock *c = stsm_lwip_clock();
    struct stsm_timer a = { 0 }, b = { 0 }, x = { 0 }, late = { 0 };
    CHECK_CASE("lwIP clock");
    lwip_init();
    CHECK_INT(c->now_ms(NULL), fake_now_ms);
    c->arm(NULL, &late, 10, fire, "L");
    c->arm(NULL, &a, 0, fire, "a");
    c->arm(NULL, &x, 0, fire, "x");
    c->arm(NULL, &b, 0, fire, "b");
    c->arm(NULL, &a, 0, fire, "A");   /* moved behind b */
    c->disarm(NULL, &x);
    c->disarm(NULL, &x);              /* harmless */
    CHECK_STR(fired, "");             /* never inside arm() */
    sys_check_timeouts();
    CHECK_STR(fired, "bA");
    CHECK(!a.armed && !b.armed && late.armed);
    fake_now_ms += 10;
    sys_check_timeouts();
    fake_now_ms += 10;
    sys_check_timeouts();
    CHECK_STR(fired, "bAL");
}

/* Every state has its own name; a value out of range has none. */
static void test_state_names(void)
{
    CHECK_CASE("state names");
    for (int a = STSM_DELIVERY_IDLE; a <= STSM_DELIVERY_DONE; a++) {
        CHECK(strcmp(stsm_delivery_state_name((enum stsm_delivery_state)a), "?") != 0);
        for (int b = a + 1; b <= STSM_DELIVERY_DONE; b++) {
            CHECK(strcmp(stsm_delivery_state_name((enum stsm_delivery_state)a),
                         stsm_delivery_state_name((enum stsm_delivery_state)b)) != 0);
        }
    }
    CHECK_STR(stsm_delivery_state_name((enum stsm_delivery_state)(STSM_DELIVERY_DONE + 1)), "?");
}


/* ---- 18. the message streamed from a body that moves ------------------------------------ */

static char body_text[3000];
static char body_places[2][sizeof body_text];
static int body_place;
static unsigned body_finds, body_found_until;   /* finds so far; the first one that fails */

/* body_at: the body moves at every find, its old place overwritten ('#'), as the outbox's
 * store may move it between two chunks of the data (a record written meanwhile). */
static const char *moving_body(void *ctx, size_t *len)
{
    (void)ctx;
    if (body_finds++ >= body_found_until) {
        return NULL;
    }
    memset(body_places[body_place], '#', sizeof body_text);
    body_place ^= 1;
    memcpy(body_places[body_place], body_text, sizeof body_text);
    *len = sizeof body_text;
    return body_places[body_place];
}

/* The message of the cases below, its body found through `body_at` (`*m`), and the same
 * with body_text's first `len` bytes in place (`*fixed`), to render what is expected. */
static void found_body_message(const char *(*body_at)(void *, size_t *), size_t len, struct stsm_message *m,
                               struct stsm_message *fixed)
{
    *m = (struct stsm_message){ .from = "alerts@printer.example", .subject = "toner low", .body_at = body_at,
                                .date = 1796083200 };
    m->to[0] = "ops@victim.example";
    m->to_count = 1;
    *fixed = *m;
    fixed->body_at = NULL;
    fixed->body = body_text;
    fixed->body_len = len;
}

/* Starts delivering `m` on the fakes, up to its first wait (the route, or the relay's
 * connection). */
static void start_delivery(const struct stsm_message *m)
{
    fake_reset();
    dones = 0;
    log_len = 0;
    log_text[0] = '\0';
    struct stsm_delivery_options options = { .transport = &fake_transport, .transport_ctx = &fake,
                                             .clock = &fake_clock };
    stsm_delivery_set_options(&delivery, &options);
    CHECK_INT(stsm_delivery_start(&delivery, &settings, m, NULL, NULL, 1796083200, on_log, on_done, NULL), STSM_OK);
    fake_clock_serve();
}

/* Starts delivering `m` on the fakes, up to the connection to mx.victim.example (where
 * the session's envelope is made). */
static void start_connected(const struct stsm_message *m)
{
    start_delivery(m);
    fake_route_answer("mx.victim.example");
    fake_clock_serve();
    fake_conn_event(STSM_CONN_CONNECTED, STSM_OK);
}

/* MX mode to ops@victim.example, MTA-STS off: the settings of the cases below. */
static void mx_settings_without_sts(void)
{
    char json[400], why[200];
    snprintf(json, sizeof json, "{\"network\": {\"interface\": \"tap0\"}, \"tls\": {\"trust_store\": \"t.bin\"}, "
             "\"mail\": {\"from\": \"alerts@printer.example\", \"to\": [\"ops@victim.example\"]}, "
             "\"mta_sts\": {\"enabled\": false}}");
    CHECK_INT(stsm_settings_parse(json, strlen(json), &settings, why, sizeof why), STSM_OK);
}

/* 18a: the data, sent a few hundred bytes per WRITABLE while the body moves at every read,
 * is exactly the rendered message dot-stuffed, and the recipient is delivered. 18b: the
 * body lost from storage mid-data: the data never ends (no CRLF.CRLF, so the server drops
 * the transaction), the connection goes and the recipient is deferred (io). 18f: as 18a
 * with a body of lines that are a dot each, which the encoder writes longer than they were
 * read, most of all: the piece read into the chunk's end is never overwritten before it is
 * encoded. The lines are drawn (body_dots seeds the draw; 0 for 18a/b): mostly a lone dot,
 * some of a few letters, so that pieces are read at many places in the chunk, some near
 * its end, where a piece of dots would be overwritten. */
static size_t body_dots;

static void test_body_moves(bool lost)
{
    static char expected[8192], rendered[8192];
    CHECK_CASE(lost ? "18b the body lost from storage mid-data: cut, deferred"
               : body_dots ? "18f lines of a dot, each written longer: the same bytes go out"
                           : "18a the body moves between data chunks: the same bytes go out");
    mx_settings_without_sts();
    /* Lines of every length, some starting with '.', LF and CRLF ends, one 8-bit word. */
    for (size_t i = 0, line = 0; i < sizeof body_text; line++) {
        size_t n = 0;
        while (i < sizeof body_text && n < line % 97) {
            body_text[i++] = n == 0 && line % 5 == 0 ? '.' : (char)('a' + (line + n++) % 26);
        }
        if (i + 2 < sizeof body_text) {
            memcpy(body_text + i, line % 3 ? "\n" : "\r\n", line % 3 ? 1 : 2);
            i += line % 3 ? 1 : 2;
        } else {
            break;
        }
    }
    uint32_t draw = (uint32_t)body_dots;
    for (size_t i = 0; body_dots && i < sizeof body_text;) {
        draw = draw * 1103515245u + 12345u;
        size_t letters = (draw >> 16) % 8 < 6 ? 0 : (draw >> 20) % 5 + 1;
        body_text[i++] = letters ? 'a' : '.';
        for (size_t k = 1; k < letters && i < sizeof body_text; k++) {
            body_text[i++] = 'b';
        }
        if (i < sizeof body_text) {
            body_text[i++] = '\n';
        }
    }
    memcpy(body_text + 100, "caf\xc3\xa9", 5);
    struct stsm_message m, fixed;
    found_body_message(moving_body, sizeof body_text, &m, &fixed);
    size_t len = 0;
    CHECK_INT(stsm_message_render(&fixed, true, rendered, sizeof rendered, &len), STSM_OK);
    struct stsm_smtp_data enc;
    stsm_smtp_data_init(&enc);
    size_t exp_len = 0;
    CHECK_INT(stsm_smtp_data_encode(&enc, (const uint8_t *)rendered, len, (uint8_t *)expected, sizeof expected - 8,
                                    &exp_len), len);
    exp_len += stsm_smtp_data_finish(&enc, (uint8_t *)expected + exp_len);
    expected[exp_len] = '\0';

    body_finds = 0;
    body_found_until = UINT_MAX;
    start_connected(&m);
    static const char *const replies[] = { "220 mx ESMTP\r\n", "250-mx\r\n250 8BITMIME\r\n", "250 2.1.0 ok\r\n",
                                           "250 2.1.5 ok\r\n" };
    for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) {
        fake_server_sends(replies[i], strlen(replies[i]));
    }
    CHECK(strstr(fake.sent, "BODY=8BITMIME") != NULL);
    size_t data_from = fake.sent_len;
    fake.throttled = true;   /* from the 354 on, 300 bytes a turn */
    if (lost) {
        body_found_until = body_finds + 9;   /* the reader's start (2 finds), 7 reads: a chunk or so */
    }
    fake_server_sends("354 go\r\n", 8);
    unsigned turns = 0;
    for (; turns < 100 && strstr(fake.sent + data_from, "\r\n.\r\n") == NULL; turns++) {
        fake.send_room = 300;
        if (!fake_conn_event(STSM_CONN_WRITABLE, STSM_OK)) {
            break;   /* closed */
        }
        fake_clock_serve();
    }
    if (!lost) {
        CHECK_STR(fake.sent + data_from, expected);
        CHECK(turns > 5 && body_finds > turns);   /* it moved between chunks, many times */
        fake.throttled = false;
        fake_server_sends("250 2.0.0 queued\r\n", 18);
        fake_server_sends("221 bye\r\n", 9);
    } else {
        CHECK(strstr(fake.sent + data_from, "\r\n.\r\n") == NULL);
        CHECK(fake.sent_len > data_from && strncmp(fake.sent + data_from, expected, fake.sent_len - data_from) == 0);
        CHECK(!fake.live);
        CHECK(strstr(log_text, "could not be read from storage") != NULL);
    }
    advance(2u * 3600u * 1000u);
    CHECK_INT(dones, 1);
    CHECK_STR(stsm_smtp_outcome_str(delivery.rcpt[0].result.outcome), lost ? "deferred" : "delivered");
    CHECK_STR(stsm_status_id(delivery.rcpt[0].result.status), lost ? stsm_status_id(STSM_ERR_IO) : "ok");
    if (stsm_checks_failed > 0 && getenv("STSM_TEST_VERBOSE") != NULL) {
        printf("log:\n%s  | sent: %s\n", log_text, fake.sent);
    }
}

/* ---- 18c-e. BDAT (CHUNKING): the size counted first, the chunk to the byte ------------- */

static size_t changing_len;   /* the body's length body_at finds now */
static size_t changed_len;    /* not 0: its length once "BDAT " was sent (after the count) */

static const char *changing_body(void *ctx, size_t *len)
{
    (void)ctx;
    *len = changed_len != 0 && strstr(fake.sent, "BDAT ") != NULL ? changed_len : changing_len;
    return body_text;
}

/* 18c: the server offers CHUNKING and PIPELINING: MAIL, RCPT and "BDAT n LAST" go in one
 * flight followed by the n octets, which are the rendered message with CRLF line ends and
 * no dot doubled (the body has lines starting with '.'), and the recipient is delivered
 * after the one reply flight. 18d/18e: the body's length changes between the count and the
 * sending (longer, shorter): not one octet past n goes, the connection is closed with the
 * chunk short, and the recipient is deferred. Fail on the code before (DATA, 354). */
static void test_chunking(int change)
{
    static char expected[8192], rendered[8192];
    static const char *const cases[] = { "18c BDAT: one flight, the chunk byte-exact, delivered",
                                         "18d BDAT: the body grew after it was counted: cut, deferred",
                                         "18e BDAT: the body shrank after it was counted: cut, deferred" };
    CHECK_CASE(cases[change]);
    mx_settings_without_sts();
    for (size_t i = 0; i < sizeof body_text; i++) {
        body_text[i] = i % 61 == 60 ? '\n' : i % 61 == 0 ? '.' : (char)('a' + i % 26);
    }
    size_t counted_len = sizeof body_text - 500;
    changing_len = counted_len;
    struct stsm_message m, fixed;
    found_body_message(changing_body, counted_len, &m, &fixed);
    size_t len = 0;
    CHECK_INT(stsm_message_render(&fixed, true, rendered, sizeof rendered, &len), STSM_OK);
    struct stsm_smtp_data enc;
    stsm_smtp_data_init_chunk(&enc);
    char *e = expected + snprintf(expected, sizeof expected, "BDAT %zu LAST\r\n", (size_t)0);
    size_t exp_len = 0;
    CHECK_INT(stsm_smtp_data_encode(&enc, (const uint8_t *)rendered, len, (uint8_t *)e, sizeof expected - 64, &exp_len),
              len);
    exp_len += stsm_smtp_data_finish(&enc, (uint8_t *)e + exp_len);
    char head[40];
    int head_len = snprintf(head, sizeof head, "BDAT %zu LAST\r\n", exp_len);
    memmove(expected + head_len, e, exp_len);
    memcpy(expected, head, (size_t)head_len);
    expected[head_len + exp_len] = '\0';
    CHECK(strstr(expected, "\r\n.bcd") != NULL && strstr(expected, "\r\n..") == NULL);   /* a dot, not doubled */

    start_connected(&m);
    /* The count is made once the extensions are known, before BDAT goes; the body changes
     * after it. */
    changed_len = change == 1 ? counted_len + 300 : change == 2 ? counted_len - 300 : 0;
    fake_server_sends("220 mx ESMTP\r\n", 14);
    size_t flight_from = fake.sent_len;
    static const char ehlo[] = "250-mx\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME\r\n";
    fake_server_sends(ehlo, strlen(ehlo));
    fake_clock_serve();
    const char *flight = fake.sent + flight_from;
    static const char envelope[] = "MAIL FROM:<alerts@printer.example>\r\nRCPT TO:<ops@victim.example>\r\nBDAT ";
    CHECK(strncmp(flight, envelope, strlen(envelope)) == 0);
    const char *bdat = strstr(flight, "BDAT ");
    CHECK(bdat != NULL);
    if (bdat == NULL) {
        return;
    }
    size_t got = fake.sent_len - (size_t)(bdat - fake.sent);
    if (change == 0) {
        CHECK_STR(bdat, expected);
        fake_server_sends("250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.0.0 queued\r\n", 46);
        fake_server_sends("221 bye\r\n", 9);
    } else {
        CHECK(got < strlen(expected));   /* the chunk is cut short, never overrun */
        /* What went is the message as counted, up to the cut (a shrunk body's last line is
         * closed by a CRLF the counted one did not have there). */
        CHECK(got > 200 && strncmp(bdat, expected, change == 1 ? got : got - 2) == 0);
        CHECK(!fake.live);
        CHECK(strstr(log_text, "changed size") != NULL);
    }
    advance(2u * 3600u * 1000u);
    CHECK_INT(dones, 1);
    CHECK_STR(stsm_smtp_outcome_str(delivery.rcpt[0].result.outcome), change == 0 ? "delivered" : "deferred");
    if (stsm_checks_failed > 0 && getenv("STSM_TEST_VERBOSE") != NULL) {
        printf("log:\n%s  | sent: %s\n", log_text, fake.sent);
    }
}

/* ---- batches: several messages over one session ------------------------------------ */

static char batch_settled[256];
static bool batch_settled_wrong;

static void on_batch_settled(void *arg, size_t message, size_t index, const struct stsm_delivery_rcpt *r)
{
    (void)arg;
    size_t used = strlen(batch_settled);
    snprintf(batch_settled + used, sizeof batch_settled - used, "%zu:%zu:%s ", message, index,
             stsm_smtp_outcome_str(r->result.outcome));
    if (message >= STSM_DELIVERY_BATCH_MAX || index >= STSM_SMTP_MAX_RCPT ||
        r != &delivery.batch_rcpt[message][index] || dones != 0 || r->result.outcome == STSM_SMTP_PENDING) {
        batch_settled_wrong = true;
    }
}

/* A clean slate for a case that starts the delivery itself, its settled calls collected. */
static void batch_begin(void)
{
    fake_reset();
    dones = 0;
    log_len = 0;
    log_text[0] = '\0';
    batch_settled[0] = '\0';
    batch_settled_wrong = false;
    struct stsm_delivery_options options = { .transport = &fake_transport, .transport_ctx = &fake,
                                             .clock = &fake_clock, .settled = on_batch_settled };
    stsm_delivery_set_options(&delivery, &options);
}

/* What message `m` is on the wire after 354 (or as BDAT's chunk): rendered (8-bit
 * allowed), dot-stuffed, ended; its length. */
static size_t wire_form(const struct stsm_message *m, bool chunk, char *out, size_t size)
{
    static char rendered[4096];
    size_t len = 0, n = 0;
    CHECK_INT(stsm_message_render(m, true, rendered, sizeof rendered, &len), STSM_OK);
    struct stsm_smtp_data enc;
    if (chunk) {
        stsm_smtp_data_init_chunk(&enc);
    } else {
        stsm_smtp_data_init(&enc);
    }
    CHECK_INT(stsm_smtp_data_encode(&enc, (const uint8_t *)rendered, len, (uint8_t *)out, size - 8, &n), len);
    n += stsm_smtp_data_finish(&enc, (uint8_t *)out + n);
    out[n] = '\0';
    return n;
}

/* 19a: three messages to one domain in one session: one connection, no RSET between
 * transactions that ended with a 250 (fails on the code before it left RSET out), each
 * message's bytes exact, each recipient settled as its reply is read
 * (a 550 at RCPT for message 1's second recipient does not stop it, nor message 2), and
 * BODY=8BITMIME announced for the one message with 8-bit text.
 * 19b: the connection is lost after message 1's data: message 0 stays delivered, 1 and 2
 * are deferred, and no other connection is tried. */
static void test_batch(bool lost)
{
    static char expected[16384], data[3][4096];
    CHECK_CASE(lost ? "19b a batch whose session fails mid-way: the rest deferred"
                    : "19a a batch of three in one session, no RSET after a 250");
    mx_settings_without_sts();
    static const char *const subjects[] = { "toner low", "paper jam", "door open" };
    static const char *const bodies[] = { "Tray 2 is empty.\n", ".\nA dot line, then caf\xc3\xa9.\n", "Shut it.\r\n" };
    struct stsm_message m[3];
    struct stsm_delivery_item items[3];
    for (size_t k = 0; k < 3; k++) {
        m[k] = (struct stsm_message){ .from = "alerts@printer.example", .subject = subjects[k], .body = bodies[k],
                                      .body_len = strlen(bodies[k]), .date = 1796083200 + (int64_t)k };
        m[k].to[0] = "ops@victim.example";
        m[k].to_count = 1;
        items[k] = (struct stsm_delivery_item){ &m[k], NULL };
    }
    m[1].to[1] = "noc@victim.example";
    m[1].to_count = 2;
    for (size_t k = 0; k < 3; k++) {
        wire_form(&m[k], false, data[k], sizeof data[k]);
    }

    batch_begin();
    CHECK_INT(stsm_delivery_start_batch(&delivery, &settings, items, 3, NULL, NULL, 1796083200, on_log, on_done,
                                        NULL), STSM_OK);
    fake_clock_serve();
    fake_route_answer("mx.victim.example");
    fake_clock_serve();
    fake_conn_event(STSM_CONN_CONNECTED, STSM_OK);
    static const char *const to_data[] = { "220 mx ESMTP\r\n", "250-mx\r\n250 8BITMIME\r\n", "250 2.1.0 ok\r\n",
                                           "250 2.1.5 ok\r\n", "354 go\r\n", "250 2.0.0 queued 0\r\n",
                                           "250 2.1.0 ok\r\n", "250 2.1.5 ok\r\n",
                                           "550 5.1.1 no such user\r\n", "354 go\r\n" };
    for (size_t i = 0; i < sizeof to_data / sizeof to_data[0]; i++) {
        fake_server_sends(to_data[i], strlen(to_data[i]));
    }
    if (lost) {
        fake_conn_event(STSM_CONN_FAILED, STSM_ERR_PEER_CLOSED);
    } else {
        static const char *const rest[] = { "250 2.0.0 queued 1\r\n", "250 2.1.0 ok\r\n",
                                            "250 2.1.5 ok\r\n", "354 go\r\n", "250 2.0.0 queued 2\r\n",
                                            "221 bye\r\n" };
        for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++) {
            fake_server_sends(rest[i], strlen(rest[i]));
        }
    }
    advance(2u * 3600u * 1000u);

    snprintf(expected, sizeof expected,
             "MAIL FROM:<alerts@printer.example>\r\nRCPT TO:<ops@victim.example>\r\nDATA\r\n%s"
             "MAIL FROM:<alerts@printer.example> BODY=8BITMIME\r\nRCPT TO:<ops@victim.example>\r\n"
             "RCPT TO:<noc@victim.example>\r\nDATA\r\n%s", data[0], data[1]);
    if (!lost) {
        size_t used = strlen(expected);
        snprintf(expected + used, sizeof expected - used,
                 "MAIL FROM:<alerts@printer.example>\r\nRCPT TO:<ops@victim.example>\r\nDATA\r\n%sQUIT\r\n", data[2]);
    }
    const char *first_mail = strstr(fake.sent, "MAIL FROM");
    CHECK(first_mail != NULL);
    CHECK_STR(first_mail != NULL ? first_mail : "", expected);
    CHECK_INT(fake.connects, 1);
    CHECK(!fake.live);
    CHECK_INT(dones, 1);
    CHECK(!batch_settled_wrong);
    CHECK_STR(batch_settled, lost ? "0:0:delivered 1:1:failed 1:0:deferred 2:0:deferred "
                                  : "0:0:delivered 1:1:failed 1:0:delivered 2:0:delivered ");
    CHECK_INT(delivery.batch_rcpt[1][1].result.code, 550);
    /* One copy of the host's name, however many recipients it decided. */
    CHECK_STR(delivery.batch_rcpt[0][0].host, "mx.victim.example");
    CHECK(delivery.batch_rcpt[1][1].host == delivery.batch_rcpt[0][0].host);
    CHECK(delivery.batch_rcpt[2][0].host == delivery.batch_rcpt[0][0].host);
    if (lost) {
        CHECK_STR(stsm_status_id(delivery.batch_rcpt[2][0].result.status), stsm_status_id(STSM_ERR_PEER_CLOSED));
    }
    CHECK(delivery.rcpt == delivery.batch_rcpt[0]);   /* stsm_delivery_start()'s callers read rcpt */
    if (stsm_checks_failed > 0 && getenv("STSM_TEST_VERBOSE") != NULL) {
        printf("log:\n%s  | sent: %s\n", log_text, fake.sent);
    }
}

/* 19c: the hosts that decided, one name each: a message to five domains whose MX hosts
 * have names of 244 bytes. The delivery keeps four such names (STSM_DELIVERY_HOST_TEXT_MAX,
 * 1024); the fifth recipient is still delivered and told, its host said not kept and the
 * log says why, never a name cut short or another's. */
static void test_rcpt_hosts(void)
{
    CHECK_CASE("19c five long MX host names: four named, the fifth not kept, every recipient delivered");
    _Static_assert(STSM_DELIVERY_HOST_TEXT_MAX == 1024, "the case is sized for the default");
    enum { DOMAINS = 5 };
    static char to[DOMAINS][64], names[DOMAINS][256];
    static const char label[] = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk";   /* 63 */
    mx_settings_without_sts();
    struct stsm_message m = { .from = "alerts@printer.example", .subject = "toner low", .body = "Tray 2.\n",
                              .body_len = 8, .date = 1796083200 };
    for (size_t k = 0; k < DOMAINS; k++) {
        snprintf(to[k], sizeof to[k], "ops@d%zu.example", k);
        snprintf(names[k], sizeof names[k], "%s.%s.%s.%.40s.mx%zu.example", label, label, label, label, k);
        m.to[k] = to[k];
    }
    CHECK_INT(strlen(names[0]), 244);
    m.to_count = DOMAINS;
    batch_begin();
    CHECK_INT(stsm_delivery_start(&delivery, &settings, &m, NULL, NULL, 1796083200, on_log, on_done, NULL),
              STSM_OK);
    static const char *const session[] = { "220 mx ESMTP\r\n", "250 mx\r\n", "250 2.1.0 ok\r\n",
                                           "250 2.1.5 ok\r\n", "354 go\r\n", "250 2.0.0 queued\r\n",
                                           "221 bye\r\n" };
    for (size_t k = 0; k < DOMAINS; k++) {
        fake_clock_serve();
        fake_route_answer(names[k]);
        fake_clock_serve();
        fake_conn_event(STSM_CONN_CONNECTED, STSM_OK);
        for (size_t i = 0; i < sizeof session / sizeof session[0]; i++) {
            fake_server_sends(session[i], strlen(session[i]));
        }
        fake_clock_serve();
    }
    advance(2u * 3600u * 1000u);
    CHECK_INT(dones, 1);
    CHECK_INT(fake.connects, DOMAINS);
    CHECK(!batch_settled_wrong);
    CHECK_STR(batch_settled, "0:0:delivered 0:1:delivered 0:2:delivered 0:3:delivered 0:4:delivered ");
    for (size_t k = 0; k < DOMAINS - 1; k++) {
        CHECK_STR(delivery.rcpt[k].host, names[k]);
    }
    CHECK_STR(delivery.rcpt[DOMAINS - 1].host, STSM_DELIVERY_HOST_NOT_KEPT);
    CHECK(strstr(log_text, "decided ops@d4.example, but is not named in its result") != NULL);
    if (stsm_checks_failed > 0 && getenv("STSM_TEST_VERBOSE") != NULL) {
        printf("log:\n%s  | sent: %s\n", log_text, fake.sent);
    }
}

/* 19d: BDAT's size is counted only for a server that offers CHUNKING (the engine asks for
 * it once it knows the extensions): a batch of two, the first MX host gone at its greeting
 * (421), the second without CHUNKING. No session's envelope counts the body (one find: is
 * it 8-bit?), neither before EHLO nor after it, and the second transaction counts nothing
 * either: one find of the body between the first message's 250 and the second's 354, not a
 * pass over it. Fails on the code before 6006345, which read each message once more (twice
 * for an 8-bit body) for every transaction, and on 6006345, which counted the first
 * transaction of a session before EHLO (34 finds more at the first connect). */
static unsigned counted_finds;

static const char *counting_body(void *ctx, size_t *len)
{
    (void)ctx;
    counted_finds++;
    *len = 2000;
    return body_text;
}

static void test_chunk_count_once(void)
{
    CHECK_CASE("19d BDAT's size counted once per message, never for a server without CHUNKING");
    mx_settings_without_sts();
    memset(body_text, 'a', sizeof body_text);
    for (size_t i = 60; i < sizeof body_text; i += 61) {
        body_text[i] = '\n';
    }
    struct stsm_message m[2], fixed;
    struct stsm_delivery_item items[2];
    for (size_t k = 0; k < 2; k++) {
        found_body_message(counting_body, 2000, &m[k], &fixed);
        items[k] = (struct stsm_delivery_item){ &m[k], NULL };
    }
    batch_begin();
    counted_finds = 0;
    CHECK_INT(stsm_delivery_start_batch(&delivery, &settings, items, 2, NULL, NULL, 1796083200, on_log, on_done,
                                        NULL), STSM_OK);
    fake_clock_serve();
    fake_route_answer("mx1.victim.example,mx2.victim.example");
    fake_clock_serve();
    CHECK(counted_finds > 2);   /* the start's checks */
    unsigned before = counted_finds;
    fake_conn_event(STSM_CONN_CONNECTED, STSM_OK);
    CHECK_INT(counted_finds, before + 1);   /* the first envelope: is it 8-bit? Nothing counted */
    fake_server_sends("421 4.3.2 busy\r\n", 16);
    fake_clock_serve();
    before = counted_finds;
    fake_conn_event(STSM_CONN_CONNECTED, STSM_OK);
    CHECK_INT(fake.connects, 2);
    CHECK_INT(counted_finds, before + 1);   /* again (one find: is it 8-bit?) */
    static const char *const to_next[] = { "220 mx ESMTP\r\n", "250-mx\r\n250 PIPELINING\r\n",
                                           "250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go\r\n" };
    for (size_t i = 0; i < sizeof to_next / sizeof to_next[0]; i++) {
        if (i == 2) {
            /* The server's extensions known, MAIL FROM went without a count of the body. */
            CHECK(strstr(fake.sent, "MAIL FROM:<alerts@printer.example>\r\n") != NULL);
            CHECK_INT(counted_finds, before + 1);
        }
        fake_server_sends(to_next[i], strlen(to_next[i]));
    }
    before = counted_finds;
    fake_server_sends("250 2.0.0 queued 0\r\n", 20);
    CHECK(strstr(fake.sent, "MAIL FROM:<alerts@printer.example>\r\nRCPT TO:<ops@victim.example>\r\nDATA\r\n"
                            "MAIL FROM") == NULL);   /* (the first message's data went between) */
    CHECK_INT(counted_finds, before + 1);   /* the next transaction's envelope: nothing counted */
    static const char *const rest[] = { "250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go\r\n", "250 2.0.0 queued 1\r\n",
                                        "221 bye\r\n" };
    for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++) {
        fake_server_sends(rest[i], strlen(rest[i]));
    }
    advance(2u * 3600u * 1000u);
    CHECK_INT(dones, 1);
    CHECK(!batch_settled_wrong);
    CHECK_STR(batch_settled, "0:0:delivered 1:0:delivered ");
    if (stsm_checks_failed > 0 && getenv("STSM_TEST_VERBOSE") != NULL) {
        printf("log:\n%s  | sent: %s\n", log_text, fake.sent);
    }
}

/* 19e/19f: a relay session (STARTTLS; implicit TLS) whose server offers CHUNKING only
 * after STARTTLS (19e): nothing is counted before the extensions under TLS are known, then
 * the message exactly once (as many finds as one pass of the reader over it) before BDAT,
 * which announces the size the chunk has. Fails on the code before, which counted before
 * EHLO. */
static unsigned finds_before_bdat;   /* counting_body's finds while no "BDAT " was sent */

static const char *bdat_watching_body(void *ctx, size_t *len)
{
    finds_before_bdat += strstr(fake.sent, "BDAT ") == NULL;
    return counting_body(ctx, len);
}

static void test_chunk_count_relay(bool implicit)
{
    static char expected[8192];
    CHECK_CASE(implicit ? "19f relay, implicit TLS: BDAT's size counted once, after EHLO"
                        : "19e relay, CHUNKING only after STARTTLS: BDAT's size counted once, after it");
    char json[600], why[200];
    snprintf(json, sizeof json, "{\"network\": {\"interface\": \"tap0\"}, \"tls\": {\"trust_store\": \"t.bin\"}, "
             "\"mail\": {\"from\": \"alerts@printer.example\", \"to\": [\"ops@victim.example\"]}, "
             "\"mta_sts\": {\"enabled\": false}, \"delivery\": {\"mode\": \"relay\", \"relay\": "
             "{\"host\": \"192.0.2.40\"%s}}}", implicit ? ", \"tls\": \"implicit\"" : "");
    CHECK_INT(stsm_settings_parse(json, strlen(json), &settings, why, sizeof why), STSM_OK);
    memset(body_text, 'a', sizeof body_text);
    for (size_t i = 60; i < sizeof body_text; i += 61) {
        body_text[i] = '\n';
    }
    struct stsm_message m, fixed;
    found_body_message(bdat_watching_body, 2000, &m, &fixed);
    /* One pass of the reader over the message, as the count makes it: its finds. */
    struct stsm_message_reader reader;
    char in[64];
    size_t len = 1;
    unsigned pass = counted_finds;
    CHECK_INT(stsm_message_reader_start(&reader, &m, false), STSM_OK);
    while (len > 0 && stsm_message_reader_read(&reader, in, sizeof in, &len) == STSM_OK) {
    }
    pass = counted_finds - pass;
    CHECK(pass > 2);
    char head[160];
    snprintf(head, sizeof head, "MAIL FROM:<alerts@printer.example>\r\nRCPT TO:<ops@victim.example>\r\nBDAT %zu LAST\r\n",
             wire_form(&fixed, true, expected, sizeof expected));

    start_delivery(&m);   /* the relay by its address: no lookup */
    finds_before_bdat = 0;
    fake_conn_event(STSM_CONN_CONNECTED, STSM_OK);
    if (implicit) {
        fake_conn_event(STSM_CONN_TLS_READY, STSM_OK);
        fake_server_sends("220 relay ESMTP\r\n", 17);
    } else {
        static const char *const to_tls[] = { "220 relay ESMTP\r\n",
                                              "250-relay\r\n250-PIPELINING\r\n250 STARTTLS\r\n",
                                              "220 2.0.0 go ahead\r\n" };
        for (size_t i = 0; i < sizeof to_tls / sizeof to_tls[0]; i++) {
            fake_server_sends(to_tls[i], strlen(to_tls[i]));
        }
        fake_conn_event(STSM_CONN_TLS_READY, STSM_OK);
    }
    CHECK_INT(finds_before_bdat, 1);   /* the envelope (is it 8-bit?), nothing counted */
    size_t flight_from = fake.sent_len;
    static const char ehlo[] = "250-relay\r\n250-PIPELINING\r\n250 CHUNKING\r\n";
    fake_server_sends(ehlo, strlen(ehlo));
    fake_clock_serve();
    CHECK_INT(finds_before_bdat, 1 + pass);   /* one pass, the count */
    CHECK(strncmp(fake.sent + flight_from, head, strlen(head)) == 0);
    fake_server_sends("250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.0.0 queued\r\n", 46);
    fake_server_sends("221 bye\r\n", 9);
    advance(2u * 3600u * 1000u);
    CHECK_INT(dones, 1);
    CHECK_INT(fake.connects, 1);
    CHECK_STR(stsm_smtp_outcome_str(delivery.rcpt[0].result.outcome), "delivered");
    if (stsm_checks_failed > 0 && getenv("STSM_TEST_VERBOSE") != NULL) {
        printf("log:\n%s  | sent: %s\n", log_text, fake.sent);
    }
}

/* 19g: the count is kept for the delivery: recipients of two domains, each group's MX host
 * offering CHUNKING. The first group's session counts the message and delivers it; the body
 * changes size before the second group's session, which announces the kept count: the chunk
 * goes as counted up to the change and is cut, that recipient deferred as changed size (never
 * a chunk of a size BDAT did not announce). */
static void test_chunk_changed_between_sessions(void)
{
    CHECK_CASE("19g BDAT: the body changed size between two sessions: cut, deferred");
    mx_settings_without_sts();
    for (size_t i = 0; i < sizeof body_text; i++) {
        body_text[i] = i % 61 == 60 ? '\n' : (char)('a' + i % 26);
    }
    changing_len = 2000;
    changed_len = 0;
    struct stsm_message m, fixed;
    found_body_message(changing_body, 2000, &m, &fixed);
    m.to[1] = "ops@other.example";
    m.to_count = 2;
    batch_begin();
    CHECK_INT(stsm_delivery_start(&delivery, &settings, &m, NULL, NULL, 1796083200, on_log, on_done, NULL), STSM_OK);
    static const char ehlo[] = "250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n";
    char announced[40] = "";
    for (int group = 0; group < 2; group++) {
        fake_clock_serve();
        fake_route_answer(group == 0 ? "mx.victim.example" : "mx.other.example");
        fake_clock_serve();
        size_t from = fake.sent_len;
        fake_conn_event(STSM_CONN_CONNECTED, STSM_OK);
        fake_server_sends("220 mx ESMTP\r\n", 14);
        fake_server_sends(ehlo, strlen(ehlo));
        fake_clock_serve();
        const char *bdat = strstr(fake.sent + from, "BDAT ");
        CHECK(bdat != NULL);
        if (bdat == NULL) {
            return;
        }
        if (group == 0) {
            snprintf(announced, sizeof announced, "%.*s", (int)(strchr(bdat, '\r') - bdat), bdat);
            fake_server_sends("250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.0.0 queued\r\n", 46);
            fake_server_sends("221 bye\r\n", 9);
            CHECK(!fake.live);
            changing_len = 2300;   /* the body grew between the sessions */
        } else {
            CHECK(strncmp(bdat, announced, strlen(announced)) == 0 && bdat[strlen(announced)] == '\r');
        }
    }
    CHECK(!fake.live);
    CHECK_INT(fake.connects, 2);
    CHECK(strstr(log_text, "changed size") != NULL);
    advance(2u * 3600u * 1000u);
    CHECK_INT(dones, 1);
    CHECK_STR(stsm_smtp_outcome_str(delivery.rcpt[0].result.outcome), "delivered");
    CHECK_STR(stsm_smtp_outcome_str(delivery.rcpt[1].result.outcome), "deferred");
    if (stsm_checks_failed > 0 && getenv("STSM_TEST_VERBOSE") != NULL) {
        printf("log:\n%s  | sent: %s\n", log_text, fake.sent);
    }
}

int main(void)
{
    fake_now_ms = 1000000;
    test_state_names();
    test_lwip_clock();
    test_empty_envelope();
    test_body_moves(false);
    test_body_moves(true);
    for (body_dots = 1; body_dots <= 24; body_dots++) {
        test_body_moves(false);
    }
    body_dots = 0;
    test_chunking(0);
    test_chunking(1);
    test_chunking(2);
    test_batch(false);
    test_batch(true);
    test_rcpt_hosts();
    test_chunk_count_once();
    test_chunk_count_relay(false);
    test_chunk_count_relay(true);
    test_chunk_changed_between_sessions();
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        run(&scenarios[i]);
    }
    return stsm_check_summary("test_delivery");
}
