/* SPDX-License-Identifier: Apache-2.0 */
/* Output formatting: tabwriter tables, a Go-template subset, docker's list
 * and inspect output, and Go/go-units renderings of durations, sizes, times
 * and JSON. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "cli/cli_int.h"

#define CLI_FORMAT__OUT_MAX (1u << 30)

/* ------------------------------------------------------------------ */
/* tabwriter                                                           */
/* ------------------------------------------------------------------ */

struct cli_format_tw_cell
{
    size_t off;    /* into the text */
    size_t len;    /* bytes */
    size_t width;  /* runes */
};

struct cli_format_tw_line
{
    struct cli_format_tw_cell *cells; /* owned */
    size_t n_cells;
    size_t cap_cells;
};

struct cli_format_tw
{
    const char *text;                 /* borrowed */
    struct cli_format_tw_line *lines; /* owned; the last one is open */
    size_t n_lines;
    size_t cap_lines;
    size_t *widths;                   /* owned stack of column widths */
    size_t n_widths;
    size_t cap_widths;
    size_t minwidth;
    size_t padding;
    struct buf *out;                  /* borrowed */
};

static size_t cli_format_runes(const char *s, size_t len)
{
    size_t i;
    size_t n = 0;

    for (i = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    }
    return n;
}

static void cli_format_tw_add_line(struct cli_format_tw *t)
{
    if (t->n_lines == t->cap_lines) {
        t->cap_lines = t->cap_lines ? 2 * t->cap_lines : 16;
        t->lines = xrealloc(t->lines, t->cap_lines * sizeof(*t->lines));
    }
    memset(&t->lines[t->n_lines], 0, sizeof(t->lines[0]));
    t->n_lines++;
}

static void cli_format_tw_add_cell(struct cli_format_tw *t, size_t off,
                                   size_t len)
{
    struct cli_format_tw_line *l = &t->lines[t->n_lines - 1];

    if (l->n_cells == l->cap_cells) {
        l->cap_cells = l->cap_cells ? 2 * l->cap_cells : 8;
        l->cells = xrealloc(l->cells, l->cap_cells * sizeof(*l->cells));
    }
    l->cells[l->n_cells].off = off;
    l->cells[l->n_cells].len = len;
    l->cells[l->n_cells].width = cli_format_runes(t->text + off, len);
    l->n_cells++;
}

static void cli_format_tw_pad(struct buf *out, size_t n)
{
    static const char spaces[] = "                                ";

    while (n > 0) {
        size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;

        (void)buf_append(out, spaces, k);
        n -= k;
    }
}

static void cli_format_tw_write(struct cli_format_tw *t, size_t line0,
                                size_t line1)
{
    size_t i;
    size_t j;

    for (i = line0; i < line1; i++) {
        const struct cli_format_tw_line *l = &t->lines[i];

        for (j = 0; j < l->n_cells; j++) {
            const struct cli_format_tw_cell *c = &l->cells[j];

            (void)buf_append(t->out, t->text + c->off, c->len);
            if (j < t->n_widths && t->widths[j] > c->width)
                cli_format_tw_pad(t->out, t->widths[j] - c->width);
        }
        /* The last buffered line is the open one: no newline yet. */
        if (i + 1 < t->n_lines)
            (void)buf_append(t->out, "\n", 1);
    }
}

/* Go's tabwriter block algorithm: a column block is a run of consecutive
 * lines that all have a cell in that column. */
static void cli_format_tw_format(struct cli_format_tw *t, size_t line0,
                                 size_t line1)
{
    size_t column = t->n_widths;
    size_t cur;

    for (cur = line0; cur < line1; cur++) {
        size_t width;

        if (column + 1 >= t->lines[cur].n_cells)
            continue;
        cli_format_tw_write(t, line0, cur);
        line0 = cur;
        width = t->minwidth;
        for (; cur < line1; cur++) {
            const struct cli_format_tw_line *l = &t->lines[cur];
            size_t w;

            if (column + 1 >= l->n_cells)
                break;
            w = l->cells[column].width + t->padding;
            if (w > width)
                width = w;
        }
        if (t->n_widths == t->cap_widths) {
            t->cap_widths = t->cap_widths ? 2 * t->cap_widths : 8;
            t->widths = xrealloc(t->widths,
                                 t->cap_widths * sizeof(*t->widths));
        }
        t->widths[t->n_widths++] = width;
        cli_format_tw_format(t, line0, cur);
        t->n_widths--;
        line0 = cur;
        if (cur >= line1)
            break;
    }
    cli_format_tw_write(t, line0, line1);
}

static void cli_format_tw_flush(struct cli_format_tw *t)
{
    size_t i;

    cli_format_tw_format(t, 0, t->n_lines);
    for (i = 0; i < t->n_lines; i++)
        free(t->lines[i].cells);
    t->n_lines = 0;
}

void cli_format_tabwriter(const char *text, size_t len, size_t minwidth,
                          size_t padding, struct buf *out)
{
    struct cli_format_tw t;
    size_t start = 0;
    size_t i;

    memset(&t, 0, sizeof(t));
    t.text = text;
    t.minwidth = minwidth;
    t.padding = padding;
    t.out = out;
    cli_format_tw_add_line(&t);
    for (i = 0; i < len; i++) {
        if (text[i] == '\t') {
            cli_format_tw_add_cell(&t, start, i - start);
            start = i + 1;
        } else if (text[i] == '\n') {
            size_t n_cells;

            cli_format_tw_add_cell(&t, start, i - start);
            start = i + 1;
            n_cells = t.lines[t.n_lines - 1].n_cells;
            cli_format_tw_add_line(&t);
            /* A line without tabs cannot affect the lines below it. */
            if (n_cells == 1) {
                cli_format_tw_flush(&t);
                cli_format_tw_add_line(&t);
            }
        }
    }
    cli_format_tw_add_cell(&t, start, len - start);
    cli_format_tw_flush(&t);
    free(t.lines);
    free(t.widths);
}

/* ------------------------------------------------------------------ */
/* templates: lexer                                                    */
/* ------------------------------------------------------------------ */

