/* Table-driven tests of the host command-line parser. */
#include "stsm_check.h"
#include "stsm_cli.h"
#include "stsm_dns.h"
#include "stsm_settings.h"

struct cli_case {
    const char *intent;
    const char *argv[24];
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
};

static int argc_of(const char *const argv[])
{
    int n = 0;
    while (argv[n] != NULL) {
        n++;
    }
    return n;
}

int main(void)
{
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

    return stsm_check_summary("test_cli");
}
