# shellcheck shell=bash disable=SC2154  # globals: see common.sh
# The benchmarks; sourced by bench/run (see common.sh for the globals).
# Each bench_NAME function runs in its own subshell, measures ours and its
# baselines interleaved within every repeat (so that a burst of noise hits
# both), and leaves only the shared images behind. Sizes: cache_bytes,
# par_bytes, verify_images, update_lists, list_images.

# --- cache-2g: one image, catcher cache vs curl, openssl dgst, two passes ---
bench_cache_2g() {
  local b=cache-2g dir=$work/cache-2g
  local img=$work/www/images/big.img
  mkdir -p "$dir"
  make_image "$img" "$cache_bytes" 1
  local sha list_id image_id url=$base/images/big.img out=$dir/out.img
  sha=$(<"$img.sha512")
  list_id=$(new_uuid)
  image_id=$(new_uuid)
  mkdir -p "$work/www/lists"
  /usr/bin/python3 "$root/bench/lib/mklist.py" --out "$dir/list.json" --identifier "$list_id" \
    --uri "$base/lists/big.list" --image "$image_id,$url,$cache_bytes,$sha"
  sign_list "$dir/list.json" "$work/www/lists/big.list"
  echo "big $base/lists/big.list" | /usr/bin/python3 "$root/bench/lib/mkpolicy.py" "$dir/policy.json"
  catcher_conf "$dir/catcher.conf" "$dir/state" "$dir/policy.json" 1
  local K=("$catcher" --config "$dir/catcher.conf")
  warm "$img"

  local r
  for ((r = 1; r <= repeat; r++)); do
    # A fresh state per repeat: the update (untimed) records the list, then
    # only the download, hashing, fsync and rename into the cache is timed.
    rm -rf "$dir/state"
    quiet "${K[@]}" update
    settle
    : >"$work/nginx/access.log"
    timed $b "catcher cache" "$r" "${K[@]}" cache
    [[ $r -eq 1 ]] && transfer_note "$b: catcher cache" "$work/nginx/access.log"
    [[ $(stat -c %s "$dir/state/cache/.sha512/$sha" 2>/dev/null) == "$cache_bytes" ]] ||
      die "$b: catcher cache exited 0 but $dir/state/cache/.sha512/$sha is not the image"
    rm -rf "$dir/state"
    settle

    : >"$work/nginx/access.log"
    timed $b "curl -o" "$r" curl -fsS "${curl_tls[@]}" -o "$out" "$url"
    [[ $r -eq 1 ]] && transfer_note "$b: curl -o" "$work/nginx/access.log"
    rm -f "$out"
    settle
    timed $b "openssl dgst -sha512" "$r" openssl dgst -sha512 "$img"
    timed $b "curl -o && sha512sum" "$r" bash -c 'curl -fsS "${@:3}" -o "$1" "$2" && sha512sum "$1"' \
      _ "$out" "$url" "${curl_tls[@]}"
    rm -f "$out"
    settle
    # Not a DESIGN baseline: curl does not make its file durable, catcher
    # fsyncs before the rename. This row shows what durability costs here.
    timed $b "curl -o && sync FILE" "$r" bash -c 'curl -fsS "${@:3}" -o "$1" "$2" && sync "$1"' \
      _ "$out" "$url" "${curl_tls[@]}"
    rm -f "$out"
    settle
  done
  ((keep)) || rm -rf "$dir"
}

