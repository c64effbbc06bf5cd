#include "stsm_cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "stsm_config.h"
#include "stsm_dns.h"
#include "stsm_ipv4.h"
#include "stsm_settings.h"

#define DEFAULT_TIMEOUT_MS 10000u
#define MAX_TIMEOUT_S      3600u

const char stsm_cli_usage[] =
    "usage: stsmail probe NET-OPTIONS HOST PORT\n"
    "       stsmail dns NET-OPTIONS mx|txt|a|aaaa NAME\n"
    "       stsmail tls-probe --settings FILE [--starttls] [--timeout SECONDS] [--repeat N] HOST PORT\n"
    "       stsmail send --settings FILE [--to ADDR]... [--subject TEXT] [--body-file FILE|-]\n"
    "                    [--repeat N]\n"
    "       stsmail policy parse FILE | policy match FILE HOST | txt parse RECORD\n"
    "       stsmail check --settings FILE [--strict-cname mx,policy_host,txt] DOMAIN\n"
    "       stsmail enqueue --settings FILE [--key KEY] [--severity LEVEL] [--to ADDR]...\n"
    "                    --subject TEXT [--body-file FILE|-]\n"
    "       stsmail queue list|flush --settings FILE | queue drop --settings FILE ID\n"
    "       stsmail run --settings FILE\n"
    "       stsmail settings check FILE\n"
    "       stsmail decode-log --elf FIRMWARE.elf [FILE]\n"
    "       stsmail version\n"
    "       stsmail help\n"
    "\n"
    "probe   resolve HOST, connect to PORT and print the first line the server sends.\n"
    "dns     look NAME up and print the answer as one JSON object; for mx, the MX hosts\n"
    "        with their addresses and whether they come through a CNAME.\n"
    "tls-probe  open a TLS session to HOST:PORT (after SMTP STARTTLS with --starttls),\n"
    "        verified against the settings' trust store, and report version, suite,\n"
    "        peer chain, verdict and Mbed TLS memory peak. Network from the settings.\n"
    "        --repeat N: N sessions one after the other (the later ones may resume).\n"
    "send    deliver one message (to /mail/to unless --to is given) and print one line\n"
    "        per recipient. Exit 0 all delivered, 75 some deferred, 69 some failed,\n"
    "        65 bad message, 78 bad settings. --repeat N (soak test) delivers the same\n"
    "        message N times, one after the other, in one process; it prints only the\n"
    "        deliveries that were not delivered, then 'soak:' lines with the Mbed TLS\n"
    "        arena, lwIP memory, policy cache, resident memory and open files before\n"
    "        the first delivery and after the last.\n"
    "policy parse  print an MTA-STS policy file as JSON, or FILE:LINE: reason (exit 65;\n"
    "        LINE 0 is the policy as a whole). policy match: exit 0 when HOST matches\n"
    "        an mx pattern, 1 when not, 65 for an invalid policy. txt parse: the id of\n"
    "        an _mta-sts TXT record as JSON, or why it is not one (exit 65).\n"
    "check   live MTA-STS report for DOMAIN as JSON: MX hosts and their CNAMEs, the TXT\n"
    "        record, the policy or why none, and per MX the verdict under RFC 8461 and\n"
    "        under each strict no-CNAME scope (what a strict sender would decide).\n"
    "enqueue store one alert in the outbox (the file /outbox/store_file names) for 'run'\n"
    "        to deliver; no network is used. LEVEL is info, warning (the default), error\n"
    "        or critical. Alerts with the same KEY (1 to 64 printable ASCII characters)\n"
    "        within /outbox/coalesce_window become one message. Exit 0 once the alert is\n"
    "        stored, 75 when the outbox is full, 78 bad settings.\n"
    "queue   list: print what the outbox holds as JSON. flush: make every waiting message\n"
    "        due now. drop: remove message ID (as list shows it) whatever its state.\n"
    "run     deliver what the outbox holds, retrying as /outbox says, until SIGTERM; then\n"
    "        finish or abandon the current transaction cleanly and exit, nothing lost.\n"
    "settings check  validate FILE offline by the rules the device applies (no network;\n"
    "        no file it names is opened). Print 'FILE: ok' and exit 0, or\n"
    "        'FILE: /json/path: what was wrong' and exit 78.\n"
    "decode-log  print FILE (default: standard input) with the texts an MCU image writes\n"
    "        as ids ($[...]) turned back into prose, from FIRMWARE.elf, the ELF file of\n"
    "        the image that wrote them; other text passes unchanged.\n"
    "\n"
    "NET-OPTIONS: lwIP runs on an existing TAP interface (host simulation):\n"
    "  --tap IF             the TAP interface (required)\n"
    "  --ip A.B.C.D/N       static address (default: DHCP)\n"
    "  --gw A.B.C.D         gateway, with --ip\n"
    "  --dns A.B.C.D        DNS server, up to twice; replaces those DHCP provides\n"
    "  --timeout SECONDS    time limit for each step (default 10)\n"
    "\n"
    "An option's value is the next argument or follows '=' (--settings=FILE); options are\n"
    "written in full and may come before or after the other arguments; '--' ends them.\n";

