#!/bin/bash
# Local images with the real docker CLI: import (file and stdin, --change),
# images, inspect, tag, rmi, save/load round trip (same ID), a hostile
# tarball refused with nothing left behind and the daemon still serving.
# Needs the engine wired into the daemon (engine_images).
. "$(dirname "$0")/lib.sh"

start_node n1
root=$(node_dir n1)/root
busybox_tar "$TMP/busybox.tar"

log "import from a file, with changes"
run_ok dk n1 import --change 'CMD ["sh"]' --change 'ENV A=b' \
    --change 'WORKDIR /tmp' --change 'LABEL k=v' "$TMP/busybox.tar" busybox
[[ $OUT =~ ^sha256:[0-9a-f]{64}$ ]] || fail "import printed [$OUT]"
id=$OUT

log "import from stdin"
run_ok sh -c "cat '$TMP/busybox.tar' | '$DOCKER' -H unix://$(node_sock n1) import - other:1"
[[ $OUT =~ ^sha256:[0-9a-f]{64}$ ]] || fail "stdin import printed [$OUT]"
other=$OUT
expect_eq "$(ls "$root/overlay2" | wc -l)" 1 "one layer for both imports"

log "docker images"
run_ok dk n1 images
expect_eq "$(head -1 <<<"$OUT" | tr -s ' ')" "REPOSITORY TAG IMAGE ID CREATED SIZE" "header"
expect_contains "$OUT" "busybox      latest    ${id:7:12}" "busybox row"
expect_contains "$OUT" "other        1         ${other:7:12}" "other row"
expect_eq "$(dk n1 images -q | sort | tr '\n' ' ')" \
    "$(printf '%s\n' "${id:7:12}" "${other:7:12}" | sort | tr '\n' ' ')" "images -q"

log "docker image inspect"
run_ok dk n1 image inspect busybox
expect_eq "$(jq -r '.[0].Id' <<<"$OUT")" "$id" "Id"
expect_eq "$(jq -c '.[0].RepoTags' <<<"$OUT")" '["busybox:latest"]' "RepoTags"
expect_eq "$(jq -c '.[0].Config.Cmd' <<<"$OUT")" '["sh"]' "Cmd"
expect_eq "$(jq -c '.[0].Config.Env' <<<"$OUT")" '["A=b"]' "Env"
expect_eq "$(jq -r '.[0].Config.WorkingDir' <<<"$OUT")" "/tmp" "WorkingDir"
expect_eq "$(jq -r '.[0].Config.Labels.k' <<<"$OUT")" "v" "Labels"
expect_eq "$(jq -r '.[0].RootFS.Type' <<<"$OUT")" "layers" "RootFS.Type"
diff=$(jq -r '.[0].RootFS.Layers[0]' <<<"$OUT")
expect_eq "$diff" "sha256:$(sha256sum "$TMP/busybox.tar" | cut -d' ' -f1)" "diff ID"
expect_eq "$(jq -r '.[0].Os + "/" + .[0].Architecture' <<<"$OUT")" "linux/amd64" "platform"
expect_eq "$(dk n1 image inspect -f '{{.Id}}' "${id:7:12}")" "$id" "inspect by short ID"
expect_fail dk n1 image inspect nosuch
expect_contains "$OUT" "Error response from daemon: No such image: nosuch" "inspect unknown"
expect_eq "$(printf 'sha256:%s' "$(sha256sum "$root/image/overlay2/imagedb/content/sha256/${id:7}" | cut -d' ' -f1)")" \
    "$id" "ID is the config's digest"