# --- parallel-4x512m: 4 images at once vs one after another ----------------
bench_parallel_4x512m() {
  local b=parallel-4x512m dir=$work/parallel
  mkdir -p "$dir" "$work/www/lists"
  local i images_fast=() images_slow=() sha id
  for i in 1 2 3 4; do
    make_image "$work/www/images/par-$i.img" "$par_bytes" $((100 + i))
    sha=$(<"$work/www/images/par-$i.img.sha512")
    id=$(new_uuid)
    images_fast+=(--image "$id,$base/images/par-$i.img,$par_bytes,$sha")
    images_slow+=(--image "$id,$base/slow/par-$i.img,$par_bytes,$sha")
  done
  local kind imgs
  for kind in fast slow; do
    if [[ $kind == fast ]]; then imgs=("${images_fast[@]}"); else imgs=("${images_slow[@]}"); fi
    /usr/bin/python3 "$root/bench/lib/mklist.py" --out "$dir/$kind.json" --identifier "$(new_uuid)" \
      --uri "$base/lists/par-$kind.list" "${imgs[@]}"
    sign_list "$dir/$kind.json" "$work/www/lists/par-$kind.list"
    echo "par-$kind $base/lists/par-$kind.list" |
      /usr/bin/python3 "$root/bench/lib/mkpolicy.py" "$dir/$kind.policy.json"
    catcher_conf "$dir/$kind-4.conf" "$dir/state" "$dir/$kind.policy.json" 4
    catcher_conf "$dir/$kind-1.conf" "$dir/state" "$dir/$kind.policy.json" 1
  done
  warm "$work"/www/images/par-*.img

  local r variant
  for ((r = 1; r <= repeat; r++)); do
    for variant in "slow-4 limited: at once (downloads=4)" "slow-1 limited: serial (downloads=1)" \
      "fast-4 unlimited: at once (downloads=4)" "fast-1 unlimited: serial (downloads=1)"; do
      local conf=${variant%% *} label=${variant#* }
      rm -rf "$dir/state"
      quiet "$catcher" --config "$dir/$conf.conf" update
      settle
      : >"$work/nginx/access.log"
      timed $b "$label" "$r" "$catcher" --config "$dir/$conf.conf" cache
      [[ $r -eq 1 ]] && transfer_note "$b: $label" "$work/nginx/access.log"
      local n
      n=$(find "$dir/state/cache/.sha512" -type f -size "${par_bytes}c" | wc -l)
      ((n == 4)) || die "$b: $label cached $n images, not 4"
    done
  done
  ((keep)) || rm -rf "$dir"
}

# Notes when each image transfer started and how long it took, from nginx's
# point of view (start = $msec - $request_time, relative to the first start).
transfer_note() {
  local what=$1 access=$2
  sleep 0.2 # nginx writes its log line after the response
  note "$what: transfers (start+duration s, nginx): $(awk '$5 ~ /\.img$/ { s = $8 - $7; st[++n] = s; d[n] = $7 }
    END { m = st[1]; for (i = 2; i <= n; i++) if (st[i] < m) m = st[i];
          for (i = 1; i <= n; i++) printf "%s%.2f+%.2f", (i > 1 ? ", " : ""), st[i] - m, d[i] }' "$access")"
}

# --- verify-10k: verify + parse a list of N images vs openssl smime -verify --
bench_verify_10k() {
  local b=verify-10k dir=$work/verify
  mkdir -p "$dir"
  /usr/bin/python3 "$root/bench/lib/mklist.py" --out "$dir/list.json" --identifier "$(new_uuid)" \
    --uri "https://lists.example.org/big.list" --fake-images "$verify_images"
  sign_list "$dir/list.json" "$dir/big.list"
  note "verify-10k: a signed list of $verify_images images, $(stat -c %s "$dir/big.list") bytes"
  catcher_conf "$dir/catcher.conf" "$dir/state" /nonexistent-policy.json 1
  sed -i '/^policy/d' "$dir/catcher.conf"
  warm "$dir/big.list"
  # The phases before leave gigabytes for the kernel to write back and free,
  # which takes a core for a while. A run lasts a fifth of a second, so one
  # burst of that skews a median of three: this phase starts once the disk
  # is quiet and takes five rounds per repeat, all interleaved.
  settle
  sleep 2

  local r
  for ((r = 1; r <= repeat * 5; r++)); do
    timed $b "catcher verify" "$r" "$catcher" --config "$dir/catcher.conf" verify "$dir/big.list"
    # The baseline checks as much of the trust as openssl can: the chain to
    # the same CA directory, with every CRL.
    timed $b "openssl smime -verify" "$r" openssl smime -verify -in "$dir/big.list" \
      -CApath "$pki/cadir" -crl_check_all -out /dev/null
    timed $b "caster verify" "$r" "$caster" verify "$dir/big.list" --ca-dir "$pki/cadir"
  done
  ((keep)) || rm -rf "$dir"
}

# --- update-500: N unchanged subscriptions (304) vs their first update ------
bench_update_500() {
  local b=update-500 dir=$work/update
  many_lists "$dir" many "$update_lists"
  many_subscriptions "$dir" many "$update_lists" 1
  local K=("$catcher" --config "$dir/catcher-$update_lists.conf")
  local access=$work/nginx/access.log

  local r
  for ((r = 1; r <= repeat; r++)); do
    rm -rf "$dir/state-$update_lists"
    settle
    : >"$access"
    timed $b "first update" "$r" "${K[@]}" update
    [[ $r -eq 1 ]] && connection_note "$b: first update" "$access"
    : >"$access"
    timed $b "unchanged update" "$r" "${K[@]}" update
    [[ $r -eq 1 ]] && connection_note "$b: unchanged update" "$access"
  done
  ((keep)) || rm -rf "$dir" "$work/www/many"
}

# many_lists DIR PATH N [MKLIST_OPTION ...]: N signed lists (mklist.py
# --many, with the options given), each with an identifier of its own,
# served at $base/PATH/list-<i>.list; "<i> <identifier>" per list in DIR/ids.
many_lists() {
  local dir=$1 path=$2 n=$3
  shift 3
  local www=$work/www/$path
  mkdir -p "$dir/json" "$www"
  /usr/bin/python3 "$root/bench/lib/mklist.py" --many "$n" --out-dir "$dir/json" \
    --list-uri-base "$base/$path" "$@" >"$dir/ids"
  local t0=$EPOCHREALTIME
  seq 1 "$n" | xargs -P "$(nproc)" -I{} openssl smime -sign -md sha256 \
    -in "$dir/json/list-{}.json" -signer "$pki/endorser1/cert.pem" -inkey "$pki/endorser1/key.pem" \
    -out "$www/list-{}.list"
  log "signed $n lists in $(elapsed "$t0" "$EPOCHREALTIME") s"
}

# many_subscriptions DIR PATH N DOWNLOADS: a policy subscribing to the first
# N lists of `many_lists DIR PATH` (DIR/policy-N.json) and a config with the
# state directory DIR/state-N (DIR/catcher-N.conf).
many_subscriptions() {
  local dir=$1 path=$2 n=$3 downloads=$4
  head -n "$n" "$dir/ids" | awk -v base="$base/$path" '{ printf "list-%d %s/list-%d.list\n", $1, base, $1 }' |
    /usr/bin/python3 "$root/bench/lib/mkpolicy.py" "$dir/policy-$n.json"
  catcher_conf "$dir/catcher-$n.conf" "$dir/state-$n" "$dir/policy-$n.json" "$downloads"
}

# Notes how many requests an update made, their statuses and over how many
# connections (from the access log of start_nginx).
connection_note() {
  local what=$1 access=$2
  sleep 0.2 # nginx writes its log line after the response
  note "$what: $(awk '{ n++; s[$3]++; c[$1] = 1 }
    END { printf "%d requests (", n; sep = "";
          for (k in s) { printf "%s%d x %s", sep, s[k], k; sep = ", " }
          printf ") over %d connection(s)", length(c) }' "$access")"
}

# --- idle-cycle: run --once with nothing to do vs update alone (issue 12) --
# N unchanged subscriptions (nginx answers 304 to the conditional GET) of 20
# small images each, every image cached: a cycle then has nothing to do but
# the update it starts with and a cache pass that finds everything in place,
# so it should cost little more than `catcher update` alone (target 1.3x).
# The lists share their 20 contents (one download each, hard-linked), each
# image under an identifier of its own.
bench_idle_cycle() {
  local b=idle-cycle dir=$work/idle-cycle
  idle_lists "$dir" idle-cycle "$idle_lists"
  many_subscriptions "$dir" idle-cycle "$idle_lists" "$(nproc)"
  idle_prime $b "$dir" "$idle_lists"
  local K=("$catcher" --config "$dir/catcher-$idle_lists.conf")
  local r
  for ((r = 1; r <= repeat; r++)); do
    idle_timed $b "run --once (all cached)" "$r" "$idle_lists" "${K[@]}" run --once
    idle_timed $b "update (unchanged)" "$r" "$idle_lists" "${K[@]}" update
  done
  ((keep)) || rm -rf "$dir" "$work/www/idle-cycle"
}

# --- idle-cycle-scale: the idle cycle of idle-cycle at several sizes ------
# Measures run --once and update (as idle-cycle, interleaved) for each of
# scale_sizes subscriptions, prints a table of medians with the cost of each
# added subscription, and plots time against subscriptions to $plot (PNG,
# gnuplot) with a fitted line. Not in the default set: priming the largest
# size takes a while.
bench_idle_cycle_scale() {
  local b=idle-cycle-scale dir=$work/idle-scale n
  idle_lists "$dir" idle-scale "${scale_sizes[-1]}"
  for n in "${scale_sizes[@]}"; do
    many_subscriptions "$dir" idle-scale "$n" "$(nproc)"
    idle_prime $b "$dir" "$n"
  done
  local r
  for ((r = 1; r <= repeat; r++)); do
    for n in "${scale_sizes[@]}"; do
      local K=("$catcher" --config "$dir/catcher-$n.conf")
      idle_timed $b "run --once, $n subscriptions" "$r" "$n" "${K[@]}" run --once
      idle_timed $b "update, $n subscriptions" "$r" "$n" "${K[@]}" update
    done
  done
  mkdir -p "$(dirname "$plot")"
  /usr/bin/python3 "$root/bench/lib/scale.py" "$results" $b "$plot" "$dir" \
    "idle run --once, $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), nproc $(nproc)" \
    >"$dir/table" || die "$b: the table or the plot failed"
  log "$b: the plot is $plot"
  cat "$dir/table" >&2
  note "$b (plot: $plot):"
  sed 's/^/  /' "$dir/table" >>"$notes"
  ((keep)) || rm -rf "$dir" "$work/www/idle-scale"
}

# idle_lists DIR PATH N: N signed lists of 20 small images each, served at
# $base/PATH/ with their contents at $base/PATH/images/.
idle_lists() {
  local dir=$1 path=$2 n=$3
  many_lists "$dir" "$path" "$n" --served-images 20 --image-dir "$work/www/$path/images" \
    --image-uri-base "$base/$path/images/"
}

# idle_prime BENCH DIR N: the first cycle of DIR's N subscriptions (timed as
# one measurement, for the record), which downloads and links every image;
# stops the benchmark unless `catcher images --json` then shows all 20 x N
# images cached.
idle_prime() {
  local b=$1 dir=$2 n=$3
  local K=("$catcher" --config "$dir/catcher-$n.conf") access=$work/nginx/access.log
  : >"$access"
  timed "$b" "first run --once, $n subscriptions" 1 "${K[@]}" run --once
  sleep 0.2 # nginx writes its log line after the response
  note "$b: the first run --once of $n subscriptions fetched $(awk '$5 ~ /\.img$/ && $3 == 200 { n++ }
    END { print n + 0 }' "$access") image(s) for $((20 * n)) images"
  "${K[@]}" images --json >"$dir/images-$n.json" 2>"$dir/images-$n.err" ||
    die "$b: catcher images --json failed after priming: $(tail -n 3 "$dir/images-$n.err")"
  local problem
  problem=$(/usr/bin/python3 "$root/bench/lib/allcached.py" "$dir/images-$n.json" $((20 * n))) ||
    die "$b: priming did not cache every image, so an idle cycle cannot be measured: $problem"
}

# idle_timed BENCH LABEL REPEAT N CMD...: `timed` after a sync, then stops the
# benchmark unless nginx answered exactly N requests, all 304 (every list
# unchanged, no image fetched).
idle_timed() {
  local b=$1 label=$2 rep=$3 n=$4 access=$work/nginx/access.log seen
  shift 4
  settle
  : >"$access"
  timed "$b" "$label" "$rep" "$@"
  sleep 0.2 # nginx writes its log line after the response
  seen=$(awk '{ s[$3]++ } END { for (k in s) printf "%s%d x %s", (sep++ ? ", " : ""), s[k], k }' "$access")
  [[ $seen == "$n x 304" ]] ||
    die "$b: '$label' should have made $n requests, all answered 304 (lists unchanged); nginx saw ${seen:-none}"
  ((rep == 1)) && connection_note "$b: $label" "$access"
  return 0
}

# --- caster-add-2g: caster image add --file vs sha512sum, openssl dgst -------
bench_caster_add_2g() {
  local b=caster-add-2g dir=$work/caster-add
  local img=$work/www/images/big.img
  mkdir -p "$dir"
  make_image "$img" "$cache_bytes" 1
  warm "$img"
  local r store list
  for ((r = 1; r <= repeat; r++)); do
    store=$dir/store-$r
    list=$("$caster" --store "$store" list create --title Bench --description "bench/run" \
      --source bench.example.org --uri https://lists.example.org/bench.list)
    timed $b "caster image add --file" "$r" "$caster" --store "$store" image add "$list" \
      --uri https://images.example.org/big.img --file "$img"
    timed $b "sha512sum" "$r" sha512sum "$img"
    timed $b "openssl dgst -sha512" "$r" openssl dgst -sha512 "$img"
  done
  ((keep)) || rm -rf "$dir"
}

# --- convert-2g: catcher converting a cached qcow2 vs qemu-img convert -----
# A 2 GiB qcow2 (the cache-2g image, converted once, untimed) is in the
# content store as if downloaded (a hard link: nothing is copied), and the
# site takes raw (formats = raw). Timed per repeat, on a fresh state:
# `catcher cache`, which inspects it (magic bytes, qemu-img info), converts
# it (qemu-img convert into partial/), syncs and hashes the result, renames
# it into the cache and links its view; then qemu-img convert of the same
# file alone. Then the inspection alone: `catcher cache` of the same qcow2
# with no formats set (inspect, make available), against `catcher cache`
# with everything cached (nothing to do); the difference is the inspection.
bench_convert_2g() {
  local b=convert-2g dir=$work/convert-2g
  local img=$work/www/images/big.img qcow=$work/www/images/big.qcow2
  mkdir -p "$dir" "$work/www/lists"
  make_image "$img" "$cache_bytes" 1
  log "$b: converting the image to qcow2 (untimed)"
  qemu-img convert -q -f raw -O qcow2 "$img" "$qcow"
  local sha size list_id image_id
  sha=$(sha512sum "$qcow" | cut -d' ' -f1)
  size=$(stat -c %s "$qcow")
  list_id=$(new_uuid)
  image_id=$(new_uuid)
  /usr/bin/python3 "$root/bench/lib/mklist.py" --out "$dir/list.json" --identifier "$list_id" \
    --uri "$base/lists/convert.list" --image "$image_id,$base/images/big.qcow2,$size,$sha,qcow2"
  sign_list "$dir/list.json" "$work/www/lists/convert.list"
  echo "convert $base/lists/convert.list" | /usr/bin/python3 "$root/bench/lib/mkpolicy.py" "$dir/policy.json"
  catcher_conf "$dir/convert.conf" "$dir/state" "$dir/policy.json" 1
  echo "formats = raw" >>"$dir/convert.conf"
  catcher_conf "$dir/inspect.conf" "$dir/state" "$dir/policy.json" 1
  local C=("$catcher" --config "$dir/convert.conf") I=("$catcher" --config "$dir/inspect.conf")
  # The bytes as a download leaves them: in the content store, proven.
  fresh_state() {
    rm -rf "$dir/state"
    quiet "${I[@]}" update
    mkdir -p "$dir/state/cache/.sha512"
    ln "$qcow" "$dir/state/cache/.sha512/$sha"
  }
  warm "$qcow"
  local r view=$dir/state/cache/$image_id out=$dir/out.raw
  for ((r = 1; r <= repeat; r++)); do
    fresh_state
    settle
    timed $b "catcher cache (inspect, convert to raw)" "$r" "${C[@]}" cache
    cmp -s -n "$cache_bytes" "$view" "$img" ||
      die "$b: catcher cache exited 0 but $view is not the image as raw"
    rm -rf "$dir/state"
    settle
    timed $b "qemu-img convert" "$r" qemu-img convert -f qcow2 -O raw "$qcow" "$out"
    rm -f "$out"
    settle
    fresh_state
    settle
    timed $b "catcher cache (inspect, make available)" "$r" "${I[@]}" cache
    [[ -f $view ]] || die "$b: catcher cache exited 0 but $view is missing"
    timed $b "catcher cache (all cached)" "$r" "${I[@]}" cache
  done
  rm -rf "$dir/state"
  ((keep)) || rm -rf "$dir"
}

# --- list-75k: every command on a list at the size cap vs catcher verify ----
# A signed list just under the 16 MiB cap with as many images as fit
# (mklist.py --tiny-images: ~69,000), each a file of a few bytes of its own
# (its own SHA-512 and size). The content store is filled as downloads leave
# it (cache/.sha512/<sha512>, written by mklist.py): the download itself is
# cache-2g's subject; this benchmark times what a command does per image.
# Setup (timed once, reported): the first update and the first cache run,
# which makes every view and records every image (in batches). Then, per
# repeat: catcher verify (the baseline), an update that accepts a new version
# of the list (same images), catcher cache with everything cached, images
# --json, status --json, export --format json.
bench_list_75k() {
  local b=list-75k dir=$work/list-75k
  mkdir -p "$dir/state/cache"
  local list_id n max=$((16 * MiB - 16 * 1024))
  list_id=$(new_uuid)
  log "$b: writing the list and ${list_images} image files"
  local v content
  for ((v = 1; v <= repeat + 1; v++)); do
    # Every version names the same images; their files are written once.
    content=()
    ((v == 1)) && content=(--content-dir "$dir/state/cache/.sha512")
    n=$(/usr/bin/python3 "$root/bench/lib/mklist.py" --out "$dir/list-$v.json" --identifier "$list_id" \
      --uri "file://$dir/big.list" --version "$v" --tiny-images "$list_images" --max-bytes "$max" \
      "${content[@]}")
    sign_list "$dir/list-$v.json" "$dir/list-$v.list"
    (($(stat -c %s "$dir/list-$v.list") < 16 * MiB)) || die "$b: the signed list is over 16 MiB"
  done
  note "$b: a signed list of $n images, $(stat -c %s "$dir/list-1.list") bytes (cap 16 MiB); nproc $(nproc)"
  echo "big file://$dir/big.list" | /usr/bin/python3 "$root/bench/lib/mkpolicy.py" "$dir/policy.json"
  catcher_conf "$dir/catcher.conf" "$dir/state" "$dir/policy.json" 1
  local K=("$catcher" --config "$dir/catcher.conf")
  cp "$dir/list-1.list" "$dir/big.list"
  warm "$dir"/list-*.list
  settle

  timed $b "first update" 1 "${K[@]}" update
  settle
  timed $b "first cache (makes every view)" 1 "${K[@]}" cache
  local views
  views=$(find "$dir/state/cache" -maxdepth 1 -type f | wc -l)
  ((views == n)) || die "$b: the first cache run made $views views, not $n"
  settle

  local r
  for ((r = 1; r <= repeat; r++)); do
    timed $b "catcher verify" "$r" "${K[@]}" verify "$dir/big.list"
    cp "$dir/list-$((r + 1)).list" "$dir/big.list"
    timed $b "catcher update (new version)" "$r" "${K[@]}" update
    grep -q '"updated"\|updated' "$work/logs/$b.$r.catcher_update__new_version_.log" ||
      die "$b: the update did not accept version $((r + 1))"
    settle
    timed $b "catcher cache (all cached)" "$r" "${K[@]}" cache
    timed $b "images --json" "$r" "${K[@]}" images --json
    [[ $(grep -o '"state":"cached"' "$work/logs/$b.$r.images___json.log" | wc -l) -eq $n ]] ||
      die "$b: images --json does not show $n cached images"
    timed $b "status --json" "$r" "${K[@]}" status --json
    timed $b "export --format json" "$r" "${K[@]}" export --format json
    [[ $(grep -o '"path":' "$work/logs/$b.$r.export___format_json.log" | wc -l) -eq $n ]] ||
      die "$b: export does not list $n images"
  done
  ((keep)) || rm -rf "$dir"
}
