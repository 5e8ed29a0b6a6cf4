/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Declarations shared inside cli/: the command and flag tables (cli.c), the
 * Engine API client over libcurl (cli_http.c), output formatting: the
 * tabwriter (cli_tabwriter.c), the Go-template subset (cli_template.c,
 * cli_template_exec.c) and docker's list layouts (cli_format.c), the
 * command handlers (cli_swarm.c, cli_node.c, cli_network.c, cli_system.c,
 * cli_service.c) and the service convergence wait (cli_service_progress.c).
 */
#ifndef SHOAL_CLI_CLI_INT_H
#define SHOAL_CLI_CLI_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "version.h"

/* The program name printed in usage texts and in the commands we tell the
 * user to run ("shoal swarm join --token ..."). */
#define CLI_PROG "shoal"
#define CLI_VERSION SHOAL_VERSION
/* Highest Engine API version this client speaks (docker 28.3-28.5). */
#define CLI_API_VERSION "1.51"
/* Version assumed when the daemon's /_ping has no Api-Version header. */
#define CLI_API_FALLBACK "1.24"
#define CLI_DEFAULT_HOST "unix:///run/shoal/shoal.sock"
#define CLI_ENV_HOST "SHOAL_HOST"
#define CLI_ENV_API_VERSION "SHOAL_API_VERSION"

/* Exit codes, as docker's. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_ERR 1
#define CLI_EXIT_USAGE 125

/* Response bodies larger than this are refused. */
#define CLI_BODY_MAX (256u << 20)
/* Cap of the buffers the formatting code builds its output in. */
#define CLI_OUT_MAX (1u << 30)

/* ---- flags and commands (cli.c) ---- */

enum cli_flag_type {
    CLI_FLAG_BOOL,
    CLI_FLAG_STRING,
    CLI_FLAG_LIST,     /* repeatable string */
    CLI_FLAG_INT,      /* int64 */
    CLI_FLAG_UINT,     /* uint64 */
    CLI_FLAG_UINT32,   /* uint32 */
    CLI_FLAG_DURATION, /* Go duration text -> int64 nanoseconds */
    CLI_FLAG_FILTER,   /* repeatable "name=value" */
    CLI_FLAG_CIDR,     /* repeatable IPv4/IPv6 CIDR */
    CLI_FLAG_BYTES,    /* go-units RAMInBytes ("64m") -> int64 */
    CLI_FLAG_DECIMAL,  /* CPUs ("0.5") -> int64 nano-CPUs */
    CLI_FLAG_FLOAT,    /* float32 text -> double */
    CLI_FLAG_OPT,      /* repeatable, checked by cli_service_flags_check
                        * under the flag's name (port, mount, ...) */
};

struct cli_flag
{
    const char *name;        /* long name without "--"; NULL ends a table */
    char shorthand;          /* one letter, or 0 */
    enum cli_flag_type type;
    const char *varname;     /* type word shown in help; NULL = by type */
    const char *defval;      /* default as text; NULL = the zero value */
    const char *usage;       /* help text */
};

struct cli_flag_val
{
    bool set;           /* given on the command line */
    bool b;             /* BOOL */
    int64_t i;          /* INT, DURATION, BYTES, DECIMAL */
    double d;           /* FLOAT */
    uint64_t u;         /* UINT, UINT32 */
    const char *s;      /* STRING: borrowed from argv or the table */
    const char **list;  /* repeatable kinds: owned array, borrowed items */
    size_t n_list;
};

struct cli;
struct cli_args;

typedef int (*cli_run_cb)(struct cli *c, struct cli_args *a, struct err *err);

enum cli_args_rule {
    CLI_ARGS_ANY,
    CLI_ARGS_NONE,
    CLI_ARGS_EXACT,
    CLI_ARGS_MIN,
};

struct cli_cmd
{
    const char *name;             /* NULL ends a table */
    const char *aliases;          /* comma-separated, or NULL */
    const char *use;              /* after the command path in "Usage:" */
    const char *short_desc;       /* one line for help listings */
    enum cli_args_rule args;
    int n_args;                   /* for EXACT and MIN */
    const struct cli_flag *flags; /* NULL-terminated table, or NULL */
    cli_run_cb run;               /* NULL for a group */
    const struct cli_cmd *subs;   /* a group's subcommands, or NULL */
};

