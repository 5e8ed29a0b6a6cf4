/* SPDX-License-Identifier: Apache-2.0 */
/* Go text/template subset: lexes and parses a template into a node tree. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/compiler.h"
#include "base/err.h"
#include "base/mem.h"
#include "cli/cli_int.h"
#include "cli/cli_template_int.h"

/* ------------------------------------------------------------------ */
/* lexer                                                              */
/* ------------------------------------------------------------------ */

enum cli_template_tk {
    TK_EOF,
    TK_TEXT,
    TK_LDELIM,
    TK_RDELIM,
    TK_SPACE,
    TK_FIELD,    /* .Name */
    TK_VAR,      /* $name or $ */
    TK_IDENT,    /* function name */
    TK_STRING,   /* "..." or `...`, already unquoted */
    TK_NUMBER,
    TK_BOOL,
    TK_NIL,
    TK_DOT,
    TK_LPAREN,
    TK_RPAREN,
    TK_PIPE,
    TK_DECLARE,  /* := */
    TK_ASSIGN,   /* = */
    TK_COMMA,
    TK_IF,
    TK_ELSE,
    TK_END,
    TK_RANGE,
    TK_WITH,
};

struct cli_template_tok
{
    enum cli_template_tk kind;
    size_t pos;   /* byte offset in the source */
    char *val;    /* owned: text, name or unquoted string; may be NULL */
    size_t len;   /* length of val */
};

struct cli_template_lex
{
    const char *src;
    size_t len;
    size_t pos;
    struct cli_template_tok *toks;  /* owned */
    size_t n_toks;
    size_t cap_toks;
    struct err *err;
};

int cli_template_line_of(const char *src, size_t pos)
{
    int line = 1;
    size_t i;

    for (i = 0; i < pos && src[i] != '\0'; i++) {
        if (src[i] == '\n')
            line++;
    }
    return line;
}

static int cli_template_lex_error(struct cli_template_lex *lx, size_t pos,
                                  const char *msg)
{
    return err_set(lx->err, ERR_INVALID, "template: :%d: %s",
                   cli_template_line_of(lx->src, pos), msg);
}

static void cli_template_lex_emit(struct cli_template_lex *lx,
                                  enum cli_template_tk kind, size_t pos,
                                  const char *val, size_t len)
{
    struct cli_template_tok *t;

    if (lx->n_toks == lx->cap_toks) {
        lx->cap_toks = lx->cap_toks ? 2 * lx->cap_toks : 32;
        lx->toks = xrealloc(lx->toks, lx->cap_toks * sizeof(*lx->toks));
    }
    t = &lx->toks[lx->n_toks++];
    t->kind = kind;
    t->pos = pos;
    t->val = val != NULL ? xstrndup(val, len) : NULL;
    t->len = len;
}

static bool cli_template_is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static bool cli_template_is_alnum(char ch)
{
    return ch == '_' || isalnum((unsigned char)ch) ||
           ((unsigned char)ch & 0x80) != 0;
}

/* A right delimiter at p: "}}" or " -}}" (trim marker). Returns its length
 * (0 if none); *trim tells whether it trims the following text. */
static size_t cli_template_rdelim_at(const struct cli_template_lex *lx,
                                     size_t p, bool *trim)
{
    *trim = false;
    if (p + 1 < lx->len && lx->src[p] == '}' && lx->src[p + 1] == '}')
        return 2;
    if (p + 3 < lx->len && cli_template_is_space(lx->src[p]) &&
        lx->src[p + 1] == '-' && lx->src[p + 2] == '}' &&
        lx->src[p + 3] == '}') {
        *trim = true;
        return 4;
    }
    return 0;
}