/* Parses a decimal number in [min, max] made of digits only (no sign, no spaces). */
static bool parse_uint(const char *text, unsigned long min, unsigned long max,
                       unsigned long *value)
{
    unsigned long v = 0;
    if (text == NULL || *text == '\0') {
        return false;
    }
    for (const char *c = text; *c != '\0'; c++) {
        if (*c < '0' || *c > '9') {
            return false;
        }
        v = v * 10u + (unsigned long)(*c - '0');
        if (v > max) {
            return false;
        }
    }
    if (v < min) {
        return false;
    }
    *value = v;
    return true;
}

static bool parse_ipv4(const char *text, struct stsm_cli_ipv4 *out, uint8_t *prefix_len)
{
    return stsm_ipv4_parse(text, out->octet, prefix_len);
}

/*
 * Options are read with getopt_long, one table per command. The optstring "-:" keeps argv
 * in order (positional arguments come back as 1, so options and positionals may mix as
 * before, and argv is never permuted: callers may pass read-only arrays) and makes getopt
 * report problems to us instead of printing them. Option ids start at 2 because getopt
 * uses 1 for a positional argument and '?' and ':' for errors.
 */
enum {
    OPT_TAP = 2,
    OPT_IP,
    OPT_GW,
    OPT_DNS,
    OPT_TIMEOUT,
    OPT_SETTINGS,
    OPT_STARTTLS,
    OPT_TO,
    OPT_SUBJECT,
    OPT_BODY_FILE,
    OPT_REPEAT,
    OPT_STRICT_CNAME,
    OPT_KEY,
    OPT_SEVERITY,
};

#define SCAN_END   0
#define SCAN_ERROR (-1)
#define SCAN_POSITIONAL_MAX 2

/* One command's pass over its arguments. argv[0] is the command word. */
struct scan {
    int argc;
    char *const *argv;
    const char *command;
    const struct option *options;
    const char *positional[SCAN_POSITIONAL_MAX];
    int npositional;
    int max_positional;
    const char *names;             /* the positionals, for messages; NULL when none are taken */
};

static void scan_begin(struct scan *s, int argc, char *const argv[], const char *command,
                       const struct option *options, int max_positional, const char *names)
{
    memset(s, 0, sizeof *s);
    s->argc = argc - 1;
    s->argv = argv + 1;
    s->command = command;
    s->options = options;
    s->max_positional = max_positional;
    s->names = names;
    optind = 0;                    /* 0, not 1: getopt forgets the previous parse's state */
    opterr = 0;
}

/*
 * The table entry that `arg` names in full ("--name" or "--name=value"), or NULL.
 * getopt_long also accepts unambiguous prefixes; we do not, so that a shortened option
 * keeps its meaning when an option with the same prefix is added.
 */
static const struct option *find_option(const struct option *options, const char *arg)
{
    if (strncmp(arg, "--", 2) != 0) {
        return NULL;
    }
    size_t n = strcspn(arg + 2, "=");
    for (const struct option *o = options; o->name != NULL; o++) {
        if (strlen(o->name) == n && strncmp(o->name, arg + 2, n) == 0) {
            return o;
        }
    }
    return NULL;
}