/* Parsed arguments of one command; handlers read them by flag name. */
struct cli_args
{
    const struct cli_cmd *cmd;  /* borrowed from the command table */
    char *path;                 /* owned: "shoal node ls" */
    struct cli_flag_val *vals;  /* owned, parallel to cmd->flags */
    const char **argv;          /* owned array of borrowed positionals */
    int argc;
};

/* Flag accessors; name must be in the command's table (BUG otherwise). */
bool cli_flag_changed(const struct cli_args *a, const char *name);
bool cli_flag_bool(const struct cli_args *a, const char *name);
const char *cli_flag_str(const struct cli_args *a, const char *name);
int64_t cli_flag_int(const struct cli_args *a, const char *name);
uint64_t cli_flag_uint(const struct cli_args *a, const char *name);
double cli_flag_float(const struct cli_args *a, const char *name);
const char **cli_flag_list(const struct cli_args *a, const char *name,
                           size_t *out_n);

/* Parse argv[0..argc) against cmd's flags into *out as a command run
 * would (flags end at the first positional unless interspersed); release
 * with cli_args_release. 0, or -ERR_INVALID with pflag's message (help
 * flags are an error here). For tests and callers that build specs. */
int cli_args_parse(const struct cli_cmd *cmd, bool interspersed, int argc,
                   char **argv, struct cli_args *out, struct err *err);
void cli_args_release(struct cli_args *a);

/* Print the command's help on fp. */
void cli_print_help(FILE *fp, const struct cli_args *a);

/* ---- Engine API client (cli_http.c) ---- */

struct cli
{
    char *host;            /* owned: -H, $SHOAL_HOST or the default */
    char *sock_path;       /* owned: unix socket path; NULL for tcp:// */
    char *base_url;        /* owned: "http://localhost" or "http://h:p" */
    char api_version[32];  /* used in /vX.Y/ paths once negotiated */
    bool negotiated;       /* api_version is final */
    bool debug;            /* -D */
    void *curl;            /* owned CURL easy handle, made on first use */
};

struct cli_resp
{
    long status;             /* HTTP status */
    struct buf body;         /* capped at CLI_BODY_MAX */
    char content_type[128];  /* Content-Type header, or "" */
    char api_version[32];    /* Api-Version header, or "" */
};

/* Parse host ("unix:///path" or "tcp://host:port") into c. 0 or
 * -ERR_INVALID. */
int cli_http_init(struct cli *c, const char *host, struct err *err);
void cli_http_release(struct cli *c);

/* Negotiate the API version once (HEAD /_ping, GET /_ping fallback). A
 * daemon that cannot be reached gives "Cannot connect to the shoal daemon
 * at <host>. Is the shoal daemon running?". */
int cli_http_negotiate(struct cli *c, struct err *err);

/* Send one request to /vX.Y<path> (path starts with '/', may carry a query)
 * with an optional JSON body. On 0 the response had a 2xx status and
 * *resp holds it (release with cli_resp_release). An error status becomes
 * "Error response from daemon: <message>" in err. */
int cli_http_request(struct cli *c, const char *method, const char *path,
                     const json_t *body, struct cli_resp *resp,
                     struct err *err);
void cli_resp_release(struct cli_resp *r);

/* Request and decode the JSON answer into *out (new reference; NULL when
 * out is NULL or the body is empty). */
int cli_http_json(struct cli *c, const char *method, const char *path,
                  const json_t *body, json_t **out, struct err *err);

/* Percent-encode s for a path segment or a query value (owned result). */
char *cli_http_escape(const char *s);

/* ---- tabwriter (cli_tabwriter.c) ---- */

/* Go's text/tabwriter with padchar ' ' and no flags: cells end with '\t',
 * each column is as wide as its widest cell plus padding and at least
 * minwidth; the last cell of a line is not aligned; a line without tabs
 * ends the column blocks above it. text[0..len) is borrowed; the result is
 * appended to out (append failures past out's cap are ignored). */