enum cli_format_tk {
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

struct cli_format_tok
{
    enum cli_format_tk kind;
    size_t pos;   /* byte offset in the source */
    char *val;    /* owned: text, name or unquoted string; may be NULL */
    size_t len;   /* length of val */
};

struct cli_format_lex
{
    const char *src;
    size_t len;
    size_t pos;
    struct cli_format_tok *toks;  /* owned */
    size_t n_toks;
    size_t cap_toks;
    struct err *err;
};

static int cli_format_line_of(const char *src, size_t pos)
{
    int line = 1;
    size_t i;

    for (i = 0; i < pos && src[i] != '\0'; i++) {
        if (src[i] == '\n')
            line++;
    }
    return line;
}

static int cli_format_lex_error(struct cli_format_lex *lx, size_t pos,
                                const char *msg)
{
    return err_set(lx->err, ERR_INVALID, "template: :%d: %s",
                   cli_format_line_of(lx->src, pos), msg);
}

static void cli_format_lex_emit(struct cli_format_lex *lx,
                                enum cli_format_tk kind, size_t pos,
                                const char *val, size_t len)
{
    struct cli_format_tok *t;

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

static bool cli_format_is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static bool cli_format_is_alnum(char ch)
{
    return ch == '_' || isalnum((unsigned char)ch) ||
           ((unsigned char)ch & 0x80) != 0;
}

/* A right delimiter at p: "}}" or " -}}" (trim marker). Returns its length
 * (0 if none); *trim tells whether it trims the following text. */
static size_t cli_format_rdelim_at(const struct cli_format_lex *lx, size_t p,
                                   bool *trim)
{
    *trim = false;
    if (p + 1 < lx->len && lx->src[p] == '}' && lx->src[p + 1] == '}')
        return 2;
    if (p + 3 < lx->len && cli_format_is_space(lx->src[p]) &&
        lx->src[p + 1] == '-' && lx->src[p + 2] == '}' &&
        lx->src[p + 3] == '}') {
        *trim = true;
        return 4;
    }
    return 0;
}

static int cli_format_lex_quoted(struct cli_format_lex *lx)
{
    struct buf b;
    size_t start = lx->pos;
    size_t p = lx->pos + 1;
    char *s;
    size_t n;

    buf_init(&b, CLI_FORMAT__OUT_MAX);
    for (;;) {
        char ch;

        if (p >= lx->len || lx->src[p] == '\n') {
            buf_release(&b);
            return cli_format_lex_error(lx, start,
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
                return cli_format_lex_error(lx, start,
                                            "invalid syntax in quoted "
                                            "string");
            }
        }
        (void)buf_append(&b, &ch, 1);
    }
    s = buf_detach(&b, &n);
    cli_format_lex_emit(lx, TK_STRING, start, s, n);
    free(s);
    lx->pos = p;
    return 0;
}

static const struct
{
    const char *word;
    enum cli_format_tk kind;
} cli_format_keywords[] = {
    {"if", TK_IF},       {"else", TK_ELSE},   {"end", TK_END},
    {"range", TK_RANGE}, {"with", TK_WITH},   {"true", TK_BOOL},
    {"false", TK_BOOL},  {"nil", TK_NIL},
};

/* Lex one action after its "{{" (and trim marker). */
static int cli_format_lex_action(struct cli_format_lex *lx, bool *trim_next)
{
    size_t open = lx->pos;

    for (;;) {
        size_t p = lx->pos;
        size_t dl;
        bool trim;
        char ch;

        if (p >= lx->len)
            return cli_format_lex_error(lx, open, "unclosed action");
        dl = cli_format_rdelim_at(lx, p, &trim);
        if (dl > 0) {
            cli_format_lex_emit(lx, TK_RDELIM, p, NULL, 0);
            lx->pos = p + dl;
            *trim_next = trim;
            return 0;
        }
        ch = lx->src[p];
        if (cli_format_is_space(ch)) {
            while (p < lx->len && cli_format_is_space(lx->src[p])) {
                if (cli_format_rdelim_at(lx, p, &trim) == 4)
                    break;
                p++;
            }
            cli_format_lex_emit(lx, TK_SPACE, lx->pos, NULL, 0);
            lx->pos = p;
            continue;
        }
        switch (ch) {
        case '|':
            cli_format_lex_emit(lx, TK_PIPE, p, NULL, 0);
            lx->pos++;
            continue;
        case '(':
            cli_format_lex_emit(lx, TK_LPAREN, p, NULL, 0);
            lx->pos++;
            continue;
        case ')':
            cli_format_lex_emit(lx, TK_RPAREN, p, NULL, 0);
            lx->pos++;
            continue;
        case ',':
            cli_format_lex_emit(lx, TK_COMMA, p, NULL, 0);
            lx->pos++;
            continue;
        case '=':
            cli_format_lex_emit(lx, TK_ASSIGN, p, NULL, 0);
            lx->pos++;
            continue;
        case ':':
            if (p + 1 < lx->len && lx->src[p + 1] == '=') {
                cli_format_lex_emit(lx, TK_DECLARE, p, NULL, 0);
                lx->pos += 2;
                continue;
            }
            return cli_format_lex_error(lx, p, "expected :=");
        case '"': {
            int rv = cli_format_lex_quoted(lx);

            if (rv != 0)
                return rv;
            continue;
        }
        case '`': {
            const char *end = memchr(lx->src + p + 1, '`', lx->len - p - 1);

            if (end == NULL)
                return cli_format_lex_error(lx, p, "unterminated raw quoted "
                                                   "string");
            cli_format_lex_emit(lx, TK_STRING, p, lx->src + p + 1,
                                (size_t)(end - (lx->src + p + 1)));
            lx->pos = (size_t)(end - lx->src) + 1;
            continue;
        }
        case '$': {
            size_t q = p + 1;

            while (q < lx->len && cli_format_is_alnum(lx->src[q]))
                q++;
            cli_format_lex_emit(lx, TK_VAR, p, lx->src + p, q - p);
            lx->pos = q;
            continue;
        }
        case '.':
            if (p + 1 < lx->len && cli_format_is_alnum(lx->src[p + 1]) &&
                !isdigit((unsigned char)lx->src[p + 1])) {
                size_t q = p + 1;

                while (q < lx->len && cli_format_is_alnum(lx->src[q]))
                    q++;
                cli_format_lex_emit(lx, TK_FIELD, p, lx->src + p + 1,
                                    q - p - 1);
                lx->pos = q;
                continue;
            }
            if (p + 1 < lx->len && isdigit((unsigned char)lx->src[p + 1]))
                break; /* a number like .5 */
            cli_format_lex_emit(lx, TK_DOT, p, NULL, 0);
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
            cli_format_lex_emit(lx, TK_NUMBER, p, lx->src + p, q - p);
            lx->pos = q;
            continue;
        }
        if (isalpha((unsigned char)ch) || ch == '_') {
            size_t q = p;
            size_t k;
            enum cli_format_tk kind = TK_IDENT;

            while (q < lx->len && cli_format_is_alnum(lx->src[q]))
                q++;
            for (k = 0; k < ARRAY_SIZE(cli_format_keywords); k++) {
                if (strlen(cli_format_keywords[k].word) == q - p &&
                    memcmp(cli_format_keywords[k].word, lx->src + p,
                           q - p) == 0)
                    kind = cli_format_keywords[k].kind;
            }
            cli_format_lex_emit(lx, kind, p, lx->src + p, q - p);
            lx->pos = q;
            continue;
        }
        {
            char msg[64];

            snprintf(msg, sizeof(msg), "unexpected \"%c\" in command", ch);
            return cli_format_lex_error(lx, p, msg);
        }
    }
}

static int cli_format_lex(struct cli_format_lex *lx)
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
            cli_format_is_space(lx->src[p + 1])) {
            trim_prev = true;
            p += 2;
        }
        {
            size_t ts = lx->pos;
            size_t te = text_end;

            if (trim_next) {
                while (ts < te && cli_format_is_space(lx->src[ts]))
                    ts++;
            }
            if (trim_prev) {
                while (te > ts && cli_format_is_space(lx->src[te - 1]))
                    te--;
            }
            if (te > ts)
                cli_format_lex_emit(lx, TK_TEXT, ts, lx->src + ts, te - ts);
        }
        trim_next = false;
        if (open == NULL) {
            lx->pos = lx->len;
            break;
        }
        /* a comment action: open, slash-star ... star-slash, close */
        while (p < lx->len && cli_format_is_space(lx->src[p]) && trim_prev)
            p++;
        if (p + 1 < lx->len && lx->src[p] == '/' && lx->src[p + 1] == '*') {
            const char *end = strstr(lx->src + p + 2, "*/");
            size_t q;
            size_t dl;
            bool trim;

            if (end == NULL)
                return cli_format_lex_error(lx, text_end, "unclosed comment");
            q = (size_t)(end - lx->src) + 2;
            dl = cli_format_rdelim_at(lx, q, &trim);
            if (dl == 0)
                return cli_format_lex_error(lx, text_end,
                                            "comment ends before closing "
                                            "delimiter");
            lx->pos = q + dl;
            trim_next = trim;
            continue;
        }
        cli_format_lex_emit(lx, TK_LDELIM, text_end, NULL, 0);
        lx->pos = p;
        {
            int rv = cli_format_lex_action(lx, &trim_next);

            if (rv != 0)
                return rv;
        }
    }
    cli_format_lex_emit(lx, TK_EOF, lx->len, NULL, 0);
    return 0;
}

/* ------------------------------------------------------------------ */
/* templates: parse tree                                               */
/* ------------------------------------------------------------------ */

enum cli_format_arg_kind {
    ARG_FIELD,   /* fields applied to dot ("." alone has no fields) */
    ARG_VAR,     /* variable, then fields */
    ARG_FUNC,    /* function name */
    ARG_LIT,     /* literal value */
    ARG_PIPE,    /* parenthesised pipeline, then fields */
};

struct cli_format_pipe;

struct cli_format_arg
{
    enum cli_format_arg_kind kind;
    size_t pos;                   /* for error messages */
    char *src;                    /* owned: source text, "<.Foo>" */
    char *name;                   /* owned: function or variable name */
    char **fields;                /* owned */
    size_t n_fields;
    json_t *lit;                  /* owned literal */
    struct cli_format_pipe *pipe; /* owned */
};

struct cli_format_cmd
{
    struct cli_format_arg *args;  /* owned */
    size_t n_args;
};

struct cli_format_pipe
{
    char *decl[2];                /* owned variable names being declared */
    size_t n_decl;
    struct cli_format_cmd *cmds;  /* owned */
    size_t n_cmds;
};

enum cli_format_node_kind {
    NODE_TEXT,
    NODE_ACTION,
    NODE_IF,
    NODE_RANGE,
    NODE_WITH,
};

struct cli_format_node
{
    enum cli_format_node_kind kind;
    char *text;                       /* owned: NODE_TEXT */
    size_t text_len;
    struct cli_format_pipe *pipe;     /* owned */
    struct cli_format_node *list;     /* owned body */
    struct cli_format_node *else_list;/* owned */
    struct cli_format_node *next;     /* owned sibling */
};

struct cli_format_tmpl
{
    char *src;                        /* owned copy of the source */
    struct cli_format_node *root;     /* owned */
};

struct cli_format_parser
{
    const char *src;
    struct cli_format_tok *toks;      /* borrowed from the lexer */
    size_t n_toks;
    size_t i;
    struct err *err;
};

static const char *const cli_format_funcs[] = {
    "json",  "split", "join", "title", "lower", "upper", "pad",
    "truncate", "println", "index", "len", "eq", "ne", "lt",
    "le",    "gt",    "ge",   "and",   "or",    "not",   "print",
    "printf",
};

static void cli_format_pipe_free(struct cli_format_pipe *p);

static void cli_format_arg_release(struct cli_format_arg *a)
{
    size_t i;

    free(a->src);
    free(a->name);
    for (i = 0; i < a->n_fields; i++)
        free(a->fields[i]);
    free(a->fields);
    json_decref(a->lit);
    cli_format_pipe_free(a->pipe);
}

static void cli_format_pipe_free(struct cli_format_pipe *p)
{
    size_t i;
    size_t j;

    if (p == NULL)
        return;
    for (i = 0; i < p->n_decl; i++)
        free(p->decl[i]);
    for (i = 0; i < p->n_cmds; i++) {
        for (j = 0; j < p->cmds[i].n_args; j++)
            cli_format_arg_release(&p->cmds[i].args[j]);
        free(p->cmds[i].args);
    }
    free(p->cmds);
    free(p);
}

static void cli_format_node_free(struct cli_format_node *n)
{
    while (n != NULL) {
        struct cli_format_node *next = n->next;

        free(n->text);
        cli_format_pipe_free(n->pipe);
        cli_format_node_free(n->list);
        cli_format_node_free(n->else_list);
        free(n);
        n = next;
    }
}

static const struct cli_format_tok *
cli_format_peek(const struct cli_format_parser *p)
{
    return &p->toks[p->i];
}

static const struct cli_format_tok *
cli_format_next(struct cli_format_parser *p)
{
    const struct cli_format_tok *t = &p->toks[p->i];

    if (t->kind != TK_EOF)
        p->i++;
    return t;
}

static void cli_format_skip_space(struct cli_format_parser *p)
{
    while (cli_format_peek(p)->kind == TK_SPACE)
        p->i++;
}

static int cli_format_parse_error(struct cli_format_parser *p, size_t pos,
                                  const char *msg)
{
    return err_set(p->err, ERR_INVALID, "template: :%d: %s",
                   cli_format_line_of(p->src, pos), msg);
}

static const char *cli_format_tok_name(const struct cli_format_tok *t)
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

static int cli_format_parse_pipe(struct cli_format_parser *p,
                                 enum cli_format_tk end,
                                 struct cli_format_pipe **out);

static void cli_format_arg_add_field(struct cli_format_arg *a,
                                     const char *name)
{
    a->fields = xrealloc(a->fields, (a->n_fields + 1) * sizeof(char *));
    a->fields[a->n_fields++] = xstrdup(name);
}

/* One operand: a term plus any .Field chain glued to it. */
static int cli_format_parse_operand(struct cli_format_parser *p,
                                    struct cli_format_arg *a)
{
    const struct cli_format_tok *t = cli_format_next(p);
    size_t start = t->pos;
    size_t end;
    size_t k;
    int rv;

