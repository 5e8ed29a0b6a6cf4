/* SPDX-License-Identifier: Apache-2.0 */
/* Go's text/tabwriter (padchar ' ', no flags): aligns tab-separated cells. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/mem.h"
#include "cli/cli_int.h"

struct cli_tabwriter_cell
{
    size_t off;    /* into the text */
    size_t len;    /* bytes */
    size_t width;  /* runes */
};

struct cli_tabwriter_line
{
    struct cli_tabwriter_cell *cells; /* owned */
    size_t n_cells;
    size_t cap_cells;
};

struct cli_tabwriter
{
    const char *text;                 /* borrowed */
    struct cli_tabwriter_line *lines; /* owned; the last one is open */
    size_t n_lines;
    size_t cap_lines;
    size_t *widths;                   /* owned stack of column widths */
    size_t n_widths;
    size_t cap_widths;
    size_t minwidth;
    size_t padding;
    struct buf *out;                  /* borrowed */
};

static size_t cli_tabwriter_runes(const char *s, size_t len)
{
    size_t i;
    size_t n = 0;

    for (i = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    }
    return n;
}

static void cli_tabwriter_add_line(struct cli_tabwriter *t)
{
    if (t->n_lines == t->cap_lines) {
        t->cap_lines = t->cap_lines ? 2 * t->cap_lines : 16;
        t->lines = xrealloc(t->lines, t->cap_lines * sizeof(*t->lines));
    }
    memset(&t->lines[t->n_lines], 0, sizeof(t->lines[0]));
    t->n_lines++;
}

static void cli_tabwriter_add_cell(struct cli_tabwriter *t, size_t off,
                                   size_t len)
{
    struct cli_tabwriter_line *l = &t->lines[t->n_lines - 1];

    if (l->n_cells == l->cap_cells) {
        l->cap_cells = l->cap_cells ? 2 * l->cap_cells : 8;
        l->cells = xrealloc(l->cells, l->cap_cells * sizeof(*l->cells));
    }
    l->cells[l->n_cells].off = off;
    l->cells[l->n_cells].len = len;
    l->cells[l->n_cells].width = cli_tabwriter_runes(t->text + off, len);
    l->n_cells++;
}

void cli_tabwriter_pad(struct buf *out, size_t n)
{
    static const char spaces[] = "                                ";

    while (n > 0) {
        size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;

        (void)buf_append(out, spaces, k);
        n -= k;
    }
}

static void cli_tabwriter_write_lines(struct cli_tabwriter *t, size_t line0,
                                      size_t line1)
{
    size_t i;
    size_t j;

    for (i = line0; i < line1; i++) {
        const struct cli_tabwriter_line *l = &t->lines[i];

        for (j = 0; j < l->n_cells; j++) {
            const struct cli_tabwriter_cell *c = &l->cells[j];

            (void)buf_append(t->out, t->text + c->off, c->len);
            if (j < t->n_widths && t->widths[j] > c->width)
                cli_tabwriter_pad(t->out, t->widths[j] - c->width);
        }
        /* The last buffered line is the open one: no newline yet. */
        if (i + 1 < t->n_lines)
            (void)buf_append(t->out, "\n", 1);
    }
}

/* Go's tabwriter block algorithm: a column block is a run of consecutive
 * lines that all have a cell in that column. */
static void cli_tabwriter_format_lines(struct cli_tabwriter *t, size_t line0,
                                       size_t line1)
{
    size_t column = t->n_widths;
    size_t cur;

    for (cur = line0; cur < line1; cur++) {
        size_t width;

        if (column + 1 >= t->lines[cur].n_cells)
            continue;
        cli_tabwriter_write_lines(t, line0, cur);
        line0 = cur;
        width = t->minwidth;
        for (; cur < line1; cur++) {
            const struct cli_tabwriter_line *l = &t->lines[cur];
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
        cli_tabwriter_format_lines(t, line0, cur);
        t->n_widths--;
        line0 = cur;
        if (cur >= line1)
            break;
    }
    cli_tabwriter_write_lines(t, line0, line1);
}

static void cli_tabwriter_flush(struct cli_tabwriter *t)
{
    size_t i;

    cli_tabwriter_format_lines(t, 0, t->n_lines);
    for (i = 0; i < t->n_lines; i++)
        free(t->lines[i].cells);
    t->n_lines = 0;
}

void cli_tabwriter_format(const char *text, size_t len, size_t minwidth,
                          size_t padding, struct buf *out)
{
    struct cli_tabwriter t;
    size_t start = 0;
    size_t i;

    memset(&t, 0, sizeof(t));
    t.text = text;
    t.minwidth = minwidth;
    t.padding = padding;
    t.out = out;
    cli_tabwriter_add_line(&t);
    for (i = 0; i < len; i++) {
        if (text[i] == '\t') {
            cli_tabwriter_add_cell(&t, start, i - start);
            start = i + 1;
        } else if (text[i] == '\n') {
            size_t n_cells;

            cli_tabwriter_add_cell(&t, start, i - start);
            start = i + 1;
            n_cells = t.lines[t.n_lines - 1].n_cells;
            cli_tabwriter_add_line(&t);
            /* A line without tabs cannot affect the lines below it. */
            if (n_cells == 1) {
                cli_tabwriter_flush(&t);
                cli_tabwriter_add_line(&t);
            }
        }
    }
    cli_tabwriter_add_cell(&t, start, len - start);
    cli_tabwriter_flush(&t);
    free(t.lines);
    free(t.widths);
}
