/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared only by the Go-template files of cli/: the parse tree that
 * cli_template.c builds and cli_template_exec.c walks.
 */
#ifndef SHOAL_CLI_TEMPLATE_INT_H
#define SHOAL_CLI_TEMPLATE_INT_H

#include <stddef.h>

#include <jansson.h>

enum cli_template_arg_kind {
    CLI_TEMPLATE_ARG_FIELD, /* fields applied to dot ("." alone has none) */
    CLI_TEMPLATE_ARG_VAR,   /* variable, then fields */
    CLI_TEMPLATE_ARG_FUNC,  /* function name */
    CLI_TEMPLATE_ARG_LIT,   /* literal value */
    CLI_TEMPLATE_ARG_PIPE,  /* parenthesised pipeline, then fields */
};

struct cli_template_pipe;

/* One operand of a command. */
struct cli_template_arg
{
    enum cli_template_arg_kind kind;
    size_t pos;                     /* for error messages */
    char *src;                      /* owned: source text, "<.Foo>" */
    char *name;                     /* owned: function or variable name */
    char **fields;                  /* owned */
    size_t n_fields;
    json_t *lit;                    /* owned literal */
    struct cli_template_pipe *pipe; /* owned */
};

/* A command: a function and its arguments, or a single operand. */
struct cli_template_cmd
{
    struct cli_template_arg *args;  /* owned */
    size_t n_args;
};

/* A pipeline: optional "$x :=" / "$i, $e :=", then cmd | cmd | ... */
struct cli_template_pipe
{
    char *decl[2];                  /* owned variable names being declared */
    size_t n_decl;
    struct cli_template_cmd *cmds;  /* owned */
    size_t n_cmds;
};

enum cli_template_node_kind {
    CLI_TEMPLATE_NODE_TEXT,
    CLI_TEMPLATE_NODE_ACTION,
    CLI_TEMPLATE_NODE_IF,
    CLI_TEMPLATE_NODE_RANGE,
    CLI_TEMPLATE_NODE_WITH,
};

struct cli_template_node
{
    enum cli_template_node_kind kind;
    char *text;                         /* owned: CLI_TEMPLATE_NODE_TEXT */
    size_t text_len;
    struct cli_template_pipe *pipe;     /* owned */
    struct cli_template_node *list;     /* owned body */
    struct cli_template_node *else_list;/* owned */
    struct cli_template_node *next;     /* owned sibling */
};

/* A parsed template (opaque outside the template files, see cli_int.h). */
struct cli_template
{
    char *src;                          /* owned copy of the source */
    struct cli_template_node *root;     /* owned */
};

/* The 1-based line of byte offset pos in the NUL-terminated src (counting
 * stops at a NUL before pos), for Go's "template: :<line>: ..." errors.
 * src is borrowed. */
int cli_template_line_of(const char *src, size_t pos);

#endif