    memset(a, 0, sizeof(*a));
    a->pos = t->pos;
    switch (t->kind) {
    case TK_FIELD:
        a->kind = ARG_FIELD;
        cli_format_arg_add_field(a, t->val);
        break;
    case TK_DOT:
        a->kind = ARG_FIELD;
        break;
    case TK_VAR:
        a->kind = ARG_VAR;
        a->name = xstrdup(t->val);
        break;
    case TK_IDENT:
        for (k = 0; k < ARRAY_SIZE(cli_format_funcs); k++) {
            if (strcmp(cli_format_funcs[k], t->val) == 0)
                break;
        }
        if (k == ARRAY_SIZE(cli_format_funcs)) {
            char msg[160];

            snprintf(msg, sizeof(msg), "function \"%.100s\" not defined",
                     t->val);
            return cli_format_parse_error(p, t->pos, msg);
        }
        a->kind = ARG_FUNC;
        a->name = xstrdup(t->val);
        break;
    case TK_STRING:
        a->kind = ARG_LIT;
        a->lit = json_stringn(t->val, t->len);
        if (a->lit == NULL)
            a->lit = json_string("");
        break;
    case TK_BOOL:
        a->kind = ARG_LIT;
        a->lit = json_boolean(strcmp(t->val, "true") == 0);
        break;
    case TK_NIL:
        a->kind = ARG_LIT;
        a->lit = json_null();
        break;
    case TK_NUMBER: {
        char *endp;
        long long ll;
        double d;

        errno = 0;
        ll = strtoll(t->val, &endp, 0);
        if (errno == 0 && *endp == '\0') {
            a->kind = ARG_LIT;
            a->lit = json_integer(ll);
            break;
        }
        d = strtod(t->val, &endp);
        if (*endp != '\0') {
            char msg[160];

            snprintf(msg, sizeof(msg), "bad number syntax: \"%.100s\"",
                     t->val);
            return cli_format_parse_error(p, t->pos, msg);
        }
        a->kind = ARG_LIT;
        a->lit = json_real(d);
        break;
    }
    case TK_LPAREN:
        a->kind = ARG_PIPE;
        rv = cli_format_parse_pipe(p, TK_RPAREN, &a->pipe);
        if (rv != 0)
            return rv;
        cli_format_next(p); /* ) */
        break;
    default: {
        char msg[160];

        snprintf(msg, sizeof(msg), "unexpected \"%.100s\" in operand",
                 cli_format_tok_name(t));
        return cli_format_parse_error(p, t->pos, msg);
    }
    }
    while (cli_format_peek(p)->kind == TK_FIELD) {
        if (a->kind == ARG_FUNC || a->kind == ARG_LIT) {
            return cli_format_parse_error(p, cli_format_peek(p)->pos,
                                          "unexpected . after term");
        }
        /* Go positions a chain at its first chained field (".B" of
         * ".A.B", ".A" of "$x.A"); errors report that column */
        if (cli_format_peek(p)->pos > start && a->pos == start &&
            (a->kind != ARG_FIELD || a->n_fields > 0))
            a->pos = cli_format_peek(p)->pos;
        cli_format_arg_add_field(a, cli_format_next(p)->val);
    }
    end = cli_format_peek(p)->pos;
    if (end < start)
        end = start;
    a->src = xstrndup(p->src + start, end - start);
    return 0;
}

static int cli_format_parse_cmd(struct cli_format_parser *p,
                                enum cli_format_tk end,
                                struct cli_format_cmd *cmd)
{
    int rv;

    memset(cmd, 0, sizeof(*cmd));
    for (;;) {
        const struct cli_format_tok *t;

        cli_format_skip_space(p);
        t = cli_format_peek(p);
        if (t->kind == end || t->kind == TK_PIPE)
            break;
        if (t->kind == TK_EOF || t->kind == TK_RDELIM ||
            t->kind == TK_RPAREN) {
            char msg[160];

            snprintf(msg, sizeof(msg), "unexpected \"%s\" in command",
                     cli_format_tok_name(t));
            return cli_format_parse_error(p, t->pos, msg);
        }
        cmd->args = xrealloc(cmd->args,
                             (cmd->n_args + 1) * sizeof(*cmd->args));
        rv = cli_format_parse_operand(p, &cmd->args[cmd->n_args]);
        cmd->n_args++;
        if (rv != 0)
            return rv;
        t = cli_format_peek(p);
        if (t->kind != TK_SPACE && t->kind != end && t->kind != TK_PIPE) {
            char msg[160];

            snprintf(msg, sizeof(msg), "unexpected \"%s\" in operand",
                     cli_format_tok_name(t));
            return cli_format_parse_error(p, t->pos, msg);
        }
    }
    if (cmd->n_args == 0)
        return cli_format_parse_error(p, cli_format_peek(p)->pos,
                                      "missing value for command");
    return 0;
}

static int cli_format_parse_pipe(struct cli_format_parser *p,
                                 enum cli_format_tk end,
                                 struct cli_format_pipe **out)
{
    struct cli_format_pipe *pipe = xcalloc(1, sizeof(*pipe));
    size_t save;
    int rv;

    *out = pipe;
    cli_format_skip_space(p);
    /* declarations: $x := ..., $i, $e := ... */
    save = p->i;
    while (cli_format_peek(p)->kind == TK_VAR && pipe->n_decl < 2) {
        const struct cli_format_tok *v = cli_format_next(p);
        const struct cli_format_tok *t;

        cli_format_skip_space(p);
        t = cli_format_peek(p);
        if (t->kind == TK_DECLARE || t->kind == TK_ASSIGN) {
            pipe->decl[pipe->n_decl++] = xstrdup(v->val);
            cli_format_next(p);
            break;
        }
        if (t->kind == TK_COMMA && pipe->n_decl == 0) {
            pipe->decl[pipe->n_decl++] = xstrdup(v->val);
            cli_format_next(p);
            cli_format_skip_space(p);
            continue;
        }
        /* not a declaration after all */
        while (pipe->n_decl > 0)
            free(pipe->decl[--pipe->n_decl]);
        p->i = save;
        break;
    }
    for (;;) {
        const struct cli_format_tok *t;

        pipe->cmds = xrealloc(pipe->cmds,
                              (pipe->n_cmds + 1) * sizeof(*pipe->cmds));
        rv = cli_format_parse_cmd(p, end, &pipe->cmds[pipe->n_cmds]);
        pipe->n_cmds++;
        if (rv != 0)
            return rv;
        t = cli_format_peek(p);
        if (t->kind == TK_PIPE) {
            cli_format_next(p);
            continue;
        }
        break;
    }
    return 0;
}

/* Parse a list of nodes until {{end}}, {{else}} or EOF; *stop tells which
 * (TK_END, TK_ELSE or TK_EOF); the {{end}}/{{else}} keyword is consumed
 * but not the rest of its action. */
static int cli_format_parse_list(struct cli_format_parser *p,
                                 struct cli_format_node **out,
                                 enum cli_format_tk *stop, size_t *stop_pos);

static int cli_format_expect_rdelim(struct cli_format_parser *p)
{
    const struct cli_format_tok *t;

    cli_format_skip_space(p);
    t = cli_format_peek(p);
    if (t->kind != TK_RDELIM) {
        char msg[160];

        snprintf(msg, sizeof(msg), "unexpected \"%s\" in end",
                 cli_format_tok_name(t));
        return cli_format_parse_error(p, t->pos, msg);
    }
    cli_format_next(p);
    return 0;
}

static int cli_format_parse_control(struct cli_format_parser *p,
                                    enum cli_format_tk kind,
                                    struct cli_format_node **out)
{
    struct cli_format_node *n = xcalloc(1, sizeof(*n));
    enum cli_format_tk stop;
    size_t stop_pos;
    int rv;

    *out = n;
    n->kind = kind == TK_IF ? NODE_IF : kind == TK_RANGE ? NODE_RANGE
                                                          : NODE_WITH;
    rv = cli_format_parse_pipe(p, TK_RDELIM, &n->pipe);
    if (rv != 0)
        return rv;
    cli_format_next(p); /* }} */
    rv = cli_format_parse_list(p, &n->list, &stop, &stop_pos);
    if (rv != 0)
        return rv;
    if (stop == TK_EOF)
        return cli_format_parse_error(p, stop_pos, "unexpected EOF");
    if (stop == TK_ELSE) {
        const struct cli_format_tok *t;

        cli_format_skip_space(p);
        t = cli_format_peek(p);
        if ((t->kind == TK_IF && kind == TK_IF) ||
            (t->kind == TK_WITH && kind == TK_WITH)) {
            /* {{else if ...}}: a nested control sharing our {{end}} */
            cli_format_next(p);
            return cli_format_parse_control(p, t->kind, &n->else_list);
        }
        rv = cli_format_expect_rdelim(p);
        if (rv != 0)
            return rv;
        rv = cli_format_parse_list(p, &n->else_list, &stop, &stop_pos);
        if (rv != 0)
            return rv;
        if (stop != TK_END)
            return cli_format_parse_error(p, stop_pos,
                                          stop == TK_EOF
                                              ? "unexpected EOF"
                                              : "expected end; found "
                                                "{{else}}");
    }
    return cli_format_expect_rdelim(p);
}

static int cli_format_parse_list(struct cli_format_parser *p,
                                 struct cli_format_node **out,
                                 enum cli_format_tk *stop, size_t *stop_pos)
{
    struct cli_format_node **tail = out;
    int rv;

    *out = NULL;
    for (;;) {
        const struct cli_format_tok *t = cli_format_next(p);
        struct cli_format_node *n = NULL;

        if (t->kind == TK_EOF) {
            *stop = TK_EOF;
            *stop_pos = t->pos;
            return 0;
        }
        if (t->kind == TK_TEXT) {
            n = xcalloc(1, sizeof(*n));
            n->kind = NODE_TEXT;
            n->text = xstrndup(t->val, t->len);
            n->text_len = t->len;
            *tail = n;
            tail = &n->next;
            continue;
        }
        /* TK_LDELIM */
        cli_format_skip_space(p);
        t = cli_format_peek(p);
        switch (t->kind) {
        case TK_END:
        case TK_ELSE:
            cli_format_next(p);
            *stop = t->kind;
            *stop_pos = t->pos;
            return 0;
        case TK_IF:
        case TK_RANGE:
        case TK_WITH:
            cli_format_next(p);
            rv = cli_format_parse_control(p, t->kind, &n);
            *tail = n;
            if (rv != 0)
                return rv;
            tail = &n->next;
            continue;
        default:
            n = xcalloc(1, sizeof(*n));
            n->kind = NODE_ACTION;
            *tail = n;
            tail = &n->next;
            rv = cli_format_parse_pipe(p, TK_RDELIM, &n->pipe);
            if (rv != 0)
                return rv;
            cli_format_next(p); /* }} */
            continue;
        }
    }
}