static bool scan_positional(struct scan *s, const char *arg, char *why, size_t why_len)
{
    if (s->npositional < s->max_positional) {
        s->positional[s->npositional++] = arg;
        return true;
    }
    if (s->names == NULL) {
        stsm_refuse(why, why_len, "%s: unknown argument '%s'", s->command, arg);
    } else {
        stsm_refuse(why, why_len, "%s: unexpected argument '%s' (after %s)", s->command, arg,
                    s->names);
    }
    return false;
}

/*
 * Returns the id of the next option with its value in *value (NULL for a flag), SCAN_END
 * when the arguments are used up, or SCAN_ERROR with a sentence in `why`.
 */
static int scan_next(struct scan *s, const char **value, char *why, size_t why_len)
{
    for (;;) {
        int at = optind == 0 ? 1 : optind;
        int c = getopt_long(s->argc, s->argv, "-:", s->options, NULL);
        if (c == -1) {
            /* After "--" everything is positional. */
            for (; optind < s->argc; optind++) {
                if (!scan_positional(s, s->argv[optind], why, why_len)) {
                    return SCAN_ERROR;
                }
            }
            return SCAN_END;
        }
        if (c == 1) {
            if (!scan_positional(s, optarg, why, why_len)) {
                return SCAN_ERROR;
            }
            continue;
        }
        const char *arg = at < s->argc ? s->argv[at] : "";
        const struct option *o = find_option(s->options, arg);
        if (o == NULL || (c != o->val && c != '?' && c != ':')) {
            stsm_refuse(why, why_len, "%s: unknown option '%s'", s->command, arg);
            return SCAN_ERROR;
        }
        if (c == '?' || c == ':') {
            if (o->has_arg == no_argument) {
                stsm_refuse(why, why_len, "%s: option '--%s' takes no value", s->command, o->name);
            } else {
                stsm_refuse(why, why_len, "%s: option '--%s' needs a value", s->command, o->name);
            }
            return SCAN_ERROR;
        }
        *value = optarg;
        return c;
    }
}

static bool parse_timeout(const char *command, const char *value, uint32_t *timeout_ms,
                          char *why, size_t why_len)
{
    unsigned long seconds;
    if (!parse_uint(value, 1, MAX_TIMEOUT_S, &seconds)) {
        stsm_refuse(why, why_len,
                    "%s: --timeout '%s' is not a whole number of seconds from 1 to 3600",
                    command, value);
        return false;
    }
    *timeout_ms = (uint32_t)seconds * 1000u;
    return true;
}

static bool parse_port(const char *command, const char *value, uint16_t *port, char *why,
                       size_t why_len)
{
    unsigned long n;
    if (!parse_uint(value, 1, 65535, &n)) {
        stsm_refuse(why, why_len, "%s: PORT '%s' is not a number from 1 to 65535", command,
                    value);
        return false;
    }
    *port = (uint16_t)n;
    return true;
}

/*
 * Parses argv[2..] of a networked command: the NET-OPTIONS into `net`, the rest into
 * `positional` (exactly `want` of them, named by `names` in messages).
 */
