#!/usr/bin/env bash
# A line a minute while `rag ingest` runs: time, records read (from the newest progress log in the data
# folder that benchmarks/perf/ingest_full.sh writes), resident size and peak resident size of the ingest.
# Shows how memory grows with the index (the peak of a whole run is also in time.*.txt).
#
#   benchmarks/memory/watch_rss.sh DATA_FOLDER > DATA_FOLDER/rss.log &
set -uo pipefail
home=${1:?usage: benchmarks/memory/watch_rss.sh DATA_FOLDER}
while true; do
  pid=$(pgrep -f "bin/rag ingest" | while read -r p; do [ "$(cat /proc/"$p"/comm 2>/dev/null)" != time ] && echo "$p"; done | tail -1)
  if [ -n "$pid" ] && [ -r "/proc/$pid/status" ]; then
    log=$(ls -t "$home"/progress.*.log 2>/dev/null | head -1)
    read_so_far=$( [ -n "$log" ] && tail -c 300 "$log" | grep -o '[0-9]\+/[0-9]\+' | tail -1)
    rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
    hwm=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
    echo "$(date +%H:%M:%S) records=${read_so_far:-?} rss_mb=$((rss / 1024)) peak_mb=$((hwm / 1024))"
  fi
  sleep 60
done