int cli_format_tmpl_parse(const char *src, struct cli_format_tmpl **out,
                          struct err *err)
{
    struct cli_format_lex lx;
    struct cli_format_parser p;
    struct cli_format_tmpl *t;
    enum cli_format_tk stop;
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
    rv = cli_format_lex(&lx);
    if (rv == 0) {
        memset(&p, 0, sizeof(p));
        p.src = src;
        p.toks = lx.toks;
        p.n_toks = lx.n_toks;
        p.err = err;
        rv = cli_format_parse_list(&p, &t->root, &stop, &stop_pos);
        if (rv == 0 && stop != TK_EOF)
            rv = cli_format_parse_error(&p, stop_pos,
                                        stop == TK_END ? "unexpected {{end}}"
                                                       : "unexpected "
                                                         "{{else}}");
    }
    for (i = 0; i < lx.n_toks; i++)
        free(lx.toks[i].val);
    free(lx.toks);
    if (rv != 0) {
        cli_format_tmpl_free(t);
        return rv;
    }
    *out = t;
    return 0;
}

void cli_format_tmpl_free(struct cli_format_tmpl *t)
{
    if (t == NULL)
        return;
    cli_format_node_free(t->root);
    free(t->src);
    free(t);
}

/* ------------------------------------------------------------------ */
/* templates: values and printing                                      */
/* ------------------------------------------------------------------ */

/* Go prints floats with %v as strconv 'g' with the shortest digits and an
 * exponent when exp < -4 || exp >= 6; JSON uses 'e' below 1e-6 or from
 * 1e21. */
static void cli_format_float(double d, bool json_style, struct buf *out)
{
    char tmp[96];
    char digits[64];
    int prec;
    int exp10 = 0;
    bool use_exp;
    char *e;

    if (isnan(d) || isinf(d)) {
        (void)buf_puts(out, isnan(d) ? "NaN" : d > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (d == 0) {
        (void)buf_puts(out, signbit(d) && !json_style ? "-0" : "0");
        return;
    }
    for (prec = 0; prec < 17; prec++) {
        snprintf(digits, sizeof(digits), "%.*e", prec, d);
        if (strtod(digits, NULL) == d)
            break;
    }
    e = strchr(digits, 'e');
    if (e != NULL)
        exp10 = atoi(e + 1);
    if (json_style)
        use_exp = fabs(d) < 1e-6 || fabs(d) >= 1e21;
    else
        use_exp = exp10 < -4 || exp10 >= 6;
    if (use_exp) {
        /* digits is "d.ddde+XX"; Go JSON drops a leading 0 in the
         * exponent, %v keeps two digits. */
        if (json_style && e != NULL) {
            int ex = atoi(e + 1);

            *e = '\0';
            snprintf(tmp, sizeof(tmp), "%se%c%d", digits, ex < 0 ? '-' : '+',
                     ex < 0 ? -ex : ex);
            (void)buf_puts(out, tmp);
        } else {
            (void)buf_puts(out, digits);
        }
        return;
    }
    {
        int decimals = prec - exp10;

        if (decimals < 0)
            decimals = 0;
        snprintf(tmp, sizeof(tmp), "%.*f", decimals, d);
        (void)buf_puts(out, tmp);
    }
}

/* An object is struct-like (Go struct) when it has keys and all of them
 * start with an upper-case letter; maps print as map[k:v]. */
static bool cli_format_is_struct(const json_t *v)
{
    const char *key;
    json_t *val;

    if (!json_is_object(v) || json_object_size(v) == 0)
        return false;
    json_object_foreach((json_t *)v, key, val) {
        (void)val;
        if (!isupper((unsigned char)key[0]))
            return false;
    }
    return true;
}

static int cli_format_cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Go's %v of a value decoded from JSON; NULL is an invalid value. */
static void cli_format_print(const json_t *v, struct buf *out)
{
    size_t i;

    if (v == NULL) {
        (void)buf_puts(out, "<no value>");
        return;
    }
    switch (json_typeof(v)) {
    case JSON_STRING:
        (void)buf_append(out, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        (void)buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        cli_format_float(json_real_value(v), false, out);
        break;
    case JSON_TRUE:
        (void)buf_puts(out, "true");
        break;
    case JSON_FALSE:
        (void)buf_puts(out, "false");
        break;
    case JSON_NULL:
        (void)buf_puts(out, "<nil>");
        break;
    case JSON_ARRAY:
        (void)buf_puts(out, "[");
        for (i = 0; i < json_array_size(v); i++) {
            if (i > 0)
                (void)buf_puts(out, " ");
            cli_format_print(json_array_get(v, i), out);
        }
        (void)buf_puts(out, "]");
        break;
    case JSON_OBJECT: {
        const char **keys;
        size_t n = 0;
        const char *key;
        json_t *val;
        bool st = cli_format_is_struct(v);

        keys = xcalloc(json_object_size(v) + 1, sizeof(*keys));
        json_object_foreach((json_t *)v, key, val) {
            (void)val;
            keys[n++] = key;
        }
        if (!st)
            qsort(keys, n, sizeof(*keys), cli_format_cmp_keys);
        (void)buf_puts(out, st ? "{" : "map[");
        for (i = 0; i < n; i++) {
            if (i > 0)
                (void)buf_puts(out, " ");
            if (!st)
                (void)buf_printf(out, "%s:", keys[i]);
            cli_format_print(json_object_get(v, keys[i]), out);
        }
        (void)buf_puts(out, st ? "}" : "]");
        free(keys);
        break;
    }
    }
}

static bool cli_format_truth(const json_t *v)
{
    if (v == NULL)
        return false;
    switch (json_typeof(v)) {
    case JSON_STRING: return json_string_length(v) > 0;
    case JSON_INTEGER: return json_integer_value(v) != 0;
    case JSON_REAL: return json_real_value(v) != 0;
    case JSON_TRUE: return true;
    case JSON_FALSE: return false;
    case JSON_NULL: return false;
    case JSON_ARRAY: return json_array_size(v) > 0;
    case JSON_OBJECT:
        return json_object_size(v) > 0;
    }
    return false;
}

/* Go's JSON string escaping without HTML escapes. */
static void cli_format_json_string(const char *s, size_t len, struct buf *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    (void)buf_append(out, "\"", 1);
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch == '"' || ch == '\\') {
            char e[2] = {'\\', (char)ch};

            (void)buf_append(out, e, 2);
        } else if (ch == '\n') {
            (void)buf_puts(out, "\\n");
        } else if (ch == '\r') {
            (void)buf_puts(out, "\\r");
        } else if (ch == '\t') {
            (void)buf_puts(out, "\\t");
        } else if (ch < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};

            (void)buf_append(out, e, 6);
        } else if (ch == 0xE2 && i + 2 < len &&
                   (unsigned char)s[i + 1] == 0x80 &&
                   ((unsigned char)s[i + 2] == 0xA8 ||
                    (unsigned char)s[i + 2] == 0xA9)) {
            (void)buf_puts(out, (unsigned char)s[i + 2] == 0xA8 ? "\\u2028"
                                                                 : "\\u2029");
            i += 2;
        } else {
            (void)buf_append(out, &s[i], 1);
        }
    }
    (void)buf_append(out, "\"", 1);
}

static void cli_format_json_value(const json_t *v, struct buf *out)
{
    size_t i;
    const char *key;
    json_t *val;
    bool first = true;

    if (v == NULL) {
        (void)buf_puts(out, "null");
        return;
    }
    switch (json_typeof(v)) {
    case JSON_STRING:
        cli_format_json_string(json_string_value(v), json_string_length(v),
                               out);
        break;
    case JSON_INTEGER:
        (void)buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        cli_format_float(json_real_value(v), true, out);
        break;
    case JSON_TRUE:
        (void)buf_puts(out, "true");
        break;
    case JSON_FALSE:
        (void)buf_puts(out, "false");
        break;
    case JSON_NULL:
        (void)buf_puts(out, "null");
        break;
    case JSON_ARRAY:
        (void)buf_puts(out, "[");
        for (i = 0; i < json_array_size(v); i++) {
            if (i > 0)
                (void)buf_puts(out, ",");
            cli_format_json_value(json_array_get(v, i), out);
        }
        (void)buf_puts(out, "]");
        break;
    case JSON_OBJECT:
        (void)buf_puts(out, "{");
        json_object_foreach((json_t *)v, key, val) {
            if (!first)
                (void)buf_puts(out, ",");
            first = false;
            cli_format_json_string(key, strlen(key), out);
            (void)buf_puts(out, ":");
            cli_format_json_value(val, out);
        }
        (void)buf_puts(out, "}");
        break;
    }
}

char *cli_format_json_compact(const json_t *v)
{
    struct buf b;

    buf_init(&b, CLI_FORMAT__OUT_MAX);
    cli_format_json_value(v, &b);
    return buf_detach(&b, NULL);
}

/* ------------------------------------------------------------------ */
/* templates: execution                                                */
/* ------------------------------------------------------------------ */

struct cli_format_var
{
    char *name;   /* borrowed from the tree */
    json_t *val;  /* owned reference, may be NULL */
};

struct cli_format_exec
{
    const struct cli_format_tmpl *t;
    bool header;
    const char *type_name;
    json_t *root;
    struct buf *out;
    struct err *err;
    json_t *omitted;              /* owned: the zero value of an omitted
                                   * struct field */
    struct cli_format_var *vars;  /* owned stack */
    size_t n_vars;
    size_t cap_vars;
};

static int cli_format_exec_error(struct cli_format_exec *ex,
                                 const struct cli_format_arg *at,
                                 const char *fmt, ...) PRINTF_LIKE(3, 4);

