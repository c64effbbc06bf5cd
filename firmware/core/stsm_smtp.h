/*
 * SMTP client session engine (RFC 5321, STARTTLS per RFC 3207, AUTH per RFC 4954,
 * PIPELINING per RFC 2920, SIZE per RFC 1870, CHUNKING per RFC 3030: BDAT instead of DATA
 * whenever the server offers it and the caller gave the message's exact size). Sans-I/O: it is fed the server's bytes
 * and tells the caller what to do next, writing the commands to send into its own
 * buffer. The caller owns the transport, the TLS handshake, the clock and the message.
 *
 * Usage: stsm_smtp_start(); then repeatedly send stsm_smtp_output() (and call
 * stsm_smtp_output_sent()), and act on the returned action:
 *   STSM_SMTP_WAIT        feed the server's bytes to stsm_smtp_receive()
 *   STSM_SMTP_START_TLS   run the TLS handshake, report with stsm_smtp_tls_done()
 *   STSM_SMTP_SEND_DATA   send the queued output first, then stream the message through
 *                         stsm_smtp_data (stsm_smtp_data.h), then call stsm_smtp_data_done().
 *                         When stsm_smtp_chunk_size() is not 0 it goes as BDAT's chunk:
 *                         encoded by stsm_smtp_data_init_chunk()'s encoder, exactly that
 *                         many octets (anything else must close the connection, never
 *                         call stsm_smtp_data_done()). Replies to a pipelined flight may
 *                         arrive meanwhile: keep feeding them to stsm_smtp_receive()
 *   STSM_SMTP_CLOSE       send what is left (QUIT) and close; results are final
 *   STSM_SMTP_HOLD        everything before MAIL FROM is done; call stsm_smtp_release()
 *   STSM_SMTP_NEXT        (params.more_transactions only) the transaction is over and its
 *                         recipients' results final; call stsm_smtp_next() with the next
 *                         envelope (MAIL FROM ..., RSET first after a refusal) or
 *                         stsm_smtp_quit()
 * Timers and peer closes are reported with stsm_smtp_timeout() and stsm_smtp_closed().
 *
 * Hostile servers: every reply line is capped (STSM_SMTP_LINE_MAX, STSM_SMTP_REPLY_LINES_MAX),
 * codes outside 200..599, NUL bytes, replies the server sends before it was given the
 * command they would answer, and bytes after a STARTTLS 220 end the session as deferred
 * (STSM_ERR_PEER_PROTOCOL). The engine's memory does not grow with what it is fed.
 */
#ifndef STSM_SMTP_H
#define STSM_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stsm_config.h"
#include "stsm_smtp_reply.h"
#include "stsm_status.h"
#include "stsm_text.h"

enum stsm_smtp_action {
    STSM_SMTP_WAIT,
    STSM_SMTP_START_TLS,
    STSM_SMTP_SEND_DATA,
    STSM_SMTP_CLOSE,
    STSM_SMTP_HOLD,        /**< ready for MAIL FROM, held (hold_before_mail): call stsm_smtp_release() */
    STSM_SMTP_NEXT,        /**< the transaction is over (more_transactions): call stsm_smtp_next()
                                or stsm_smtp_quit() */
};

/** Where a session stopped; lets delivery decide whether another MX host may help. */
enum stsm_smtp_stage {
    STSM_SMTP_STAGE_GREETING,
    STSM_SMTP_STAGE_EHLO,
    STSM_SMTP_STAGE_STARTTLS,
    STSM_SMTP_STAGE_TLS,
    STSM_SMTP_STAGE_AUTH,
    STSM_SMTP_STAGE_MAIL,
    STSM_SMTP_STAGE_RCPT,
    STSM_SMTP_STAGE_DATA,
    STSM_SMTP_STAGE_QUIT,
};

enum stsm_smtp_outcome {
    STSM_SMTP_PENDING,     /**< not decided yet */
    STSM_SMTP_DELIVERED,   /**< the server took responsibility (250 after the data) */
    STSM_SMTP_DEFERRED,    /**< temporary: try again later or elsewhere */
    STSM_SMTP_FAILED,      /**< permanent: do not try again */
};