static stsm_status_t parse_net_command(int argc, char *const argv[], const char *command,
                                       struct stsm_cli_net *net, const char *positional[],
                                       int want, const char *names, char *why, size_t why_len)
{
    static const struct option options[] = {
        { "tap", required_argument, NULL, OPT_TAP },
        { "ip", required_argument, NULL, OPT_IP },
        { "gw", required_argument, NULL, OPT_GW },
        { "dns", required_argument, NULL, OPT_DNS },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { NULL, 0, NULL, 0 },
    };
    const char *ip = NULL, *gw = NULL, *value = NULL;
    struct scan s;
    int opt;

    memset(net, 0, sizeof *net);
    net->timeout_ms = DEFAULT_TIMEOUT_MS;
    scan_begin(&s, argc, argv, command, options, want, names);
    while ((opt = scan_next(&s, &value, why, why_len)) > SCAN_END) {
        switch (opt) {
        case OPT_TAP:
            net->tap = value;
            break;
        case OPT_IP:
            ip = value;
            break;
        case OPT_GW:
            gw = value;
            break;
        case OPT_DNS:
            if (net->dns_count == 2) {
                return stsm_refuse(why, why_len, "%s: --dns may be given at most twice", command);
            }
            if (!parse_ipv4(value, &net->dns[net->dns_count], NULL)) {
                return stsm_refuse(why, why_len, "%s: --dns '%s' is not an IPv4 address", command,
                                   value);
            }
            net->dns_count++;
            break;
        default:
            if (!parse_timeout(command, value, &net->timeout_ms, why, why_len)) {
                return STSM_ERR_ARGUMENT;
            }
            break;
        }
    }
    if (opt == SCAN_ERROR) {
        return STSM_ERR_ARGUMENT;
    }

    if (net->tap == NULL || net->tap[0] == '\0') {
        return stsm_refuse(why, why_len, "%s: --tap IF is required", command);
    }
    if (s.npositional < want) {
        return stsm_refuse(why, why_len, "%s: %s %s required", command, names, want > 1 ? "are" : "is");
    }
    for (int i = 0; i < want; i++) {
        positional[i] = s.positional[i];
    }
    net->use_dhcp = ip == NULL;
    if (ip == NULL) {
        if (gw != NULL) {
            return stsm_refuse(why, why_len, "%s: --gw needs --ip (with DHCP the server provides it)",
                        command);
        }
        return STSM_OK;
    }
    if (!parse_ipv4(ip, &net->address, &net->prefix_len)) {
        return stsm_refuse(why, why_len,
                    "%s: --ip '%s' is not an IPv4 address with a prefix, like 192.0.2.11/24",
                    command, ip);
    }
    if (gw != NULL && !parse_ipv4(gw, &net->gateway, NULL)) {
        return stsm_refuse(why, why_len, "%s: --gw '%s' is not an IPv4 address", command, gw);
    }
    return STSM_OK;
}

static stsm_status_t parse_probe(int argc, char *const argv[], struct stsm_cli *cli, char *why,
                                 size_t why_len)
{
    const char *positional[2];
    stsm_status_t st = parse_net_command(argc, argv, "probe", &cli->net, positional, 2,
                                         "HOST and PORT", why, why_len);
    if (st != STSM_OK) {
        return st;
    }
    cli->probe.host = positional[0];
    if (strlen(cli->probe.host) > STSM_HOSTNAME_MAX) {
        return stsm_refuse(why, why_len, "probe: HOST is longer than 253 characters: '%.40s...'",
                    cli->probe.host);
    }
    if (!parse_port("probe", positional[1], &cli->probe.port, why, why_len)) {
        return STSM_ERR_ARGUMENT;
    }
    return STSM_OK;
}

static stsm_status_t parse_dns(int argc, char *const argv[], struct stsm_cli *cli, char *why,
                               size_t why_len)
{
    static const struct {
        const char *word;
        uint16_t type;
    } types[] = {
        { "mx", STSM_DNS_TYPE_MX },
        { "txt", STSM_DNS_TYPE_TXT },
        { "a", STSM_DNS_TYPE_A },
        { "aaaa", STSM_DNS_TYPE_AAAA },
    };
    const char *positional[2];
    stsm_status_t st = parse_net_command(argc, argv, "dns", &cli->net, positional, 2,
                                         "TYPE and NAME", why, why_len);
    if (st != STSM_OK) {
        return st;
    }
    cli->dns.type = 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (strcmp(positional[0], types[i].word) == 0) {
            cli->dns.type = types[i].type;
        }
    }
    if (cli->dns.type == 0) {
        return stsm_refuse(why, why_len, "dns: TYPE '%s' is not one of mx, txt, a, aaaa", positional[0]);
    }
    cli->dns.name = positional[1];
    struct stsm_dns_query check = { .type = cli->dns.type };
    uint8_t scratch[STSM_HOSTNAME_MAX + 40];
    size_t len;
    if (strlen(cli->dns.name) > STSM_HOSTNAME_MAX) {
        return stsm_refuse(why, why_len, "dns: NAME is longer than 253 characters: '%.40s...'",
                    cli->dns.name);
    }
    strcpy(check.name, cli->dns.name);
    if (stsm_dns_encode_query(&check, scratch, sizeof scratch, &len) != STSM_OK) {
        return stsm_refuse(why, why_len,
                    "dns: NAME '%s' is not a valid DNS name (labels of 1 to 63 characters, "
                    "no spaces or backslashes)", cli->dns.name);
    }
    return STSM_OK;
}