static int cli_format_exec_error(struct cli_format_exec *ex,
                                 const struct cli_format_arg *at,
                                 const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    size_t col = at->pos;
    size_t i;
    int line = cli_format_line_of(ex->t->src, at->pos);

    for (i = at->pos; i > 0; i--) {
        if (ex->t->src[i - 1] == '\n') {
            col = at->pos - i;
            break;
        }
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return err_set(ex->err, ERR_INVALID,
                   "template: :%d:%zu: executing \"\" at <%s>: %s", line, col,
                   at->src, msg);
}

static void cli_format_push_var(struct cli_format_exec *ex, char *name,
                                json_t *val)
{
    if (ex->n_vars == ex->cap_vars) {
        ex->cap_vars = ex->cap_vars ? 2 * ex->cap_vars : 8;
        ex->vars = xrealloc(ex->vars, ex->cap_vars * sizeof(*ex->vars));
    }
    ex->vars[ex->n_vars].name = name;
    ex->vars[ex->n_vars].val = json_incref(val);
    ex->n_vars++;
}

static void cli_format_pop_vars(struct cli_format_exec *ex, size_t mark)
{
    while (ex->n_vars > mark) {
        ex->n_vars--;
        json_decref(ex->vars[ex->n_vars].val);
    }
}

static int cli_format_eval_pipe(struct cli_format_exec *ex,
                                const struct cli_format_pipe *pipe,
                                json_t *dot, json_t **out);

/* Apply .Field lookups; consumes a reference to v. */
static int cli_format_fields(struct cli_format_exec *ex,
                             const struct cli_format_arg *a, json_t *v,
                             bool is_root, json_t **out)
{
    size_t i;

    for (i = 0; i < a->n_fields; i++) {
        json_t *next;

        if (v == NULL || json_is_null(v) || v == ex->omitted) {
            json_decref(v);
            *out = NULL;
            if (ex->header)
                return 0;
            return cli_format_exec_error(ex, a, "nil pointer evaluating "
                                                "interface {}.%s",
                                         a->fields[i]);
        }
        if (!json_is_object(v)) {
            int rv = cli_format_exec_error(
                ex, a, "can't evaluate field %s in type %s", a->fields[i],
                json_is_array(v)     ? "[]interface {}"
                : json_is_string(v)  ? "string"
                : json_is_boolean(v) ? "bool"
                : json_is_integer(v) ? "int"
                                     : "float64");

            json_decref(v);
            *out = NULL;
            return rv;
        }
        next = json_object_get(v, a->fields[i]);
        /* Only the rows we build ourselves (type_name set) know all
         * their fields; an API object omits empty ones (omitempty), which
         * Go would see as zero values or nil pointers. */
        if (next == NULL && !ex->header && ex->type_name != NULL &&
            is_root && i == 0 && cli_format_is_struct(v)) {
            int rv = cli_format_exec_error(
                ex, a, "can't evaluate field %s in type %s", a->fields[i],
                ex->type_name);

            json_decref(v);
            *out = NULL;
            return rv;
        }
        if (next == NULL && !ex->header && cli_format_is_struct(v)) {
            /* an omitted (omitempty) struct field: it prints as "" and is
             * false, like Go's zero string or nil pointer */
            json_decref(v);
            v = json_incref(ex->omitted);
            continue;
        }
        json_incref(next);
        json_decref(v);
        v = next;
    }
    *out = v;
    return 0;
}

static int cli_format_eval_arg(struct cli_format_exec *ex,
                               const struct cli_format_arg *a, json_t *dot,
                               json_t **out)
{
    json_t *v = NULL;
    size_t i;
    int rv;

    *out = NULL;
    switch (a->kind) {
    case ARG_FIELD:
        return cli_format_fields(ex, a, json_incref(dot), dot == ex->root,
                                 out);
    case ARG_VAR:
        if (strcmp(a->name, "$") == 0) {
            return cli_format_fields(ex, a, json_incref(ex->root), true,
                                     out);
        }
        for (i = ex->n_vars; i > 0; i--) {
            if (strcmp(ex->vars[i - 1].name, a->name) == 0) {
                v = ex->vars[i - 1].val;
                break;
            }
        }
        if (i == 0)
            return cli_format_exec_error(ex, a, "undefined variable: %s",
                                         a->name);
        return cli_format_fields(ex, a, json_incref(v), false, out);
    case ARG_LIT:
        *out = json_incref(a->lit);
        return 0;
    case ARG_PIPE:
        rv = cli_format_eval_pipe(ex, a->pipe, dot, &v);
        if (rv != 0)
            return rv;
        return cli_format_fields(ex, a, v, false, out);
    case ARG_FUNC:
        return cli_format_exec_error(ex, a, "function %s used as a value",
                                     a->name);
    }
    return 0;
}

/* The string form of a value for string functions. */
static char *cli_format_to_str(const json_t *v)
{
    struct buf b;

    if (v == NULL)
        return xstrdup("");
    buf_init(&b, CLI_FORMAT__OUT_MAX);
    cli_format_print(v, &b);
    return buf_detach(&b, NULL);
}

static json_t *cli_format_str_take(char *s)
{
    json_t *v = json_string(s);

    if (v == NULL)
        v = json_stringn(s, strlen(s));
    if (v == NULL)
        v = json_string("");
    free(s);
    return v;
}

static bool cli_format_is_num(const json_t *v)
{
    return json_is_integer(v) || json_is_real(v);
}

/* -2, 0, 2 for lt/eq/gt; 3 when the kinds cannot be compared. */
static int cli_format_compare(const json_t *a, const json_t *b)
{
    if (a == NULL || b == NULL)
        return a == b ? 0 : 3;
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a);
        json_int_t y = json_integer_value(b);

        return x < y ? -2 : x > y ? 2 : 0;
    }
    if (cli_format_is_num(a) && cli_format_is_num(b)) {
        double x = json_number_value(a);
        double y = json_number_value(b);

        return x < y ? -2 : x > y ? 2 : 0;
    }
    if (json_is_string(a) && json_is_string(b)) {
        int c = strcmp(json_string_value(a), json_string_value(b));

        return c < 0 ? -2 : c > 0 ? 2 : 0;
    }
    if (json_is_boolean(a) && json_is_boolean(b))
        return json_is_true(a) == json_is_true(b) ? 0 : 1;
    if (json_is_null(a) && json_is_null(b))
        return 0;
    return 3;
}

/* Minimal fmt.Sprintf: %s %v %d %q %t %x %X %% with '-'/'0' and width. */
static char *cli_format_sprintf(const char *fmt, json_t **args, size_t n)
{
    struct buf b;
    size_t ai = 0;
    const char *p;

    buf_init(&b, CLI_FORMAT__OUT_MAX);
    for (p = fmt; *p != '\0'; p++) {
        bool left = false;
        bool zero = false;
        size_t width = 0;
        struct buf v;
        const json_t *arg;
        char *s;
        size_t len;

        if (*p != '%') {
            (void)buf_append(&b, p, 1);
            continue;
        }
        p++;
        while (*p == '-' || *p == '0' || *p == '+' || *p == ' ') {
            if (*p == '-')
                left = true;
            if (*p == '0')
                zero = true;
            p++;
        }
        while (isdigit((unsigned char)*p))
            width = width * 10 + (size_t)(*p++ - '0');
        if (*p == '\0')
            break;
        if (*p == '%') {
            (void)buf_append(&b, "%", 1);
            continue;
        }
        if (ai >= n) {
            (void)buf_printf(&b, "%%!%c(MISSING)", *p);
            continue;
        }
        arg = args[ai++];
        buf_init(&v, CLI_FORMAT__OUT_MAX);
        switch (*p) {
        case 'q':
            if (json_is_string(arg))
                cli_format_json_string(json_string_value(arg),
                                       json_string_length(arg), &v);
            else
                cli_format_print(arg, &v);
            break;
        case 'x':
        case 'X':
            if (json_is_integer(arg)) {
                if (*p == 'x')
                    (void)buf_printf(&v, "%llx",
                                     (long long)json_integer_value(arg));
                else
                    (void)buf_printf(&v, "%llX",
                                     (long long)json_integer_value(arg));
            } else {
                const char *hx = *p == 'x' ? "0123456789abcdef"
                                           : "0123456789ABCDEF";
                char *str = cli_format_to_str(arg);
                size_t k;

                for (k = 0; str[k] != '\0'; k++) {
                    char h[2] = {hx[(unsigned char)str[k] >> 4],
                                 hx[(unsigned char)str[k] & 15]};

                    (void)buf_append(&v, h, 2);
                }
                free(str);
            }
            break;
        default:
            cli_format_print(arg, &v);
            break;
        }
        s = buf_detach(&v, &len);
        if (!left && len < width) {
            size_t k;

            for (k = len; k < width; k++)
                (void)buf_append(&b, zero ? "0" : " ", 1);
        }
        (void)buf_append(&b, s, len);
        if (left && len < width)
            cli_format_tw_pad(&b, width - len);
        free(s);
    }
    while (ai < n) {
        char *s = cli_format_to_str(args[ai++]);

        (void)buf_printf(&b, "%%!(EXTRA %s)", s);
        free(s);
    }
    return buf_detach(&b, NULL);
}

static char *cli_format_title(const char *s)
{
    char *r = xstrdup(s);
    bool prev_sep = true;
    size_t i;

    for (i = 0; r[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)r[i];
        bool sep = !(isalnum(ch) || ch == '_' || ch >= 0x80);

        if (prev_sep && !sep)
            r[i] = (char)toupper(ch);
        prev_sep = sep;
    }
    return r;
}