/** What the session is to do. Strings must outlive the session. */
struct stsm_smtp_params {
    const char *ehlo_name;             /**< our host name for EHLO/HELO */
    bool implicit_tls;                 /**< the connection is TLS already (port 465) */
    bool require_tls;                  /**< no mail, no AUTH without TLS (STARTTLS is used whenever offered anyway) */
    bool no_starttls;                  /**< do not STARTTLS even when offered: a deliberate plaintext
                                            retry after a failed handshake. Ignored when
                                            require_tls is set: TLS is never given up then */
    const char *auth_user;             /**< NULL: no AUTH */
    const char *auth_secret;           /**< never logged */
    bool hold_before_mail;             /**< stop before MAIL FROM until stsm_smtp_release() (the
                                            MTA-STS decision may still be pending) */
    bool more_transactions;            /**< after each transaction's end that leaves the session
                                            usable (the verdict on the message, or a refusal of
                                            MAIL, of every RCPT or of DATA), stop with
                                            STSM_SMTP_NEXT instead of sending QUIT */
    /** Counts the message's exact size for BDAT when the server offers CHUNKING and the
     *  envelope's chunk_size (or chunk_size_8bit) is 0: `eight` when it goes 8-bit (the
     *  server offers 8BITMIME and body_8bit). Called at most once per transaction, once the
     *  extensions are known, never for a server without CHUNKING; its answer as chunk_size
     *  (0: DATA). NULL: the envelope's sizes alone. */
    size_t (*count_chunk)(void *arg, bool eight);
    void *count_arg;
    /* The envelope, mail_from to chunk_size_8bit, stays together: stsm_smtp_next() takes
     * it as one block. */
    const char *mail_from;             /**< envelope sender, "" for the null sender */
    const char *rcpt[STSM_SMTP_MAX_RCPT];
    size_t rcpt_count;
    size_t size_estimate;              /**< upper bound of the message size, for SIZE */
    bool body_8bit;                    /**< the body has 8-bit text: announce BODY=8BITMIME when the
                                            server offers it (otherwise the caller sends it
                                            quoted-printable, see stsm_message_render) */
    size_t chunk_size;                 /**< the message's exact size for BDAT as sent without
                                            8BITMIME: stsm_smtp_data_init_chunk()'s encoder
                                            output, finish included; 0: unknown, count_chunk's
                                            answer then, or DATA without it */
    size_t chunk_size_8bit;            /**< the same, as sent 8-bit (server offers 8BITMIME) */
};

/** Extensions the server announced in its last EHLO reply. */
struct stsm_smtp_caps {
    bool esmtp;                        /**< EHLO succeeded (false after a HELO fallback) */
    bool starttls, pipelining, chunking, eightbitmime, smtputf8, enhanced_status, size, auth_plain, auth_login;
    uint32_t size_limit;               /**< SIZE parameter, 0 when none */
};

/** The server's answer that decided an outcome (or a local reason). */
struct stsm_smtp_result {
    enum stsm_smtp_outcome outcome;
    stsm_status_t status;              /**< STSM_OK, or the local reason (TLS, timeout, protocol) */
    uint16_t code;                     /**< server reply code, 0 for local reasons */
    char text[120];                    /**< first line of the reply, or a local explanation */
};

/**
 * Where the engine is, named by what it awaits: the reply to a command, or a call from
 * the caller (the TLS handshake, the message, a release). Each state belongs to one stage,
 * the one a failure in it is reported at. For logs and tests; the flow is the engine's.
 */
