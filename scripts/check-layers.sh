#!/bin/sh
# Fails when a file in src/ includes a header of a higher layer than its own (table: scripts/layers).
# Usage: scripts/check-layers.sh [TABLE]   (run from anywhere; reads src/ of this checkout)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TABLE=${1:-$ROOT/scripts/layers}
[ -r "$TABLE" ] || { echo "check-layers: cannot read the layer table $TABLE" >&2; exit 2; }
cd "$ROOT"
[ -d src ] || { echo "check-layers: no src/ in $ROOT" >&2; exit 2; }

# awk reads the table, then the list of files (for resolving includes),
# then each file's #include "..." lines.
files=$(find src -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort)
printf '%s\n' "$files" | awk -v table="$TABLE" '
function die(msg) { print "check-layers: " msg > "/dev/stderr"; failed = 2; exit 2 }
# The layer of path p: the longest prefix in the table that matches it.
function layer_of(p,    i, best, bestlen) {
    best = ""; bestlen = -1
    for (i = 1; i <= nprefix; i++)
        if (substr(p, 1, length(prefix[i])) == prefix[i] && length(prefix[i]) > bestlen) {
            best = player[i]; bestlen = length(prefix[i])
        }
    return best
}
# Where #include "name" in file f resolves: beside f first, as the compiler
# looks, then in src/ (the one include directory).
function resolve(f, name,    dir, p) {
    dir = f; sub(/[^\/]*$/, "", dir)
    p = dir name
    while (p ~ /\/[^\/]+\/\.\.\//) sub(/\/[^\/]+\/\.\.\//, "/", p)
    if (p in exists) return p
    p = "src/" name
    if (p in exists) return p
    return ""
}
BEGIN {
    nlayers = 0; nprefix = 0
    while ((r = (getline line < table)) > 0) {
        sub(/#.*/, "", line); sub(/^[ \t]+/, "", line); sub(/[ \t]+$/, "", line)
        if (line == "") continue
        n = split(line, w, /[ \t]+/)
        if (w[1] == "order") {
            for (i = 2; i <= n; i++) { nlayers++; rank[w[i]] = nlayers; name[nlayers] = w[i] }
        } else if (n == 2) {
            if (!(w[2] in rank)) die(table ": " w[1] ": unknown layer \"" w[2] "\" (not in the order line)")
            nprefix++; prefix[nprefix] = w[1]; player[nprefix] = w[2]
        } else {
            die(table ": cannot read the line \"" line "\" (want: PREFIX LAYER, or order LAYER...)")
        }
    }
    if (r < 0) die("cannot read " table)
    if (nlayers == 0) die(table ": no order line")
}
{ exists[$0] = 1; list[++nfiles] = $0 }
END {
    if (failed) exit failed
    violations = 0; unmapped = 0
    for (k = 1; k <= nfiles; k++) {
        f = list[k]
        lf = layer_of(f)
        if (lf == "") { print f ": no layer in " table " matches this file"; unmapped++; continue }
        while ((r = (getline line < f)) > 0) {
            if (line !~ /^[ \t]*#[ \t]*include[ \t]*"/) continue
            inc = line; sub(/^[ \t]*#[ \t]*include[ \t]*"/, "", inc); sub(/".*/, "", inc)
            h = resolve(f, inc)
            if (h == "") continue   # not in src/ (a generated or outside header)
            lh = layer_of(h)
            if (lh == "") continue  # reported as a file of its own
            if (rank[lh] > rank[lf]) {
                print f ": includes " h " (layer " lh " above layer " lf ")"
                violations++
            }
        }
        if (r < 0) { print "check-layers: cannot read " f > "/dev/stderr"; unmapped++ }
        close(f)
    }
    if (violations || unmapped) {
        printf "check-layers: %d include(s) from a higher layer", violations
        if (unmapped) printf ", %d file(s) without a layer", unmapped
        printf " (table: %s)\n", table
        exit 1
    }
    printf "check-layers: %d files, no include from a higher layer\n", nfiles
}'