static int cli_template_lex_quoted(struct cli_template_lex *lx)
{
    struct buf b;
    size_t start = lx->pos;
    size_t p = lx->pos + 1;
    char *s;
    size_t n;

    buf_init(&b, CLI_OUT_MAX);
    for (;;) {
        char ch;

        if (p >= lx->len || lx->src[p] == '\n') {
            buf_release(&b);
            return cli_template_lex_error(lx, start,
                                          "unterminated quoted string");
        }
        ch = lx->src[p++];
        if (ch == '"')
            break;
        if (ch == '\\' && p < lx->len) {
            char e = lx->src[p++];

            switch (e) {
            case 'n': ch = '\n'; break;
            case 't': ch = '\t'; break;
            case 'r': ch = '\r'; break;
            case '\\': ch = '\\'; break;
            case '"': ch = '"'; break;
            case '\'': ch = '\''; break;
            case 'a': ch = '\a'; break;
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case 'v': ch = '\v'; break;
            default:
                buf_release(&b);
                return cli_template_lex_error(lx, start,
                                              "invalid syntax in quoted "
                                              "string");
            }
        }
        (void)buf_append(&b, &ch, 1);
    }
    s = buf_detach(&b, &n);
    cli_template_lex_emit(lx, TK_STRING, start, s, n);
    free(s);
    lx->pos = p;
    return 0;
}

static const struct
{
    const char *word;
    enum cli_template_tk kind;
} cli_template_keywords[] = {
    {"if", TK_IF},       {"else", TK_ELSE},   {"end", TK_END},
    {"range", TK_RANGE}, {"with", TK_WITH},   {"true", TK_BOOL},
    {"false", TK_BOOL},  {"nil", TK_NIL},
};

/* Lex one action after its "{{" (and trim marker). */
static int cli_template_lex_action(struct cli_template_lex *lx, bool *trim_next)
{
    size_t open = lx->pos;

    for (;;) {
        size_t p = lx->pos;
        size_t dl;
        bool trim;
        char ch;

        if (p >= lx->len)
            return cli_template_lex_error(lx, open, "unclosed action");
        dl = cli_template_rdelim_at(lx, p, &trim);
        if (dl > 0) {
            cli_template_lex_emit(lx, TK_RDELIM, p, NULL, 0);
            lx->pos = p + dl;
            *trim_next = trim;
            return 0;
        }
        ch = lx->src[p];
        if (cli_template_is_space(ch)) {
            while (p < lx->len && cli_template_is_space(lx->src[p])) {
                if (cli_template_rdelim_at(lx, p, &trim) == 4)
                    break;
                p++;
            }
            cli_template_lex_emit(lx, TK_SPACE, lx->pos, NULL, 0);
            lx->pos = p;
            continue;
        }
        switch (ch) {
        case '|':
            cli_template_lex_emit(lx, TK_PIPE, p, NULL, 0);
            lx->pos++;
            continue;
        case '(':
            cli_template_lex_emit(lx, TK_LPAREN, p, NULL, 0);
            lx->pos++;
            continue;
        case ')':
            cli_template_lex_emit(lx, TK_RPAREN, p, NULL, 0);
            lx->pos++;
            continue;
        case ',':
            cli_template_lex_emit(lx, TK_COMMA, p, NULL, 0);
            lx->pos++;
            continue;
        case '=':
            cli_template_lex_emit(lx, TK_ASSIGN, p, NULL, 0);
            lx->pos++;
            continue;
        case ':':
            if (p + 1 < lx->len && lx->src[p + 1] == '=') {
                cli_template_lex_emit(lx, TK_DECLARE, p, NULL, 0);
                lx->pos += 2;
                continue;
            }
            return cli_template_lex_error(lx, p, "expected :=");
        case '"': {
            int rv = cli_template_lex_quoted(lx);

            if (rv != 0)
                return rv;
            continue;
        }
        case '`': {
            const char *end = memchr(lx->src + p + 1, '`', lx->len - p - 1);

            if (end == NULL)
                return cli_template_lex_error(lx, p, "unterminated raw quoted "
                                                     "string");
            cli_template_lex_emit(lx, TK_STRING, p, lx->src + p + 1,
                                  (size_t)(end - (lx->src + p + 1)));
            lx->pos = (size_t)(end - lx->src) + 1;
            continue;
        }
        case '$': {
            size_t q = p + 1;

            while (q < lx->len && cli_template_is_alnum(lx->src[q]))
                q++;
            cli_template_lex_emit(lx, TK_VAR, p, lx->src + p, q - p);
            lx->pos = q;
            continue;
        }
        case '.':
            if (p + 1 < lx->len && cli_template_is_alnum(lx->src[p + 1]) &&
                !isdigit((unsigned char)lx->src[p + 1])) {
                size_t q = p + 1;

                while (q < lx->len && cli_template_is_alnum(lx->src[q]))
                    q++;
                cli_template_lex_emit(lx, TK_FIELD, p, lx->src + p + 1,
                                      q - p - 1);
                lx->pos = q;
                continue;
            }
            if (p + 1 < lx->len && isdigit((unsigned char)lx->src[p + 1]))
                break; /* a number like .5 */
            cli_template_lex_emit(lx, TK_DOT, p, NULL, 0);
            lx->pos++;
            continue;
        default:
            break;
        }
        if (isdigit((unsigned char)ch) || ch == '.' ||
            ((ch == '-' || ch == '+') && p + 1 < lx->len &&
             (isdigit((unsigned char)lx->src[p + 1]) ||
              lx->src[p + 1] == '.'))) {
            size_t q = p + 1;

            while (q < lx->len &&
                   (isalnum((unsigned char)lx->src[q]) || lx->src[q] == '.' ||
                    lx->src[q] == '_' ||
                    ((lx->src[q] == '-' || lx->src[q] == '+') &&
                     (lx->src[q - 1] == 'e' || lx->src[q - 1] == 'E'))))
                q++;
            cli_template_lex_emit(lx, TK_NUMBER, p, lx->src + p, q - p);
            lx->pos = q;
            continue;
        }
        if (isalpha((unsigned char)ch) || ch == '_') {
            size_t q = p;
            size_t k;
            enum cli_template_tk kind = TK_IDENT;

            while (q < lx->len && cli_template_is_alnum(lx->src[q]))
                q++;
            for (k = 0; k < ARRAY_SIZE(cli_template_keywords); k++) {
                if (strlen(cli_template_keywords[k].word) == q - p &&
                    memcmp(cli_template_keywords[k].word, lx->src + p,
                           q - p) == 0)
                    kind = cli_template_keywords[k].kind;
            }
            cli_template_lex_emit(lx, kind, p, lx->src + p, q - p);
            lx->pos = q;
            continue;
        }
        {
            char msg[64];

            snprintf(msg, sizeof(msg), "unexpected \"%c\" in command", ch);
            return cli_template_lex_error(lx, p, msg);
        }
    }
}