static int cli_format_call(struct cli_format_exec *ex,
                           const struct cli_format_arg *fn, json_t **args,
                           size_t n, json_t **out)
{
    const char *name = fn->name;
    char *s;
    size_t i;

    *out = NULL;
    if (ex->header &&
        (strcmp(name, "json") == 0 || strcmp(name, "split") == 0 ||
         strcmp(name, "join") == 0 || strcmp(name, "title") == 0 ||
         strcmp(name, "lower") == 0 || strcmp(name, "upper") == 0 ||
         strcmp(name, "truncate") == 0)) {
        /* docker's header functions leave the column title as it is */
        if (n < 1)
            return cli_format_exec_error(ex, fn, "wrong number of args for "
                                                 "%s", name);
        *out = json_incref(args[0]);
        return 0;
    }
    if (strcmp(name, "json") == 0) {
        if (n != 1)
            goto wrong_args;
        *out = cli_format_str_take(cli_format_json_compact(args[0]));
        return 0;
    }
    if (strcmp(name, "upper") == 0 || strcmp(name, "lower") == 0) {
        if (n != 1)
            goto wrong_args;
        s = cli_format_to_str(args[0]);
        for (i = 0; s[i] != '\0'; i++)
            s[i] = (char)(name[0] == 'u' ? toupper((unsigned char)s[i])
                                         : tolower((unsigned char)s[i]));
        *out = cli_format_str_take(s);
        return 0;
    }
    if (strcmp(name, "title") == 0) {
        if (n != 1)
            goto wrong_args;
        s = cli_format_to_str(args[0]);
        *out = cli_format_str_take(cli_format_title(s));
        free(s);
        return 0;
    }
    if (strcmp(name, "split") == 0) {
        char *sep;
        char *p;
        json_t *arr = json_array();

        if (n != 2)
            goto wrong_args;
        s = cli_format_to_str(args[0]);
        sep = cli_format_to_str(args[1]);
        p = s;
        if (*sep == '\0') {
            while (*p != '\0') {
                size_t k = 1;

                while (((unsigned char)p[k] & 0xC0) == 0x80)
                    k++;
                json_array_append_new(arr, json_stringn(p, k));
                p += k;
            }
        } else {
            for (;;) {
                char *q = strstr(p, sep);

                if (q == NULL) {
                    json_array_append_new(arr, json_string(p));
                    break;
                }
                json_array_append_new(arr, json_stringn(p, (size_t)(q - p)));
                p = q + strlen(sep);
            }
        }
        free(s);
        free(sep);
        *out = arr;
        return 0;
    }
    if (strcmp(name, "join") == 0) {
        struct buf b;
        char *sep;

        if (n != 2)
            goto wrong_args;
        if (!json_is_array(args[0]))
            return cli_format_exec_error(ex, fn, "wrong type for value; "
                                                 "expected []string");
        sep = cli_format_to_str(args[1]);
        buf_init(&b, CLI_FORMAT__OUT_MAX);
        for (i = 0; i < json_array_size(args[0]); i++) {
            if (i > 0)
                (void)buf_puts(&b, sep);
            cli_format_print(json_array_get(args[0], i), &b);
        }
        free(sep);
        *out = cli_format_str_take(buf_detach(&b, NULL));
        return 0;
    }
    if (strcmp(name, "pad") == 0) {
        struct buf b;

        if (n != 3 || !json_is_integer(args[1]) || !json_is_integer(args[2]))
            goto wrong_args;
        s = cli_format_to_str(args[0]);
        if (*s == '\0') {
            *out = cli_format_str_take(s);
            return 0;
        }
        buf_init(&b, CLI_FORMAT__OUT_MAX);
        if (json_integer_value(args[1]) > 0)
            cli_format_tw_pad(&b, (size_t)json_integer_value(args[1]));
        (void)buf_puts(&b, s);
        if (json_integer_value(args[2]) > 0)
            cli_format_tw_pad(&b, (size_t)json_integer_value(args[2]));
        free(s);
        *out = cli_format_str_take(buf_detach(&b, NULL));
        return 0;
    }
    if (strcmp(name, "truncate") == 0) {
        json_int_t len;

        if (n != 2 || !json_is_integer(args[1]))
            goto wrong_args;
        s = cli_format_to_str(args[0]);
        len = json_integer_value(args[1]);
        if (len >= 0 && strlen(s) >= (size_t)len)
            s[len] = '\0';
        *out = cli_format_str_take(s);
        return 0;
    }
    if (strcmp(name, "println") == 0 || strcmp(name, "print") == 0) {
        struct buf b;
        bool ln = name[5] == 'l';

        buf_init(&b, CLI_FORMAT__OUT_MAX);
        for (i = 0; i < n; i++) {
            /* Sprint adds spaces only between two non-strings. */
            if (i > 0 && (ln || (!json_is_string(args[i]) &&
                                 !json_is_string(args[i - 1]))))
                (void)buf_puts(&b, " ");
            cli_format_print(args[i], &b);
        }
        if (ln)
            (void)buf_puts(&b, "\n");
        *out = cli_format_str_take(buf_detach(&b, NULL));
        return 0;
    }
    if (strcmp(name, "printf") == 0) {
        if (n < 1)
            goto wrong_args;
        s = cli_format_to_str(args[0]);
        *out = cli_format_str_take(cli_format_sprintf(s, args + 1, n - 1));
        free(s);
        return 0;
    }
    if (strcmp(name, "index") == 0) {
        json_t *v;

        if (n < 1)
            goto wrong_args;
        v = args[0];
        for (i = 1; i < n; i++) {
            if (json_is_object(v) && json_is_string(args[i])) {
                v = json_object_get(v, json_string_value(args[i]));
                if (v == NULL) {
                    /* a missing map key gives the zero value */
                    *out = json_string("");
                    return 0;
                }
            } else if (json_is_array(v) && json_is_integer(args[i])) {
                json_int_t k = json_integer_value(args[i]);

                if (k < 0 || (size_t)k >= json_array_size(v))
                    return cli_format_exec_error(
                        ex, fn, "error calling index: index out of range: %"
                        JSON_INTEGER_FORMAT, k);
                v = json_array_get(v, (size_t)k);
            } else {
                return cli_format_exec_error(ex, fn, "error calling index: "
                                                     "cannot index value");
            }
        }
        *out = json_incref(v);
        return 0;
    }
    if (strcmp(name, "len") == 0) {
        if (n != 1)
            goto wrong_args;
        if (json_is_string(args[0]))
            *out = json_integer((json_int_t)json_string_length(args[0]));
        else if (json_is_array(args[0]))
            *out = json_integer((json_int_t)json_array_size(args[0]));
        else if (json_is_object(args[0]))
            *out = json_integer((json_int_t)json_object_size(args[0]));
        else
            return cli_format_exec_error(ex, fn, "error calling len: len of "
                                                 "type %s",
                                         args[0] == NULL ? "<nil>" : "value");
        return 0;
    }
    if (strcmp(name, "not") == 0) {
        if (n != 1)
            goto wrong_args;
        *out = json_boolean(!cli_format_truth(args[0]));
        return 0;
    }
    if (strcmp(name, "and") == 0 || strcmp(name, "or") == 0) {
        bool is_and = name[0] == 'a';

        if (n < 1)
            goto wrong_args;
        for (i = 0; i + 1 < n; i++) {
            if (cli_format_truth(args[i]) != is_and)
                break;
        }
        *out = json_incref(args[i]);
        return 0;
    }
    if (strcmp(name, "eq") == 0) {
        bool eq = false;

        if (n < 2)
            goto wrong_args;
        for (i = 1; i < n; i++) {
            int c = cli_format_compare(args[0], args[i]);

            if (c == 3)
                return cli_format_exec_error(ex, fn, "error calling eq: "
                                                     "incompatible types for "
                                                     "comparison");
            if (c == 0)
                eq = true;
        }
        *out = json_boolean(eq);
        return 0;
    }
    {
        int c;

        if (n != 2)
            goto wrong_args;
        c = cli_format_compare(args[0], args[1]);
        if (c == 3 || (c == 1 && strcmp(name, "ne") != 0))
            return cli_format_exec_error(ex, fn, "error calling %s: "
                                                 "incompatible types for "
                                                 "comparison",
                                         name);
        if (strcmp(name, "ne") == 0)
            *out = json_boolean(c != 0);
        else if (strcmp(name, "lt") == 0)
            *out = json_boolean(c < 0);
        else if (strcmp(name, "le") == 0)
            *out = json_boolean(c <= 0);
        else if (strcmp(name, "gt") == 0)
            *out = json_boolean(c > 0);
        else
            *out = json_boolean(c >= 0);
        return 0;
    }

wrong_args:
    return cli_format_exec_error(ex, fn, "wrong number of args for %s", name);
}

static int cli_format_eval_cmd(struct cli_format_exec *ex,
                               const struct cli_format_cmd *cmd, json_t *dot,
                               json_t *final, bool has_final, json_t **out)
{
    const struct cli_format_arg *first = &cmd->args[0];
    json_t **args;
    size_t n = 0;
    size_t i;
    int rv = 0;

    *out = NULL;
    if (first->kind != ARG_FUNC) {
        if (cmd->n_args > 1 || has_final)
            return cli_format_exec_error(ex, first, "can't give argument to "
                                                    "non-function %s",
                                         first->src);
        return cli_format_eval_arg(ex, first, dot, out);
    }
    args = xcalloc(cmd->n_args + 1, sizeof(*args));
    for (i = 1; i < cmd->n_args; i++) {
        rv = cli_format_eval_arg(ex, &cmd->args[i], dot, &args[n]);
        n++;
        if (rv != 0)
            goto out;
    }
    if (has_final)
        args[n++] = json_incref(final);
    rv = cli_format_call(ex, first, args, n, out);
out:
    for (i = 0; i < n; i++)
        json_decref(args[i]);
    free(args);
    return rv;
}

static int cli_format_eval_pipe(struct cli_format_exec *ex,
                                const struct cli_format_pipe *pipe,
                                json_t *dot, json_t **out)
{
    json_t *val = NULL;
    size_t i;
    int rv;

    *out = NULL;
    for (i = 0; i < pipe->n_cmds; i++) {
        json_t *next;

        rv = cli_format_eval_cmd(ex, &pipe->cmds[i], dot, val, i > 0, &next);
        json_decref(val);
        if (rv != 0)
            return rv;
        val = next;
    }
    *out = val;
    return 0;
}

static int cli_format_exec_list(struct cli_format_exec *ex,
                                const struct cli_format_node *n,
                                json_t *dot);

static int cli_format_exec_range(struct cli_format_exec *ex,
                                 const struct cli_format_node *n, json_t *val)
{
    size_t mark = ex->n_vars;
    size_t i;
    int rv = 0;

    if (json_is_array(val) && json_array_size(val) > 0) {
        for (i = 0; i < json_array_size(val) && rv == 0; i++) {
            json_t *elem = json_array_get(val, i);
            json_t *idx = json_integer((json_int_t)i);

            if (n->pipe->n_decl == 2) {
                cli_format_push_var(ex, n->pipe->decl[0], idx);
                cli_format_push_var(ex, n->pipe->decl[1], elem);
            } else if (n->pipe->n_decl == 1) {
                cli_format_push_var(ex, n->pipe->decl[0], elem);
            }
            json_decref(idx);
            rv = cli_format_exec_list(ex, n->list, elem);
            cli_format_pop_vars(ex, mark);
        }
        return rv;
    }
    if (json_is_object(val) && json_object_size(val) > 0) {
        const char **keys = xcalloc(json_object_size(val), sizeof(*keys));
        const char *key;
        json_t *v;
        size_t nk = 0;

        json_object_foreach(val, key, v) {
            (void)v;
            keys[nk++] = key;
        }
        qsort(keys, nk, sizeof(*keys), cli_format_cmp_keys);
        for (i = 0; i < nk && rv == 0; i++) {
            json_t *elem = json_object_get(val, keys[i]);
            json_t *k = json_string(keys[i]);

            if (n->pipe->n_decl == 2) {
                cli_format_push_var(ex, n->pipe->decl[0], k);
                cli_format_push_var(ex, n->pipe->decl[1], elem);
            } else if (n->pipe->n_decl == 1) {
                cli_format_push_var(ex, n->pipe->decl[0], elem);
            }
            json_decref(k);
            rv = cli_format_exec_list(ex, n->list, elem);
            cli_format_pop_vars(ex, mark);
        }
        free(keys);
        return rv;
    }
    if (n->else_list != NULL)
        return cli_format_exec_list(ex, n->else_list, NULL);
    return 0;
}