static stsm_status_t parse_tls_probe(int argc, char *const argv[], struct stsm_cli *cli,
                                     char *why, size_t why_len)
{
    static const struct option options[] = {
        { "settings", required_argument, NULL, OPT_SETTINGS },
        { "starttls", no_argument, NULL, OPT_STARTTLS },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "repeat", required_argument, NULL, OPT_REPEAT },
        { NULL, 0, NULL, 0 },
    };
    struct stsm_cli_tls_probe_args *args = &cli->tls_probe;
    const char *value = NULL;
    struct scan s;
    int opt;

    args->timeout_ms = 30000u;
    args->repeat = 1;
    scan_begin(&s, argc, argv, "tls-probe", options, 2, "HOST PORT");
    while ((opt = scan_next(&s, &value, why, why_len)) > SCAN_END) {
        unsigned long n;
        if (opt == OPT_SETTINGS) {
            args->settings = value;
        } else if (opt == OPT_STARTTLS) {
            args->starttls = true;
        } else if (opt == OPT_REPEAT) {
            if (!parse_uint(value, 1, 16, &n)) {
                return stsm_refuse(why, why_len, "tls-probe: --repeat '%s' is not a number from 1 to 16", value);
            }
            args->repeat = (uint32_t)n;
        } else if (!parse_timeout("tls-probe", value, &args->timeout_ms, why, why_len)) {
            return STSM_ERR_ARGUMENT;
        }
    }
    if (opt == SCAN_ERROR) {
        return STSM_ERR_ARGUMENT;
    }
    if (args->settings == NULL) {
        return stsm_refuse(why, why_len, "tls-probe: --settings FILE is required");
    }
    if (s.npositional < 2) {
        return stsm_refuse(why, why_len, "tls-probe: HOST and PORT are required");
    }
    args->host = s.positional[0];
    if (strlen(args->host) > STSM_HOSTNAME_MAX) {
        return stsm_refuse(why, why_len, "tls-probe: HOST is longer than 253 characters: '%.40s...'",
                    args->host);
    }
    if (!parse_port("tls-probe", s.positional[1], &args->port, why, why_len)) {
        return STSM_ERR_ARGUMENT;
    }
    return STSM_OK;
}

/* Where `send` and `enqueue` keep the options they share. */
struct message_fields {
    const char **settings, **subject, **body_file;
    const char **to;
    size_t *to_count;
};

/* Takes one of the shared options: true when `opt` was one (false with `why` set when
 * its value is refused, with `why` empty when `opt` is not shared). */
static bool message_option(const char *command, int opt, const char *value, const struct message_fields *f,
                           char *why, size_t why_len)
{
    why[0] = '\0';
    switch (opt) {
    case OPT_SETTINGS:
        *f->settings = value;
        return true;
    case OPT_SUBJECT:
        *f->subject = value;
        return true;
    case OPT_BODY_FILE:
        *f->body_file = value;
        return true;
    case OPT_TO:
        if (*f->to_count == STSM_SMTP_MAX_RCPT) {
            stsm_refuse(why, why_len, "%s: at most %u --to recipients (STSM_SMTP_MAX_RCPT)",
                        command, (unsigned)STSM_SMTP_MAX_RCPT);
            return false;
        }
        f->to[(*f->to_count)++] = value;
        return true;
    default:
        return false;
    }
}

