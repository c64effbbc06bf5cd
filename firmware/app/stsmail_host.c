/* stsmail host simulation: the command-line front end over lwIP on a TAP device. */
#include <stdio.h>
#include <string.h>

#include "cJSON.h"
#include "lwip/dns.h"
#include "lwip/init.h"
#include "mbedtls/version.h"
#include "stsm_app.h"
#include "stsm_cli.h"
#include "stsm_decode_log.h"
#include "stsm_dns_report.h"
#include "stsm_host_net.h"
#include "stsm_probe.h"
#include "stsm_queue.h"
#include "stsm_resolver.h"
#include "stsm_route.h"
#include "stsm_sts_check.h"
#include "stsm_send.h"
#include "stsm_settings_check.h"
#include "stsm_sts_cli.h"
#include "stsm_tls_probe.h"

static ip4_addr_t to_ip4(const struct stsm_cli_ipv4 *a)
{
    ip4_addr_t out;
    IP4_ADDR(&out, a->octet[0], a->octet[1], a->octet[2], a->octet[3]);
    return out;
}

/* lwIP only names its errors in debug builds; these are the ones a probe can meet. */
static const char *lwip_err_name(int err)
{
    switch (err) {
    case ERR_RST: return "connection refused or reset";
    case ERR_ABRT: return "connection aborted";
    case ERR_CLSD: return "connection closed";
    case ERR_RTE: return "no route to host";
    case ERR_MEM: return "out of memory";
    case ERR_BUF: return "out of buffers";
    case ERR_USE: return "address in use";
    default: return "lwIP error";
    }
}

struct probe_outcome {
    bool done;
    stsm_status_t status;
    int lwip_err;
};

static void on_probe_done(void *arg, stsm_status_t status, const char *line, int lwip_err)
{
    struct probe_outcome *outcome = arg;
    outcome->done = true;
    outcome->status = status;
    outcome->lwip_err = lwip_err;
    if (line != NULL) {
        printf("%s\n", line);
        fflush(stdout);
    }
}

/* Brings lwIP up on the TAP interface as the options say. Returns 0 or an exit status. */
static int net_up(const struct stsm_cli_net *net)
{
    struct stsm_host_net_config config = { .tap_name = net->tap, .use_dhcp = net->use_dhcp };
    if (!net->use_dhcp) {
        config.address = to_ip4(&net->address);
        config.netmask = stsm_app_netmask(net->prefix_len);
        config.gateway = to_ip4(&net->gateway);
    }
    config.dns_count = net->dns_count;
    for (uint8_t i = 0; i < net->dns_count; i++) {
        config.dns_servers[i] = to_ip4(&net->dns[i]);
    }
    return stsm_app_net_up(&config, net->timeout_ms);
}

static int run_probe(const struct stsm_cli *cli)
{
    const struct stsm_cli_probe_args *args = &cli->probe;
    int rc = net_up(&cli->net);
    if (rc != 0) {
        return rc;
    }
    stsm_status_t st;
    static struct stsm_probe probe;
    struct probe_outcome outcome = { 0 };
    st = stsm_probe_start(&probe, args->host, args->port, cli->net.timeout_ms, on_probe_done,
                          &outcome);
    if (st != STSM_OK) {
        fprintf(stderr, "stsmail: cannot probe %s: %s\n", args->host, stsm_status_str(st));
        stsm_app_net_down();
        return stsm_app_exit_status(st);
    }
    while (!outcome.done) {
        stsm_host_net_poll(100);
    }

    char server[IPADDR_STRLEN_MAX] = "-";
    if (!ip_addr_isany(stsm_probe_address(&probe))) {
        ipaddr_ntoa_r(stsm_probe_address(&probe), server, sizeof server);
    }
    if (outcome.status == STSM_OK) {
        fprintf(stderr, "stsmail: %s (%s) port %u answered through lwIP %s\n", args->host,
                server, (unsigned)args->port, LWIP_VERSION_STRING);
    } else if (outcome.lwip_err != 0) {
        fprintf(stderr, "stsmail: probe of %s (%s) port %u failed: %s (%s, lwIP error %d)\n",
                args->host, server, (unsigned)args->port, stsm_status_str(outcome.status),
                lwip_err_name(outcome.lwip_err), outcome.lwip_err);
    } else {
        fprintf(stderr, "stsmail: probe of %s (%s) port %u failed: %s\n", args->host, server,
                (unsigned)args->port, stsm_status_str(outcome.status));
    }
    stsm_app_net_down();
    return stsm_app_exit_status(outcome.status);
}

struct dns_outcome {
    const char *name;
    uint16_t type;
    bool done;
    stsm_status_t status;
    cJSON *report;
    bool incomplete;   /* mx: a host's address lookup failed for now */
};

static struct stsm_resolver_query query;
static struct stsm_route route;

