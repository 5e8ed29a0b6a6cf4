/* SPDX-License-Identifier: Apache-2.0 */
/* The command table, global flags, flag parsing with pflag's rules and
 * messages, help texts, dispatch, and small JSON helpers for handlers. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "base/buf.h"
#include "base/dlcurl.h"
#include "base/err.h"
#include "base/mem.h"
#include "cli/cli.h"
#include "cli/cli_int.h"

/* ------------------------------------------------------------------ */
/* the command table                                                   */
/* ------------------------------------------------------------------ */

#define CLI__DUR "(ns|us|ms|s|m|h)"

static const struct cli_flag cli_flags_swarm_init[] = {
    {"advertise-addr", 0, CLI_FLAG_STRING, NULL, NULL,
     "Advertised address (format: \"<ip|interface>[:port]\")"},
    {"autolock", 0, CLI_FLAG_BOOL, NULL, NULL,
     "Enable manager autolocking (requiring an unlock key to start a "
     "stopped manager)"},
    {"availability", 0, CLI_FLAG_STRING, NULL, "active",
     "Availability of the node (\"active\", \"pause\", \"drain\")"},
    {"cert-expiry", 0, CLI_FLAG_DURATION, NULL, "2160h0m0s",
     "Validity period for node certificates " CLI__DUR},
    {"data-path-addr", 0, CLI_FLAG_STRING, NULL, NULL,
     "Address or interface to use for data path traffic (format: "
     "\"<ip|interface>\")"},
    {"data-path-port", 0, CLI_FLAG_UINT32, NULL, NULL,
     "Port number to use for data path traffic (1024 - 49151). If no value "
     "is set or is set to 0, the default port (4789) is used."},
    {"default-addr-pool", 0, CLI_FLAG_CIDR, "ipNetSlice", "[]",
     "default address pool in CIDR format"},
    {"default-addr-pool-mask-length", 0, CLI_FLAG_UINT32, NULL, "24",
     "default address pool subnet mask length"},
    {"dispatcher-heartbeat", 0, CLI_FLAG_DURATION, NULL, "5s",
     "Dispatcher heartbeat period " CLI__DUR},
    {"force-new-cluster", 0, CLI_FLAG_BOOL, NULL, NULL,
     "Force create a new cluster from current state"},
    {"listen-addr", 0, CLI_FLAG_STRING, "node-addr", "0.0.0.0:2377",
     "Listen address (format: \"<ip|interface>[:port]\")"},
    {"max-snapshots", 0, CLI_FLAG_UINT, NULL, NULL,
     "Number of additional Raft snapshots to retain"},
    {"snapshot-interval", 0, CLI_FLAG_UINT, NULL, "10000",
     "Number of log entries between Raft snapshots"},
    {"task-history-limit", 0, CLI_FLAG_INT, NULL, "5",
     "Task history retention limit"},
    {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL},
};

static const struct cli_flag cli_flags_swarm_join[] = {
    {"advertise-addr", 0, CLI_FLAG_STRING, NULL, NULL,
     "Advertised address (format: \"<ip|interface>[:port]\")"},
    {"availability", 0, CLI_FLAG_STRING, NULL, "active",
     "Availability of the node (\"active\", \"pause\", \"drain\")"},
    {"data-path-addr", 0, CLI_FLAG_STRING, NULL, NULL,
     "Address or interface to use for data path traffic (format: "
     "\"<ip|interface>\")"},
    {"listen-addr", 0, CLI_FLAG_STRING, "node-addr", "0.0.0.0:2377",
     "Listen address (format: \"<ip|interface>[:port]\")"},
    {"token", 0, CLI_FLAG_STRING, NULL, NULL, "Token for entry into the swarm"},
    {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL},
};

static const struct cli_flag cli_flags_swarm_join_token[] = {
    {"quiet", 'q', CLI_FLAG_BOOL, NULL, NULL, "Only display token"},
    {"rotate", 0, CLI_FLAG_BOOL, NULL, NULL, "Rotate join token"},
    {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL},
};

static const struct cli_flag cli_flags_swarm_leave[] = {
    {"force", 'f', CLI_FLAG_BOOL, NULL, NULL,
     "Force this node to leave the swarm, ignoring warnings"},
    {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL},
};

static const struct cli_flag cli_flags_swarm_update[] = {
    {"autolock", 0, CLI_FLAG_BOOL, NULL, NULL,
     "Change manager autolocking setting (true|false)"},
    {"cert-expiry", 0, CLI_FLAG_DURATION, NULL, "2160h0m0s",
     "Validity period for node certificates " CLI__DUR},
    {"dispatcher-heartbeat", 0, CLI_FLAG_DURATION, NULL, "5s",
     "Dispatcher heartbeat period " CLI__DUR},
    {"max-snapshots", 0, CLI_FLAG_UINT, NULL, NULL,
     "Number of additional Raft snapshots to retain"},
    {"snapshot-interval", 0, CLI_FLAG_UINT, NULL, "10000",
     "Number of log entries between Raft snapshots"},
    {"task-history-limit", 0, CLI_FLAG_INT, NULL, "5",
     "Task history retention limit"},
    {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL},
};

static const struct cli_flag cli_flags_swarm_unlock_key[] = {
    {"quiet", 'q', CLI_FLAG_BOOL, NULL, NULL, "Only display token"},
    {"rotate", 0, CLI_FLAG_BOOL, NULL, NULL, "Rotate unlock key"},
    {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL},
};

static const struct cli_flag cli_flags_swarm_ca[] = {
    {"cert-expiry", 0, CLI_FLAG_DURATION, NULL, "2160h0m0s",
     "Validity period for node certificates " CLI__DUR},
    {"detach", 'd', CLI_FLAG_BOOL, NULL, NULL,
     "Exit immediately instead of waiting for the root rotation to "
     "converge"},
    {"quiet", 'q', CLI_FLAG_BOOL, NULL, NULL, "Suppress progress output"},
    {"rotate", 0, CLI_FLAG_BOOL, NULL, NULL,
     "Rotate the swarm CA - if no certificate or key are provided, new "
     "ones will be generated"},
    {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL},
};

#define CLI__FORMAT_LIST                                                   \
    "Format output using a custom template:\n"                             \
    "'table':            Print output in table format with column "       \
    "headers (default)\n"                                                  \
    "'table TEMPLATE':   Print output in table format using the given "   \
    "Go template\n"                                                        \
    "'json':             Print in JSON format\n"                           \
    "'TEMPLATE':         Print output using the given Go template"

#define CLI__FORMAT_ONE                                                    \
    "Format output using a custom template:\n"                             \
    "'json':             Print in JSON format\n"                           \
    "'TEMPLATE':         Print output using the given Go template"

static const struct cli_flag cli_flags_node_ls[] = {
    {"filter", 'f', CLI_FLAG_FILTER, NULL, NULL,
     "Filter output based on conditions provided"},
    {"format", 0, CLI_FLAG_STRING, NULL, NULL, CLI__FORMAT_LIST},
    {"quiet", 'q', CLI_FLAG_BOOL, NULL, NULL, "Only display IDs"},
    {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL},
};

static const struct cli_flag cli_flags_node_inspect[] = {
    {"format", 'f', CLI_FLAG_STRING, NULL, NULL, CLI__FORMAT_ONE},
    {"pretty", 0, CLI_FLAG_BOOL, NULL, NULL,
     "Print the information in a human friendly format"},
    {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL},
};