static int cli_template_lex(struct cli_template_lex *lx)
{
    bool trim_next = false;

    while (lx->pos < lx->len) {
        const char *open = NULL;
        size_t text_end;
        size_t p;
        bool trim_prev = false;
        size_t i;

        for (i = lx->pos; i + 1 < lx->len; i++) {
            if (lx->src[i] == '{' && lx->src[i + 1] == '{') {
                open = lx->src + i;
                break;
            }
        }
        text_end = open != NULL ? (size_t)(open - lx->src) : lx->len;
        p = open != NULL ? text_end + 2 : lx->len;
        if (open != NULL && p + 1 < lx->len && lx->src[p] == '-' &&
            cli_template_is_space(lx->src[p + 1])) {
            trim_prev = true;
            p += 2;
        }
        {
            size_t ts = lx->pos;
            size_t te = text_end;

            if (trim_next) {
                while (ts < te && cli_template_is_space(lx->src[ts]))
                    ts++;
            }
            if (trim_prev) {
                while (te > ts && cli_template_is_space(lx->src[te - 1]))
                    te--;
            }
            if (te > ts)
                cli_template_lex_emit(lx, TK_TEXT, ts, lx->src + ts, te - ts);
        }
        trim_next = false;
        if (open == NULL) {
            lx->pos = lx->len;
            break;
        }
        /* a comment action: open, slash-star ... star-slash, close */
        while (p < lx->len && cli_template_is_space(lx->src[p]) && trim_prev)
            p++;
        if (p + 1 < lx->len && lx->src[p] == '/' && lx->src[p + 1] == '*') {
            const char *end = strstr(lx->src + p + 2, "*/");
            size_t q;
            size_t dl;
            bool trim;

            if (end == NULL)
                return cli_template_lex_error(lx, text_end, "unclosed comment");
            q = (size_t)(end - lx->src) + 2;
            dl = cli_template_rdelim_at(lx, q, &trim);
            if (dl == 0)
                return cli_template_lex_error(lx, text_end,
                                              "comment ends before closing "
                                              "delimiter");
            lx->pos = q + dl;
            trim_next = trim;
            continue;
        }
        cli_template_lex_emit(lx, TK_LDELIM, text_end, NULL, 0);
        lx->pos = p;
        {
            int rv = cli_template_lex_action(lx, &trim_next);

            if (rv != 0)
                return rv;
        }
    }
    cli_template_lex_emit(lx, TK_EOF, lx->len, NULL, 0);
    return 0;
}