void cli_tabwriter_format(const char *text, size_t len, size_t minwidth,
                          size_t padding, struct buf *out);
/* Append n spaces to out (append failures are ignored). */
void cli_tabwriter_pad(struct buf *out, size_t n);

/* ---- Go templates (cli_template.c, cli_template_exec.c) ---- */

/* A parsed Go template (subset: fields, variables, pipelines, if/else,
 * range, with, and docker's functions json, split, join, title, lower,
 * upper, pad, truncate, println plus Go's index, len, eq, ne, lt, le, gt,
 * ge, and, or, not, print, printf). */
struct cli_template;

/* Parse the NUL-terminated src (borrowed; the template keeps a copy). On 0
 * *out is a new template the caller frees with cli_template_free; on
 * -ERR_INVALID (Go's "template: :1: ..." text in err) *out is NULL. */
int cli_template_parse(const char *src, struct cli_template **out,
                       struct err *err);
/* Free t and everything it owns; NULL is a no-op. */
void cli_template_free(struct cli_template *t);

/* Execute t (borrowed) with dot = data (borrowed, not modified) and
 * append the text to out. Header mode makes the string functions return
 * their argument unchanged (docker's table headers). With type_name set
 * (borrowed), data is a row whose fields are all present: a missing one is
 * Go's "can't evaluate field X in type <type_name>" error; with NULL, data
 * is an API object and a missing field is <no value>. Returns 0, or
 * -ERR_INVALID (Go's "template: :L:C: executing ..." text in err) or
 * -ERR_TOOBIG; out keeps what was written before the error. */
int cli_template_exec_run(const struct cli_template *t, json_t *data,
                          bool header, const char *type_name,
                          struct buf *out, struct err *err);

/* ---- list output and renderings (cli_format.c) ---- */

/* docker's list output: `--format` (table prefix, json, a template), the
 * default table, -q. Rows are JSON objects whose keys are the fields. */
struct cli_format
{
    bool table;              /* print header and align with tabwriter */
    struct cli_template *tmpl; /* owned */
    json_t *header;          /* owned: field -> column title */
    const char *type_name;   /* borrowed, for template errors; NULL for
                              * API objects */
    struct buf body;         /* rows executed so far */
};

/* format: the user's --format ("" = default). default_table: the
 * command's "table ..." layout; quiet_format is used when quiet and the
 * format is empty or "table". header: field -> title (stolen). */
int cli_format_init(struct cli_format *f, const char *format,
                 const char *default_table, bool quiet,
                 const char *quiet_format, json_t *header,
                 const char *type_name, struct err *err);
int cli_format_row(struct cli_format *f, json_t *row, struct err *err);
/* Write everything to fp. */
int cli_format_flush(struct cli_format *f, FILE *fp, struct err *err);
void cli_format_release(struct cli_format *f);

/* go-units HumanDuration: "Less than a second", "5 seconds", "3 months". */
void cli_format_human_duration(int64_t ns, char *out, size_t cap);
/* go-units BytesSize: "23.54GiB". */
void cli_format_bytes_size(double size, char *out, size_t cap);
/* Go's time.Duration.String: "2160h0m0s", "5s", "1.5ms". */
void cli_format_duration_string(int64_t ns, char *out, size_t cap);
/* Go's time.ParseDuration; errors carry Go's text ("time: invalid
 * duration \"x\""). */
int cli_format_duration_parse(const char *s, int64_t *out, struct err *err);
/* docker's PrettyPrint: upper-case the first byte, lower-case the rest
 * ("ready" -> "Ready"). out gets at most cap-1 bytes. */
void cli_format_pretty(const char *s, char *out, size_t cap);
/* Go's %v of a float64 ("2", "1.5", "1e+06"). */
void cli_format_go_float(double d, char *out, size_t cap);
/* sortorder.NaturalLess: digit runs compare as numbers. */
bool cli_format_natural_less(const char *a, const char *b);
/* Three-way form of cli_format_natural_less, for qsort comparators. */
int cli_format_natural_cmp(const char *x, const char *y);
/* Go's json.Indent(dst, src, "", "    "): re-indent raw JSON keeping
 * strings and numbers byte for byte. */