static const struct cli_flag cli_flags_node_update[] = {
    {"availability", 0, CLI_FLAG_STRING, NULL, NULL,
     "Availability of the node (\"active\", \"pause\", \"drain\")"},
    {"label-add", 0, CLI_FLAG_LIST, NULL, NULL,
     "Add or update a node label (\"key=value\")"},
    {"label-rm", 0, CLI_FLAG_LIST, NULL, NULL, "Remove a node label if exists"},
    {"role", 0, CLI_FLAG_STRING, NULL, NULL,
     "Role of the node (\"worker\", \"manager\")"},
    {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL},
};

static const struct cli_flag cli_flags_node_rm[] = {
    {"force", 'f', CLI_FLAG_BOOL, NULL, NULL,
     "Force remove a node from the swarm"},
    {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL},
};

static const struct cli_flag cli_flags_secret_create[] = {
    {"label", 'l', CLI_FLAG_LIST, NULL, NULL, "Labels"},
    {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL},
};

static const struct cli_flag cli_flags_secret_ls[] = {
    {"filter", 'f', CLI_FLAG_FILTER, NULL, NULL,
     "Filter output based on conditions provided"},
    {"format", 0, CLI_FLAG_STRING, NULL, NULL, CLI__FORMAT_LIST},
    {"quiet", 'q', CLI_FLAG_BOOL, NULL, NULL, "Only display IDs"},
    {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL},
};

static const struct cli_flag cli_flags_secret_inspect[] = {
    {"format", 'f', CLI_FLAG_STRING, NULL, NULL, CLI__FORMAT_ONE},
    {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL},
};

static const struct cli_flag cli_flags_service_ls[] = {
    {"filter", 'f', CLI_FLAG_FILTER, NULL, NULL,
     "Filter output based on conditions provided"},
    {"format", 0, CLI_FLAG_STRING, NULL, NULL, CLI__FORMAT_LIST},
    {"quiet", 'q', CLI_FLAG_BOOL, NULL, NULL, "Only display IDs"},
    {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL},
};

static const struct cli_flag cli_flags_service_ps[] = {
    {"filter", 'f', CLI_FLAG_FILTER, NULL, NULL,
     "Filter output based on conditions provided"},
    {"format", 0, CLI_FLAG_STRING, NULL, NULL, "Pretty-print tasks using a "
     "Go template"},
    {"no-trunc", 0, CLI_FLAG_BOOL, NULL, NULL, "Do not truncate output"},
    {"quiet", 'q', CLI_FLAG_BOOL, NULL, NULL, "Only display task IDs"},
    {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL},
};

static const struct cli_flag cli_flags_service_inspect[] = {
    {"format", 'f', CLI_FLAG_STRING, NULL, NULL, CLI__FORMAT_ONE},
    {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL},
};

static const struct cli_flag cli_flags_service_detach[] = {
    {"detach", 'd', CLI_FLAG_BOOL, NULL, NULL,
     "Exit immediately instead of waiting for the service to converge"},
    {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL},
};

static const struct cli_flag cli_flags_service_rollback[] = {
    {"detach", 'd', CLI_FLAG_BOOL, NULL, NULL,
     "Exit immediately instead of waiting for the service to converge"},
    {"quiet", 'q', CLI_FLAG_BOOL, NULL, NULL, "Suppress progress output"},
    {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL},
};

static const struct cli_flag cli_flags_service_logs[] = {
    {"tail", 'n', CLI_FLAG_STRING, NULL, "all",
     "Number of lines to show from the end of the logs"},
    {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL},
};

static const struct cli_flag cli_flags_network_ls[] = {
    {"filter", 'f', CLI_FLAG_FILTER, NULL, NULL,
     "Provide filter values (e.g. \"driver=bridge\")"},
    {"format", 0, CLI_FLAG_STRING, NULL, NULL, CLI__FORMAT_LIST},
    {"no-trunc", 0, CLI_FLAG_BOOL, NULL, NULL, "Do not truncate the output"},
    {"quiet", 'q', CLI_FLAG_BOOL, NULL, NULL, "Only display network IDs"},
    {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL},
};

static const struct cli_flag cli_flags_network_inspect[] = {
    {"format", 'f', CLI_FLAG_STRING, NULL, NULL, CLI__FORMAT_ONE},
    {"verbose", 'v', CLI_FLAG_BOOL, NULL, NULL,
     "Verbose output for diagnostics"},
    {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL},
};

static const struct cli_flag cli_flags_format_only[] = {
    {"format", 'f', CLI_FLAG_STRING, NULL, NULL, CLI__FORMAT_ONE},
    {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL},
};

static const struct cli_flag cli_flags_bench_agents[] = {
    {"data", 0, CLI_FLAG_STRING, NULL, "/tmp/shoal-fleet",
     "Directory of the simulated nodes' keys and certificates (reused by "
     "the next run)"},
    {"hostname-prefix", 0, CLI_FLAG_STRING, NULL, "sim-",
     "Node i reports the hostname <prefix><i>"},
    {"listen-addr", 0, CLI_FLAG_STRING, "node-addr", NULL,
     "Listen address the nodes join with (default 127.0.0.1 and a free "
     "port)"},
    {"manager", 0, CLI_FLAG_STRING, "host:port", NULL,
     "Address of a manager to join through"},
    {"token", 0, CLI_FLAG_STRING, NULL, NULL, "Token for entry into the swarm"},
    {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL},
};

static int cli_daemon_misplaced(struct cli *c, struct cli_args *a,
                                struct err *err)
{
    (void)c;
    (void)a;
    return err_set(err, ERR_INVALID,
                   "'" CLI_PROG " daemon' must be the first argument: run '"
                   CLI_PROG " daemon [OPTIONS]'");
}

static const struct cli_cmd cli_swarm_cmds[] = {
    {"ca", NULL, "[OPTIONS]", "Display and rotate the root CA",
     CLI_ARGS_NONE, 0, cli_flags_swarm_ca, cli_swarm_ca, NULL},
    {"init", NULL, "[OPTIONS]", "Initialize a swarm", CLI_ARGS_NONE, 0,
     cli_flags_swarm_init, cli_swarm_init, NULL},
    {"join", NULL, "[OPTIONS] HOST:PORT",
     "Join a swarm as a node and/or manager", CLI_ARGS_EXACT, 1,
     cli_flags_swarm_join, cli_swarm_join, NULL},
    {"join-token", NULL, "[OPTIONS] (worker|manager)", "Manage join tokens",
     CLI_ARGS_EXACT, 1, cli_flags_swarm_join_token, cli_swarm_join_token,
     NULL},
    {"leave", NULL, "[OPTIONS]", "Leave the swarm", CLI_ARGS_NONE, 0,
     cli_flags_swarm_leave, cli_swarm_leave, NULL},
    {"unlock", NULL, "", "Unlock swarm", CLI_ARGS_NONE, 0, NULL,
     cli_swarm_unlock, NULL},
    {"unlock-key", NULL, "[OPTIONS]", "Manage the unlock key", CLI_ARGS_NONE,
     0, cli_flags_swarm_unlock_key, cli_swarm_unlock_key, NULL},
    {"update", NULL, "[OPTIONS]", "Update the swarm", CLI_ARGS_NONE, 0,
     cli_flags_swarm_update, cli_swarm_update, NULL},
    {NULL, NULL, NULL, NULL, CLI_ARGS_ANY, 0, NULL, NULL, NULL},
};