/* ------------------------------------------------------------------ */
/* parser                                                             */
/* ------------------------------------------------------------------ */

struct cli_template_parser
{
    const char *src;
    struct cli_template_tok *toks;    /* borrowed from the lexer */
    size_t n_toks;
    size_t i;
    struct err *err;
};

static const char *const cli_template_funcs[] = {
    "json",  "split", "join", "title", "lower", "upper", "pad",
    "truncate", "println", "index", "len", "eq", "ne", "lt",
    "le",    "gt",    "ge",   "and",   "or",    "not",   "print",
    "printf",
};

static void cli_template_pipe_free(struct cli_template_pipe *p);

static void cli_template_arg_release(struct cli_template_arg *a)
{
    size_t i;

    free(a->src);
    free(a->name);
    for (i = 0; i < a->n_fields; i++)
        free(a->fields[i]);
    free(a->fields);
    json_decref(a->lit);
    cli_template_pipe_free(a->pipe);
}

static void cli_template_pipe_free(struct cli_template_pipe *p)
{
    size_t i;
    size_t j;

    if (p == NULL)
        return;
    for (i = 0; i < p->n_decl; i++)
        free(p->decl[i]);
    for (i = 0; i < p->n_cmds; i++) {
        for (j = 0; j < p->cmds[i].n_args; j++)
            cli_template_arg_release(&p->cmds[i].args[j]);
        free(p->cmds[i].args);
    }
    free(p->cmds);
    free(p);
}

static void cli_template_node_free(struct cli_template_node *n)
{
    while (n != NULL) {
        struct cli_template_node *next = n->next;

        free(n->text);
        cli_template_pipe_free(n->pipe);
        cli_template_node_free(n->list);
        cli_template_node_free(n->else_list);
        free(n);
        n = next;
    }
}

static const struct cli_template_tok *
cli_template_peek(const struct cli_template_parser *p)
{
    return &p->toks[p->i];
}

static const struct cli_template_tok *
cli_template_next(struct cli_template_parser *p)
{
    const struct cli_template_tok *t = &p->toks[p->i];

    if (t->kind != TK_EOF)
        p->i++;
    return t;
}

static void cli_template_skip_space(struct cli_template_parser *p)
{
    while (cli_template_peek(p)->kind == TK_SPACE)
        p->i++;
}

static int cli_template_parse_error(struct cli_template_parser *p, size_t pos,
                                    const char *msg)
{
    return err_set(p->err, ERR_INVALID, "template: :%d: %s",
                   cli_template_line_of(p->src, pos), msg);
}

static const char *cli_template_tok_name(const struct cli_template_tok *t)
{
    switch (t->kind) {
    case TK_EOF: return "EOF";
    case TK_RDELIM: return "}}";
    case TK_RPAREN: return ")";
    case TK_LPAREN: return "(";
    case TK_PIPE: return "|";
    case TK_COMMA: return ",";
    case TK_DECLARE: return ":=";
    case TK_ASSIGN: return "=";
    default: return t->val != NULL ? t->val : "token";
    }
}

static int cli_template_parse_pipe(struct cli_template_parser *p,
                                   enum cli_template_tk end,
                                   struct cli_template_pipe **out);

static void cli_template_arg_add_field(struct cli_template_arg *a,
                                       const char *name)
{
    a->fields = xrealloc(a->fields, (a->n_fields + 1) * sizeof(char *));
    a->fields[a->n_fields++] = xstrdup(name);
}

/* One operand: a term plus any .Field chain glued to it. */
static int cli_template_parse_operand(struct cli_template_parser *p,
                                      struct cli_template_arg *a)
{
    const struct cli_template_tok *t = cli_template_next(p);
    size_t start = t->pos;
    size_t end;
    size_t k;
    int rv;