log "docker tag and rmi"
run_ok dk n1 tag busybox mine/bb:v1
expect_contains "$(dk n1 images)" "mine/bb      v1        ${id:7:12}" "new tag listed"
expect_fail dk n1 rmi "${id:7:12}"
expect_eq "$OUT" "Error response from daemon: conflict: unable to delete ${id:7:12} (must be forced) - image is referenced in multiple repositories" "rmi by ID with two tags"
run_ok dk n1 rmi mine/bb:v1
expect_eq "$OUT" "Untagged: mine/bb:v1" "rmi one tag"
expect_fail dk n1 rmi nosuch
expect_eq "$OUT" "Error response from daemon: No such image: nosuch" "rmi unknown"
r=$(api n1 DELETE /images/nosuch)
expect_eq "${r%% *}" 404 "rmi unknown status"

log "docker save, rmi, load: the same image back"
run_ok dk n1 save -o "$TMP/saved.tar" busybox
for f in manifest.json repositories index.json oci-layout "blobs/sha256/${id:7}" \
    "${id:7}.json" "${diff:7}/layer.tar"; do
    tar -tf "$TMP/saved.tar" | grep -qx "$f" || fail "save archive lacks $f"
done
expect_eq "$(tar -xOf "$TMP/saved.tar" manifest.json | jq -c '.[0].RepoTags')" '["busybox:latest"]' "manifest RepoTags"
run_ok dk n1 rmi busybox
expect_contains "$OUT" "Untagged: busybox:latest" "rmi untag"
expect_contains "$OUT" "Deleted: $id" "rmi deleted"
run_ok dk n1 load -i "$TMP/saved.tar"
expect_eq "$OUT" "Loaded image: busybox:latest" "load -i"
expect_eq "$(dk n1 image inspect -f '{{.Id}}' busybox)" "$id" "same ID after load"
run_ok dk n1 rmi busybox
run_ok sh -c "'$DOCKER' -H unix://$(node_sock n1) load < '$TMP/saved.tar'"
expect_eq "$OUT" "Loaded image: busybox:latest" "load from stdin"
expect_eq "$(dk n1 image inspect -f '{{.Id}}' busybox)" "$id" "same ID after stdin load"

log "load an OCI layout (index.json only)"
mkdir "$TMP/oci" && tar -C "$TMP/oci" -xf "$TMP/saved.tar"
rm "$TMP/oci/manifest.json" "$TMP/oci/repositories"
tar -C "$TMP/oci" -cf "$TMP/oci.tar" .
run_ok dk n1 rmi busybox
run_ok dk n1 load -i "$TMP/oci.tar"
expect_eq "$OUT" "Loaded image: busybox:latest" "OCI load"
expect_eq "$(dk n1 image inspect -f '{{.Id}}' busybox)" "$id" "same ID after OCI load"

log "a hostile tarball is refused, nothing left behind, the daemon serves on"
layers_before=$(ls "$root/overlay2" | wc -l)
mkdir -p "$TMP/evil"
python3 - "$TMP/evil.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    i = tarfile.TarInfo("ok"); i.size = 1; t.addfile(i, io.BytesIO(b"x"))
    i = tarfile.TarInfo("../../escape"); i.size = 1; t.addfile(i, io.BytesIO(b"x"))
PY
expect_fail dk n1 import "$TMP/evil.tar" evil
expect_contains "$OUT" 'refusing archive entry "../../escape"' "hostile import refused"
expect_fail dk n1 load -i "$TMP/evil.tar"
expect_contains "$OUT" 'refusing archive entry' "hostile load refused"
expect_eq "$(ls "$root/overlay2" | wc -l)" "$layers_before" "no layer left behind"
expect_eq "$(ls -A "$root/image/overlay2/tmp" | wc -l)" 0 "no temp file left behind"
expect_fail dk n1 image inspect evil
[ ! -e "$TMP/escape" ] && [ ! -e "$(node_dir n1)/escape" ] || fail "entry escaped"
printf 'garbage that is not an archive' >"$TMP/junk.tar"
expect_fail dk n1 import "$TMP/junk.tar" junk
expect_contains "$OUT" "invalid archive" "junk refused"
ping_node n1 >/dev/null || fail "daemon stopped serving"
expect_eq "$(dk n1 images -q | wc -l)" 2 "images intact"

log "ok"