static void on_answer(void *arg, stsm_status_t status, const struct stsm_dns_answer *answer,
                      const ip_addr_t *server)
{
    struct dns_outcome *outcome = arg;
    outcome->done = true;
    outcome->status = status;
    outcome->report = stsm_dns_report_answer(outcome->name, outcome->type, status, answer, server);
    if (outcome->report != NULL && stsm_resolver_last_rcode(&query) != 0) {
        cJSON_AddNumberToObject(outcome->report, "last_error_rcode",
                                stsm_resolver_last_rcode(&query));
    }
}

static void on_route(void *arg, stsm_status_t status, const struct stsm_mx_set *set)
{
    struct dns_outcome *outcome = arg;
    outcome->done = true;
    outcome->status = status;
    outcome->report = stsm_dns_report_route(outcome->name, status, &route, set);
    for (size_t i = 0; set != NULL && i < set->count; i++) {
        const struct stsm_mx_lookup *lookups[2] = { &set->hosts[i].a, &set->hosts[i].aaaa };
        for (int k = 0; k < 2; k++) {
            if (lookups[k]->status == STSM_ERR_TIMEOUT ||
                lookups[k]->status == STSM_ERR_DNS_SERVER_FAILURE) {
                outcome->incomplete = true;
            }
        }
    }
}

static int run_dns(const struct stsm_cli *cli)
{
    struct dns_outcome outcome = { .name = cli->dns.name, .type = cli->dns.type };
    int rc = net_up(&cli->net);
    if (rc != 0) {
        return rc;
    }
    stsm_status_t st;
    if (cli->dns.type == STSM_DNS_TYPE_MX) {
        st = stsm_route_start(&route, cli->dns.name, on_route, &outcome);
    } else {
        st = stsm_resolver_start(&query, cli->dns.name, cli->dns.type, on_answer, &outcome);
    }
    if (st != STSM_OK) {
        fprintf(stderr, "stsmail: cannot look up %s: %s\n", cli->dns.name, stsm_status_str(st));
        stsm_app_net_down();
        return stsm_app_exit_status(st);
    }
    while (!outcome.done) {
        stsm_host_net_poll(100);
    }
    char *text = outcome.report != NULL ? cJSON_Print(outcome.report) : NULL;
    if (text == NULL) {
        fprintf(stderr, "stsmail: out of memory writing the report\n");
        stsm_app_net_down();
        return EXIT_OSERR;
    }
    printf("%s\n", text);
    cJSON_free(text);
    cJSON_Delete(outcome.report);
    stsm_app_net_down();
    if (outcome.status == STSM_OK && outcome.incomplete) {
        return EXIT_TEMPFAIL;
    }
    return stsm_app_exit_status(outcome.status);
}

int main(int argc, char *argv[])
{
    struct stsm_cli cli;
    char why[200] = "";

    if (stsm_cli_parse(argc, argv, &cli, why, sizeof why) != STSM_OK) {
        /* One line, whatever bytes the offending argument held. */
        for (char *c = why; *c != '\0'; c++) {
            if ((unsigned char)*c < 0x20 || *c == 0x7f) {
                *c = '?';
            }
        }
        fprintf(stderr, "stsmail: %s; run 'stsmail help' for the options\n", why);
        return EXIT_USAGE;
    }
    switch (cli.command) {
    case STSM_CLI_HELP:
        fputs(stsm_cli_usage, stdout);
        return 0;
    case STSM_CLI_VERSION:
        printf("stsmail %s (lwIP %s, Mbed TLS %s, cJSON %s)\n", STSM_VERSION,
               LWIP_VERSION_STRING, MBEDTLS_VERSION_STRING, cJSON_Version());
        return 0;
    case STSM_CLI_PROBE:
        return run_probe(&cli);
    case STSM_CLI_DNS:
        return run_dns(&cli);
    case STSM_CLI_TLS_PROBE:
        return stsm_tls_probe_run(&cli.tls_probe);
    case STSM_CLI_SEND:
        return stsm_send_run(&cli.send);
    case STSM_CLI_CHECK:
        return stsm_check_run(&cli.check);
    case STSM_CLI_ENQUEUE:
        return stsm_queue_enqueue(&cli.enqueue);
    case STSM_CLI_QUEUE:
        return stsm_queue_command(&cli.queue);
    case STSM_CLI_RUN:
        return stsm_queue_run(&cli.run);
    case STSM_CLI_SETTINGS_CHECK:
        return stsm_settings_check_run(&cli.settings_check);
    case STSM_CLI_DECODE_LOG:
        return stsm_decode_log_run(cli.decode_log.elf, cli.decode_log.log);
    case STSM_CLI_POLICY_PARSE:
    case STSM_CLI_POLICY_MATCH:
    case STSM_CLI_TXT_PARSE:
        return stsm_sts_cli_run(&cli);
    }
    return EXIT_USAGE;
}