void cli_format_json_indent(const char *src, size_t len, struct buf *out);
/* Compact JSON like Go's encoder without HTML escaping (owned). */
char *cli_format_json_compact(const json_t *v);
/* Append d as Go prints a float64: %v (strconv 'g', shortest digits,
 * exponent when exp < -4 || exp >= 6) or, with json_style, as
 * encoding/json does ('e' below 1e-6 or from 1e21, no "-0"). Append
 * failures past out's cap are ignored. */
void cli_format_float(double d, bool json_style, struct buf *out);
/* Append s[0..len) (borrowed) as a quoted JSON string, escaped like Go's
 * encoder without HTML escaping. Append failures past out's cap are
 * ignored. */
void cli_format_json_string(const char *s, size_t len, struct buf *out);
/* Go's time.Time.String() of an RFC 3339 time ("2026-11-25
 * 16:14:07.246839539 +0000 UTC"); a copy of s if it does not parse. */
char *cli_format_go_time(const char *rfc3339);

/* ---- JSON and filter helpers (cli.c) ---- */

/* Borrowed value at a dotted path ("ManagerStatus.Addr"), or NULL. */
json_t *cli_jget(const json_t *v, const char *path);
/* String at path, or "" (borrowed). */
const char *cli_jstr(const json_t *v, const char *path);
long long cli_jint(const json_t *v, const char *path);
bool cli_jbool(const json_t *v, const char *path);
/* Set a value at a dotted path, creating objects on the way (steals val). */
void cli_jset(json_t *v, const char *path, json_t *val);
/* The elements of array arr (borrowed) sorted by cmp (qsort's, called
 * with json_t ** arguments), in an owned array ending with NULL. */
json_t **cli_jsorted(const json_t *arr,
                     int (*cmp)(const void *, const void *));

/* ---- shared command helpers ---- */

/* Print docker's unlock-key instructions (nothing when key is ""). */
void cli_swarm_print_unlock(FILE *fp, const char *key);
/* Encode the repeated -f name=value flags as docker's filters JSON
 * (owned, URL-escaped; NULL when there are none). */
char *cli_filters_query(const struct cli_args *a, const char *flag);
/* Print raw JSON objects like `docker inspect`, or through --format. */
int cli_format_inspect(struct cli_resp *raws, size_t n, const char *format,
                       struct err *err);
/* GET each of paths[0..n) and print the answers like cli_format_inspect;
 * the paths that fail are reported together, one message a line, as
 * ERR_NOTFOUND after the others are printed. paths stay the caller's. */
int cli_format_inspect_paths(struct cli *c, char *const *paths, size_t n,
                             const char *format, struct err *err);

/* ---- handlers ---- */

int cli_swarm_init(struct cli *c, struct cli_args *a, struct err *err);
int cli_swarm_join(struct cli *c, struct cli_args *a, struct err *err);
int cli_swarm_join_token(struct cli *c, struct cli_args *a, struct err *err);
int cli_swarm_leave(struct cli *c, struct cli_args *a, struct err *err);
int cli_swarm_update(struct cli *c, struct cli_args *a, struct err *err);
int cli_swarm_unlock(struct cli *c, struct cli_args *a, struct err *err);
int cli_swarm_unlock_key(struct cli *c, struct cli_args *a, struct err *err);
int cli_swarm_ca(struct cli *c, struct cli_args *a, struct err *err);

int cli_secret_create(struct cli *c, struct cli_args *a, struct err *err);
int cli_secret_ls(struct cli *c, struct cli_args *a, struct err *err);
int cli_secret_inspect(struct cli *c, struct cli_args *a, struct err *err);
int cli_secret_rm(struct cli *c, struct cli_args *a, struct err *err);

