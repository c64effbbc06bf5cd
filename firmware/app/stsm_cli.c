#include "stsm_cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "stsm_config.h"

#define PROBE_DEFAULT_TIMEOUT_MS 10000u
#define PROBE_MAX_TIMEOUT_S      3600u

const char stsm_cli_usage[] =
    "usage: stsmail probe --tap IF [--ip A.B.C.D/N [--gw A.B.C.D] [--dns A.B.C.D]]\n"
    "                     [--timeout SECONDS] HOST PORT\n"
    "       stsmail version\n"
    "       stsmail help\n"
    "\n"
    "probe   bring up lwIP on the TAP interface IF (DHCP unless --ip is given), resolve\n"
    "        HOST, connect to PORT and print the first line the server sends.\n";

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

/* Parses "A.B.C.D"; with prefix_len non-NULL, requires "A.B.C.D/N" with N in 1..32. */
static bool parse_ipv4(const char *text, struct stsm_cli_ipv4 *out, uint8_t *prefix_len)
{
    char buf[sizeof "255.255.255.255/32"];
    size_t len = strlen(text);
    if (len >= sizeof buf) {
        return false;
    }
    memcpy(buf, text, len + 1);

    char *slash = strchr(buf, '/');
    if ((slash != NULL) != (prefix_len != NULL)) {
        return false;
    }
    if (slash != NULL) {
        unsigned long n;
        *slash = '\0';
        if (!parse_uint(slash + 1, 1, 32, &n)) {
            return false;
        }
        *prefix_len = (uint8_t)n;
    }

    char *part = buf;
    for (int i = 0; i < 4; i++) {
        char *dot = strchr(part, '.');
        if ((dot == NULL) != (i == 3)) {
            return false;
        }
        if (dot != NULL) {
            *dot = '\0';
        }
        unsigned long octet;
        if (strlen(part) > 3 || !parse_uint(part, 0, 255, &octet)) {
            return false;
        }
        out->octet[i] = (uint8_t)octet;
        part = dot + 1;
    }
    return true;
}

__attribute__((format(printf, 3, 4)))
static stsm_status_t fail(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
    return STSM_ERR_ARGUMENT;
}

static stsm_status_t parse_probe(int argc, char *const argv[], struct stsm_cli_probe_args *args,
                                 char *why, size_t why_len)
{
    const char *ip = NULL, *gw = NULL, *dns = NULL;
    const char *positional[2];
    int npositional = 0;

    memset(args, 0, sizeof *args);
    args->timeout_ms = PROBE_DEFAULT_TIMEOUT_MS;

    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || arg[1] == '\0') {
            if (npositional == 2) {
                return fail(why, why_len, "probe: unexpected argument '%s' (after HOST PORT)", arg);
            }
            positional[npositional++] = arg;
            continue;
        }
        const char **slot = NULL;
        const char *timeout = NULL;
        if (strcmp(arg, "--tap") == 0) {
            slot = &args->tap;
        } else if (strcmp(arg, "--ip") == 0) {
            slot = &ip;
        } else if (strcmp(arg, "--gw") == 0) {
            slot = &gw;
        } else if (strcmp(arg, "--dns") == 0) {
            slot = &dns;
        } else if (strcmp(arg, "--timeout") == 0) {
            slot = &timeout;
        } else {
            return fail(why, why_len, "probe: unknown option '%s'", arg);
        }
        if (i + 1 >= argc) {
            return fail(why, why_len, "probe: option '%s' needs a value", arg);
        }
        *slot = argv[++i];
        if (slot == &timeout) {
            unsigned long seconds;
            if (!parse_uint(timeout, 1, PROBE_MAX_TIMEOUT_S, &seconds)) {
                return fail(why, why_len,
                            "probe: --timeout '%s' is not a whole number of seconds from 1 to 3600",
                            timeout);
            }
            args->timeout_ms = (uint32_t)seconds * 1000u;
        }
    }

    if (args->tap == NULL || args->tap[0] == '\0') {
        return fail(why, why_len, "probe: --tap IF is required");
    }
    if (npositional < 2) {
        return fail(why, why_len, "probe: HOST and PORT are required");
    }
    args->host = positional[0];
    if (strlen(args->host) > STSM_HOSTNAME_MAX) {
        return fail(why, why_len, "probe: HOST is longer than 253 characters: '%.40s...'", args->host);
    }
    unsigned long port;
    if (!parse_uint(positional[1], 1, 65535, &port)) {
        return fail(why, why_len, "probe: PORT '%s' is not a number from 1 to 65535", positional[1]);
    }
    args->port = (uint16_t)port;

    args->use_dhcp = ip == NULL;
    if (ip == NULL) {
        if (gw != NULL || dns != NULL) {
            return fail(why, why_len, "probe: %s needs --ip (with DHCP the server provides it)",
                        gw != NULL ? "--gw" : "--dns");
        }
        return STSM_OK;
    }
    if (!parse_ipv4(ip, &args->address, &args->prefix_len)) {
        return fail(why, why_len, "probe: --ip '%s' is not an IPv4 address with a prefix, like 192.0.2.11/24", ip);
    }
    if (gw != NULL && !parse_ipv4(gw, &args->gateway, NULL)) {
        return fail(why, why_len, "probe: --gw '%s' is not an IPv4 address", gw);
    }
    if (dns != NULL && !parse_ipv4(dns, &args->dns, NULL)) {
        return fail(why, why_len, "probe: --dns '%s' is not an IPv4 address", dns);
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
        return argc < 2 ? fail(why, why_len, "no command given") : STSM_OK;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        cli->command = STSM_CLI_VERSION;
        return STSM_OK;
    }
    if (strcmp(argv[1], "probe") == 0) {
        cli->command = STSM_CLI_PROBE;
        return parse_probe(argc, argv, &cli->probe, why, why_len);
    }
    return fail(why, why_len, "unknown command '%s'", argv[1]);
}