static const struct cli_cmd cli_node_cmds[] = {
    {"demote", NULL, "NODE [NODE...]",
     "Demote one or more nodes from manager in the swarm", CLI_ARGS_MIN, 1,
     NULL, cli_node_demote, NULL},
    {"inspect", NULL, "[OPTIONS] self|NODE [NODE...]",
     "Display detailed information on one or more nodes", CLI_ARGS_MIN, 1,
     cli_flags_node_inspect, cli_node_inspect, NULL},
    {"ls", "list", "[OPTIONS]", "List nodes in the swarm", CLI_ARGS_NONE, 0,
     cli_flags_node_ls, cli_node_ls, NULL},
    {"promote", NULL, "NODE [NODE...]",
     "Promote one or more nodes to manager in the swarm", CLI_ARGS_MIN, 1,
     NULL, cli_node_promote, NULL},
    {"rm", "remove", "[OPTIONS] NODE [NODE...]",
     "Remove one or more nodes from the swarm", CLI_ARGS_MIN, 1,
     cli_flags_node_rm, cli_node_rm, NULL},
    {"update", NULL, "[OPTIONS] NODE", "Update a node", CLI_ARGS_EXACT, 1,
     cli_flags_node_update, cli_node_update, NULL},
    {NULL, NULL, NULL, NULL, CLI_ARGS_ANY, 0, NULL, NULL, NULL},
};

static const struct cli_cmd cli_secret_cmds[] = {
    {"create", NULL, "[OPTIONS] SECRET [file|-]",
     "Create a secret from a file or STDIN as content", CLI_ARGS_MIN, 1,
     cli_flags_secret_create, cli_secret_create, NULL},
    {"inspect", NULL, "[OPTIONS] SECRET [SECRET...]",
     "Display detailed information on one or more secrets", CLI_ARGS_MIN, 1,
     cli_flags_secret_inspect, cli_secret_inspect, NULL},
    {"ls", "list", "[OPTIONS]", "List secrets", CLI_ARGS_NONE, 0,
     cli_flags_secret_ls, cli_secret_ls, NULL},
    {"rm", "remove", "SECRET [SECRET...]", "Remove one or more secrets",
     CLI_ARGS_MIN, 1, NULL, cli_secret_rm, NULL},
    {NULL, NULL, NULL, NULL, CLI_ARGS_ANY, 0, NULL, NULL, NULL},
};

static const struct cli_cmd cli_config_cmds[] = {
    {"create", NULL, "[OPTIONS] CONFIG file|-",
     "Create a config from a file or STDIN", CLI_ARGS_MIN, 2,
     cli_flags_secret_create, cli_secret_create, NULL},
    {"inspect", NULL, "[OPTIONS] CONFIG [CONFIG...]",
     "Display detailed information on one or more configs", CLI_ARGS_MIN, 1,
     cli_flags_secret_inspect, cli_secret_inspect, NULL},
    {"ls", "list", "[OPTIONS]", "List configs", CLI_ARGS_NONE, 0,
     cli_flags_secret_ls, cli_secret_ls, NULL},
    {"rm", "remove", "CONFIG [CONFIG...]", "Remove one or more configs",
     CLI_ARGS_MIN, 1, NULL, cli_secret_rm, NULL},
    {NULL, NULL, NULL, NULL, CLI_ARGS_ANY, 0, NULL, NULL, NULL},
};

static const struct cli_cmd cli_service_cmds[] = {
    {"create", NULL, "[OPTIONS] IMAGE [COMMAND] [ARG...]",
     "Create a new service", CLI_ARGS_MIN, 1, cli_service_flags_create_table,
     cli_service_create, NULL},
    {"inspect", NULL, "[OPTIONS] SERVICE [SERVICE...]",
     "Display detailed information on one or more services", CLI_ARGS_MIN, 1,
     cli_flags_service_inspect, cli_service_inspect, NULL},
    {"logs", NULL, "[OPTIONS] SERVICE",
     "Fetch the logs of a service", CLI_ARGS_EXACT, 1,
     cli_flags_service_logs, cli_service_logs, NULL},
    {"ls", "list", "[OPTIONS]", "List services", CLI_ARGS_NONE, 0,
     cli_flags_service_ls, cli_service_ls, NULL},
    {"ps", NULL, "[OPTIONS] SERVICE",
     "List the tasks of one or more services", CLI_ARGS_EXACT, 1,
     cli_flags_service_ps, cli_service_ps, NULL},
    {"rm", "remove", "SERVICE [SERVICE...]",
     "Remove one or more services", CLI_ARGS_MIN, 1, NULL, cli_service_rm,
     NULL},
    {"rollback", NULL, "[OPTIONS] SERVICE",
     "Revert changes to a service's configuration", CLI_ARGS_EXACT, 1,
     cli_flags_service_rollback, cli_service_rollback, NULL},
    {"scale", NULL, "SERVICE=REPLICAS [SERVICE=REPLICAS...]",
     "Scale one or multiple replicated services", CLI_ARGS_MIN, 1,
     cli_flags_service_detach, cli_service_scale, NULL},
    {"update", NULL, "[OPTIONS] SERVICE", "Update a service", CLI_ARGS_EXACT,
     1, cli_service_flags_update_table, cli_service_update, NULL},
    {NULL, NULL, NULL, NULL, CLI_ARGS_ANY, 0, NULL, NULL, NULL},
};

static const struct cli_cmd cli_network_cmds[] = {
    {"inspect", NULL, "[OPTIONS] NETWORK [NETWORK...]",
     "Display detailed information on one or more networks", CLI_ARGS_MIN, 1,
     cli_flags_network_inspect, cli_network_inspect, NULL},
    {"ls", "list", "[OPTIONS]", "List networks", CLI_ARGS_NONE, 0,
     cli_flags_network_ls, cli_network_ls, NULL},
    {NULL, NULL, NULL, NULL, CLI_ARGS_ANY, 0, NULL, NULL, NULL},
};

static const struct cli_cmd cli_system_cmds[] = {
    {"info", NULL, "[OPTIONS]", "Display system-wide information",
     CLI_ARGS_NONE, 0, cli_flags_format_only, cli_system_info, NULL},
    {NULL, NULL, NULL, NULL, CLI_ARGS_ANY, 0, NULL, NULL, NULL},
};

static const struct cli_cmd cli_bench_cmds[] = {
    {"agents", NULL, "[OPTIONS] N",
     "Run N simulated worker nodes against a swarm (scale benchmarks)",
     CLI_ARGS_EXACT, 1, cli_flags_bench_agents, cli_bench_agents, NULL},
    {NULL, NULL, NULL, NULL, CLI_ARGS_ANY, 0, NULL, NULL, NULL},
};

