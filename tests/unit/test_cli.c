/* Table-driven tests of the host command-line parser. */
#include "stsm_check.h"
#include "stsm_cli.h"
#include "stsm_dns.h"
#include "stsm_settings.h"

struct cli_case {
    const char *intent;
    const char *argv[32];
    stsm_status_t status;
    const char *why_contains;   /* for failures: the message must name the culprit */
};

static const struct cli_case cases[] = {
    { "no command", { "stsmail" }, STSM_ERR_ARGUMENT, "no command" },
    { "unknown command", { "stsmail", "deliver" }, STSM_ERR_ARGUMENT, "'deliver'" },
    { "send needs settings", { "stsmail", "send", "--to", "a@b.test" }, STSM_ERR_ARGUMENT, "--settings FILE" },
    { "send with settings", { "stsmail", "send", "--settings", "s.json", "--to", "a@b.test", "--subject", "x" },
      STSM_OK, NULL },
    { "send unknown option", { "stsmail", "send", "--settings", "s.json", "--cc", "a@b.test" },
      STSM_ERR_ARGUMENT, "unknown option '--cc'" },
    { "send stray argument", { "stsmail", "send", "--settings", "s.json", "a@b.test" },
      STSM_ERR_ARGUMENT, "unknown argument 'a@b.test'" },
    { "send option without value", { "stsmail", "send", "--settings" }, STSM_ERR_ARGUMENT, "needs a value" },
    { "tls-probe needs settings", { "stsmail", "tls-probe", "h.test", "443" }, STSM_ERR_ARGUMENT, "--settings FILE" },
    { "tls-probe bad port", { "stsmail", "tls-probe", "--settings", "s", "h.test", "x" }, STSM_ERR_ARGUMENT, "PORT 'x'" },
    { "help", { "stsmail", "help" }, STSM_OK, NULL },
    { "version", { "stsmail", "--version" }, STSM_OK, NULL },
    { "probe minimal DHCP", { "stsmail", "probe", "--tap", "tap0", "mx.test", "25" }, STSM_OK, NULL },
    { "probe without tap", { "stsmail", "probe", "mx.test", "25" }, STSM_ERR_ARGUMENT, "--tap" },
    { "probe without port", { "stsmail", "probe", "--tap", "t", "mx.test" }, STSM_ERR_ARGUMENT, "PORT" },
    { "port zero", { "stsmail", "probe", "--tap", "t", "mx.test", "0" }, STSM_ERR_ARGUMENT, "'0'" },
    { "port too big", { "stsmail", "probe", "--tap", "t", "mx.test", "65536" }, STSM_ERR_ARGUMENT, "'65536'" },
    { "port not a number", { "stsmail", "probe", "--tap", "t", "mx.test", "2x5" }, STSM_ERR_ARGUMENT, "'2x5'" },
    { "port with sign", { "stsmail", "probe", "--tap", "t", "mx.test", "+25" }, STSM_ERR_ARGUMENT, "'+25'" },
    { "extra argument", { "stsmail", "probe", "--tap", "t", "mx.test", "25", "x" }, STSM_ERR_ARGUMENT, "'x'" },
    { "unknown option", { "stsmail", "probe", "--tap", "t", "--fast", "mx.test", "25" }, STSM_ERR_ARGUMENT, "'--fast'" },
    { "option without value", { "stsmail", "probe", "mx.test", "25", "--tap" }, STSM_ERR_ARGUMENT, "'--tap' needs a value" },
    { "static address", { "stsmail", "probe", "--tap", "t", "--ip", "192.0.2.11/24", "--gw", "192.0.2.1",
                          "--dns", "192.0.2.1", "mx.test", "25" }, STSM_OK, NULL },
    { "address without prefix", { "stsmail", "probe", "--tap", "t", "--ip", "192.0.2.11", "mx.test", "25" },
      STSM_ERR_ARGUMENT, "'192.0.2.11'" },
    { "octet out of range", { "stsmail", "probe", "--tap", "t", "--ip", "192.0.2.256/24", "mx.test", "25" },
      STSM_ERR_ARGUMENT, "'192.0.2.256/24'" },
    { "prefix out of range", { "stsmail", "probe", "--tap", "t", "--ip", "192.0.2.1/33", "mx.test", "25" },
      STSM_ERR_ARGUMENT, "'192.0.2.1/33'" },
    { "three octets", { "stsmail", "probe", "--tap", "t", "--ip", "192.0.2/24", "mx.test", "25" },
      STSM_ERR_ARGUMENT, "--ip" },
    { "five octets", { "stsmail", "probe", "--tap", "t", "--ip", "1.2.3.4.5/24", "mx.test", "25" },
      STSM_ERR_ARGUMENT, "--ip" },
    { "empty octet", { "stsmail", "probe", "--tap", "t", "--ip", "1..3.4/24", "mx.test", "25" },
      STSM_ERR_ARGUMENT, "--ip" },
    { "gateway with DHCP", { "stsmail", "probe", "--tap", "t", "--gw", "192.0.2.1", "mx.test", "25" },
      STSM_ERR_ARGUMENT, "--gw needs --ip" },
    { "dns server with DHCP overrides DHCP's", { "stsmail", "probe", "--tap", "t", "--dns", "192.0.2.1",
                                                 "mx.test", "25" }, STSM_OK, NULL },
    { "three dns servers", { "stsmail", "probe", "--tap", "t", "--dns", "192.0.2.1", "--dns", "192.0.2.2",
                             "--dns", "192.0.2.3", "mx.test", "25" }, STSM_ERR_ARGUMENT, "at most twice" },
    { "bad dns server", { "stsmail", "probe", "--tap", "t", "--dns", "192.0.2", "mx.test", "25" },
      STSM_ERR_ARGUMENT, "--dns '192.0.2'" },
    { "bad gateway", { "stsmail", "probe", "--tap", "t", "--ip", "192.0.2.11/24", "--gw", "gw", "mx.test", "25" },
      STSM_ERR_ARGUMENT, "--gw 'gw'" },
    { "dns mx", { "stsmail", "dns", "--tap", "t", "mx", "example.test" }, STSM_OK, NULL },
    { "dns txt", { "stsmail", "dns", "--tap", "t", "txt", "_mta-sts.example.test" }, STSM_OK, NULL },
    { "dns unknown type", { "stsmail", "dns", "--tap", "t", "srv", "example.test" }, STSM_ERR_ARGUMENT,
      "TYPE 'srv'" },
    { "dns type in capitals is not a type", { "stsmail", "dns", "--tap", "t", "MX", "example.test" },
      STSM_ERR_ARGUMENT, "TYPE 'MX'" },
    { "dns without name", { "stsmail", "dns", "--tap", "t", "mx" }, STSM_ERR_ARGUMENT, "TYPE and NAME" },
    { "dns empty label", { "stsmail", "dns", "--tap", "t", "a", "a..test" }, STSM_ERR_ARGUMENT,
      "NAME 'a..test'" },
    { "dns label too long", { "stsmail", "dns", "--tap", "t", "a",
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test" }, STSM_ERR_ARGUMENT,
      "not a valid DNS name" },
    { "dns without tap", { "stsmail", "dns", "a", "example.test" }, STSM_ERR_ARGUMENT, "--tap" },
    { "timeout zero", { "stsmail", "probe", "--tap", "t", "--timeout", "0", "mx.test", "25" },
      STSM_ERR_ARGUMENT, "--timeout '0'" },
    { "timeout too long", { "stsmail", "probe", "--tap", "t", "--timeout", "3601", "mx.test", "25" },
      STSM_ERR_ARGUMENT, "--timeout '3601'" },
    /* getopt_long forms and the errors it reports, worded by us */
    { "option=value form", { "stsmail", "send", "--settings=s.json", "--to=a@b.test" }, STSM_OK, NULL },
    { "abbreviated option is refused", { "stsmail", "send", "--set", "s.json" }, STSM_ERR_ARGUMENT, "unknown option '--set'" },
    { "abbreviation with value is refused", { "stsmail", "check", "--strict=mx", "--settings", "s", "d.test" }, STSM_ERR_ARGUMENT, "unknown option '--strict=mx'" },
    { "one dash is not an option", { "stsmail", "send", "-settings", "s.json" }, STSM_ERR_ARGUMENT, "unknown option '-settings'" },
    { "short option cluster", { "stsmail", "probe", "-xy", "--tap", "t", "mx.test", "25" }, STSM_ERR_ARGUMENT, "unknown option '-xy'" },
    { "parse after a cluster error starts afresh", { "stsmail", "probe", "--tap", "t", "mx.test", "25" }, STSM_OK, NULL },
    { "flag given a value", { "stsmail", "tls-probe", "--starttls=yes", "--settings", "s", "h.test", "25" }, STSM_ERR_ARGUMENT, "'--starttls' takes no value" },
    { "missing value at the end", { "stsmail", "send", "--settings", "s.json", "--to" }, STSM_ERR_ARGUMENT, "'--to' needs a value" },
    { "value that looks like an option", { "stsmail", "send", "--settings", "s.json", "--subject", "--to" }, STSM_OK, NULL },
    { "body from standard input", { "stsmail", "send", "--settings", "s.json", "--body-file", "-" }, STSM_OK, NULL },
    { "double dash ends the options", { "stsmail", "probe", "--tap", "t", "--", "mx.test", "25" }, STSM_OK, NULL },
    { "double dash then too many", { "stsmail", "send", "--settings", "s.json", "--", "--to" }, STSM_ERR_ARGUMENT, "unknown argument '--to'" },
    { "repeat zero", { "stsmail", "send", "--settings", "s.json", "--repeat", "0" }, STSM_ERR_ARGUMENT, "--repeat '0'" },
    { "repeat in exponent form", { "stsmail", "send", "--settings", "s.json", "--repeat", "1e3" }, STSM_ERR_ARGUMENT, "--repeat '1e3'" },
    { "repeat above the cap", { "stsmail", "send", "--settings", "s.json", "--repeat", "100001" }, STSM_ERR_ARGUMENT, "--repeat '100001'" },
    { "repeat at the cap", { "stsmail", "send", "--settings", "s.json", "--repeat", "100000" }, STSM_OK, NULL },
    { "nine recipients", { "stsmail", "send", "--settings", "s", "--to", "1", "--to", "2", "--to", "3", "--to", "4", "--to", "5", "--to", "6", "--to", "7", "--to", "8", "--to", "9" }, STSM_ERR_ARGUMENT, "at most 8 --to" },
    { "tls-probe timeout not a number", { "stsmail", "tls-probe", "--settings", "s", "--timeout", "x", "h.test", "25" }, STSM_ERR_ARGUMENT, "--timeout 'x'" },
    { "tls-probe three positionals", { "stsmail", "tls-probe", "--settings", "s", "h.test", "25", "x" }, STSM_ERR_ARGUMENT, "unexpected argument 'x'" },
    { "tls-probe option after positionals", { "stsmail", "tls-probe", "h.test", "25", "--settings", "s", "--starttls" }, STSM_OK, NULL },
    { "check with strict scopes", { "stsmail", "check", "--settings", "s", "--strict-cname", "mx,txt", "d.test" }, STSM_OK, NULL },
    { "check unknown scope", { "stsmail", "check", "--settings", "s", "--strict-cname", "mx,ns", "d.test" }, STSM_ERR_ARGUMENT, "'ns'" },
    { "check needs settings", { "stsmail", "check", "--strict-cname", "mx", "d.test" }, STSM_ERR_ARGUMENT, "--settings FILE" },
    { "check needs a domain", { "stsmail", "check", "--settings", "s" }, STSM_ERR_ARGUMENT, "DOMAIN is required" },
    { "check two domains", { "stsmail", "check", "--settings", "s", "a.test", "b.test" }, STSM_ERR_ARGUMENT, "unexpected argument 'b.test'" },
    { "check unknown option", { "stsmail", "check", "--settings", "s", "--strict-cnames", "mx", "d.test" }, STSM_ERR_ARGUMENT, "unknown option '--strict-cnames'" },
    { "net option of another command", { "stsmail", "send", "--settings", "s", "--tap", "t" }, STSM_ERR_ARGUMENT, "unknown option '--tap'" },
    /* enqueue */
    { "enqueue minimal", { "stsmail", "enqueue", "--settings", "s", "--subject", "x" }, STSM_OK, NULL },
    { "enqueue needs settings", { "stsmail", "enqueue", "--subject", "x" }, STSM_ERR_ARGUMENT, "enqueue: --settings FILE is required" },
    { "enqueue needs a subject", { "stsmail", "enqueue", "--settings", "s", "--body-file", "-" }, STSM_ERR_ARGUMENT, "enqueue: --subject TEXT is required" },
    { "enqueue every severity: critical", { "stsmail", "enqueue", "--settings", "s", "--subject", "x", "--severity", "critical" }, STSM_OK, NULL },
    { "enqueue every severity: info", { "stsmail", "enqueue", "--settings", "s", "--subject", "x", "--severity=info" }, STSM_OK, NULL },
    { "enqueue every severity: error", { "stsmail", "enqueue", "--settings", "s", "--subject", "x", "--severity", "error" }, STSM_OK, NULL },
    { "enqueue unknown severity names the allowed ones", { "stsmail", "enqueue", "--settings", "s", "--subject", "x", "--severity", "fatal" }, STSM_ERR_ARGUMENT, "--severity 'fatal' is not info, warning, error or critical" },
    { "enqueue severity in capitals", { "stsmail", "enqueue", "--settings", "s", "--subject", "x", "--severity", "WARNING" }, STSM_ERR_ARGUMENT, "--severity 'WARNING'" },
    { "enqueue empty severity", { "stsmail", "enqueue", "--settings", "s", "--subject", "x", "--severity=" }, STSM_ERR_ARGUMENT, "--severity ''" },
    { "enqueue key of 64", { "stsmail", "enqueue", "--settings", "s", "--subject", "x", "--key", "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" }, STSM_OK, NULL },
    { "enqueue key of 65", { "stsmail", "enqueue", "--settings", "s", "--subject", "x", "--key", "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" }, STSM_ERR_ARGUMENT, "is not 1 to 64 printable ASCII" },
    { "enqueue empty key", { "stsmail", "enqueue", "--settings", "s", "--subject", "x", "--key", "" }, STSM_ERR_ARGUMENT, "--key ''" },
    { "enqueue key with a line break", { "stsmail", "enqueue", "--settings", "s", "--subject", "x", "--key", "a\nb" }, STSM_ERR_ARGUMENT, "--key" },
    { "enqueue key not ASCII", { "stsmail", "enqueue", "--settings", "s", "--subject", "x", "--key", "caf\xc3\xa9" }, STSM_ERR_ARGUMENT, "--key" },
    { "enqueue eight recipients", { "stsmail", "enqueue", "--settings", "s", "--subject", "x", "--to", "1", "--to", "2", "--to", "3", "--to", "4", "--to", "5", "--to", "6", "--to", "7", "--to", "8" }, STSM_OK, NULL },
    { "enqueue nine recipients", { "stsmail", "enqueue", "--settings", "s", "--subject", "x", "--to", "1", "--to", "2", "--to", "3", "--to", "4", "--to", "5", "--to", "6", "--to", "7", "--to", "8", "--to", "9" }, STSM_ERR_ARGUMENT, "enqueue: at most 8 --to" },
    { "enqueue prefix refused", { "stsmail", "enqueue", "--settings", "s", "--subj", "x" }, STSM_ERR_ARGUMENT, "unknown option '--subj'" },
    { "enqueue prefix of severity refused", { "stsmail", "enqueue", "--settings", "s", "--subject", "x", "--sev", "info" }, STSM_ERR_ARGUMENT, "unknown option '--sev'" },
    { "enqueue stray argument", { "stsmail", "enqueue", "--settings", "s", "--subject", "x", "body" }, STSM_ERR_ARGUMENT, "unknown argument 'body'" },
    { "enqueue send's --repeat is not its option", { "stsmail", "enqueue", "--settings", "s", "--subject", "x", "--repeat", "2" }, STSM_ERR_ARGUMENT, "unknown option '--repeat'" },
    { "enqueue option without value", { "stsmail", "enqueue", "--settings", "s", "--subject" }, STSM_ERR_ARGUMENT, "'--subject' needs a value" },
    /* queue */
    { "queue list", { "stsmail", "queue", "list", "--settings", "s" }, STSM_OK, NULL },
    { "queue flush", { "stsmail", "queue", "flush", "--settings=s" }, STSM_OK, NULL },
    { "queue drop", { "stsmail", "queue", "drop", "--settings", "s", "7" }, STSM_OK, NULL },
    { "queue drop, id before the option", { "stsmail", "queue", "drop", "7", "--settings", "s" }, STSM_OK, NULL },
    { "queue without action", { "stsmail", "queue" }, STSM_ERR_ARGUMENT, "queue: expected 'list', 'flush' or 'drop ID'" },
    { "queue unknown action", { "stsmail", "queue", "show", "--settings", "s" }, STSM_ERR_ARGUMENT, "expected 'list', 'flush' or 'drop ID'" },
    { "queue action after the option", { "stsmail", "queue", "--settings", "s", "list" }, STSM_ERR_ARGUMENT, "expected 'list'" },
    { "queue action abbreviated", { "stsmail", "queue", "l", "--settings", "s" }, STSM_ERR_ARGUMENT, "expected 'list'" },
    { "queue list needs settings", { "stsmail", "queue", "list" }, STSM_ERR_ARGUMENT, "queue list: --settings FILE is required" },
    { "queue list takes no id", { "stsmail", "queue", "list", "--settings", "s", "3" }, STSM_ERR_ARGUMENT, "queue list: unknown argument '3'" },
    { "queue drop needs an id", { "stsmail", "queue", "drop", "--settings", "s" }, STSM_ERR_ARGUMENT, "queue drop: ID is required" },
    { "queue drop needs settings", { "stsmail", "queue", "drop", "3" }, STSM_ERR_ARGUMENT, "queue drop: --settings FILE is required" },
    { "queue drop id 0", { "stsmail", "queue", "drop", "--settings", "s", "0" }, STSM_ERR_ARGUMENT, "ID '0' is not a message id from 1 to 4294967295" },
    { "queue drop id 4294967295", { "stsmail", "queue", "drop", "--settings", "s", "4294967295" }, STSM_OK, NULL },
    { "queue drop id 4294967296", { "stsmail", "queue", "drop", "--settings", "s", "4294967296" }, STSM_ERR_ARGUMENT, "ID '4294967296'" },
    { "queue drop id far too big", { "stsmail", "queue", "drop", "--settings", "s", "99999999999999999999999" }, STSM_ERR_ARGUMENT, "ID '99999999999999999999999'" },
    { "queue drop id negative", { "stsmail", "queue", "drop", "--settings", "s", "--", "-1" }, STSM_ERR_ARGUMENT, "ID '-1'" },
    { "queue drop id in hex", { "stsmail", "queue", "drop", "--settings", "s", "0x10" }, STSM_ERR_ARGUMENT, "ID '0x10'" },
    { "queue drop id with a sign", { "stsmail", "queue", "drop", "--settings", "s", "+5" }, STSM_ERR_ARGUMENT, "ID '+5'" },
    { "queue drop two ids", { "stsmail", "queue", "drop", "--settings", "s", "5", "6" }, STSM_ERR_ARGUMENT, "unexpected argument '6' (after ID)" },
    { "queue prefix refused", { "stsmail", "queue", "list", "--sett", "s" }, STSM_ERR_ARGUMENT, "unknown option '--sett'" },
    /* run */
    { "run", { "stsmail", "run", "--settings", "s" }, STSM_OK, NULL },
    { "run needs settings", { "stsmail", "run" }, STSM_ERR_ARGUMENT, "run: --settings FILE is required" },
    { "run takes nothing else", { "stsmail", "run", "--settings", "s", "now" }, STSM_ERR_ARGUMENT, "run: unknown argument 'now'" },
    { "run prefix refused", { "stsmail", "run", "--s", "s" }, STSM_ERR_ARGUMENT, "unknown option '--s'" },
    { "run settings without value", { "stsmail", "run", "--settings" }, STSM_ERR_ARGUMENT, "'--settings' needs a value" },
    /* settings check */
    { "settings check", { "stsmail", "settings", "check", "s.json" }, STSM_OK, NULL },
    { "settings check of a file named like an option", { "stsmail", "settings", "check", "--", "--s.json" }, STSM_OK, NULL },
    { "settings without check", { "stsmail", "settings" }, STSM_ERR_ARGUMENT, "settings: expected 'check FILE'" },
    { "settings unknown action", { "stsmail", "settings", "validate", "s.json" }, STSM_ERR_ARGUMENT, "settings: expected 'check FILE'" },
    { "settings check needs a file", { "stsmail", "settings", "check" }, STSM_ERR_ARGUMENT, "settings check: FILE is required" },
    { "settings check two files", { "stsmail", "settings", "check", "a.json", "b.json" }, STSM_ERR_ARGUMENT, "unexpected argument 'b.json' (after FILE)" },
    { "settings check takes no --settings", { "stsmail", "settings", "check", "--settings", "s.json" }, STSM_ERR_ARGUMENT, "settings check: unknown option '--settings'" },
};

static int argc_of(const char *const argv[])
{
    int n = 0;
    while (argv[n] != NULL) {
        n++;
    }
    return n;
}

/* The --to list of `send` and `enqueue` at the limit of one message's recipients
 * (STSM_SMTP_MAX_RCPT) and one over: every address kept, or an error naming the limit,
 * never one dropped. */
static void check_recipient_limit(const char *command)
{
    enum { N = STSM_SMTP_MAX_RCPT };
    static char addr[N + 1][32];
    const char *argv[6 + 2 * (N + 1) + 1];
    char expect[96];
    for (int extra = 0; extra <= 1; extra++) {
        int argc = 0;
        argv[argc++] = "stsmail";
        argv[argc++] = command;
        argv[argc++] = "--settings";
        argv[argc++] = "s.json";
        argv[argc++] = "--subject";
        argv[argc++] = "x";
        for (int i = 0; i < N + extra; i++) {
            snprintf(addr[i], sizeof addr[i], "r%d@example.test", i);
            argv[argc++] = "--to";
            argv[argc++] = addr[i];
        }
        argv[argc] = NULL;
        struct stsm_cli cli;
        char why[200] = "";
        CHECK_CASE(extra == 0 ? "--to: exactly STSM_SMTP_MAX_RCPT" : "--to: one over STSM_SMTP_MAX_RCPT");
        stsm_status_t st = stsm_cli_parse(argc, (char *const *)argv, &cli, why, sizeof why);
        if (extra == 0) {
            CHECK_INT(st, STSM_OK);
            size_t count = strcmp(command, "send") == 0 ? cli.send.to_count : cli.enqueue.to_count;
            const char *last = strcmp(command, "send") == 0 ? cli.send.to[N - 1] : cli.enqueue.to[N - 1];
            CHECK_INT(count, N);
            CHECK_STR(last, addr[N - 1]);
        } else {
            CHECK_INT(st, STSM_ERR_ARGUMENT);
            snprintf(expect, sizeof expect, "%s: at most %d --to recipients (STSM_SMTP_MAX_RCPT)", command, N);
            CHECK(strstr(why, expect) != NULL);
        }
    }
}

int main(void)
{
    check_recipient_limit("send");
    check_recipient_limit("enqueue");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct cli_case *c = &cases[i];
        struct stsm_cli cli;
        char why[200] = "";
        CHECK_CASE(c->intent);
        stsm_status_t st = stsm_cli_parse(argc_of(c->argv), (char *const *)c->argv, &cli, why, sizeof why);
        CHECK_INT(st, c->status);
        if (c->why_contains != NULL) {
            CHECK(strstr(why, c->why_contains) != NULL);
            if (strstr(why, c->why_contains) == NULL) {
                printf("     message was: %s\n", why);
            }
        }
    }

    /* Values of a fully specified probe. */
    const char *argv[] = { "stsmail", "probe", "--tap", "tap0", "--ip", "192.0.2.11/24", "--gw",
                           "192.0.2.1", "--dns", "192.0.2.53", "--timeout", "7", "mx1.example.test",
                           "587", NULL };
    struct stsm_cli cli;
    char why[200];
    CHECK_CASE("static probe values");
    CHECK_INT(stsm_cli_parse(14, (char *const *)argv, &cli, why, sizeof why), STSM_OK);
    CHECK_INT(cli.command, STSM_CLI_PROBE);
    CHECK_STR(cli.net.tap, "tap0");
    CHECK(!cli.net.use_dhcp);
    CHECK_INT(cli.net.address.octet[0], 192);
    CHECK_INT(cli.net.address.octet[3], 11);
    CHECK_INT(cli.net.prefix_len, 24);
    CHECK_INT(cli.net.gateway.octet[3], 1);
    CHECK_INT(cli.net.dns_count, 1);
    CHECK_INT(cli.net.dns[0].octet[3], 53);
    CHECK_INT(cli.net.timeout_ms, 7000);
    CHECK_STR(cli.probe.host, "mx1.example.test");
    CHECK_INT(cli.probe.port, 587);

    const char *dhcp[] = { "stsmail", "probe", "--tap", "tap0", "mx.test", "25", NULL };
    CHECK_CASE("DHCP probe defaults");
    CHECK_INT(stsm_cli_parse(6, (char *const *)dhcp, &cli, why, sizeof why), STSM_OK);
    CHECK(cli.net.use_dhcp);
    CHECK_INT(cli.net.dns_count, 0);
    CHECK_INT(cli.net.timeout_ms, 10000);
    CHECK_INT(cli.probe.port, 25);

    const char *dns[] = { "stsmail", "dns", "--tap", "tap0", "--dns", "192.0.2.2", "--dns",
                          "192.0.2.1", "aaaa", "mx1.example.test", NULL };
    CHECK_CASE("dns values");
    CHECK_INT(stsm_cli_parse(10, (char *const *)dns, &cli, why, sizeof why), STSM_OK);
    CHECK_INT(cli.command, STSM_CLI_DNS);
    CHECK_INT(cli.dns.type, STSM_DNS_TYPE_AAAA);
    CHECK_STR(cli.dns.name, "mx1.example.test");
    CHECK_INT(cli.net.dns_count, 2);
    CHECK_INT(cli.net.dns[0].octet[3], 2);
    CHECK_INT(cli.net.dns[1].octet[3], 1);

    const char *send[] = { "stsmail", "send", "--to", "a@b.test", "--settings=s.json", "--subject", "x",
                           "--to=c@d.test", "--body-file", "-", "--repeat", "3", NULL };
    CHECK_CASE("send values, both option forms");
    CHECK_INT(stsm_cli_parse(12, (char *const *)send, &cli, why, sizeof why), STSM_OK);
    CHECK_INT(cli.command, STSM_CLI_SEND);
    CHECK_STR(cli.send.settings, "s.json");
    CHECK_INT(cli.send.to_count, 2);
    CHECK_STR(cli.send.to[0], "a@b.test");
    CHECK_STR(cli.send.to[1], "c@d.test");
    CHECK_STR(cli.send.subject, "x");
    CHECK_STR(cli.send.body_file, "-");
    CHECK_INT(cli.send.repeat, 3);

    /* The old matcher told these two apart by their third and fourth characters. */
    const char *check[] = { "stsmail", "check", "--strict-cname", "policy_host,txt", "--settings", "s.json",
                            "example.test", NULL };
    CHECK_CASE("check values");
    CHECK_INT(stsm_cli_parse(7, (char *const *)check, &cli, why, sizeof why), STSM_OK);
    CHECK_INT(cli.command, STSM_CLI_CHECK);
    CHECK_STR(cli.check.settings, "s.json");
    CHECK_STR(cli.check.domain, "example.test");
    CHECK_INT(cli.check.strict_cname, STSM_STRICT_CNAME_POLICY_HOST | STSM_STRICT_CNAME_TXT);

    const char *tls[] = { "stsmail", "tls-probe", "mx.test", "--starttls", "--timeout", "5", "--settings", "s",
                          "25", NULL };
    CHECK_CASE("tls-probe values");
    CHECK_INT(stsm_cli_parse(9, (char *const *)tls, &cli, why, sizeof why), STSM_OK);
    CHECK_INT(cli.command, STSM_CLI_TLS_PROBE);
    CHECK(cli.tls_probe.starttls);
    CHECK_INT(cli.tls_probe.timeout_ms, 5000);
    CHECK_STR(cli.tls_probe.settings, "s");
    CHECK_STR(cli.tls_probe.host, "mx.test");
    CHECK_INT(cli.tls_probe.port, 25);

    const char *enqueue[] = { "stsmail", "enqueue", "--severity", "critical", "--settings", "s.json", "--key=disk",
                              "--to", "a@b.test", "--subject", "Disk full", "--to", "c@d.test", "--body-file", "-",
                              NULL };
    CHECK_CASE("enqueue values");
    CHECK_INT(stsm_cli_parse(15, (char *const *)enqueue, &cli, why, sizeof why), STSM_OK);
    CHECK_INT(cli.command, STSM_CLI_ENQUEUE);
    CHECK_STR(cli.enqueue.settings, "s.json");
    CHECK_STR(cli.enqueue.severity, "critical");
    CHECK_STR(cli.enqueue.key, "disk");
    CHECK_INT(cli.enqueue.to_count, 2);
    CHECK_STR(cli.enqueue.to[0], "a@b.test");
    CHECK_STR(cli.enqueue.to[1], "c@d.test");
    CHECK_STR(cli.enqueue.subject, "Disk full");
    CHECK_STR(cli.enqueue.body_file, "-");

    const char *enqueue_min[] = { "stsmail", "enqueue", "--settings", "s.json", "--subject", "x", NULL };
    CHECK_CASE("enqueue defaults: nothing the outbox does not choose itself");
    CHECK_INT(stsm_cli_parse(6, (char *const *)enqueue_min, &cli, why, sizeof why), STSM_OK);
    CHECK(cli.enqueue.severity == NULL);
    CHECK(cli.enqueue.key == NULL);
    CHECK(cli.enqueue.body_file == NULL);
    CHECK_INT(cli.enqueue.to_count, 0);

    static const struct {
        const char *action;
        enum stsm_cli_queue_action value;
    } actions[] = { { "list", STSM_QUEUE_LIST }, { "flush", STSM_QUEUE_FLUSH } };
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
        const char *queue[] = { "stsmail", "queue", actions[i].action, "--settings", "q.json", NULL };
        CHECK_CASE(actions[i].action);
        CHECK_INT(stsm_cli_parse(5, (char *const *)queue, &cli, why, sizeof why), STSM_OK);
        CHECK_INT(cli.command, STSM_CLI_QUEUE);
        CHECK_INT(cli.queue.action, actions[i].value);
        CHECK_STR(cli.queue.settings, "q.json");
        CHECK_INT(cli.queue.id, 0);
    }
    const char *drop[] = { "stsmail", "queue", "drop", "4294967295", "--settings", "q.json", NULL };
    CHECK_CASE("queue drop values");
    CHECK_INT(stsm_cli_parse(6, (char *const *)drop, &cli, why, sizeof why), STSM_OK);
    CHECK_INT(cli.queue.action, STSM_QUEUE_DROP);
    CHECK(cli.queue.id == 4294967295u);

    const char *run[] = { "stsmail", "run", "--settings=r.json", NULL };
    CHECK_CASE("run values");
    CHECK_INT(stsm_cli_parse(3, (char *const *)run, &cli, why, sizeof why), STSM_OK);
    CHECK_INT(cli.command, STSM_CLI_RUN);
    CHECK_STR(cli.run.settings, "r.json");

    const char *settings_check[] = { "stsmail", "settings", "check", "vendor.json", NULL };
    CHECK_CASE("settings check values");
    CHECK_INT(stsm_cli_parse(4, (char *const *)settings_check, &cli, why, sizeof why), STSM_OK);
    CHECK_INT(cli.command, STSM_CLI_SETTINGS_CHECK);
    CHECK_STR(cli.settings_check.file, "vendor.json");

    CHECK_CASE("the help names every command");
    static const char *const commands[] = { "stsmail enqueue", "stsmail queue list|flush", "queue drop",
                                            "stsmail run", "stsmail settings check FILE", "75 when the outbox is full",
                                            "exit 78" };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        CHECK(strstr(stsm_cli_usage, commands[i]) != NULL);
    }

    return stsm_check_summary("test_cli");
}