static stsm_status_t parse_send(int argc, char *const argv[], struct stsm_cli *cli, char *why,
                                size_t why_len)
{
    static const struct option options[] = {
        { "settings", required_argument, NULL, OPT_SETTINGS },
        { "to", required_argument, NULL, OPT_TO },
        { "subject", required_argument, NULL, OPT_SUBJECT },
        { "body-file", required_argument, NULL, OPT_BODY_FILE },
        { "repeat", required_argument, NULL, OPT_REPEAT },
        { NULL, 0, NULL, 0 },
    };
    struct stsm_cli_send_args *args = &cli->send;
    const struct message_fields fields = { &args->settings, &args->subject, &args->body_file, args->to,
                                           &args->to_count };
    const char *value = NULL;
    struct scan s;
    int opt;

    scan_begin(&s, argc, argv, "send", options, 0, NULL);
    while ((opt = scan_next(&s, &value, why, why_len)) > SCAN_END) {
        unsigned long n;
        if (message_option("send", opt, value, &fields, why, why_len)) {
            continue;
        }
        if (why[0] != '\0') {
            return STSM_ERR_ARGUMENT;
        }
        if (!parse_uint(value, 1, STSM_CLI_MAX_REPEAT, &n)) {   /* --repeat */
            return stsm_refuse(why, why_len, "send: --repeat '%s' is not a number from 1 to %u",
                               value, (unsigned)STSM_CLI_MAX_REPEAT);
        }
        args->repeat = (uint32_t)n;
    }
    if (opt == SCAN_ERROR) {
        return STSM_ERR_ARGUMENT;
    }
    if (args->settings == NULL) {
        return stsm_refuse(why, why_len, "send: --settings FILE is required");
    }
    return STSM_OK;
}

static stsm_status_t parse_check(int argc, char *const argv[], struct stsm_cli *cli, char *why,
                                 size_t why_len)
{
    static const struct option options[] = {
        { "settings", required_argument, NULL, OPT_SETTINGS },
        { "strict-cname", required_argument, NULL, OPT_STRICT_CNAME },
        { NULL, 0, NULL, 0 },
    };
    struct stsm_cli_check_args *args = &cli->check;
    const char *value = NULL;
    struct scan s;
    int opt;

    scan_begin(&s, argc, argv, "check", options, 1, "DOMAIN");
    while ((opt = scan_next(&s, &value, why, why_len)) > SCAN_END) {
        if (opt == OPT_SETTINGS) {
            args->settings = value;
            continue;
        }
        for (const char *p = value; *p != '\0';) {
            size_t n = strcspn(p, ",");
            unsigned bit = stsm_settings_strict_scope(p, n);
            if (bit == 0) {
                return stsm_refuse(why, why_len,
                                   "check: --strict-cname '%.*s' is not mx, policy_host or txt",
                                   (int)n, p);
            }
            args->strict_cname |= bit;
            p += n + (p[n] == ',');
        }
    }
    if (opt == SCAN_ERROR) {
        return STSM_ERR_ARGUMENT;
    }
    args->domain = s.positional[0];
    if (args->settings == NULL) {
        return stsm_refuse(why, why_len, "check: --settings FILE is required");
    }
    if (args->domain == NULL || strlen(args->domain) > 200) {
        return stsm_refuse(why, why_len, "check: DOMAIN is required (at most 200 characters)");
    }
    return STSM_OK;
}

