#include "stsm_cli.h"

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
    "       stsmail tls-probe --settings FILE [--starttls] [--timeout SECONDS] HOST PORT\n"
    "       stsmail send --settings FILE [--to ADDR]... [--subject TEXT] [--body-file FILE|-]\n"
    "                    [--repeat N]\n"
    "       stsmail policy parse FILE | policy match FILE HOST | txt parse RECORD\n"
    "       stsmail check --settings FILE [--strict-cname mx,policy_host,txt] DOMAIN\n"
    "       stsmail version\n"
    "       stsmail help\n"
    "\n"
    "probe   resolve HOST, connect to PORT and print the first line the server sends.\n"
    "dns     look NAME up and print the answer as one JSON object; for mx, the MX hosts\n"
    "        with their addresses and whether they come through a CNAME.\n"
    "tls-probe  open a TLS session to HOST:PORT (after SMTP STARTTLS with --starttls),\n"
    "        verified against the settings' trust store, and report version, suite,\n"
    "        peer chain, verdict and Mbed TLS memory peak. Network from the settings.\n"
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
    "\n"
    "NET-OPTIONS: lwIP runs on an existing TAP interface (host simulation):\n"
    "  --tap IF             the TAP interface (required)\n"
    "  --ip A.B.C.D/N       static address (default: DHCP)\n"
    "  --gw A.B.C.D         gateway, with --ip\n"
    "  --dns A.B.C.D        DNS server, up to twice; replaces those DHCP provides\n"
    "  --timeout SECONDS    time limit for each step (default 10)\n";

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
 * Parses argv[2..] of a networked command: the NET-OPTIONS into `net`, the rest into
 * `positional` (exactly `want` of them, named by `names` in messages).
 */
static stsm_status_t parse_net_command(int argc, char *const argv[], const char *command,
                                       struct stsm_cli_net *net, const char *positional[],
                                       int want, const char *names, char *why, size_t why_len)
{
    const char *ip = NULL, *gw = NULL;
    int npositional = 0;

    memset(net, 0, sizeof *net);
    net->timeout_ms = DEFAULT_TIMEOUT_MS;

    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || arg[1] == '\0') {
            if (npositional == want) {
                return stsm_refuse(why, why_len, "%s: unexpected argument '%s' (after %s)", command, arg,
                            names);
            }
            positional[npositional++] = arg;
            continue;
        }
        if (strcmp(arg, "--tap") != 0 && strcmp(arg, "--ip") != 0 && strcmp(arg, "--gw") != 0 &&
            strcmp(arg, "--dns") != 0 && strcmp(arg, "--timeout") != 0) {
            return stsm_refuse(why, why_len, "%s: unknown option '%s'", command, arg);
        }
        if (i + 1 >= argc) {
            return stsm_refuse(why, why_len, "%s: option '%s' needs a value", command, arg);
        }
        const char *value = argv[++i];
        if (strcmp(arg, "--tap") == 0) {
            net->tap = value;
        } else if (strcmp(arg, "--ip") == 0) {
            ip = value;
        } else if (strcmp(arg, "--gw") == 0) {
            gw = value;
        } else if (strcmp(arg, "--dns") == 0) {
            if (net->dns_count == 2) {
                return stsm_refuse(why, why_len, "%s: --dns may be given at most twice", command);
            }
            if (!parse_ipv4(value, &net->dns[net->dns_count], NULL)) {
                return stsm_refuse(why, why_len, "%s: --dns '%s' is not an IPv4 address", command, value);
            }
            net->dns_count++;
        } else {
            unsigned long seconds;
            if (!parse_uint(value, 1, MAX_TIMEOUT_S, &seconds)) {
                return stsm_refuse(why, why_len,
                            "%s: --timeout '%s' is not a whole number of seconds from 1 to 3600",
                            command, value);
            }
            net->timeout_ms = (uint32_t)seconds * 1000u;
        }
    }

    if (net->tap == NULL || net->tap[0] == '\0') {
        return stsm_refuse(why, why_len, "%s: --tap IF is required", command);
    }
    if (npositional < want) {
        return stsm_refuse(why, why_len, "%s: %s %s required", command, names, want > 1 ? "are" : "is");
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
    unsigned long port;
    if (!parse_uint(positional[1], 1, 65535, &port)) {
        return stsm_refuse(why, why_len, "probe: PORT '%s' is not a number from 1 to 65535",
                    positional[1]);
    }
    cli->probe.port = (uint16_t)port;
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
    struct stsm_cli_tls_probe_args *args = &cli->tls_probe;
    const char *positional[2];
    int npositional = 0;

    args->timeout_ms = 30000u;
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--starttls") == 0) {
            args->starttls = true;
        } else if (strcmp(arg, "--settings") == 0 || strcmp(arg, "--timeout") == 0) {
            if (i + 1 >= argc) {
                return stsm_refuse(why, why_len, "tls-probe: option '%s' needs a value", arg);
            }
            const char *value = argv[++i];
            unsigned long seconds;
            if (arg[2] == 's') {
                args->settings = value;
            } else if (!parse_uint(value, 1, MAX_TIMEOUT_S, &seconds)) {
                return stsm_refuse(why, why_len,
                            "tls-probe: --timeout '%s' is not a whole number of seconds from 1 to 3600",
                            value);
            } else {
                args->timeout_ms = (uint32_t)seconds * 1000u;
            }
        } else if (arg[0] == '-' && arg[1] != '\0') {
            return stsm_refuse(why, why_len, "tls-probe: unknown option '%s'", arg);
        } else if (npositional == 2) {
            return stsm_refuse(why, why_len, "tls-probe: unexpected argument '%s' (after HOST PORT)", arg);
        } else {
            positional[npositional++] = arg;
        }
    }
    if (args->settings == NULL) {
        return stsm_refuse(why, why_len, "tls-probe: --settings FILE is required");
    }
    if (npositional < 2) {
        return stsm_refuse(why, why_len, "tls-probe: HOST and PORT are required");
    }
    args->host = positional[0];
    if (strlen(args->host) > STSM_HOSTNAME_MAX) {
        return stsm_refuse(why, why_len, "tls-probe: HOST is longer than 253 characters: '%.40s...'",
                    args->host);
    }
    unsigned long port;
    if (!parse_uint(positional[1], 1, 65535, &port)) {
        return stsm_refuse(why, why_len, "tls-probe: PORT '%s' is not a number from 1 to 65535",
                    positional[1]);
    }
    args->port = (uint16_t)port;
    return STSM_OK;
}