enum stsm_smtp_state {
    STSM_SMTP_AWAIT_GREETING,          /**< the server's 220 */
    STSM_SMTP_AWAIT_EHLO,              /**< the reply to EHLO (extensions are read line by line) */
    STSM_SMTP_AWAIT_HELO,              /**< the reply to HELO, sent after EHLO was refused */
    STSM_SMTP_AWAIT_STARTTLS,          /**< the reply to STARTTLS */
    STSM_SMTP_AWAIT_TLS,               /**< the caller's handshake: stsm_smtp_tls_done() */
    STSM_SMTP_AWAIT_PLAIN_RESULT,      /**< 235 to AUTH PLAIN */
    STSM_SMTP_AWAIT_LOGIN_USER_PROMPT, /**< 334 to AUTH LOGIN, asking for the user name */
    STSM_SMTP_AWAIT_LOGIN_SECRET_PROMPT, /**< 334 to the user name, asking for the secret */
    STSM_SMTP_AWAIT_LOGIN_RESULT,      /**< 235 to the secret */
    STSM_SMTP_AWAIT_RELEASE,           /**< the hold before MAIL FROM: stsm_smtp_release() */
    STSM_SMTP_AWAIT_MAIL,              /**< the reply to MAIL FROM */
    STSM_SMTP_AWAIT_RCPT,              /**< the reply to one RCPT TO (one at a time) */
    STSM_SMTP_AWAIT_DATA,              /**< 354 to DATA */
    STSM_SMTP_AWAIT_FLIGHT_MAIL,       /**< pipelined flight: the reply to its MAIL FROM */
    STSM_SMTP_AWAIT_FLIGHT_RCPT,       /**< pipelined flight: the replies to its RCPT TOs */
    STSM_SMTP_AWAIT_FLIGHT_DATA,       /**< pipelined flight: the reply to its DATA */
    STSM_SMTP_AWAIT_MESSAGE,           /**< the caller streams the message: stsm_smtp_data_done() */
    STSM_SMTP_AWAIT_MESSAGE_REPLY,     /**< the verdict on the message */
    STSM_SMTP_AWAIT_CHUNK_REPLY,       /**< the reply to "BDAT n LAST" (the chunk is the message) */
    STSM_SMTP_AWAIT_EMPTY_DATA_END,    /**< the reply to "." ending a DATA with no recipient */
    STSM_SMTP_AWAIT_NEXT,              /**< a transaction ended: stsm_smtp_next() or stsm_smtp_quit() */
    STSM_SMTP_AWAIT_RSET,              /**< the reply to RSET, before the next transaction's MAIL */
    STSM_SMTP_FINISHED,                /**< results are final; only QUIT may be left to send */
    STSM_SMTP_STATE_COUNT,             /**< not a state: the number of states */
};

/* The output queue's bytes: STSM_SMTP_OUT_MAX, which stsm_config.h checks against the
 * longest flight. Only a unit test (test_smtp_queue) builds the engine with a smaller
 * queue, to show that a command that does not fit fails the session. */
#ifndef STSM_SMTP_QUEUE_SIZE
#define STSM_SMTP_QUEUE_SIZE STSM_SMTP_OUT_MAX
#endif

/** Session state. Allocate statically; fields are private except through accessors. */
struct stsm_smtp {
    /* The small fields the engine reads most come first: on Cortex-M a load or store
     * within the first bytes of the struct takes a 2-byte instruction, not 4. */
    enum stsm_smtp_state state;        /* changed by the engine's setter only */
    enum stsm_smtp_stage failed_stage;
    bool tls_active;
    bool starttls_refused;             /* offered, then answered with an error: went on in plaintext */
    bool out_mid_line;                 /* out[0] continues a line partly handed over */
    bool server_reset;                 /* the last transaction ended with a 250 to its message */
    bool chunk_streaming;              /* BDAT is queued: the caller owes its octets */
    bool out_overflow;                 /* a command did not fit: the session fails */
    struct stsm_smtp_caps caps;
    uint32_t replies_due;              /* replies owed for lines handed to the server */
    uint32_t wait_serial;              /* see stsm_smtp_wait_serial() */
    size_t out_len;
    size_t rcpt_next;                  /* recipient whose RCPT reply comes next */
    size_t rcpt_accepted;
    size_t chunk_size;                 /* this transaction's BDAT octets, 0 for DATA */
    struct stsm_smtp_params params;
    struct stsm_smtp_result session;   /* failure of the session as a whole */
    struct stsm_smtp_reply_framer framer;
    uint8_t out[STSM_SMTP_QUEUE_SIZE];
    struct stsm_smtp_result rcpt[STSM_SMTP_MAX_RCPT];
};