/* Root rows; the help groups them by their position in this table. */
static const struct cli_cmd cli_root_cmds[] = {
    {"daemon", NULL, "[OPTIONS]", "Run the shoal daemon (a swarm node)",
     CLI_ARGS_ANY, 0, NULL, cli_daemon_misplaced, NULL},
    {"info", NULL, "[OPTIONS]", "Display system-wide information",
     CLI_ARGS_NONE, 0, cli_flags_format_only, cli_system_info, NULL},
    {"version", NULL, "[OPTIONS]", "Show the shoal version information",
     CLI_ARGS_NONE, 0, cli_flags_format_only, cli_system_version, NULL},
    {"network", NULL, "COMMAND", "Manage networks", CLI_ARGS_ANY, 0, NULL,
     NULL, cli_network_cmds},
    {"system", NULL, "COMMAND", "Manage shoal", CLI_ARGS_ANY, 0, NULL, NULL,
     cli_system_cmds},
    {"config", NULL, "COMMAND", "Manage Swarm configs", CLI_ARGS_ANY, 0, NULL,
     NULL, cli_config_cmds},
    {"node", NULL, "COMMAND", "Manage Swarm nodes", CLI_ARGS_ANY, 0, NULL,
     NULL, cli_node_cmds},
    {"secret", NULL, "COMMAND", "Manage Swarm secrets", CLI_ARGS_ANY, 0, NULL,
     NULL, cli_secret_cmds},
    {"service", NULL, "COMMAND", "Manage Swarm services", CLI_ARGS_ANY, 0,
     NULL, NULL, cli_service_cmds},
    {"swarm", NULL, "COMMAND", "Manage Swarm", CLI_ARGS_ANY, 0, NULL, NULL,
     cli_swarm_cmds},
    {"bench", NULL, "COMMAND", "Benchmark tools", CLI_ARGS_ANY, 0, NULL,
     NULL, cli_bench_cmds},
    {NULL, NULL, NULL, NULL, CLI_ARGS_ANY, 0, NULL, NULL, NULL},
};

/* Where the root help's sections start in cli_root_cmds. */
static const struct
{
    const char *title;
    size_t first;
    size_t end;
} cli_root_sections[] = {
    {"Commands", 0, 3},
    {"Management Commands", 3, 5},
    {"Swarm Commands", 5, 10},
};

/* Indexes into cli_global_flags. */
enum { CLI__G_DEBUG, CLI__G_HOST, CLI__G_LOG_LEVEL, CLI__G_VERSION };

static const struct cli_flag cli_global_flags[] = {
    {"debug", 'D', CLI_FLAG_BOOL, NULL, NULL, "Enable debug mode"},
    {"host", 'H', CLI_FLAG_LIST, NULL, NULL,
     "Daemon socket to connect to (default \"" CLI_DEFAULT_HOST
     "\", or $" CLI_ENV_HOST ")"},
    {"log-level", 'l', CLI_FLAG_STRING, NULL, "info",
     "Set the logging level (\"debug\", \"info\", \"warn\", \"error\", "
     "\"fatal\")"},
    {"version", 'v', CLI_FLAG_BOOL, NULL, NULL,
     "Print version information and quit"},
    {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL},
};

/* ------------------------------------------------------------------ */
/* help                                                                */
/* ------------------------------------------------------------------ */

/* docker wraps flag help for an 80-column terminal (79 usable). */
#define CLI__HELP_COLS 79

static size_t cli_flags_count(const struct cli_flag *flags)
{
    size_t n = 0;

    while (flags != NULL && flags[n].name != NULL)
        n++;
    return n;
}

static const char *cli_flag_varname(const struct cli_flag *f)
{
    if (f->varname != NULL)
        return f->varname;
    switch (f->type) {
    case CLI_FLAG_BOOL: return "";
    case CLI_FLAG_STRING: return "string";
    case CLI_FLAG_LIST: return "list";
    case CLI_FLAG_INT: return "int";
    case CLI_FLAG_UINT: return "uint";
    case CLI_FLAG_UINT32: return "uint32";
    case CLI_FLAG_DURATION: return "duration";
    case CLI_FLAG_FILTER: return "filter";
    case CLI_FLAG_CIDR: return "ipNetSlice";
    case CLI_FLAG_BYTES: return "bytes";
    case CLI_FLAG_DECIMAL: return "decimal";
    case CLI_FLAG_FLOAT: return "float";
    case CLI_FLAG_OPT: return "list";
    }
    return "";
}

/* pflag's wrapN: split s at the last blank before i bytes (or at an
 * earlier newline); take all of s if it fits within i + slop. */
static size_t cli_help_wrap_n(const char *s, size_t i, size_t slop,
                              size_t *out_skip)
{
    size_t len = strlen(s);
    size_t w = 0;
    size_t nl = 0;
    size_t k;

    *out_skip = 0;
    if (i + slop > len)
        return len;
    for (k = 0; k < i; k++) {
        if (s[k] == ' ' || s[k] == '\t' || s[k] == '\n')
            w = k;
        if (s[k] == '\n')
            nl = k;
    }
    if (w == 0)
        return len;
    if (nl > 0 && nl < w) {
        *out_skip = 1;
        return nl;
    }
    *out_skip = 1;
    return w;
}

static void cli_help_indent_nl(FILE *fp, const char *s, size_t len,
                               size_t indent)
{
    size_t k;

    for (k = 0; k < len; k++) {
        fputc(s[k], fp);
        if (s[k] == '\n')
            fprintf(fp, "%*s", (int)indent, "");
    }
}

/* pflag's wrap of a flag's usage text: continuation lines are indented by
 * indent, lines end before cols. */
static void cli_help_wrap(FILE *fp, const char *s, size_t indent, size_t cols)
{
    const size_t slop = 5;
    size_t width;
    bool first = true;

    if (cols < indent + 24) {
        indent = 16;
        fprintf(fp, "\n%*s", (int)indent, "");
    }
    if (cols < indent + 24) {
        cli_help_indent_nl(fp, s, strlen(s), indent);
        return;
    }
    width = cols - indent - slop;
    while (first || *s != '\0') {
        size_t skip;
        size_t n = cli_help_wrap_n(s, width, slop, &skip);

        if (!first)
            fprintf(fp, "\n%*s", (int)indent, "");
        cli_help_indent_nl(fp, s, n, indent);
        s += n + skip;
        first = false;
    }
}

static void cli_help_flags(FILE *fp, const struct cli_flag *flags)
{
    size_t n = cli_flags_count(flags);
    size_t maxlen = 0;
    size_t i;
    char **heads = xcalloc(n + 1, sizeof(*heads));

    for (i = 0; i < n; i++) {
        const struct cli_flag *f = &flags[i];
        const char *vn = cli_flag_varname(f);

        if (f->shorthand != 0)
            heads[i] = xasprintf("  -%c, --%s%s%s", f->shorthand, f->name,
                                 *vn ? " " : "", vn);
        else
            heads[i] = xasprintf("      --%s%s%s", f->name, *vn ? " " : "",
                                 vn);
        if (strlen(heads[i]) > maxlen)
            maxlen = strlen(heads[i]);
    }
    for (i = 0; i < n; i++) {
        const struct cli_flag *f = &flags[i];
        char *usage;
        size_t indent = maxlen + 3;

        if (f->defval != NULL && f->type == CLI_FLAG_STRING &&
            f->varname == NULL)
            usage = xasprintf("%s (default \"%s\")", f->usage, f->defval);
        else if (f->defval != NULL)
            usage = xasprintf("%s (default %s)", f->usage, f->defval);
        else
            usage = xstrdup(f->usage);
        fprintf(fp, "%s%*s", heads[i], (int)(indent - strlen(heads[i])), "");
        cli_help_wrap(fp, usage, indent, CLI__HELP_COLS);
        fputc('\n', fp);
        free(usage);
        free(heads[i]);
    }
    free(heads);
}