    memset(a, 0, sizeof(*a));
    a->pos = t->pos;
    switch (t->kind) {
    case TK_FIELD:
        a->kind = CLI_TEMPLATE_ARG_FIELD;
        cli_template_arg_add_field(a, t->val);
        break;
    case TK_DOT:
        a->kind = CLI_TEMPLATE_ARG_FIELD;
        break;
    case TK_VAR:
        a->kind = CLI_TEMPLATE_ARG_VAR;
        a->name = xstrdup(t->val);
        break;
    case TK_IDENT:
        for (k = 0; k < ARRAY_SIZE(cli_template_funcs); k++) {
            if (strcmp(cli_template_funcs[k], t->val) == 0)
                break;
        }
        if (k == ARRAY_SIZE(cli_template_funcs)) {
            char msg[160];

            snprintf(msg, sizeof(msg), "function \"%.100s\" not defined",
                     t->val);
            return cli_template_parse_error(p, t->pos, msg);
        }
        a->kind = CLI_TEMPLATE_ARG_FUNC;
        a->name = xstrdup(t->val);
        break;
    case TK_STRING:
        a->kind = CLI_TEMPLATE_ARG_LIT;
        a->lit = json_stringn(t->val, t->len);
        if (a->lit == NULL)
            a->lit = json_string("");
        break;
    case TK_BOOL:
        a->kind = CLI_TEMPLATE_ARG_LIT;
        a->lit = json_boolean(strcmp(t->val, "true") == 0);
        break;
    case TK_NIL:
        a->kind = CLI_TEMPLATE_ARG_LIT;
        a->lit = json_null();
        break;
    case TK_NUMBER: {
        char *endp;
        long long ll;
        double d;

        errno = 0;
        ll = strtoll(t->val, &endp, 0);
        if (errno == 0 && *endp == '\0') {
            a->kind = CLI_TEMPLATE_ARG_LIT;
            a->lit = json_integer(ll);
            break;
        }
        d = strtod(t->val, &endp);
        if (*endp != '\0') {
            char msg[160];

            snprintf(msg, sizeof(msg), "bad number syntax: \"%.100s\"",
                     t->val);
            return cli_template_parse_error(p, t->pos, msg);
        }
        a->kind = CLI_TEMPLATE_ARG_LIT;
        a->lit = json_real(d);
        break;
    }
    case TK_LPAREN:
        a->kind = CLI_TEMPLATE_ARG_PIPE;
        rv = cli_template_parse_pipe(p, TK_RPAREN, &a->pipe);
        if (rv != 0)
            return rv;
        cli_template_next(p); /* ) */
        break;
    default: {
        char msg[160];

        snprintf(msg, sizeof(msg), "unexpected \"%.100s\" in operand",
                 cli_template_tok_name(t));
        return cli_template_parse_error(p, t->pos, msg);
    }
    }
    while (cli_template_peek(p)->kind == TK_FIELD) {
        if (a->kind == CLI_TEMPLATE_ARG_FUNC ||
            a->kind == CLI_TEMPLATE_ARG_LIT) {
            return cli_template_parse_error(p, cli_template_peek(p)->pos,
                                            "unexpected . after term");
        }
        /* Go positions a chain at its first chained field (".B" of
         * ".A.B", ".A" of "$x.A"); errors report that column */
        if (cli_template_peek(p)->pos > start && a->pos == start &&
            (a->kind != CLI_TEMPLATE_ARG_FIELD || a->n_fields > 0))
            a->pos = cli_template_peek(p)->pos;
        cli_template_arg_add_field(a, cli_template_next(p)->val);
    }
    end = cli_template_peek(p)->pos;
    if (end < start)
        end = start;
    a->src = xstrndup(p->src + start, end - start);
    return 0;
}

static int cli_template_parse_cmd(struct cli_template_parser *p,
                                  enum cli_template_tk end,
                                  struct cli_template_cmd *cmd)
{
    int rv;

