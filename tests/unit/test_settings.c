/* Settings: values and defaults, and one clear line naming the JSON path for each kind of
 * bad input. */
#include "stsm_check.h"
#include "stsm_settings.h"

static struct stsm_settings settings;

static stsm_status_t parse(const char *json, char *why, size_t len)
{
    return stsm_settings_parse(json, strlen(json), &settings, why, len);
}

/* The program's static memory (.data and .bss, where the parse arena lives), as the
 * Linux/glibc linker marks it. */
extern char __data_start[], _end[];

/* Counts copies of `needle` in static memory. Read byte by byte and outside ASan's view:
 * the walk crosses the red zones ASan puts between globals. */
__attribute__((no_sanitize("address"))) __attribute__((noinline))
static size_t copies_in_static_memory(const char *needle, size_t len)
{
    size_t found = 0;
    for (const volatile char *p = __data_start; p + len <= _end; p++) {
        size_t i = 0;
        while (i < len && p[i] == needle[i]) {
            i++;
        }
        found += i == len;
    }
    return found;
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
    CHECK_INT(settings.delivery.tls_level, STSM_TLS_LEVEL_MAY);
    CHECK(settings.delivery.opportunistic_plaintext);
    CHECK_INT(settings.delivery.timeout_percent, 100);
    CHECK_INT(settings.delivery.attempt_timeout_s, 1800);

    CHECK_CASE("TLS levels");
    static const struct {
        const char *name;
        enum stsm_tls_level level;
    } levels[] = {
        { "may", STSM_TLS_LEVEL_MAY }, { "encrypt", STSM_TLS_LEVEL_ENCRYPT }, { "verify", STSM_TLS_LEVEL_VERIFY },
    };
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        char json[80];
        snprintf(json, sizeof json, "{\"delivery\": {\"tls_level\": \"%s\"}}", levels[i].name);
        CHECK_INT(parse(json, why, sizeof why), STSM_OK);
        CHECK_INT(settings.delivery.tls_level, levels[i].level);
    }

    CHECK_CASE("attempt timeout, both ends of its range");
    CHECK_INT(parse("{\"delivery\": {\"attempt_timeout\": 10}}", why, sizeof why), STSM_OK);
    CHECK_INT(settings.delivery.attempt_timeout_s, 10);
    CHECK_INT(parse("{\"delivery\": {\"attempt_timeout\": 86400}}", why, sizeof why), STSM_OK);
    CHECK_INT(settings.delivery.attempt_timeout_s, 86400);

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

    CHECK_CASE("outbox defaults");
    CHECK_INT(parse("{}", why, sizeof why), STSM_OK);
    CHECK_INT(settings.outbox.retry_first_s, 60);
    CHECK_INT(settings.outbox.retry_max_s, 3600);
    CHECK_INT(settings.outbox.give_up_s, 259200);
    CHECK_INT(settings.outbox.coalesce_window_s, 300);
    CHECK_INT(settings.outbox.domain_hourly_cap, 0);
    CHECK(!settings.outbox.drop_lower_when_full);
    CHECK_STR(settings.outbox.store_file, "");
    CHECK_INT(settings.outbox.store_size, 65536);

    CHECK_CASE("outbox, every key set");
    CHECK_INT(parse("{\"outbox\": {\"retry_first\": 30, \"retry_max\": 7200, \"give_up\": 86400,"
                    " \"coalesce_window\": 0, \"domain_hourly_cap\": 20, \"when_full\": \"drop_lower\","
                    " \"store_file\": \"outbox.img\", \"store_size\": 131072}}", why, sizeof why), STSM_OK);
    CHECK_INT(settings.outbox.retry_first_s, 30);
    CHECK_INT(settings.outbox.retry_max_s, 7200);
    CHECK_INT(settings.outbox.give_up_s, 86400);
    CHECK_INT(settings.outbox.coalesce_window_s, 0);
    CHECK_INT(settings.outbox.domain_hourly_cap, 20);
    CHECK(settings.outbox.drop_lower_when_full);
    CHECK_STR(settings.outbox.store_file, "outbox.img");
    CHECK_INT(settings.outbox.store_size, 131072);
    CHECK_INT(parse("{\"outbox\": {\"when_full\": \"refuse\"}}", why, sizeof why), STSM_OK);
    CHECK(!settings.outbox.drop_lower_when_full);

    CHECK_CASE("outbox limits: each number at both ends of its range");
    static const struct {
        const char *json;
        const uint32_t *field;
        uint32_t value;
    } limits[] = {
        { "{\"outbox\": {\"retry_first\": 1}}", &settings.outbox.retry_first_s, 1 },
        { "{\"outbox\": {\"retry_first\": 86400, \"retry_max\": 86400}}", &settings.outbox.retry_first_s, 86400 },
        { "{\"outbox\": {\"retry_first\": 1, \"retry_max\": 1}}", &settings.outbox.retry_max_s, 1 },
        { "{\"outbox\": {\"retry_max\": 604800}}", &settings.outbox.retry_max_s, 604800 },
        { "{\"outbox\": {\"retry_first\": 60, \"retry_max\": 60}}", &settings.outbox.retry_max_s, 60 },
        { "{\"outbox\": {\"give_up\": 60}}", &settings.outbox.give_up_s, 60 },
        { "{\"outbox\": {\"give_up\": 2592000}}", &settings.outbox.give_up_s, 2592000 },
        { "{\"outbox\": {\"coalesce_window\": 0}}", &settings.outbox.coalesce_window_s, 0 },
        { "{\"outbox\": {\"coalesce_window\": 86400}}", &settings.outbox.coalesce_window_s, 86400 },
        { "{\"outbox\": {\"domain_hourly_cap\": 0}}", &settings.outbox.domain_hourly_cap, 0 },
        { "{\"outbox\": {\"domain_hourly_cap\": 10000}}", &settings.outbox.domain_hourly_cap, 10000 },
        { "{\"outbox\": {\"store_size\": 12288}}", &settings.outbox.store_size, 12288 },
        { "{\"outbox\": {\"store_size\": 16777216}}", &settings.outbox.store_size, 16777216 },
        { "{\"outbox\": {\"store_size\": 4096e1}}", &settings.outbox.store_size, 40960 },
    };
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        CHECK_INT(parse(limits[i].json, why, sizeof why), STSM_OK);
        CHECK_INT(*limits[i].field, limits[i].value);
        if (*limits[i].field != limits[i].value) {
            printf("     settings were: %s\n", limits[i].json);
        }
    }

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
        { "boolean as a string", "{\"delivery\": {\"opportunistic_plaintext\": \"yes\"}}",
          "/delivery/opportunistic_plaintext: expected true or false, got \"yes\"" },
        { "the old require_tls names its replacement", "{\"delivery\": {\"require_tls\": true}}",
          "/delivery/require_tls: replaced by /delivery/tls_level (\"verify\")" },
        { "the old require_tls, even false", "{\"delivery\": {\"require_tls\": false}}",
          "/delivery/require_tls: replaced by /delivery/tls_level" },
        { "unknown TLS level", "{\"delivery\": {\"tls_level\": \"dane\"}}",
          "/delivery/tls_level: expected \"may\", \"encrypt\" or \"verify\", got \"dane\"" },
        { "TLS level of the wrong type", "{\"delivery\": {\"tls_level\": true}}",
          "/delivery/tls_level: expected \"may\", \"encrypt\" or \"verify\", got true" },
        { "attempt timeout too short", "{\"delivery\": {\"attempt_timeout\": 9}}",
          "/delivery/attempt_timeout: expected an integer 10..86400, got 9" },
        { "attempt timeout too long", "{\"delivery\": {\"attempt_timeout\": 86401}}",
          "/delivery/attempt_timeout: expected an integer 10..86400, got 86401" },
        { "attempt timeout as a string", "{\"delivery\": {\"attempt_timeout\": \"30m\"}}",
          "/delivery/attempt_timeout: expected an integer 10..86400, got \"30m\"" },
        /* Finding 9: out-of-range doubles are refused before any conversion to long. */
        { "1e300", "{\"delivery\": {\"timeout_percent\": 1e300}}",
          "/delivery/timeout_percent: expected an integer 1..1000, got 1e+300" },
        { "-1e300", "{\"delivery\": {\"timeout_percent\": -1e300}}",
          "/delivery/timeout_percent: expected an integer 1..1000, got -1e+300" },
        { "2^63", "{\"delivery\": {\"attempt_timeout\": 9223372036854775808}}",
          "/delivery/attempt_timeout: expected an integer 10..86400, got 9.22337e+18" },
        { "-2^63 - 2^11", "{\"mta_sts\": {\"fetch_timeout\": -9223372036854777856}}",
          "/mta_sts/fetch_timeout: expected an integer 1..600, got -9.22337e+18" },
        { "overflows to infinity", "{\"delivery\": {\"relay\": {\"host\": \"h\", \"port\": 1e999}}}",
          "/delivery/relay/port: expected an integer 1..65535, got inf" },
        { "overflows to minus infinity", "{\"delivery\": {\"relay\": {\"host\": \"h\", \"port\": -1e999}}}",
          "/delivery/relay/port: expected an integer 1..65535, got -inf" },
        /* Finding 9: a key given twice is refused wherever it is; the first used to win and
         * the second was never validated. */
        { "duplicate at the root", "{\"mail\": {}, \"mail\": {\"from\": 1}}", "/mail: duplicate key" },
        { "duplicate in a section", "{\"delivery\": {\"mode\": \"mx\", \"mode\": \"bogus\"}}",
          "/delivery/mode: duplicate key" },
        { "duplicate, not adjacent", "{\"delivery\": {\"mode\": \"mx\", \"timeout_percent\": 5,"
          " \"mode\": \"relay\"}}", "/delivery/mode: duplicate key" },
        { "duplicate two levels down", "{\"delivery\": {\"relay\": {\"host\": \"h\", \"auth\":"
          " {\"user\": \"u\", \"password\": \"p\", \"password\": \"q\"}}}}",
          "/delivery/relay/auth/password: duplicate key" },
        { "duplicate relay host", "{\"delivery\": {\"relay\": {\"host\": \"a\", \"host\": \"b\"}}}",
          "/delivery/relay/host: duplicate key" },
        { "duplicate in network", "{\"network\": {\"interface\": \"tap0\", \"interface\": \"tap1\"}}",
          "/network/interface: duplicate key" },
        { "duplicate in mta_sts", "{\"mta_sts\": {\"enabled\": true, \"enabled\": false}}",
          "/mta_sts/enabled: duplicate key" },
        { "duplicate in tls", "{\"tls\": {\"trust_store\": \"a\", \"trust_store\": \"b\"}}",
          "/tls/trust_store: duplicate key" },
        { "duplicate in device", "{\"device\": {\"ehlo_name\": \"a\", \"ehlo_name\": \"b\"}}",
          "/device/ehlo_name: duplicate key" },
        { "duplicate in mail", "{\"mail\": {\"to\": [], \"to\": []}}", "/mail/to: duplicate key" },
        /* /outbox: each number just outside its range, wrong types, unknown keys, the
         * retry_max >= retry_first rule and the store size's 4 KiB pages. */
        { "outbox not an object", "{\"outbox\": []}", "/outbox: expected an object, got an array" },
        { "outbox unknown key", "{\"outbox\": {\"retries\": 3}}", "/outbox/retries: unknown key" },
        { "outbox duplicate key", "{\"outbox\": {\"give_up\": 60, \"give_up\": 60}}",
          "/outbox/give_up: duplicate key" },
        { "retry_first 0", "{\"outbox\": {\"retry_first\": 0}}",
          "/outbox/retry_first: expected an integer 1..86400, got 0" },
        { "retry_first 86401", "{\"outbox\": {\"retry_first\": 86401, \"retry_max\": 604800}}",
          "/outbox/retry_first: expected an integer 1..86400, got 86401" },
        { "retry_first as a string", "{\"outbox\": {\"retry_first\": \"60\"}}",
          "/outbox/retry_first: expected an integer 1..86400, got \"60\"" },
        { "retry_first not whole", "{\"outbox\": {\"retry_first\": 1.5}}",
          "/outbox/retry_first: expected an integer 1..86400, got 1.5" },
        { "retry_max 0", "{\"outbox\": {\"retry_max\": 0}}",
          "/outbox/retry_max: expected an integer 1..604800, got 0" },
        { "retry_max 604801", "{\"outbox\": {\"retry_max\": 604801}}",
          "/outbox/retry_max: expected an integer 1..604800, got 604801" },
        { "retry_max null", "{\"outbox\": {\"retry_max\": null}}",
          "/outbox/retry_max: expected an integer 1..604800, got null" },
        { "retry_max below retry_first", "{\"outbox\": {\"retry_first\": 120, \"retry_max\": 119}}",
          "/outbox/retry_max: must be at least /outbox/retry_first (120), got 119" },
        { "retry_first above the default retry_max", "{\"outbox\": {\"retry_first\": 3601}}",
          "/outbox/retry_max: must be at least /outbox/retry_first (3601), got 3600" },
        { "give_up 59", "{\"outbox\": {\"give_up\": 59}}", "/outbox/give_up: expected an integer 60..2592000, got 59" },
        { "give_up 2592001", "{\"outbox\": {\"give_up\": 2592001}}",
          "/outbox/give_up: expected an integer 60..2592000, got 2592001" },
        { "give_up as a boolean", "{\"outbox\": {\"give_up\": true}}",
          "/outbox/give_up: expected an integer 60..2592000, got true" },
        { "coalesce_window -1", "{\"outbox\": {\"coalesce_window\": -1}}",
          "/outbox/coalesce_window: expected an integer 0..86400, got -1" },
        { "coalesce_window 86401", "{\"outbox\": {\"coalesce_window\": 86401}}",
          "/outbox/coalesce_window: expected an integer 0..86400, got 86401" },
        { "domain_hourly_cap -1", "{\"outbox\": {\"domain_hourly_cap\": -1}}",
          "/outbox/domain_hourly_cap: expected an integer 0..10000, got -1" },
        { "domain_hourly_cap 10001", "{\"outbox\": {\"domain_hourly_cap\": 10001}}",
          "/outbox/domain_hourly_cap: expected an integer 0..10000, got 10001" },
        { "domain_hourly_cap as an array", "{\"outbox\": {\"domain_hourly_cap\": [5]}}",
          "/outbox/domain_hourly_cap: expected an integer 0..10000, got an array" },
        { "when_full unknown", "{\"outbox\": {\"when_full\": \"drop_oldest\"}}",
          "/outbox/when_full: expected \"refuse\" or \"drop_lower\", got \"drop_oldest\"" },
        { "when_full as a boolean", "{\"outbox\": {\"when_full\": false}}",
          "/outbox/when_full: expected \"refuse\" or \"drop_lower\", got false" },
        { "store_file empty", "{\"outbox\": {\"store_file\": \"\"}}",
          "/outbox/store_file: expected a non-empty string of at most 200 characters" },
        { "store_file as a number", "{\"outbox\": {\"store_file\": 1}}",
          "/outbox/store_file: expected a non-empty string of at most 200 characters, got 1" },
        { "store_size 8192", "{\"outbox\": {\"store_size\": 8192}}",
          "/outbox/store_size: expected a multiple of 4096 from 12288 to 16777216, got 8192" },
        { "store_size 16781312", "{\"outbox\": {\"store_size\": 16781312}}",
          "/outbox/store_size: expected a multiple of 4096 from 12288 to 16777216, got 16781312" },
        { "store_size not a multiple of 4096", "{\"outbox\": {\"store_size\": 65537}}",
          "/outbox/store_size: expected a multiple of 4096 from 12288 to 16777216, got 65537" },
        { "store_size as a string", "{\"outbox\": {\"store_size\": \"64K\"}}",
          "/outbox/store_size: expected a multiple of 4096 from 12288 to 16777216, got \"64K\"" },
        { "store_size 1e300", "{\"outbox\": {\"store_size\": 1e300}}",
          "/outbox/store_size: expected a multiple of 4096" },
        { "recipient not an address", "{\"mail\": {\"to\": [\"ops@example.test\", \"ops\"]}}",
          "/mail/to/1: expected an address like \"alerts@example.com\", got \"ops\"" },
        { "EHLO name with a space", "{\"device\": {\"ehlo_name\": \"my printer\"}}",
          "/device/ehlo_name: expected a host name" },
        { "empty trust store path", "{\"tls\": {\"trust_store\": \"\"}}",
          "/tls/trust_store: expected a non-empty string" },
        /* Text that is not UTF-8, or holds a NUL, is refused where it stands, before any
         * use: cJSON copies raw bytes as they are and stops a C string at "\u0000". */
        { "invalid UTF-8 in a value", "{\"tls\": {\"trust_store\": \"trust\xc3\x28.bin\"}}",
          "/tls/trust_store: the string is not valid UTF-8 (byte 30 of the file)" },
        { "overlong UTF-8", "{\"tls\": {\"trust_store\": \"a\xc0\xaf\"}}",
          "/tls/trust_store: the string is not valid UTF-8" },
        { "overlong 3-byte UTF-8", "{\"tls\": {\"trust_store\": \"a\xe0\x80\xaf\"}}",
          "/tls/trust_store: the string is not valid UTF-8" },
        { "UTF-8 surrogate", "{\"tls\": {\"trust_store\": \"a\xed\xa0\x80\"}}",
          "/tls/trust_store: the string is not valid UTF-8" },
        { "UTF-8 above U+10FFFF", "{\"tls\": {\"trust_store\": \"a\xf4\x90\x80\x80\"}}",
          "/tls/trust_store: the string is not valid UTF-8" },
        { "UTF-8 sequence cut by the closing quote", "{\"tls\": {\"trust_store\": \"a\xe2\x82\"}}",
          "/tls/trust_store: the string is not valid UTF-8" },
        { "bytes FF FE in from_name", "{\"mail\": {\"from_name\": \"\xff\xfe\"}}",
          "/mail/from_name: the string is not valid UTF-8" },
        { "a key of invalid UTF-8", "{\"tls\": {}, \"\xff\": 1}", "/?: the key is not valid UTF-8" },
        { "invalid UTF-8 in an array element", "{\"mail\": {\"to\": [\"ops@example.test\", \"o\xc3@x.test\"]}}",
          "/mail/to/1: the string is not valid UTF-8" },
        { "invalid UTF-8 in an unknown key's value", "{\"network\": {\"mtu\": \"\x80\"}}",
          "/network/mtu: the string is not valid UTF-8" },
        { "invalid UTF-8 deep down", "{\"mail\": {\"to\": [[[[[[\"\xff\"]]]]]]}}",
          "/mail/to/0/0/0/0/...: the string is not valid UTF-8" },
        { "NUL escape in a value", "{\"device\": {\"ehlo_name\": \"printer\\u0000lab.test\"}}",
          "/device/ehlo_name: the string contains a NUL character (\\u0000)" },
        { "NUL escape in a key", "{\"tls\": {\"trust_store\\u0000x\": \"a\"}}",
          "/tls/trust_store\\u0000x: the key contains a NUL character (\\u0000)" },
        { "NUL escape in an array element", "{\"network\": {\"dns\": [\"192.0.2.1\", \"\\u0000\"]}}",
          "/network/dns/1: the string contains a NUL character" },
        { "NUL escape at the end of a secret", "{\"delivery\": {\"relay\": {\"host\": \"h\", \"auth\": "
          "{\"user\": \"u\", \"password\": \"pw\\u0000\"}}}}",
          "/delivery/relay/auth/password: the string contains a NUL character" },
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

    CHECK_CASE("the reason for an invalid key is itself valid text");
    CHECK_INT(parse("{\"\xc3\x28\xff\": 1}", why, sizeof why), STSM_ERR_ARGUMENT);
    for (const char *c = why; *c != '\0'; c++) {
        CHECK((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f);
    }

    CHECK_CASE("a raw NUL byte inside a string");
    static const char raw_nul[] = "{\"device\": {\"ehlo_name\": \"printer\0lab.test\"}}";
    CHECK_INT(stsm_settings_parse(raw_nul, sizeof raw_nul - 1, &settings, why, sizeof why), STSM_ERR_ARGUMENT);
    CHECK(strstr(why, "/device/ehlo_name: the string contains a NUL byte") == why);

    CHECK_CASE("valid UTF-8, raw and escaped, is accepted");
    CHECK_INT(parse("{\"tls\": {\"trust_store\": \"caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x98\x80-"
                    "\\u00e9\\ud83d\\ude00\\u0001.bin\"}}", why, sizeof why), STSM_OK);
    CHECK_STR(settings.tls.trust_store, "caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x98\x80-\xc3\xa9\xf0\x9f\x98\x80\x01.bin");

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

    /* Finding 8: the relay password must not stay in the parse arena. The JSON text lives
     * in read-only data (outside the scan); the needle is built at run time so that the
     * only copies in static memory are the ones the parse made. */
    CHECK_CASE("no copy of the relay password is left in static memory after parsing");
    static const char secret_json[] = "{\"delivery\": {\"relay\": {\"host\": \"h\", \"auth\": "
                                      "{\"user\": \"u\", \"password\": \"Zq7-wipe-me-Kx\"}}}}";
    char needle[16];
    snprintf(needle, sizeof needle, "Zq7-%s-Kx", "wipe-me");
    CHECK_INT(parse(secret_json, why, sizeof why), STSM_OK);
    CHECK_STR(settings.delivery.relay_password, needle);
    CHECK_INT(copies_in_static_memory(needle, strlen(needle)), 1);   /* the settings struct */
    memset(&settings, 0, sizeof settings);
    CHECK_INT(copies_in_static_memory(needle, strlen(needle)), 0);   /* and nothing else */
    CHECK_CASE("nor after a refused file");
    static const char refused_json[] = "{\"delivery\": {\"relay\": {\"host\": \"h\", \"auth\": "
                                       "{\"user\": \"u\", \"password\": \"Zq7-wipe-me-Kx\"}}}, \"x\": 1}";
    CHECK_INT(parse(refused_json, why, sizeof why), STSM_ERR_ARGUMENT);
    CHECK_INT(copies_in_static_memory(needle, strlen(needle)), 0);

    return stsm_check_summary("test_settings");
}