static int cli_format_exec_list(struct cli_format_exec *ex,
                                const struct cli_format_node *n, json_t *dot)
{
    size_t mark = ex->n_vars;
    int rv = 0;

    for (; n != NULL && rv == 0; n = n->next) {
        json_t *val = NULL;

        switch (n->kind) {
        case NODE_TEXT:
            if (buf_append(ex->out, n->text, n->text_len) != 0)
                rv = err_set(ex->err, ERR_TOOBIG, "template output too big");
            break;
        case NODE_ACTION:
            rv = cli_format_eval_pipe(ex, n->pipe, dot, &val);
            if (rv != 0)
                break;
            if (n->pipe->n_decl > 0)
                cli_format_push_var(ex, n->pipe->decl[0], val);
            else
                cli_format_print(val, ex->out);
            json_decref(val);
            break;
        case NODE_IF:
        case NODE_WITH: {
            size_t inner = ex->n_vars;

            rv = cli_format_eval_pipe(ex, n->pipe, dot, &val);
            if (rv != 0)
                break;
            if (n->pipe->n_decl > 0)
                cli_format_push_var(ex, n->pipe->decl[0], val);
            if (cli_format_truth(val))
                rv = cli_format_exec_list(ex, n->list,
                                          n->kind == NODE_WITH ? val : dot);
            else if (n->else_list != NULL)
                rv = cli_format_exec_list(ex, n->else_list, dot);
            cli_format_pop_vars(ex, inner);
            json_decref(val);
            break;
        }
        case NODE_RANGE:
            rv = cli_format_eval_pipe(ex, n->pipe, dot, &val);
            if (rv != 0)
                break;
            rv = cli_format_exec_range(ex, n, val);
            json_decref(val);
            break;
        }
    }
    cli_format_pop_vars(ex, mark);
    return rv;
}

int cli_format_tmpl_exec(const struct cli_format_tmpl *t, json_t *data,
                         bool header, const char *type_name, struct buf *out,
                         struct err *err)
{
    struct cli_format_exec ex;
    int rv;

    memset(&ex, 0, sizeof(ex));
    ex.t = t;
    ex.header = header;
    ex.type_name = type_name;
    ex.root = data;
    ex.out = out;
    ex.err = err;
    ex.omitted = json_string("");
    rv = cli_format_exec_list(&ex, t->root, data);
    json_decref(ex.omitted);
    free(ex.vars);
    return rv;
}

/* ------------------------------------------------------------------ */
/* docker's list and inspect output                                    */
/* ------------------------------------------------------------------ */

static char *cli_format_prepare(const char *src, bool *out_table)
{
    struct buf b;
    const char *p;
    size_t len;

    *out_table = strncmp(src, "table", 5) == 0;
    if (*out_table)
        src += 5;
    while (*src == ' ')
        src++;
    len = strlen(src);
    while (len > 0 && src[len - 1] == ' ')
        len--;
    buf_init(&b, CLI_FORMAT__OUT_MAX);
    for (p = src; p < src + len; p++) {
        if (p[0] == '\\' && p + 1 < src + len && (p[1] == 't' || p[1] == 'n')) {
            (void)buf_append(&b, p[1] == 't' ? "\t" : "\n", 1);
            p++;
            continue;
        }
        (void)buf_append(&b, p, 1);
    }
    return buf_detach(&b, NULL);
}

int cli_format_init(struct cli_format *f, const char *format,
                    const char *default_table, bool quiet,
                    const char *quiet_format, json_t *header,
                    const char *type_name, struct err *err)
{
    const char *src;
    char *body;
    int rv;

    memset(f, 0, sizeof(f[0]));
    f->header = header;
    f->type_name = type_name;
    buf_init(&f->body, CLI_FORMAT__OUT_MAX);
    if (format == NULL || *format == '\0' || strcmp(format, "table") == 0)
        src = quiet ? quiet_format : default_table;
    else if (strcmp(format, "json") == 0)
        src = "{{json .}}";
    else
        src = format;
    body = cli_format_prepare(src, &f->table);
    rv = cli_format_tmpl_parse(body, &f->tmpl, err);
    free(body);
    if (rv != 0)
        return err_wrap(err, "template parsing error");
    return 0;
}

int cli_format_row(struct cli_format *f, json_t *row, struct err *err)
{
    int rv = cli_format_tmpl_exec(f->tmpl, row, false, f->type_name,
                                  &f->body, err);

    if (rv != 0)
        return err_wrap(err, "template parsing error");
    (void)buf_append(&f->body, "\n", 1);
    return 0;
}

int cli_format_flush(struct cli_format *f, FILE *fp, struct err *err)
{
    struct buf all;
    struct buf out;
    int rv;

    if (!f->table) {
        if (f->body.len > 0)
            fwrite(f->body.data, 1, f->body.len, fp);
        return 0;
    }
    buf_init(&all, CLI_FORMAT__OUT_MAX);
    buf_init(&out, CLI_FORMAT__OUT_MAX);
    rv = cli_format_tmpl_exec(f->tmpl, f->header, true, f->type_name, &all,
                              err);
    if (rv != 0) {
        buf_release(&all);
        return err_wrap(err, "template parsing error");
    }
    (void)buf_append(&all, "\n", 1);
    if (f->body.len > 0)
        (void)buf_append(&all, f->body.data, f->body.len);
    cli_format_tabwriter(all.data, all.len, 10, 3, &out);
    if (out.len > 0)
        fwrite(out.data, 1, out.len, fp);
    buf_release(&all);
    buf_release(&out);
    return 0;
}

void cli_format_release(struct cli_format *f)
{
    cli_format_tmpl_free(f->tmpl);
    f->tmpl = NULL;
    json_decref(f->header);
    f->header = NULL;
    buf_release(&f->body);
}

int cli_format_inspect(struct cli_resp *raws, size_t n, const char *format,
                       struct err *err)
{
    struct buf all;
    struct buf out;
    size_t i;

    buf_init(&all, CLI_FORMAT__OUT_MAX);
    buf_init(&out, CLI_FORMAT__OUT_MAX);
    if (format == NULL || *format == '\0') {
        if (n == 0) {
            fputs("[]\n", stdout);
            return 0;
        }
        (void)buf_append(&all, "[", 1);
        for (i = 0; i < n; i++) {
            if (i > 0)
                (void)buf_append(&all, ",", 1);
            (void)buf_append(&all, raws[i].body.data, raws[i].body.len);
        }
        (void)buf_append(&all, "]", 1);
        cli_format_json_indent(all.data, all.len, &out);
        (void)buf_append(&out, "\n", 1);
        fwrite(out.data, 1, out.len, stdout);
        buf_release(&all);
        buf_release(&out);
        return 0;
    }
    if (strcmp(format, "json") == 0) {
        /* docker 28: one compact JSON array of all the objects */
        (void)buf_append(&out, "[", 1);
        for (i = 0; i < n; i++) {
            json_t *v = json_loadb(raws[i].body.data, raws[i].body.len,
                                   JSON_DECODE_ANY, NULL);
            char *s = cli_format_json_compact(v);

            if (i > 0)
                (void)buf_append(&out, ",", 1);
            (void)buf_puts(&out, s);
            free(s);
            json_decref(v);
        }
        (void)buf_append(&out, "]\n", 2);
        fwrite(out.data, 1, out.len, stdout);
        buf_release(&out);
        buf_release(&all);
        return 0;
    }
    {
        struct cli_format_tmpl *t;
        char *src;
        bool table;
        int rv;

        src = cli_format_prepare(format, &table);
        rv = cli_format_tmpl_parse(src, &t, err);
        free(src);
        if (rv != 0)
            return err_wrap(err, "template parsing error");
        for (i = 0; i < n && rv == 0; i++) {
            json_error_t jerr;
            json_t *v = json_loadb(raws[i].body.data, raws[i].body.len,
                                   JSON_DECODE_ANY, &jerr);

            if (v == NULL) {
                rv = err_set(err, ERR_PROTO, "invalid JSON from daemon: %s",
                             jerr.text);
                break;
            }
            rv = cli_format_tmpl_exec(t, v, false, NULL, &out, err);
            json_decref(v);
            if (rv != 0)
                rv = err_wrap(err, "template parsing error");
            (void)buf_append(&out, "\n", 1);
        }
        cli_format_tmpl_free(t);
        /* docker flushes what it has, even after a failed element */
        if (out.len > 0)
            fwrite(out.data, 1, out.len, stdout);
        buf_release(&out);
        buf_release(&all);
        return rv;
    }
}

/* ------------------------------------------------------------------ */
/* durations, sizes, times, names                                      */
/* ------------------------------------------------------------------ */

void cli_format_human_duration(int64_t ns, char *out, size_t cap)
{
    int64_t seconds = ns / 1000000000LL;
    int64_t minutes = ns / 60000000000LL;
    int64_t hours;

    if (seconds < 1) {
        snprintf(out, cap, "Less than a second");
        return;
    }
    if (seconds == 1) {
        snprintf(out, cap, "1 second");
        return;
    }
    if (seconds < 60) {
        snprintf(out, cap, "%" PRId64 " seconds", seconds);
        return;
    }
    if (minutes == 1) {
        snprintf(out, cap, "About a minute");
        return;
    }
    if (minutes < 60) {
        snprintf(out, cap, "%" PRId64 " minutes", minutes);
        return;
    }
    /* hours rounded half away from zero, as time.Duration.Round */
    hours = (ns + 1800000000000LL) / 3600000000000LL;
    if (hours == 1)
        snprintf(out, cap, "About an hour");
    else if (hours < 48)
        snprintf(out, cap, "%" PRId64 " hours", hours);
    else if (hours < 24 * 7 * 2)
        snprintf(out, cap, "%" PRId64 " days", hours / 24);
    else if (hours < 24 * 30 * 2)
        snprintf(out, cap, "%" PRId64 " weeks", hours / 24 / 7);
    else if (hours < 24 * 365 * 2)
        snprintf(out, cap, "%" PRId64 " months", hours / 24 / 30);
    else
        snprintf(out, cap, "%" PRId64 " years",
                 (int64_t)(ns / 3600000000000LL / 24 / 365));
}