    memset(cmd, 0, sizeof(*cmd));
    for (;;) {
        const struct cli_template_tok *t;

        cli_template_skip_space(p);
        t = cli_template_peek(p);
        if (t->kind == end || t->kind == TK_PIPE)
            break;
        if (t->kind == TK_EOF || t->kind == TK_RDELIM ||
            t->kind == TK_RPAREN) {
            char msg[160];

            snprintf(msg, sizeof(msg), "unexpected \"%s\" in command",
                     cli_template_tok_name(t));
            return cli_template_parse_error(p, t->pos, msg);
        }
        cmd->args = xrealloc(cmd->args,
                             (cmd->n_args + 1) * sizeof(*cmd->args));
        rv = cli_template_parse_operand(p, &cmd->args[cmd->n_args]);
        cmd->n_args++;
        if (rv != 0)
            return rv;
        t = cli_template_peek(p);
        if (t->kind != TK_SPACE && t->kind != end && t->kind != TK_PIPE) {
            char msg[160];

            snprintf(msg, sizeof(msg), "unexpected \"%s\" in operand",
                     cli_template_tok_name(t));
            return cli_template_parse_error(p, t->pos, msg);
        }
    }
    if (cmd->n_args == 0)
        return cli_template_parse_error(p, cli_template_peek(p)->pos,
                                        "missing value for command");
    return 0;
}

static int cli_template_parse_pipe(struct cli_template_parser *p,
                                   enum cli_template_tk end,
                                   struct cli_template_pipe **out)
{
    struct cli_template_pipe *pipe = xcalloc(1, sizeof(*pipe));
    size_t save;
    int rv;

    *out = pipe;
    cli_template_skip_space(p);
    /* declarations: $x := ..., $i, $e := ... */
    save = p->i;
    while (cli_template_peek(p)->kind == TK_VAR && pipe->n_decl < 2) {
        const struct cli_template_tok *v = cli_template_next(p);
        const struct cli_template_tok *t;

        cli_template_skip_space(p);
        t = cli_template_peek(p);
        if (t->kind == TK_DECLARE || t->kind == TK_ASSIGN) {
            pipe->decl[pipe->n_decl++] = xstrdup(v->val);
            cli_template_next(p);
            break;
        }
        if (t->kind == TK_COMMA && pipe->n_decl == 0) {
            pipe->decl[pipe->n_decl++] = xstrdup(v->val);
            cli_template_next(p);
            cli_template_skip_space(p);
            continue;
        }
        /* not a declaration after all */
        while (pipe->n_decl > 0)
            free(pipe->decl[--pipe->n_decl]);
        p->i = save;
        break;
    }
    for (;;) {
        const struct cli_template_tok *t;

        pipe->cmds = xrealloc(pipe->cmds,
                              (pipe->n_cmds + 1) * sizeof(*pipe->cmds));
        rv = cli_template_parse_cmd(p, end, &pipe->cmds[pipe->n_cmds]);
        pipe->n_cmds++;
        if (rv != 0)
            return rv;
        t = cli_template_peek(p);
        if (t->kind == TK_PIPE) {
            cli_template_next(p);
            continue;
        }
        break;
    }
    return 0;
}

/* Parse a list of nodes until {{end}}, {{else}} or EOF; *stop tells which
 * (TK_END, TK_ELSE or TK_EOF); the {{end}}/{{else}} keyword is consumed
 * but not the rest of its action. */
static int cli_template_parse_list(struct cli_template_parser *p,
                                   struct cli_template_node **out,
                                   enum cli_template_tk *stop,
                                   size_t *stop_pos);

static int cli_template_expect_rdelim(struct cli_template_parser *p)
{
    const struct cli_template_tok *t;

    cli_template_skip_space(p);
    t = cli_template_peek(p);
    if (t->kind != TK_RDELIM) {
        char msg[160];

        snprintf(msg, sizeof(msg), "unexpected \"%s\" in end",
                 cli_template_tok_name(t));
        return cli_template_parse_error(p, t->pos, msg);
    }
    cli_template_next(p);
    return 0;
}

static int cli_template_parse_control(struct cli_template_parser *p,
                                      enum cli_template_tk kind,
                                      struct cli_template_node **out)
{
    struct cli_template_node *n = xcalloc(1, sizeof(*n));
    enum cli_template_tk stop;
    size_t stop_pos;
    int rv;