static stsm_status_t parse_enqueue(int argc, char *const argv[], struct stsm_cli *cli, char *why,
                                   size_t why_len)
{
    static const struct option options[] = {
        { "settings", required_argument, NULL, OPT_SETTINGS },
        { "key", required_argument, NULL, OPT_KEY },
        { "severity", required_argument, NULL, OPT_SEVERITY },
        { "to", required_argument, NULL, OPT_TO },
        { "subject", required_argument, NULL, OPT_SUBJECT },
        { "body-file", required_argument, NULL, OPT_BODY_FILE },
        { NULL, 0, NULL, 0 },
    };
    static const char *const severities[] = { "info", "warning", "error", "critical" };
    struct stsm_cli_enqueue_args *args = &cli->enqueue;
    const struct message_fields fields = { &args->settings, &args->subject, &args->body_file, args->to,
                                           &args->to_count };
    const char *value = NULL;
    struct scan s;
    int opt;

    scan_begin(&s, argc, argv, "enqueue", options, 0, NULL);
    while ((opt = scan_next(&s, &value, why, why_len)) > SCAN_END) {
        if (message_option("enqueue", opt, value, &fields, why, why_len)) {
            continue;
        }
        if (why[0] != '\0') {
            return STSM_ERR_ARGUMENT;
        }
        switch (opt) {
        case OPT_KEY: {
            size_t n = strlen(value);
            bool printable = n >= 1 && n <= STSM_CLI_KEY_MAX;
            for (const char *c = value; printable && *c != '\0'; c++) {
                printable = *c >= 0x20 && *c <= 0x7e;
            }
            if (!printable) {
                return stsm_refuse(why, why_len, "enqueue: --key '%.80s' is not 1 to %u printable ASCII characters",
                                   value, (unsigned)STSM_CLI_KEY_MAX);
            }
            args->key = value;
            break;
        }
        default:   /* --severity */
            args->severity = NULL;
            for (size_t i = 0; i < sizeof severities / sizeof severities[0]; i++) {
                if (strcmp(value, severities[i]) == 0) {
                    args->severity = severities[i];
                }
            }
            if (args->severity == NULL) {
                return stsm_refuse(why, why_len, "enqueue: --severity '%.40s' is not info, warning, error or critical",
                                   value);
            }
            break;
        }
    }
    if (opt == SCAN_ERROR) {
        return STSM_ERR_ARGUMENT;
    }
    if (args->settings == NULL) {
        return stsm_refuse(why, why_len, "enqueue: --settings FILE is required");
    }
    if (args->subject == NULL) {
        return stsm_refuse(why, why_len, "enqueue: --subject TEXT is required");
    }
    return STSM_OK;
}

/* `queue ACTION`, `run` and `settings check`: --settings FILE, required (none at all when
 * `settings` is NULL), and `want` (0 or 1) positionals named `names`. */
static stsm_status_t parse_settings_only(int argc, char *const argv[], const char *command, const char **settings,
                                         int want, const char *names, const char **positional, char *why,
                                         size_t why_len)
{
    static const struct option with_settings[] = {
        { "settings", required_argument, NULL, OPT_SETTINGS },
        { NULL, 0, NULL, 0 },
    };
    static const struct option none[] = { { NULL, 0, NULL, 0 } };
    const char *value = NULL;
    struct scan s;
    int opt;

    scan_begin(&s, argc, argv, command, settings != NULL ? with_settings : none, want, names);
    while ((opt = scan_next(&s, &value, why, why_len)) > SCAN_END) {
        *settings = value;
    }
    if (opt == SCAN_ERROR) {
        return STSM_ERR_ARGUMENT;
    }
    if (settings != NULL && *settings == NULL) {
        return stsm_refuse(why, why_len, "%s: --settings FILE is required", command);
    }
    if (s.npositional < want) {
        return stsm_refuse(why, why_len, "%s: %s is required", command, names);
    }
    if (want > 0) {
        *positional = s.positional[0];
    }
    return STSM_OK;
}

static stsm_status_t parse_queue(int argc, char *const argv[], struct stsm_cli *cli, char *why,
                                 size_t why_len)
{
    struct stsm_cli_queue_args *args = &cli->queue;
    const char *id = NULL;
    if (argc < 3 || (strcmp(argv[2], "list") != 0 && strcmp(argv[2], "flush") != 0 &&
                     strcmp(argv[2], "drop") != 0)) {
        return stsm_refuse(why, why_len, "queue: expected 'list', 'flush' or 'drop ID'");
    }
    bool drop = strcmp(argv[2], "drop") == 0;
    args->action = drop ? STSM_QUEUE_DROP : argv[2][0] == 'l' ? STSM_QUEUE_LIST : STSM_QUEUE_FLUSH;
    char command[16];
    snprintf(command, sizeof command, "queue %s", argv[2]);
    /* The scan starts after the action word, which it takes for the command word. */
    stsm_status_t st = parse_settings_only(argc - 1, argv + 1, command, &args->settings, drop ? 1 : 0,
                                           drop ? "ID" : NULL, &id, why, why_len);
    if (st != STSM_OK || !drop) {
        return st;
    }
    unsigned long n;
    if (!parse_uint(id, 1, UINT32_MAX, &n)) {
        return stsm_refuse(why, why_len, "queue drop: ID '%.40s' is not a message id from 1 to %lu", id,
                           (unsigned long)UINT32_MAX);
    }
    args->id = (uint32_t)n;
    return STSM_OK;
}

