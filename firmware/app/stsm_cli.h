/*
 * Command line of the host simulation binary `stsmail`. Parsing reads argv, fills a struct
 * and, on bad input, writes one sentence naming what was wrong. Options are read with the
 * C library's getopt_long (host only): an option takes its value as the next argument or
 * after '=' (--settings=FILE), must be written in full (no prefixes), may come before or
 * after the positional arguments, and "--" ends the options.
 */
#ifndef STSM_CLI_H
#define STSM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stsm_config.h"
#include "stsm_status.h"

enum stsm_cli_command {
    STSM_CLI_HELP,       /**< print usage */
    STSM_CLI_VERSION,    /**< print version and dependency versions */
    STSM_CLI_PROBE,      /**< connect to HOST:PORT over lwIP and print the first line */
    STSM_CLI_DNS,        /**< look up TYPE NAME through lwIP and print the answer as JSON */
    STSM_CLI_TLS_PROBE,  /**< open a verified TLS session to HOST:PORT and report it */
    STSM_CLI_SEND,       /**< deliver one message as the settings say */
    STSM_CLI_POLICY_PARSE, /**< parse an MTA-STS policy file, print it as JSON */
    STSM_CLI_POLICY_MATCH, /**< does HOST match the policy's mx patterns */
    STSM_CLI_TXT_PARSE,  /**< parse an _mta-sts TXT record */
    STSM_CLI_CHECK,      /**< live MTA-STS report for a domain */
    STSM_CLI_ENQUEUE,    /**< store one alert in the outbox (no network) */
    STSM_CLI_QUEUE,      /**< list, flush or drop what the outbox holds */
    STSM_CLI_RUN,        /**< work the outbox until SIGTERM */
    STSM_CLI_SETTINGS_CHECK, /**< validate a settings file offline */
    STSM_CLI_DECODE_LOG, /**< turn an MCU image's texts in id form back into prose */
};

struct stsm_cli_ipv4 {
    uint8_t octet[4];    /**< in network order: octet[0] is the first number written */
};

/** How the host simulation attaches to the network (options shared by every command
 *  that uses it). Strings point into argv. */
struct stsm_cli_net {
    const char *tap;               /**< --tap IF (required) */
    bool use_dhcp;                 /**< true unless --ip is given */
    struct stsm_cli_ipv4 address;  /**< --ip A.B.C.D/N */
    uint8_t prefix_len;
    struct stsm_cli_ipv4 gateway;  /**< --gw (static only; 0.0.0.0 when absent) */
    uint8_t dns_count;             /**< --dns given 0, 1 or 2 times; overrides DHCP's servers */
    struct stsm_cli_ipv4 dns[2];
    uint32_t timeout_ms;           /**< --timeout SECONDS, default 10 s */
};

/** Arguments of `probe`. */
struct stsm_cli_probe_args {
    const char *host;              /**< HOST: name or IPv4 literal */
    uint16_t port;                 /**< PORT: 1..65535 */
};

/** Arguments of `dns`. */
struct stsm_cli_dns_args {
    uint16_t type;                 /**< STSM_DNS_TYPE_A, _AAAA, _MX or _TXT */
    const char *name;
};

/** Arguments of `tls-probe`. */
struct stsm_cli_tls_probe_args {
    const char *settings;          /**< --settings FILE (required) */
    bool starttls;                 /**< --starttls: SMTP, upgrade after EHLO */
    uint32_t timeout_ms;           /**< --timeout SECONDS, default 30 s */
    uint32_t repeat;               /**< --repeat N (1..16): sessions one after the other */
    const char *host;
    uint16_t port;
};

/** Arguments of `send`. */
struct stsm_cli_send_args {
    const char *settings;          /**< --settings FILE (required) */
    size_t to_count;               /**< --to ADDR, repeatable; replaces /mail/to */
    const char *to[STSM_SMTP_MAX_RCPT];
    const char *subject;           /**< --subject TEXT */
    const char *body_file;         /**< --body-file FILE, "-" for standard input */
    uint32_t repeat;               /**< --repeat N (1..STSM_CLI_MAX_REPEAT): deliver N times in one
                                        process and report resource levels (soak); 0 when absent */
};

#define STSM_CLI_MAX_REPEAT 100000u

/** Arguments of `policy parse FILE`, `policy match FILE HOST`, `txt parse RECORD`. */
struct stsm_cli_sts_args {
    const char *file;              /**< policy file, or the TXT record for txt parse */
    const char *host;              /**< policy match: the MX host */
};

/** Arguments of `check`. */
struct stsm_cli_check_args {
    const char *settings;          /**< --settings FILE (network and trust store) */
    const char *domain;
    unsigned strict_cname;         /**< --strict-cname mx,policy_host,txt (STSM_STRICT_CNAME_*) */
};

/** Arguments of `enqueue`. Strings point into argv. */
struct stsm_cli_enqueue_args {
    const char *settings;          /**< --settings FILE (required) */
    const char *key;               /**< --key KEY: 1..64 printable ASCII; NULL: never coalesced */
    const char *severity;          /**< --severity: "info", "warning", "error" or "critical"
                                        (checked here); NULL when not given */
    const char *to[STSM_SMTP_MAX_RCPT]; /**< --to ADDR, repeatable; replaces /mail/to */
    size_t to_count;
    const char *subject;           /**< --subject TEXT (required) */
    const char *body_file;         /**< --body-file FILE, "-" for standard input; NULL: no body */
};

enum stsm_cli_queue_action { STSM_QUEUE_LIST, STSM_QUEUE_FLUSH, STSM_QUEUE_DROP };

/** Arguments of `queue list|flush|drop`. */
struct stsm_cli_queue_args {
    const char *settings;          /**< --settings FILE (required) */
    enum stsm_cli_queue_action action;
    uint32_t id;                   /**< drop: the message id, 1..4294967295; 0 otherwise */
};

/** Arguments of `run`. */
struct stsm_cli_run_args {
    const char *settings;          /**< --settings FILE (required) */
};

/** Arguments of `settings check FILE`. */
struct stsm_cli_settings_check_args {
    const char *file;
};

/** Arguments of `decode-log --elf FILE [LOG]`. */
struct stsm_cli_decode_log_args {
    const char *elf;               /**< the image that wrote the log (its stsm_text section) */
    const char *log;               /**< the log; NULL: standard input */
};

struct stsm_cli {
    enum stsm_cli_command command;
    struct stsm_cli_net net;       /**< probe and dns */
    struct stsm_cli_probe_args probe;
    struct stsm_cli_dns_args dns;
    struct stsm_cli_tls_probe_args tls_probe;
    struct stsm_cli_send_args send;
    struct stsm_cli_sts_args sts;
    struct stsm_cli_check_args check;
    struct stsm_cli_enqueue_args enqueue;
    struct stsm_cli_queue_args queue;
    struct stsm_cli_run_args run;
    struct stsm_cli_settings_check_args settings_check;
    struct stsm_cli_decode_log_args decode_log;
};

/**
 * Parses argv (argv[0] is the program name). Returns STSM_OK or STSM_ERR_ARGUMENT with a
 * sentence in `why` that names the offending argument. argv is not modified (it may be
 * read-only) and the strings in `cli` point into it. Uses getopt's globals (optind,
 * opterr), so it is not reentrant; each call starts afresh.
 */
stsm_status_t stsm_cli_parse(int argc, char *const argv[], struct stsm_cli *cli, char *why,
                             size_t why_len);

/** Usage text for `stsmail help`. */
extern const char stsm_cli_usage[];

#endif /* STSM_CLI_H */
