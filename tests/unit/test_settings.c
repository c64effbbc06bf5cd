/* Settings: values and defaults, and one clear line naming the JSON path for each kind of
 * bad input. */
#include "stsm_check.h"
#include "stsm_settings.h"

static struct stsm_settings settings;

static stsm_status_t parse(const char *json, char *why, size_t len)
{
    return stsm_settings_parse(json, strlen(json), &settings, why, len);
}

int main(void)
{
    char why[300];

    CHECK_CASE("full network and tls");
    CHECK_INT(parse("{\"network\": {\"interface\": \"tap0\", \"address\": \"192.0.2.11/24\", "
                    "\"gateway\": \"192.0.2.1\", \"dns\": [\"192.0.2.53\", \"192.0.2.54\"]}, "
                    "\"tls\": {\"trust_store\": \"trust.bin\"}}", why, sizeof why), STSM_OK);
    CHECK_STR(settings.network.interface, "tap0");
    CHECK(!settings.network.dhcp);
    CHECK_INT(settings.network.address[3], 11);
    CHECK_INT(settings.network.prefix_len, 24);
    CHECK_INT(settings.network.gateway[3], 1);
    CHECK_INT(settings.network.dns_count, 2);
    CHECK_INT(settings.network.dns[1][3], 54);
    CHECK_STR(settings.tls.trust_store, "trust.bin");

    CHECK_CASE("device, mail and relay delivery");
    CHECK_INT(parse("{\"device\": {\"ehlo_name\": \"printer-3f.example\"},"
                    " \"mail\": {\"from\": \"alerts@printer.example\", \"from_name\": \"Printer 3F\","
                    " \"to\": [\"ops@example.test\", \"boss@example.test\"]},"
                    " \"delivery\": {\"mode\": \"relay\", \"timeout_percent\": 50, \"relay\": {\"host\":"
                    " \"smtp.example.net\", \"tls\": \"implicit\", \"auth\": {\"user\": \"u\","
                    " \"password\": \"p4ss\"}}}}", why, sizeof why), STSM_OK);
    CHECK_STR(settings.device.ehlo_name, "printer-3f.example");
    CHECK_STR(settings.mail.from, "alerts@printer.example");
    CHECK_STR(settings.mail.from_name, "Printer 3F");
    CHECK_INT(settings.mail.to_count, 2);
    CHECK_STR(settings.mail.to[1], "boss@example.test");
    CHECK_INT(settings.delivery.mode, STSM_DELIVERY_RELAY);
    CHECK_INT(settings.delivery.relay_tls, STSM_RELAY_IMPLICIT);
    CHECK_INT(settings.delivery.relay_port, 465);
    CHECK_STR(settings.delivery.relay_user, "u");
    CHECK_STR(settings.delivery.relay_password, "p4ss");
    CHECK_INT(settings.delivery.timeout_percent, 50);

    CHECK_CASE("delivery defaults: MX, opportunistic, RFC timeouts");
    CHECK_INT(parse("{\"delivery\": {}}", why, sizeof why), STSM_OK);
    CHECK_INT(settings.delivery.mode, STSM_DELIVERY_MX);
    CHECK(!settings.delivery.require_tls);
    CHECK(settings.delivery.opportunistic_plaintext);
    CHECK_INT(settings.delivery.timeout_percent, 100);

    CHECK_CASE("MTA-STS options and defaults");
    CHECK(settings.mta_sts.enabled);
    CHECK_INT(settings.mta_sts.fetch_timeout_ms, 60000);
    CHECK_INT(parse("{\"mta_sts\": {\"strict_cname\": [\"mx\", \"txt\"], \"fetch_timeout\": 5,"
                    " \"relax_content_type\": true}}", why, sizeof why), STSM_OK);
    CHECK_INT(settings.mta_sts.strict_cname, STSM_STRICT_CNAME_MX | STSM_STRICT_CNAME_TXT);
    CHECK_INT(settings.mta_sts.fetch_timeout_ms, 5000);
    CHECK(settings.mta_sts.relax_content_type);
    CHECK_INT(parse("{\"mta_sts\": {\"strict_cname\": [\"mx\", \"cname\"]}}", why, sizeof why),
              STSM_ERR_ARGUMENT);
    CHECK_STR(why, "/mta_sts/strict_cname/1: expected \"mx\", \"policy_host\" or \"txt\", got \"cname\"");

    CHECK_CASE("a secret's value never appears in an error");
    CHECK_INT(parse("{\"delivery\": {\"relay\": {\"host\": \"h\", \"auth\": {\"user\": \"u\","
                    " \"password\": 12345678}}}}", why, sizeof why), STSM_ERR_ARGUMENT);
    CHECK(strstr(why, "/delivery/relay/auth/password: expected a non-empty string") == why);
    CHECK(strstr(why, "12345678") == NULL);

    CHECK_CASE("empty object: DHCP, nothing else set");
    CHECK_INT(parse("{}", why, sizeof why), STSM_OK);
    CHECK(settings.network.dhcp);
    CHECK_INT(settings.network.dns_count, 0);
    CHECK_STR(settings.tls.trust_store, "");

    CHECK_CASE("not NUL-terminated input is read by length");
    CHECK_INT(stsm_settings_parse("{}garbage", 2, &settings, why, sizeof why), STSM_OK);

    static const struct {
        const char *intent;
        const char *json;
        const char *why;
    } bad[] = {
        { "not JSON", "{\"network\": ", "/: not valid JSON" },
        { "trailing garbage", "{} x", "/: not valid JSON" },
        { "root not an object", "[1]", "/: expected an object, got an array" },
        { "unknown root key", "{\"netwrk\": {}}", "/netwrk: unknown key" },
        { "unknown nested key", "{\"network\": {\"mtu\": 1500}}", "/network/mtu: unknown key" },
        { "section of the wrong type", "{\"tls\": \"yes\"}", "/tls: expected an object, got \"yes\"" },
        { "interface of the wrong type", "{\"network\": {\"interface\": 0}}",
          "/network/interface: expected a non-empty string of at most 15 characters, got 0" },
        { "interface too long", "{\"network\": {\"interface\": \"abcdefghijklmnop\"}}",
          "/network/interface: expected a non-empty string" },
        { "address without prefix", "{\"network\": {\"address\": \"192.0.2.11\"}}",
          "/network/address: expected an IPv4 address with a prefix like \"192.0.2.11/24\", got \"192.0.2.11\"" },
        { "gateway with DHCP", "{\"network\": {\"gateway\": \"192.0.2.1\"}}",
          "/network/gateway: needs /network/address" },
        { "bad gateway", "{\"network\": {\"address\": \"192.0.2.11/24\", \"gateway\": \"gw\"}}",
          "/network/gateway: expected an IPv4 address like \"192.0.2.1\", got \"gw\"" },
        { "dns not an array", "{\"network\": {\"dns\": \"192.0.2.1\"}}",
          "/network/dns: expected an array of at most 2 IPv4 addresses" },
        { "three dns servers", "{\"network\": {\"dns\": [\"1.1.1.1\", \"2.2.2.2\", \"3.3.3.3\"]}}",
          "/network/dns: expected an array of at most 2" },
        { "bad dns entry names its index", "{\"network\": {\"dns\": [\"192.0.2.1\", true]}}",
          "/network/dns/1: expected an IPv4 address like \"192.0.2.1\", got true" },
        { "port of the wrong type", "{\"delivery\": {\"relay\": {\"host\": \"h\", \"port\": \"abc\"}}}",
          "/delivery/relay/port: expected an integer 1..65535, got \"abc\"" },
        { "port out of range", "{\"delivery\": {\"relay\": {\"host\": \"h\", \"port\": 70000}}}",
          "/delivery/relay/port: expected an integer 1..65535, got 70000" },
        { "port not whole", "{\"delivery\": {\"relay\": {\"host\": \"h\", \"port\": 25.5}}}",
          "/delivery/relay/port: expected an integer 1..65535" },
        { "unknown mode", "{\"delivery\": {\"mode\": \"smart\"}}",
          "/delivery/mode: expected \"mx\" or \"relay\", got \"smart\"" },
        { "relay mode without a relay", "{\"delivery\": {\"mode\": \"relay\"}}",
          "/delivery/relay: required when /delivery/mode is \"relay\"" },
        { "relay without a host", "{\"delivery\": {\"relay\": {\"port\": 25}}}",
          "/delivery/relay/host: required in relay mode" },
        { "AUTH without TLS", "{\"delivery\": {\"relay\": {\"host\": \"h\", \"tls\": \"none\","
          " \"auth\": {\"user\": \"u\", \"password\": \"p\"}}}}",
          "/delivery/relay/auth: AUTH is only sent over TLS" },
        { "boolean as a string", "{\"delivery\": {\"require_tls\": \"yes\"}}",
          "/delivery/require_tls: expected true or false, got \"yes\"" },
        { "recipient not an address", "{\"mail\": {\"to\": [\"ops@example.test\", \"ops\"]}}",
          "/mail/to/1: expected an address like \"alerts@example.com\", got \"ops\"" },
        { "EHLO name with a space", "{\"device\": {\"ehlo_name\": \"my printer\"}}",
          "/device/ehlo_name: expected a host name" },
        { "empty trust store path", "{\"tls\": {\"trust_store\": \"\"}}",
          "/tls/trust_store: expected a non-empty string" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_CASE(bad[i].intent);
        why[0] = '\0';
        CHECK_INT(parse(bad[i].json, why, sizeof why), STSM_ERR_ARGUMENT);
        CHECK(strncmp(why, bad[i].why, strlen(bad[i].why)) == 0);
        if (strncmp(why, bad[i].why, strlen(bad[i].why)) != 0) {
            printf("     message was: %s\n", why);
        }
        CHECK(settings.network.interface[0] == '\0');   /* nothing half-applied */
    }

    CHECK_CASE("larger than the parse arena");
    static char big[STSM_SETTINGS_ARENA_SIZE + 100];
    size_t n = 0;
    n += (size_t)sprintf(big, "{\"network\": {\"dns\": [");
    while (n < sizeof big - 40) {
        n += (size_t)sprintf(big + n, "\"192.0.2.1\",");
    }
    sprintf(big + n, "\"192.0.2.1\"]}}");
    CHECK_INT(parse(big, why, sizeof why), STSM_ERR_ARGUMENT);
    CHECK(strstr(why, "parse arena") != NULL);

    CHECK_CASE("a good parse after an arena overflow");
    CHECK_INT(parse("{\"network\": {\"interface\": \"tap1\"}}", why, sizeof why), STSM_OK);
    CHECK_STR(settings.network.interface, "tap1");

    return stsm_check_summary("test_settings");
}