stsm_status_t stsm_cli_parse(int argc, char *const argv[], struct stsm_cli *cli, char *why,
                             size_t why_len)
{
    memset(cli, 0, sizeof *cli);
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        cli->command = STSM_CLI_HELP;
        return argc < 2 ? stsm_refuse(why, why_len, "no command given") : STSM_OK;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        cli->command = STSM_CLI_VERSION;
        return STSM_OK;
    }
    if (strcmp(argv[1], "probe") == 0) {
        cli->command = STSM_CLI_PROBE;
        return parse_probe(argc, argv, cli, why, why_len);
    }
    if (strcmp(argv[1], "policy") == 0 || strcmp(argv[1], "txt") == 0) {
        bool policy = argv[1][0] == 'p';
        bool match = policy && argc > 2 && strcmp(argv[2], "match") == 0;
        int want = match ? 5 : 4;
        if (argc < 3 || (strcmp(argv[2], "parse") != 0 && !match)) {
            return stsm_refuse(why, why_len, "%s: expected %s", argv[1],
                        policy ? "'parse FILE' or 'match FILE HOST'" : "'parse RECORD'");
        }
        if (argc != want) {
            return stsm_refuse(why, why_len, "%s %s: expected %s", argv[1], argv[2],
                        match ? "FILE HOST" : policy ? "FILE" : "RECORD (quoted)");
        }
        cli->command = match ? STSM_CLI_POLICY_MATCH : policy ? STSM_CLI_POLICY_PARSE : STSM_CLI_TXT_PARSE;
        cli->sts.file = argv[3];
        cli->sts.host = match ? argv[4] : NULL;
        return STSM_OK;
    }
    if (strcmp(argv[1], "check") == 0) {
        cli->command = STSM_CLI_CHECK;
        return parse_check(argc, argv, cli, why, why_len);
    }
    if (strcmp(argv[1], "send") == 0) {
        cli->command = STSM_CLI_SEND;
        return parse_send(argc, argv, cli, why, why_len);
    }
    if (strcmp(argv[1], "tls-probe") == 0) {
        cli->command = STSM_CLI_TLS_PROBE;
        return parse_tls_probe(argc, argv, cli, why, why_len);
    }
    if (strcmp(argv[1], "dns") == 0) {
        cli->command = STSM_CLI_DNS;
        return parse_dns(argc, argv, cli, why, why_len);
    }
    if (strcmp(argv[1], "enqueue") == 0) {
        cli->command = STSM_CLI_ENQUEUE;
        return parse_enqueue(argc, argv, cli, why, why_len);
    }
    if (strcmp(argv[1], "queue") == 0) {
        cli->command = STSM_CLI_QUEUE;
        return parse_queue(argc, argv, cli, why, why_len);
    }
    if (strcmp(argv[1], "run") == 0) {
        cli->command = STSM_CLI_RUN;
        return parse_settings_only(argc, argv, "run", &cli->run.settings, 0, NULL, NULL, why, why_len);
    }
    if (strcmp(argv[1], "settings") == 0) {
        cli->command = STSM_CLI_SETTINGS_CHECK;
        if (argc < 3 || strcmp(argv[2], "check") != 0) {
            return stsm_refuse(why, why_len, "settings: expected 'check FILE'");
        }
        return parse_settings_only(argc - 1, argv + 1, "settings check", NULL, 1, "FILE",
                                   &cli->settings_check.file, why, why_len);
    }
    if (strcmp(argv[1], "decode-log") == 0) {
        cli->command = STSM_CLI_DECODE_LOG;
        if (argc < 4 || argc > 5 || strcmp(argv[2], "--elf") != 0) {
            return stsm_refuse(why, why_len, "decode-log: expected '--elf FIRMWARE.elf [FILE]'");
        }
        cli->decode_log.elf = argv[3];
        cli->decode_log.log = argc == 5 ? argv[4] : NULL;
        return STSM_OK;
    }
    return stsm_refuse(why, why_len, "unknown command '%s'", argv[1]);
}