static void cli_help_cmds(FILE *fp, const struct cli_cmd *cmds, size_t first,
                          size_t end)
{
    size_t pad = 11;
    size_t i;

    for (i = first; i < end && cmds[i].name != NULL; i++) {
        if (strlen(cmds[i].name) > pad)
            pad = strlen(cmds[i].name);
    }
    for (i = first; i < end && cmds[i].name != NULL; i++)
        fprintf(fp, "  %-*s %s\n", (int)pad, cmds[i].name,
                cmds[i].short_desc);
}

static void cli_help_root(FILE *fp)
{
    size_t i;

    fprintf(fp, "Usage:  " CLI_PROG " [OPTIONS] COMMAND\n\n"
                "Docker Swarm mode, in C: the node daemon and its client\n");
    for (i = 0; i < ARRAY_SIZE(cli_root_sections); i++) {
        fprintf(fp, "\n%s:\n", cli_root_sections[i].title);
        cli_help_cmds(fp, cli_root_cmds, cli_root_sections[i].first,
                      cli_root_sections[i].end);
    }
    fprintf(fp, "\nGlobal Options:\n");
    cli_help_flags(fp, cli_global_flags);
    fprintf(fp, "\nRun '" CLI_PROG " COMMAND --help' for more information "
                "on a command.\n");
}

static void cli_help_cmd(FILE *fp, const struct cli_cmd *cmd,
                         const char *path)
{
    if (cmd->subs != NULL) {
        fprintf(fp, "Usage:  %s COMMAND\n\n%s\n\nCommands:\n", path,
                cmd->short_desc);
        cli_help_cmds(fp, cmd->subs, 0, SIZE_MAX);
        fprintf(fp, "\nRun '%s COMMAND --help' for more information on a "
                    "command.\n",
                path);
        return;
    }
    fprintf(fp, "Usage:  %s%s%s\n\n%s\n", path, *cmd->use ? " " : "",
            cmd->use, cmd->short_desc);
    if (cmd->aliases != NULL) {
        char *parent = xstrdup(path);
        char *sp = strrchr(parent, ' ');
        const char *p = cmd->aliases;

        if (sp != NULL)
            *sp = '\0';
        fprintf(fp, "\nAliases:\n  %s", path);
        while (*p != '\0') {
            size_t l = strcspn(p, ",");

            fprintf(fp, ", %s %.*s", parent, (int)l, p);
            p += l;
            if (*p == ',')
                p++;
        }
        fputc('\n', fp);
        free(parent);
    }
    if (cli_flags_count(cmd->flags) > 0) {
        fprintf(fp, "\nOptions:\n");
        cli_help_flags(fp, cmd->flags);
    }
}

void cli_print_help(FILE *fp, const struct cli_args *a)
{
    cli_help_cmd(fp, a->cmd, a->path);
}

/* "<msg>\n\nUsage:  <path> <use>\n\n<verb> '<path> --help' for more
 * information" on stderr. */
static void cli_usage_error(const struct cli_cmd *cmd, const char *path,
                            const char *verb, const char *fmt, ...)
    PRINTF_LIKE(4, 5);

static void cli_usage_error(const struct cli_cmd *cmd, const char *path,
                            const char *verb, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (cmd == NULL)
        fprintf(stderr, "\n\nUsage:  %s [OPTIONS] COMMAND [ARG...]\n", path);
    else if (cmd->subs != NULL)
        fprintf(stderr, "\n\nUsage:  %s\n", path);
    else
        fprintf(stderr, "\n\nUsage:  %s%s%s\n", path, *cmd->use ? " " : "",
                cmd->use);
    fprintf(stderr, "\n%s '%s --help' for more information\n", verb, path);
}

/* ------------------------------------------------------------------ */
/* flag parsing                                                        */
/* ------------------------------------------------------------------ */

static const struct cli_flag *cli_flag_find(const struct cli_flag *flags,
                                            const char *name, size_t len,
                                            char shorthand, size_t *out_idx)
{
    size_t i;

    for (i = 0; flags != NULL && flags[i].name != NULL; i++) {
        if ((shorthand != 0 && flags[i].shorthand == shorthand) ||
            (shorthand == 0 && strlen(flags[i].name) == len &&
             memcmp(flags[i].name, name, len) == 0)) {
            *out_idx = i;
            return &flags[i];
        }
    }
    return NULL;
}