static stsm_status_t parse_send(int argc, char *const argv[], struct stsm_cli *cli, char *why,
                                size_t why_len)
{
    struct stsm_cli_send_args *args = &cli->send;
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--settings") != 0 && strcmp(arg, "--to") != 0 &&
            strcmp(arg, "--subject") != 0 && strcmp(arg, "--body-file") != 0 &&
            strcmp(arg, "--repeat") != 0) {
            return stsm_refuse(why, why_len, "send: unknown %s '%s'", arg[0] == '-' ? "option" : "argument",
                        arg);
        }
        if (i + 1 >= argc) {
            return stsm_refuse(why, why_len, "send: option '%s' needs a value", arg);
        }
        const char *value = argv[++i];
        if (strcmp(arg, "--settings") == 0) {
            args->settings = value;
        } else if (strcmp(arg, "--subject") == 0) {
            args->subject = value;
        } else if (strcmp(arg, "--body-file") == 0) {
            args->body_file = value;
        } else if (strcmp(arg, "--repeat") == 0) {
            unsigned long n;
            if (!parse_uint(value, 1, STSM_CLI_MAX_REPEAT, &n)) {
                return stsm_refuse(why, why_len, "send: --repeat '%s' is not a number from 1 to %u", value,
                                   (unsigned)STSM_CLI_MAX_REPEAT);
            }
            args->repeat = (uint32_t)n;
        } else if (args->to_count == STSM_CLI_MAX_TO) {
            return stsm_refuse(why, why_len, "send: at most %u --to recipients", (unsigned)STSM_CLI_MAX_TO);
        } else {
            args->to[args->to_count++] = value;
        }
    }
    if (args->settings == NULL) {
        return stsm_refuse(why, why_len, "send: --settings FILE is required");
    }
    return STSM_OK;
}

static stsm_status_t parse_check(int argc, char *const argv[], struct stsm_cli *cli, char *why,
                                 size_t why_len)
{
    struct stsm_cli_check_args *args = &cli->check;
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--settings") == 0 || strcmp(arg, "--strict-cname") == 0) {
            if (i + 1 >= argc) {
                return stsm_refuse(why, why_len, "check: option '%s' needs a value", arg);
            }
            const char *value = argv[++i];
            if (arg[2] == 's' && arg[3] == 'e') {
                args->settings = value;
                continue;
            }
            for (const char *p = value; *p != '\0';) {
                size_t n = strcspn(p, ",");
                unsigned bit = stsm_settings_strict_scope(p, n);
                if (bit == 0) {
                    return stsm_refuse(why, why_len, "check: --strict-cname '%.*s' is not mx, policy_host or txt",
                                (int)n, p);
                }
                args->strict_cname |= bit;
                p += n + (p[n] == ',');
            }
        } else if (arg[0] == '-') {
            return stsm_refuse(why, why_len, "check: unknown option '%s'", arg);
        } else if (args->domain != NULL) {
            return stsm_refuse(why, why_len, "check: unexpected argument '%s' (after DOMAIN)", arg);
        } else {
            args->domain = arg;
        }
    }
    if (args->settings == NULL) {
        return stsm_refuse(why, why_len, "check: --settings FILE is required");
    }
    if (args->domain == NULL || strlen(args->domain) > 200) {
        return stsm_refuse(why, why_len, "check: DOMAIN is required (at most 200 characters)");
    }
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
    return stsm_refuse(why, why_len, "unknown command '%s'", argv[1]);
}
