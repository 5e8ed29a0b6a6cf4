/* SPDX-License-Identifier: Apache-2.0 */
/* Container names: Docker's validity rule and generated
 * adjective_surname names (shoal's own word lists). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/ids.h"
#include "engine/engine_int.h"

static const char *const engine_names_adjectives[] = {
    "agile",    "amber",    "ardent",   "astute",   "balmy",    "bold",
    "breezy",   "bright",   "brisk",    "calm",     "candid",   "cheery",
    "civic",    "clever",   "cosmic",   "crisp",    "curious",  "daring",
    "deft",     "devoted",  "eager",    "earnest",  "fearless", "fervent",
    "festive",  "fluent",   "frank",    "gallant",  "gentle",   "glowing",
    "graceful", "hardy",    "honest",   "humble",   "jolly",    "keen",
    "kindly",   "lively",   "lucid",    "merry",    "mellow",   "nimble",
    "noble",    "patient",  "placid",   "plucky",   "polite",   "quiet",
    "radiant",  "rapid",    "serene",   "shrewd",   "sincere",  "snappy",
    "spirited", "steady",   "sturdy",   "sunny",    "swift",    "tender",
    "tidy",     "upbeat",   "valiant",  "vivid",    "warm",     "witty",
    "zealous",  "zesty",
};

/* Surnames of people who shaped computing, mathematics and science. */
static const char *const engine_names_surnames[] = {
    "abel",      "agnesi",    "babbage",   "backus",    "bernoulli",
    "boole",     "cantor",    "cauchy",    "cerf",      "chebyshev",
    "codd",      "conway",    "dedekind",  "dijkstra",  "eckert",
    "euclid",    "euler",     "faraday",   "fermat",    "fourier",
    "galois",    "gauss",     "germain",   "godel",     "hamming",
    "hilbert",   "hopper",    "huffman",   "jacobi",    "kahan",
    "kepler",    "kernighan", "kleene",    "knuth",     "kolmogorov",
    "lagrange",  "lamport",   "laplace",   "leibniz",   "liskov",
    "lovelace",  "markov",    "maxwell",   "mccarthy",  "minsky",
    "napier",    "naur",      "noether",   "nyquist",   "pascal",
    "peano",     "perlis",    "poincare",  "post",      "ramanujan",
    "riemann",   "ritchie",   "shannon",   "stroustrup", "sutherland",
    "tarjan",    "thompson",  "turing",    "venn",      "wirth",
    "zuse",
};

bool engine_names_valid(const char *name)
{
    const char *p = name;

    if (p[0] == '/')
        p++;
    if (!((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z') ||
          (p[0] >= '0' && p[0] <= '9')))
        return false;
    if (p[1] == '\0')
        return false;
    for (p++; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
              *p == '-'))
            return false;
    }
    return true;
}

void engine_names_generate(char *out, size_t cap)
{
    uint32_t r[2];

    ids_random(r, sizeof(r));
    snprintf(out, cap, "%s_%s",
             engine_names_adjectives[r[0] %
                                     ARRAY_SIZE(engine_names_adjectives)],
             engine_names_surnames[r[1] % ARRAY_SIZE(engine_names_surnames)]);
}