void cli_format_bytes_size(double size, char *out, size_t cap)
{
    static const char *const units[] = {"B",   "KiB", "MiB", "GiB", "TiB",
                                        "PiB", "EiB", "ZiB", "YiB"};
    size_t i = 0;

    while (size >= 1024.0 && i + 1 < ARRAY_SIZE(units)) {
        size /= 1024.0;
        i++;
    }
    snprintf(out, cap, "%.4g%s", size, units[i]);
}

/* Write v/10^prec's fraction (".123", no trailing zeros) before *w. */
static uint64_t cli_format_frac(char *buf, size_t *w, uint64_t v, int prec)
{
    bool print = false;
    int i;

    for (i = 0; i < prec; i++) {
        unsigned digit = (unsigned)(v % 10);

        print = print || digit != 0;
        if (print)
            buf[--*w] = (char)('0' + digit);
        v /= 10;
    }
    if (print)
        buf[--*w] = '.';
    return v;
}

static void cli_format_uint(char *buf, size_t *w, uint64_t v)
{
    if (v == 0) {
        buf[--*w] = '0';
        return;
    }
    while (v > 0) {
        buf[--*w] = (char)('0' + v % 10);
        v /= 10;
    }
}

void cli_format_duration_string(int64_t ns, char *out, size_t cap)
{
    char buf[40];
    size_t w = sizeof(buf) - 1;
    bool neg = ns < 0;
    uint64_t u = neg ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;

    buf[w] = '\0';
    if (u < 1000000000ULL) {
        int prec;

        if (u == 0) {
            snprintf(out, cap, "0s");
            return;
        }
        buf[--w] = 's';
        if (u < 1000ULL) {
            prec = 0;
            buf[--w] = 'n';
        } else if (u < 1000000ULL) {
            prec = 3;
            buf[--w] = '\xb5';
            buf[--w] = '\xc2';
        } else {
            prec = 6;
            buf[--w] = 'm';
        }
        u = cli_format_frac(buf, &w, u, prec);
        cli_format_uint(buf, &w, u);
    } else {
        buf[--w] = 's';
        u = cli_format_frac(buf, &w, u, 9);
        cli_format_uint(buf, &w, u % 60);
        u /= 60;
        if (u > 0) {
            buf[--w] = 'm';
            cli_format_uint(buf, &w, u % 60);
            u /= 60;
            if (u > 0) {
                buf[--w] = 'h';
                cli_format_uint(buf, &w, u);
            }
        }
    }
    if (neg)
        buf[--w] = '-';
    snprintf(out, cap, "%s", buf + w);
}

static const struct
{
    const char *name;
    uint64_t ns;
} cli_format_units[] = {
    {"ns", 1ULL},
    {"us", 1000ULL},
    {"\xc2\xb5s", 1000ULL}, /* U+00B5 micro sign */
    {"\xce\xbcs", 1000ULL}, /* U+03BC Greek mu */
    {"ms", 1000000ULL},
    {"s", 1000000000ULL},
    {"m", 60000000000ULL},
    {"h", 3600000000000ULL},
};

int cli_format_duration_parse(const char *s, int64_t *out, struct err *err)
{
    const char *orig = s;
    uint64_t d = 0;
    bool neg = false;

    *out = 0;
    if (*s == '-' || *s == '+') {
        neg = *s == '-';
        s++;
    }
    if (strcmp(s, "0") == 0)
        return 0;
    if (*s == '\0')
        goto invalid;
    while (*s != '\0') {
        uint64_t v = 0;
        uint64_t f = 0;
        double scale = 1;
        bool pre;
        bool post = false;
        const char *start;
        uint64_t unit = 0;
        size_t ul;
        size_t k;

        if (!(*s == '.' || isdigit((unsigned char)*s)))
            goto invalid;
        start = s;
        while (isdigit((unsigned char)*s)) {
            if (v > (UINT64_C(1) << 63) / 10)
                goto invalid;
            v = v * 10 + (uint64_t)(*s - '0');
            if (v > (UINT64_C(1) << 63))
                goto invalid;
            s++;
        }
        pre = s != start;
        if (*s == '.') {
            bool overflow = false;

            s++;
            start = s;
            while (isdigit((unsigned char)*s)) {
                if (!overflow) {
                    if (f > (UINT64_C(1) << 63) / 10) {
                        overflow = true;
                    } else {
                        f = f * 10 + (uint64_t)(*s - '0');
                        scale *= 10;
                    }
                }
                s++;
            }
            post = s != start;
        }
        if (!pre && !post)
            goto invalid;
        start = s;
        while (*s != '\0' && *s != '.' && !isdigit((unsigned char)*s))
            s++;
        ul = (size_t)(s - start);
        if (ul == 0)
            return err_set(err, ERR_INVALID,
                           "time: missing unit in duration \"%s\"", orig);
        for (k = 0; k < ARRAY_SIZE(cli_format_units); k++) {
            if (strlen(cli_format_units[k].name) == ul &&
                memcmp(cli_format_units[k].name, start, ul) == 0) {
                unit = cli_format_units[k].ns;
                break;
            }
        }
        if (unit == 0)
            return err_set(err, ERR_INVALID,
                           "time: unknown unit \"%.*s\" in duration \"%s\"",
                           (int)ul, start, orig);
        if (v > (UINT64_C(1) << 63) / unit)
            goto invalid;
        v *= unit;
        if (f > 0) {
            v += (uint64_t)((double)f * ((double)unit / scale));
            if (v > (UINT64_C(1) << 63))
                goto invalid;
        }
        d += v;
        if (d > (UINT64_C(1) << 63))
            goto invalid;
    }
    if (neg) {
        *out = d == (UINT64_C(1) << 63) ? INT64_MIN : -(int64_t)d;
        return 0;
    }
    if (d > (UINT64_C(1) << 63) - 1)
        goto invalid;
    *out = (int64_t)d;
    return 0;

invalid:
    return err_set(err, ERR_INVALID, "time: invalid duration \"%s\"", orig);
}

void cli_format_pretty(const char *s, char *out, size_t cap)
{
    size_t i;

    if (cap == 0)
        return;
    for (i = 0; s[i] != '\0' && i + 1 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];

        out[i] = (char)(i == 0 ? toupper(ch) : tolower(ch));
    }
    out[i] = '\0';
}

void cli_format_go_float(double d, char *out, size_t cap)
{
    struct buf b;

    buf_init(&b, 64);
    cli_format_float(d, false, &b);
    snprintf(out, cap, "%s", b.data != NULL ? b.data : "");
    buf_release(&b);
}

bool cli_format_natural_less(const char *a, const char *b)
{
    size_t i = 0;
    size_t j = 0;
    size_t la = strlen(a);
    size_t lb = strlen(b);

    while (i < la && j < lb) {
        bool da = isdigit((unsigned char)a[i]);
        bool db = isdigit((unsigned char)b[j]);
        size_t nz_a;
        size_t nz_b;
        size_t len_a;
        size_t len_b;
        int c;

        if (da != db)
            return da;
        if (!da) {
            if (a[i] != b[j])
                return (unsigned char)a[i] < (unsigned char)b[j];
            i++;
            j++;
            continue;
        }
        while (i < la && a[i] == '0')
            i++;
        while (j < lb && b[j] == '0')
            j++;
        nz_a = i;
        nz_b = j;
        while (i < la && isdigit((unsigned char)a[i]))
            i++;
        while (j < lb && isdigit((unsigned char)b[j]))
            j++;
        len_a = i - nz_a;
        len_b = j - nz_b;
        if (len_a != len_b)
            return len_a < len_b;
        c = memcmp(a + nz_a, b + nz_b, len_a);
        if (c != 0)
            return c < 0;
        if (nz_a != nz_b)
            return nz_a < nz_b;
    }
    return la - i < lb - j;
}

static void cli_format_indent_newline(struct buf *out, int depth)
{
    int k;

    (void)buf_append(out, "\n", 1);
    for (k = 0; k < depth; k++)
        (void)buf_append(out, "    ", 4);
}

void cli_format_json_indent(const char *src, size_t len, struct buf *out)
{
    size_t i;
    int depth = 0;
    bool need_indent = false;
    bool in_str = false;

    for (i = 0; i < len; i++) {
        char ch = src[i];

        if (in_str) {
            (void)buf_append(out, &ch, 1);
            if (ch == '\\' && i + 1 < len) {
                (void)buf_append(out, &src[++i], 1);
            } else if (ch == '"') {
                in_str = false;
            }
            continue;
        }
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r')
            continue;
        if (need_indent && ch != '}' && ch != ']') {
            need_indent = false;
            depth++;
            cli_format_indent_newline(out, depth);
        }
        switch (ch) {
        case '"':
            in_str = true;
            (void)buf_append(out, &ch, 1);
            break;
        case '{':
        case '[':
            /* delay the newline so that {} and [] stay empty */
            need_indent = true;
            (void)buf_append(out, &ch, 1);
            break;
        case ',':
            (void)buf_append(out, &ch, 1);
            cli_format_indent_newline(out, depth);
            break;
        case ':':
            (void)buf_append(out, ": ", 2);
            break;
        case '}':
        case ']':
            if (need_indent) {
                need_indent = false;
            } else {
                depth--;
                cli_format_indent_newline(out, depth);
            }
            (void)buf_append(out, &ch, 1);
            break;
        default:
            (void)buf_append(out, &ch, 1);
            break;
        }
    }
}

char *cli_format_go_time(const char *s)
{
    int y, mo, d, h, mi, sec;
    int n = 0;
    const char *p;
    char frac[16] = "";
    size_t fl = 0;
    char zone[32];

    if (s == NULL)
        return xstrdup("");
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
               &n) != 6 ||
        n != 19)
        return xstrdup(s);
    p = s + n;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) {
            if (fl < 9)
                frac[fl++] = *p;
            p++;
        }
        while (fl > 0 && frac[fl - 1] == '0')
            fl--;
        frac[fl] = '\0';
    }
    if (strcmp(p, "Z") == 0) {
        snprintf(zone, sizeof(zone), "+0000 UTC");
    } else if ((p[0] == '+' || p[0] == '-') && strlen(p) == 6 &&
               p[3] == ':') {
        snprintf(zone, sizeof(zone), "%c%.2s%.2s %c%.2s%.2s", p[0], p + 1,
                 p + 4, p[0], p + 1, p + 4);
    } else {
        return xstrdup(s);
    }
    return xasprintf("%04d-%02d-%02d %02d:%02d:%02d%s%s %s", y, mo, d, h, mi,
                     sec, fl > 0 ? "." : "", frac, zone);
}