bool cli_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    size_t i;

    for (i = 0; i < ARRAY_SIZE(yes); i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool cli_parse_cidr(const char *s, size_t len)
{
    char tmp[64];
    unsigned char addr[16];
    const char *slash;
    char *end;
    long bits;
    int af;

    if (len == 0 || len >= sizeof(tmp))
        return false;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    slash = strchr(tmp, '/');
    if (slash == NULL || slash[1] == '\0')
        return false;
    tmp[slash - tmp] = '\0';
    af = strchr(tmp, ':') != NULL ? AF_INET6 : AF_INET;
    if (inet_pton(af, tmp, addr) != 1)
        return false;
    errno = 0;
    bits = strtol(slash + 1, &end, 10);
    if (errno != 0 || *end != '\0' || !isdigit((unsigned char)slash[1]) ||
        bits < 0 || bits > (af == AF_INET ? 32 : 128))
        return false;
    return true;
}

static void cli_val_append(struct cli_flag_val *v, const char *s)
{
    v->list = xrealloc(v->list, (v->n_list + 1) * sizeof(*v->list));
    v->list[v->n_list++] = s;
}

/* Set a flag's value; on a bad value print pflag's message and return
 * -ERR_INVALID. */
static int cli_flag_assign(const struct cli_flag *f, struct cli_flag_val *v,
                           const char *val, struct err *err)
{
    char name[80];
    char *end;

    if (f->shorthand != 0)
        snprintf(name, sizeof(name), "-%c, --%s", f->shorthand, f->name);
    else
        snprintf(name, sizeof(name), "--%s", f->name);
    v->set = true;
    switch (f->type) {
    case CLI_FLAG_BOOL:
        if (!cli_parse_bool(val, &v->b))
            return err_set(err, ERR_INVALID,
                           "invalid argument \"%s\" for \"%s\" flag: "
                           "strconv.ParseBool: parsing \"%s\": invalid syntax",
                           val, name, val);
        return 0;
    case CLI_FLAG_STRING:
        v->s = val;
        return 0;
    case CLI_FLAG_LIST:
        cli_val_append(v, val);
        return 0;
    case CLI_FLAG_FILTER:
        if (*val == '\0')
            return 0;
        if (strchr(val, '=') == NULL)
            return err_set(err, ERR_INVALID,
                           "invalid argument \"%s\" for \"%s\" flag: bad "
                           "format of filter (expected name=value)",
                           val, name);
        cli_val_append(v, val);
        return 0;
    case CLI_FLAG_CIDR: {
        const char *p = val;

        while (*p != '\0') {
            size_t l = strcspn(p, ",");

            if (!cli_parse_cidr(p, l))
                return err_set(err, ERR_INVALID,
                               "invalid argument \"%s\" for \"%s\" flag: "
                               "invalid string being converted to CIDR: "
                               "%.*s",
                               val, name, (int)l, p);
            p += l;
            if (*p == ',')
                p++;
        }
        cli_val_append(v, val);
        return 0;
    }
    case CLI_FLAG_INT: {
        long long ll;

        errno = 0;
        ll = strtoll(val, &end, 0);
        if (*val == '\0' || *end != '\0' || isspace((unsigned char)*val))
            return err_set(err, ERR_INVALID,
                           "invalid argument \"%s\" for \"%s\" flag: "
                           "strconv.ParseInt: parsing \"%s\": invalid syntax",
                           val, name, val);
        if (errno == ERANGE)
            return err_set(err, ERR_INVALID,
                           "invalid argument \"%s\" for \"%s\" flag: "
                           "strconv.ParseInt: parsing \"%s\": value out of "
                           "range",
                           val, name, val);
        v->i = ll;
        return 0;
    }
    case CLI_FLAG_UINT:
    case CLI_FLAG_UINT32: {
        unsigned long long ull;

        errno = 0;
        ull = strtoull(val, &end, 0);
        if (*val == '\0' || *end != '\0' || !isdigit((unsigned char)*val))
            return err_set(err, ERR_INVALID,
                           "invalid argument \"%s\" for \"%s\" flag: "
                           "strconv.ParseUint: parsing \"%s\": invalid syntax",
                           val, name, val);
        if (errno == ERANGE ||
            (f->type == CLI_FLAG_UINT32 && ull > UINT32_MAX))
            return err_set(err, ERR_INVALID,
                           "invalid argument \"%s\" for \"%s\" flag: "
                           "strconv.ParseUint: parsing \"%s\": value out of "
                           "range",
                           val, name, val);
        v->u = ull;
        return 0;
    }
    case CLI_FLAG_DURATION:
        if (cli_format_duration_parse(val, &v->i, err) != 0)
            return err_wrap(err, "invalid argument \"%s\" for \"%s\" flag",
                            val, name);
        return 0;
    case CLI_FLAG_BYTES:
        if (cli_service_flags_parse_bytes(val, &v->i, err) != 0)
            return err_wrap(err, "invalid argument \"%s\" for \"%s\" flag",
                            val, name);
        return 0;
    case CLI_FLAG_DECIMAL:
        if (cli_service_flags_parse_cpus(val, &v->i, err) != 0)
            return err_wrap(err, "invalid argument \"%s\" for \"%s\" flag",
                            val, name);
        return 0;
    case CLI_FLAG_FLOAT:
        errno = 0;
        v->d = strtod(val, &end);
        if (*val == '\0' || *end != '\0' || isspace((unsigned char)*val))
            return err_set(err, ERR_INVALID,
                           "invalid argument \"%s\" for \"%s\" flag: "
                           "strconv.ParseFloat: parsing \"%s\": invalid "
                           "syntax",
                           val, name, val);
        v->d = (double)(float)v->d;
        return 0;
    case CLI_FLAG_OPT:
        if (cli_service_flags_check(f->name, val, err) != 0)
            return err_wrap(err, "invalid argument \"%s\" for \"%s\" flag",
                            val, name);
        cli_val_append(v, val);
        return 0;
    }
    return 0;
}

/* Defaults from the table (so that handlers read the displayed default). */
static void cli_flags_defaults(const struct cli_flag *flags,
                               struct cli_flag_val *vals)
{
    size_t i;

    for (i = 0; flags != NULL && flags[i].name != NULL; i++) {
        const struct cli_flag *f = &flags[i];
        struct cli_flag_val *v = &vals[i];

        if (f->defval == NULL)
            continue;
        switch (f->type) {
        case CLI_FLAG_STRING:
            v->s = f->defval;
            break;
        case CLI_FLAG_INT:
            v->i = strtoll(f->defval, NULL, 10);
            break;
        case CLI_FLAG_UINT:
        case CLI_FLAG_UINT32:
            v->u = strtoull(f->defval, NULL, 10);
            break;
        case CLI_FLAG_DURATION:
            (void)cli_format_duration_parse(f->defval, &v->i, NULL);
            break;
        default:
            break;
        }
    }
}

enum cli_parse_result {
    CLI_PARSE_OK,
    CLI_PARSE_HELP,
    CLI_PARSE_HELP_SHORT,  /* -h: help after docker's deprecation note */
    CLI_PARSE_ERROR,  /* message in err, exit 125 */
};

/* Parse argv[0..argc) against flags. Positionals go to out_pos (in order);
 * with stop_at_positional the first positional ends flag parsing (the
 * root command's rule). *out_used is the number of argv items consumed. */
static enum cli_parse_result
cli_flags_parse(const struct cli_flag *flags, struct cli_flag_val *vals,
                int argc, char **argv, bool stop_at_positional,
                const char ***out_pos, int *out_npos, int *out_used,
                struct err *err)
{
    int i;

    for (i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const struct cli_flag *f;
        size_t idx;

        if (strcmp(arg, "--") == 0) {
            for (i++; i < argc; i++) {
                *out_pos = xrealloc(*out_pos, (size_t)(*out_npos + 1) *
                                                  sizeof(**out_pos));
                (*out_pos)[(*out_npos)++] = argv[i];
            }
            break;
        }
        if (arg[0] != '-' || arg[1] == '\0') {
            if (stop_at_positional)
                break;
            *out_pos = xrealloc(*out_pos,
                                (size_t)(*out_npos + 1) * sizeof(**out_pos));
            (*out_pos)[(*out_npos)++] = arg;
            continue;
        }
        if (arg[1] == '-') {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            size_t nl = eq != NULL ? (size_t)(eq - name) : strlen(name);

            if (nl == 4 && memcmp(name, "help", 4) == 0)
                return CLI_PARSE_HELP;
            f = cli_flag_find(flags, name, nl, 0, &idx);
            if (f == NULL) {
                err_set(err, ERR_INVALID, "unknown flag: --%.*s", (int)nl,
                        name);
                return CLI_PARSE_ERROR;
            }
            if (eq != NULL) {
                if (cli_flag_assign(f, &vals[idx], eq + 1, err) != 0)
                    return CLI_PARSE_ERROR;
            } else if (f->type == CLI_FLAG_BOOL) {
                vals[idx].set = true;
                vals[idx].b = true;
            } else if (i + 1 < argc) {
                if (cli_flag_assign(f, &vals[idx], argv[++i], err) != 0)
                    return CLI_PARSE_ERROR;
            } else {
                err_set(err, ERR_INVALID, "flag needs an argument: --%s",
                        f->name);
                return CLI_PARSE_ERROR;
            }
            continue;
        }
        /* shorthand chain: -qf value, -fvalue, -f=value */
        {
            const char *p = arg + 1;

            while (*p != '\0') {
                if (*p == 'h')
                    return CLI_PARSE_HELP_SHORT;
                f = cli_flag_find(flags, "", 0, *p, &idx);
                if (f == NULL) {
                    err_set(err, ERR_INVALID,
                            "unknown shorthand flag: '%c' in -%s", *p, p);
                    return CLI_PARSE_ERROR;
                }
                if (f->type == CLI_FLAG_BOOL) {
                    if (p[1] == '=') {
                        if (cli_flag_assign(f, &vals[idx], p + 2, err) != 0)
                            return CLI_PARSE_ERROR;
                        break;
                    }
                    vals[idx].set = true;
                    vals[idx].b = true;
                    p++;
                    continue;
                }
                if (p[1] != '\0') {
                    if (cli_flag_assign(f, &vals[idx],
                                        p[1] == '=' ? p + 2 : p + 1,
                                        err) != 0)
                        return CLI_PARSE_ERROR;
                } else if (i + 1 < argc) {
                    if (cli_flag_assign(f, &vals[idx], argv[++i], err) != 0)
                        return CLI_PARSE_ERROR;
                } else {
                    err_set(err, ERR_INVALID,
                            "flag needs an argument: '%c' in -%c", *p, *p);
                    return CLI_PARSE_ERROR;
                }
                break;
            }
        }
    }
    *out_used = i;
    return CLI_PARSE_OK;
}

static size_t cli_flag_index(const struct cli_args *a, const char *name)
{
    size_t i;

    for (i = 0; a->cmd->flags != NULL && a->cmd->flags[i].name != NULL;
         i++) {
        if (strcmp(a->cmd->flags[i].name, name) == 0)
            return i;
    }
    fprintf(stderr, "BUG: flag --%s is not in the table of '%s'\n", name,
            a->path);
    abort();
}

bool cli_flag_changed(const struct cli_args *a, const char *name)
{
    return a->vals[cli_flag_index(a, name)].set;
}

bool cli_flag_bool(const struct cli_args *a, const char *name)
{
    return a->vals[cli_flag_index(a, name)].b;
}

const char *cli_flag_str(const struct cli_args *a, const char *name)
{
    const char *s = a->vals[cli_flag_index(a, name)].s;

    return s != NULL ? s : "";
}

int64_t cli_flag_int(const struct cli_args *a, const char *name)
{
    return a->vals[cli_flag_index(a, name)].i;
}

double cli_flag_float(const struct cli_args *a, const char *name)
{
    return a->vals[cli_flag_index(a, name)].d;
}

uint64_t cli_flag_uint(const struct cli_args *a, const char *name)
{
    return a->vals[cli_flag_index(a, name)].u;
}

const char **cli_flag_list(const struct cli_args *a, const char *name,
                           size_t *out_n)
{
    const struct cli_flag_val *v = &a->vals[cli_flag_index(a, name)];

    *out_n = v->n_list;
    return v->list;
}

static void cli_vals_free(struct cli_flag_val *vals, size_t n)
{
    size_t i;

    if (vals == NULL)
        return;
    for (i = 0; i < n; i++)
        free(vals[i].list);
    free(vals);
}

int cli_args_parse(const struct cli_cmd *cmd, bool interspersed, int argc,
                   char **argv, struct cli_args *out, struct err *err)
{
    enum cli_parse_result pr;
    int used = 0;

    memset(out, 0, sizeof(*out));
    out->cmd = cmd;
    out->path = xstrdup(cmd->name);
    out->vals = xcalloc(cli_flags_count(cmd->flags) + 1, sizeof(*out->vals));
    cli_flags_defaults(cmd->flags, out->vals);
    pr = cli_flags_parse(cmd->flags, out->vals, argc, argv, !interspersed,
                         &out->argv, &out->argc, &used, err);
    if (pr == CLI_PARSE_HELP || pr == CLI_PARSE_HELP_SHORT)
        return err_set(err, ERR_INVALID, "help requested");
    if (pr != CLI_PARSE_OK)
        return -ERR_INVALID;
    for (; used < argc; used++) {
        out->argv = xrealloc(out->argv,
                             (size_t)(out->argc + 1) * sizeof(*out->argv));
        out->argv[out->argc++] = argv[used];
    }
    return 0;
}

void cli_args_release(struct cli_args *a)
{
    cli_vals_free(a->vals, cli_flags_count(a->cmd->flags));
    free(a->argv);
    free(a->path);
    memset(a, 0, sizeof(*a));
}

/* ------------------------------------------------------------------ */
/* JSON and filter helpers                                             */
/* ------------------------------------------------------------------ */

json_t *cli_jget(const json_t *v, const char *path)
{
    const char *p = path;

    while (v != NULL && *p != '\0') {
        size_t l = strcspn(p, ".");
        char key[128];

        if (!json_is_object(v) || l >= sizeof(key))
            return NULL;
        memcpy(key, p, l);
        key[l] = '\0';
        v = json_object_get(v, key);
        p += l;
        if (*p == '.')
            p++;
    }
    return (json_t *)v;
}

const char *cli_jstr(const json_t *v, const char *path)
{
    const char *s = json_string_value(cli_jget(v, path));

    return s != NULL ? s : "";
}

long long cli_jint(const json_t *v, const char *path)
{
    json_t *x = cli_jget(v, path);

    if (json_is_real(x))
        return (long long)json_real_value(x);
    return (long long)json_integer_value(x);
}

bool cli_jbool(const json_t *v, const char *path)
{
    return json_is_true(cli_jget(v, path));
}

void cli_jset(json_t *v, const char *path, json_t *val)
{
    const char *p = path;

    while (json_is_object(v)) {
        size_t l = strcspn(p, ".");
        char key[128];
        json_t *next;

        if (l >= sizeof(key))
            break;
        memcpy(key, p, l);
        key[l] = '\0';
        p += l;
        if (*p == '\0') {
            json_object_set_new(v, key, val);
            return;
        }
        p++;
        next = json_object_get(v, key);
        if (!json_is_object(next)) {
            next = json_object();
            json_object_set_new(v, key, next);
        }
        v = next;
    }
    json_decref(val);
}

json_t **cli_jsorted(const json_t *arr,
                     int (*cmp)(const void *, const void *))
{
    size_t n = json_array_size(arr);
    json_t **sorted = xcalloc(n + 1, sizeof(*sorted));
    size_t i;

    for (i = 0; i < n; i++)
        sorted[i] = json_array_get(arr, i);
    qsort(sorted, n, sizeof(*sorted), cmp);
    return sorted;
}

char *cli_filters_query(const struct cli_args *a, const char *flag)
{
    size_t n;
    const char **list = cli_flag_list(a, flag, &n);
    json_t *root;
    char *text;
    char *esc;
    size_t i;

    if (n == 0)
        return NULL;
    root = json_object();
    for (i = 0; i < n; i++) {
        const char *eq = strchr(list[i], '=');
        char *name = xstrndup(list[i], (size_t)(eq - list[i]));
        char *val = xstrdup(eq + 1);
        char *s;
        char *e;
        char *vs;
        json_t *set;

        /* docker lower-cases and trims the name, trims the value */
        for (s = name; *s != '\0'; s++)
            *s = (char)tolower((unsigned char)*s);
        for (s = name; isspace((unsigned char)*s); s++)
            ;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        *e = '\0';
        vs = val;
        while (isspace((unsigned char)*vs))
            vs++;
        e = vs + strlen(vs);
        while (e > vs && isspace((unsigned char)e[-1]))
            e--;
        *e = '\0';
        set = json_object_get(root, s);
        if (set == NULL) {
            set = json_object();
            json_object_set_new(root, s, set);
        }
        json_object_set_new(set, vs, json_true());
        free(name);
        free(val);
    }
    /* Go encodes the map with sorted keys */
    text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    esc = cli_http_escape(text != NULL ? text : "{}");
    free(text);
    json_decref(root);
    return esc;
}

/* ------------------------------------------------------------------ */
/* dispatch                                                            */
/* ------------------------------------------------------------------ */

static const struct cli_cmd *cli_cmd_find(const struct cli_cmd *cmds,
                                          const char *name)
{
    size_t i;

    for (i = 0; cmds[i].name != NULL; i++) {
        const char *p = cmds[i].aliases;

        if (strcmp(cmds[i].name, name) == 0)
            return &cmds[i];
        while (p != NULL && *p != '\0') {
            size_t l = strcspn(p, ",");

            if (strlen(name) == l && memcmp(p, name, l) == 0)
                return &cmds[i];
            p += l;
            if (*p == ',')
                p++;
        }
    }
    return NULL;
}

static int cli_check_args(const struct cli_args *a)
{
    const struct cli_cmd *cmd = a->cmd;
    int n = cmd->n_args;

    switch (cmd->args) {
    case CLI_ARGS_ANY:
        return 0;
    case CLI_ARGS_NONE:
        if (a->argc == 0)
            return 0;
        cli_usage_error(cmd, a->path, "Run",
                        CLI_PROG ": '%s' accepts no arguments", a->path);
        return -1;
    case CLI_ARGS_EXACT:
        if (a->argc == n)
            return 0;
        cli_usage_error(cmd, a->path, "Run",
                        CLI_PROG ": '%s' requires %d argument%s", a->path, n,
                        n == 1 ? "" : "s");
        return -1;
    case CLI_ARGS_MIN:
        if (a->argc >= n)
            return 0;
        cli_usage_error(cmd, a->path, "See",
                        CLI_PROG ": '%s' requires at least %d argument%s",
                        a->path, n, n == 1 ? "" : "s");
        return -1;
    }
    return 0;
}

static int cli_run_leaf(const struct cli_cmd *cmd, char *path, int argc,
                        char **argv, const char *host, bool debug)
{
    struct cli_args a;
    struct cli c;
    struct err err;
    size_t n_flags = cli_flags_count(cmd->flags);
    enum cli_parse_result pr;
    bool interspersed;
    int used = 0;
    int rc = CLI_EXIT_OK;

    memset(&a, 0, sizeof(a));
    err_clear(&err);
    a.cmd = cmd;
    a.path = path;
    a.vals = xcalloc(n_flags + 1, sizeof(*a.vals));
    cli_flags_defaults(cmd->flags, a.vals);
    /* `service create IMAGE COMMAND ARGS...`: flags end at the image
     * (docker's SetInterspersed(false)); the rest are positionals. */
    interspersed = cmd->run != cli_service_create;
    pr = cli_flags_parse(cmd->flags, a.vals, argc, argv, !interspersed,
                         &a.argv, &a.argc, &used, &err);
    if (pr == CLI_PARSE_OK && !interspersed) {
        for (; used < argc; used++) {
            a.argv = xrealloc(a.argv, (size_t)(a.argc + 1) *
                                          sizeof(*a.argv));
            a.argv[a.argc++] = argv[used];
        }
    }
    if (pr == CLI_PARSE_HELP || pr == CLI_PARSE_HELP_SHORT) {
        if (pr == CLI_PARSE_HELP_SHORT)
            printf("Flag shorthand -h has been deprecated, use --help\n");
        cli_print_help(stdout, &a);
        goto out;
    }
    if (pr == CLI_PARSE_ERROR) {
        cli_usage_error(cmd, path, "Run", "%s", err.msg);
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    if (cli_check_args(&a) != 0) {
        rc = CLI_EXIT_ERR;
        goto out;
    }
    if (cli_http_init(&c, host, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        rc = CLI_EXIT_ERR;
        goto out;
    }
    c.debug = debug;
    if (cmd->run(&c, &a, &err) != 0) {
        fflush(stdout);
        fprintf(stderr, "%s\n", err.msg);
        rc = CLI_EXIT_ERR;
    }
    cli_http_release(&c);
out:
    cli_vals_free(a.vals, n_flags);
    free(a.argv);
    return rc;
}

static int cli_dispatch(int argc, char **argv, const char *host, bool debug)
{
    const struct cli_cmd *cmd;
    char *path;
    int rc;

    cmd = cli_cmd_find(cli_root_cmds, argv[0]);
    if (cmd == NULL) {
        fprintf(stderr,
                CLI_PROG ": unknown command: " CLI_PROG " %s\n\n"
                         "Run '" CLI_PROG " --help' for more information\n",
                argv[0]);
        return CLI_EXIT_ERR;
    }
    path = xasprintf(CLI_PROG " %s", cmd->name);
    if (cmd->subs != NULL) {
        const struct cli_cmd *sub;
        char *sub_path;

        if (argc < 2) {
            /* docker prints the group's help on stderr and succeeds */
            cli_help_cmd(stderr, cmd, path);
            free(path);
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
            cli_help_cmd(stdout, cmd, path);
            free(path);
            return CLI_EXIT_OK;
        }
        if (argv[1][0] == '-') {
            cli_usage_error(cmd, path, "Run", "unknown flag: %s", argv[1]);
            free(path);
            return CLI_EXIT_USAGE;
        }
        sub = cli_cmd_find(cmd->subs, argv[1]);
        if (sub == NULL) {
            cli_usage_error(cmd, path, "Run",
                            CLI_PROG ": unknown command: %s %s", path,
                            argv[1]);
            free(path);
            return CLI_EXIT_ERR;
        }
        sub_path = xasprintf("%s %s", path, sub->name);
        free(path);
        rc = cli_run_leaf(sub, sub_path, argc - 2, argv + 2, host, debug);
        free(sub_path);
        return rc;
    }
    rc = cli_run_leaf(cmd, path, argc - 1, argv + 1, host, debug);
    free(path);
    return rc;
}

int cli_main(int argc, char **argv)
{
    struct cli_flag_val *gv;
    struct err err;
    const char **pos = NULL;
    int npos = 0;
    int used = 0;
    const char *host;
    size_t n_hosts;
    const char **hosts;
    enum cli_parse_result pr;
    int rc;

    err_clear(&err);
    gv = xcalloc(cli_flags_count(cli_global_flags) + 1, sizeof(*gv));
    cli_flags_defaults(cli_global_flags, gv);
    pr = cli_flags_parse(cli_global_flags, gv, argc - 1, argv + 1, true,
                         &pos, &npos, &used, &err);
    free(pos);
    if (pr == CLI_PARSE_HELP || pr == CLI_PARSE_HELP_SHORT ||
        (pr == CLI_PARSE_OK && used + 1 >= argc &&
         !gv[CLI__G_VERSION].b)) {
        cli_help_root(stdout);
        rc = CLI_EXIT_OK;
        goto out;
    }
    if (pr == CLI_PARSE_ERROR) {
        cli_usage_error(NULL, CLI_PROG, "Run", "%s", err.msg);
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    if (gv[CLI__G_VERSION].b) {
        printf(CLI_PROG " version " CLI_VERSION ", build %s\n",
#ifdef CLI_GIT_COMMIT
               CLI_GIT_COMMIT
#else
               "unknown"
#endif
        );
        rc = CLI_EXIT_OK;
        goto out;
    }
    hosts = gv[CLI__G_HOST].list;
    n_hosts = gv[CLI__G_HOST].n_list;
    if (n_hosts > 1) {
        fprintf(stderr, "Failed to initialize: unable to resolve " CLI_PROG
                        " endpoint: Specify only one -H\n");
        rc = CLI_EXIT_ERR;
        goto out;
    }
    host = n_hosts == 1 ? hosts[0] : getenv(CLI_ENV_HOST);
    if (host == NULL || *host == '\0')
        host = CLI_DEFAULT_HOST;
    rc = cli_dispatch(argc - 1 - used, argv + 1 + used, host,
                      gv[CLI__G_DEBUG].b);
    dlcurl_release();
out:
    cli_vals_free(gv, cli_flags_count(cli_global_flags));
    fflush(stdout);
    return rc;
}