int cli_node_ls(struct cli *c, struct cli_args *a, struct err *err);
int cli_node_inspect(struct cli *c, struct cli_args *a, struct err *err);
int cli_node_update(struct cli *c, struct cli_args *a, struct err *err);
int cli_node_rm(struct cli *c, struct cli_args *a, struct err *err);
int cli_node_promote(struct cli *c, struct cli_args *a, struct err *err);
int cli_node_demote(struct cli *c, struct cli_args *a, struct err *err);

int cli_service_create(struct cli *c, struct cli_args *a, struct err *err);
int cli_service_ls(struct cli *c, struct cli_args *a, struct err *err);
int cli_service_ps(struct cli *c, struct cli_args *a, struct err *err);
int cli_service_inspect(struct cli *c, struct cli_args *a, struct err *err);
int cli_service_scale(struct cli *c, struct cli_args *a, struct err *err);
int cli_service_update(struct cli *c, struct cli_args *a, struct err *err);
int cli_service_rollback(struct cli *c, struct cli_args *a, struct err *err);
int cli_service_rm(struct cli *c, struct cli_args *a, struct err *err);
int cli_service_logs(struct cli *c, struct cli_args *a, struct err *err);

int cli_network_ls(struct cli *c, struct cli_args *a, struct err *err);
int cli_network_inspect(struct cli *c, struct cli_args *a, struct err *err);

int cli_system_info(struct cli *c, struct cli_args *a, struct err *err);

/* ---- service convergence progress (cli_service_progress.c) ---- */

/* Wait until service ref (ID or name, as given) converges, showing
 * docker's progress on stdout (redrawn in place on a terminal; nothing
 * when quiet). Returns 0 also when SIGINT ends the wait ("Operation
 * continuing in background."); an error of a request, or "service update
 * paused: ..." / "service rollback paused: ...". Jobs are not waited
 * for. */
int cli_service_progress(struct cli *c, const char *ref, bool quiet,
                         struct err *err);

/* ---- service create/update flags (cli_service_flags.c) ---- */

/* docker 28's flags of `service create` and `service update`. */
extern const struct cli_flag cli_service_flags_create_table[];
extern const struct cli_flag cli_service_flags_update_table[];

/* Resolve a name to an ID for kind "secret", "config" or "network"; on 0
 * *out_id is owned by the caller; otherwise err says why (docker's
 * "secret not found: x"). */
typedef int (*cli_service_flags_resolve_cb)(void *data, const char *kind,
                                            const char *name, char **out_id,
                                            struct err *err);

/* go-units RAMInBytes ("64m", "1g", "512"): "invalid size: 'x'". */
int cli_service_flags_parse_bytes(const char *s, int64_t *out,
                                  struct err *err);
/* docker's NanoCPUs ("0.5", "2", "1/4") -> nano-CPUs. */
int cli_service_flags_parse_cpus(const char *s, int64_t *out,
                                 struct err *err);
/* Check one value of the CLI_FLAG_OPT flag named flag (publish, mount,
 * secret, config, placement-pref, network, host, dns, entrypoint, ... and
 * their -add/-rm forms) with docker's texts (without pflag's prefix). */
int cli_service_flags_check(const char *flag, const char *val,
                            struct err *err);
/* The spec `docker service create` sends for a's flags and positionals
 * (IMAGE [COMMAND] [ARG...]); on 0 *out_spec is a new reference. */
int cli_service_flags_create(const struct cli_args *a,
                             cli_service_flags_resolve_cb resolve,
                             void *data, json_t **out_spec,
                             struct err *err);
/* Apply `docker service update`'s flags in a to spec (borrowed, changed
 * in place), as docker does (-add/-rm on the existing lists). */
int cli_service_flags_update(const struct cli_args *a, json_t *spec,
                             cli_service_flags_resolve_cb resolve,
                             void *data, struct err *err);

/* ---- cli_bench.c ---- */
int cli_bench_agents(struct cli *c, struct cli_args *a, struct err *err);
int cli_system_version(struct cli *c, struct cli_args *a, struct err *err);

/* Go's strconv.ParseBool: true for 1 t T TRUE true True, false for 0 f F
 * FALSE false False; false when s is none of these. */
bool cli_parse_bool(const char *s, bool *out);

#endif