    *out = n;
    n->kind = kind == TK_IF      ? CLI_TEMPLATE_NODE_IF
              : kind == TK_RANGE ? CLI_TEMPLATE_NODE_RANGE
                                 : CLI_TEMPLATE_NODE_WITH;
    rv = cli_template_parse_pipe(p, TK_RDELIM, &n->pipe);
    if (rv != 0)
        return rv;
    cli_template_next(p); /* }} */
    rv = cli_template_parse_list(p, &n->list, &stop, &stop_pos);
    if (rv != 0)
        return rv;
    if (stop == TK_EOF)
        return cli_template_parse_error(p, stop_pos, "unexpected EOF");
    if (stop == TK_ELSE) {
        const struct cli_template_tok *t;

        cli_template_skip_space(p);
        t = cli_template_peek(p);
        if ((t->kind == TK_IF && kind == TK_IF) ||
            (t->kind == TK_WITH && kind == TK_WITH)) {
            /* {{else if ...}}: a nested control sharing our {{end}} */
            cli_template_next(p);
            return cli_template_parse_control(p, t->kind, &n->else_list);
        }
        rv = cli_template_expect_rdelim(p);
        if (rv != 0)
            return rv;
        rv = cli_template_parse_list(p, &n->else_list, &stop, &stop_pos);
        if (rv != 0)
            return rv;
        if (stop != TK_END)
            return cli_template_parse_error(p, stop_pos,
                                            stop == TK_EOF
                                                ? "unexpected EOF"
                                                : "expected end; found "
                                                  "{{else}}");
    }
    return cli_template_expect_rdelim(p);
}

static int cli_template_parse_list(struct cli_template_parser *p,
                                   struct cli_template_node **out,
                                   enum cli_template_tk *stop,
                                   size_t *stop_pos)
{
    struct cli_template_node **tail = out;
    int rv;

    *out = NULL;
    for (;;) {
        const struct cli_template_tok *t = cli_template_next(p);
        struct cli_template_node *n = NULL;

        if (t->kind == TK_EOF) {
            *stop = TK_EOF;
            *stop_pos = t->pos;
            return 0;
        }
        if (t->kind == TK_TEXT) {
            n = xcalloc(1, sizeof(*n));
            n->kind = CLI_TEMPLATE_NODE_TEXT;
            n->text = xstrndup(t->val, t->len);
            n->text_len = t->len;
            *tail = n;
            tail = &n->next;
            continue;
        }
        /* TK_LDELIM */
        cli_template_skip_space(p);
        t = cli_template_peek(p);
        switch (t->kind) {
        case TK_END:
        case TK_ELSE:
            cli_template_next(p);
            *stop = t->kind;
            *stop_pos = t->pos;
            return 0;
        case TK_IF:
        case TK_RANGE:
        case TK_WITH:
            cli_template_next(p);
            rv = cli_template_parse_control(p, t->kind, &n);
            *tail = n;
            if (rv != 0)
                return rv;
            tail = &n->next;
            continue;
        default:
            n = xcalloc(1, sizeof(*n));
            n->kind = CLI_TEMPLATE_NODE_ACTION;
            *tail = n;
            tail = &n->next;
            rv = cli_template_parse_pipe(p, TK_RDELIM, &n->pipe);
            if (rv != 0)
                return rv;
            cli_template_next(p); /* }} */
            continue;
        }
    }
}

int cli_template_parse(const char *src, struct cli_template **out,
                       struct err *err)
{
    struct cli_template_lex lx;
    struct cli_template_parser p;
    struct cli_template *t;
    enum cli_template_tk stop;
    size_t stop_pos;
    size_t i;
    int rv;

    *out = NULL;
    memset(&lx, 0, sizeof(lx));
    lx.src = src;
    lx.len = strlen(src);
    lx.err = err;
    t = xcalloc(1, sizeof(*t));
    t->src = xstrdup(src);
    rv = cli_template_lex(&lx);
    if (rv == 0) {
        memset(&p, 0, sizeof(p));
        p.src = src;
        p.toks = lx.toks;
        p.n_toks = lx.n_toks;
        p.err = err;
        rv = cli_template_parse_list(&p, &t->root, &stop, &stop_pos);
        if (rv == 0 && stop != TK_EOF)
            rv = cli_template_parse_error(&p, stop_pos,
                                          stop == TK_END ? "unexpected {{end}}"
                                                         : "unexpected "
                                                           "{{else}}");
    }
    for (i = 0; i < lx.n_toks; i++)
        free(lx.toks[i].val);
    free(lx.toks);
    if (rv != 0) {
        cli_template_free(t);
        return rv;
    }
    *out = t;
    return 0;
}

void cli_template_free(struct cli_template *t)
{
    if (t == NULL)
        return;
    cli_template_node_free(t->root);
    free(t->src);
    free(t);
}