/**
 * Starts a session on a connection that has just opened (or finished implicit TLS).
 * Returns STSM_ERR_ARGUMENT for parameters that cannot go into commands: no recipients,
 * too many, an address with CR, LF, '<', '>' or longer than STSM_SMTP_ADDRESS_MAX, an
 * empty EHLO name, or AUTH without require_tls (credentials never travel unencrypted).
 * require_tls with no_starttls is not an error: require_tls wins (STARTTLS when offered,
 * deferred with STSM_ERR_TLS_NOT_OFFERED when not), never plaintext.
 */
stsm_status_t stsm_smtp_start(struct stsm_smtp *s, const struct stsm_smtp_params *params);

/** Bytes queued for the server. */
const uint8_t *stsm_smtp_output(const struct stsm_smtp *s, size_t *len);

/** The first `n` queued bytes were handed to the transport. They are wiped from the
 *  queue (it may have held credentials); a reply is accepted only for command lines
 *  handed over in full. */
void stsm_smtp_output_sent(struct stsm_smtp *s, size_t n);

/** Feeds the server's bytes, all received by now. `*consumed` tells how many were used:
 *  all of them while the action is STSM_SMTP_WAIT; up to the end of the reply (or the
 *  offending byte) that ended a wait otherwise. Any bytes after a STARTTLS 220, in the
 *  same call or while the handshake is pending, make the session fail (plaintext
 *  injection); so do bytes that start a reply before its command was handed over
 *  (stsm_smtp_output_sent()). */
enum stsm_smtp_action stsm_smtp_receive(struct stsm_smtp *s, const uint8_t *data, size_t len,
                                        size_t *consumed);

/**
 * Ends a hold (STSM_SMTP_HOLD): `proceed` sends MAIL FROM and the rest; otherwise the
 * session ends with QUIT, deferred for `status` with `why` as its text (the host is not
 * usable, say, under an MTA-STS policy): a fixed text (STSM_TEXT_FIXED), or NULL.
 */
enum stsm_smtp_action stsm_smtp_release(struct stsm_smtp *s, bool proceed, stsm_status_t status,
                                        stsm_text_fixed_t why);

/**
 * In STSM_SMTP_AWAIT_NEXT (after STSM_SMTP_NEXT): starts the next transaction on the same
 * session with `envelope`'s mail_from, rcpt, rcpt_count, size_estimate and body_8bit (its
 * other members are ignored but chunk_size and chunk_size_8bit; the strings must
 * outlive the transaction). The recipients'
 * results start again from pending, so read the last transaction's first. Sends MAIL
 * FROM and the rest as the first transaction did (no hold); RSET first unless the last
 * transaction ended with a 2xx to its message (the server has reset then, RFC 5321
 * section 4.1.1.4), or when our SIZE check refuses the envelope (it is refused after the
 * RSET's reply, as STSM_SMTP_NEXT). A server that refuses RSET ends the session, deferred
 * (STSM_ERR_PEER_PROTOCOL). Returns
 * STSM_ERR_ARGUMENT, changing nothing, outside that state or for an envelope
 * stsm_smtp_start() would refuse; STSM_ERR_CAPACITY when a command did not fit the output
 * queue (never while STSM_SMTP_OUT_MAX holds STSM_SMTP_FLIGHT_MAX): the session is then
 * finished, failed with that status, and only QUIT is left to send; otherwise STSM_OK,
 * and the action is STSM_SMTP_WAIT, or STSM_SMTP_SEND_DATA when
 * stsm_smtp_message_due() (a pipelined flight that ends with BDAT and the message).
 */
stsm_status_t stsm_smtp_next(struct stsm_smtp *s, const struct stsm_smtp_params *envelope);

/** In STSM_SMTP_AWAIT_NEXT: no more transactions; queues QUIT and returns STSM_SMTP_CLOSE.
 *  Elsewhere it changes nothing. */
enum stsm_smtp_action stsm_smtp_quit(struct stsm_smtp *s);

/** True from STSM_SMTP_SEND_DATA until stsm_smtp_data_done(): the caller owes the message. */
bool stsm_smtp_message_due(const struct stsm_smtp *s);

/** The octets of the current transaction's BDAT chunk; 0 when the message goes by DATA. */
size_t stsm_smtp_chunk_size(const struct stsm_smtp *s);

/** True while the session waits in a hold. */
bool stsm_smtp_held(const struct stsm_smtp *s);

/** True once TLS is up in the session (STARTTLS done, or implicit TLS). */
bool stsm_smtp_tls_active(const struct stsm_smtp *s);

/** The TLS handshake requested by STSM_SMTP_START_TLS ended with `status`. */
enum stsm_smtp_action stsm_smtp_tls_done(struct stsm_smtp *s, stsm_status_t status);

/** The whole message and its terminator (DATA), or exactly the chunk's octets (BDAT), were
 *  sent after STSM_SMTP_SEND_DATA. */
enum stsm_smtp_action stsm_smtp_data_done(struct stsm_smtp *s);


/** The reply the engine waits for did not come in time. */
enum stsm_smtp_action stsm_smtp_timeout(struct stsm_smtp *s);

/** The server closed the connection. */
enum stsm_smtp_action stsm_smtp_closed(struct stsm_smtp *s);

/**
 * Changes whenever the engine starts waiting for something else: a reply completed, a
 * command or TLS or the message was handed over, the state moved. Bytes that do not end a
 * reply leave it alone. A caller arms its reply timer (stsm_smtp_timeout_ms()) when this
 * value differs from the one it armed for, not when bytes arrive, so a server that
 * trickles a reply cannot stretch the wait. stsm_smtp_start() begins the count again:
 * arm once after it.
 */
uint32_t stsm_smtp_wait_serial(const struct stsm_smtp *s);

/** How long to wait for the current reply (RFC 5321 section 4.5.3.2 minimums), in ms. */
uint32_t stsm_smtp_timeout_ms(const struct stsm_smtp *s);

/** Result of recipient `i` of the current transaction (final once STSM_SMTP_CLOSE or
 *  STSM_SMTP_NEXT was returned). */
const struct stsm_smtp_result *stsm_smtp_rcpt_result(const struct stsm_smtp *s, size_t i);

/** The session-level failure, if any, and the stage it happened in. */
const struct stsm_smtp_result *stsm_smtp_session_result(const struct stsm_smtp *s,
                                                        enum stsm_smtp_stage *stage);

/** Capabilities of the last EHLO. */
const struct stsm_smtp_caps *stsm_smtp_caps(const struct stsm_smtp *s);


/** True when the server offered STARTTLS but refused it and the session went on in
 *  plaintext (only possible when TLS is not required; the caller logs it). */
bool stsm_smtp_starttls_refused(const struct stsm_smtp *s);

/** The state the session is in. */
enum stsm_smtp_state stsm_smtp_state(const struct stsm_smtp *s);

/** Name of a state for logs ("await_greeting", ..., "finished"); "unknown" for a value
 *  outside the enum. */
const char *stsm_smtp_state_name(enum stsm_smtp_state state);

/** True when the engine has a reply handler for `state` (every state has one: a reply
 *  in a state that awaits none ends the session). For table tests. */
bool stsm_smtp_state_handled(enum stsm_smtp_state state);

/** Name of a stage for logs ("greeting", "ehlo", ...). */
const char *stsm_smtp_stage_str(enum stsm_smtp_stage stage);

/** Name of an outcome ("delivered", "deferred", "failed", "pending"). */
const char *stsm_smtp_outcome_str(enum stsm_smtp_outcome outcome);

#endif /* STSM_SMTP_H */
