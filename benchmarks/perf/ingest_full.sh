#!/usr/bin/env bash
# The full arXiv file (115,229 abstracts) into its own data folder, timed: total time and peak RSS from
# /usr/bin/time -v, progress every 30 s. Resumable: stop it (Ctrl-C, kill -9) and run it again to carry on.
#
#   benchmarks/perf/ingest_full.sh DATA_FOLDER    # then: python -m benchmarks.perf.scale --home DATA_FOLDER --tag 115k
#
# At the lowest CPU priority, so the machine stays usable; on 2 idle cores it runs 8-13 abstracts/s (3.5 h or
# less for the whole file). benchmarks/memory/watch_rss.sh DATA_FOLDER logs its resident size a minute.
# Its record (time.*.txt, report.*.json, progress.*.log) stays in DATA_FOLDER, not in benchmarks/results/.
set -euo pipefail
home=$(realpath -m "${1:?usage: benchmarks/perf/ingest_full.sh DATA_FOLDER [CORPUS]}")
corpus=$(realpath -m "${2:-$(dirname "$0")/../../../shared/data/arxiv/arxiv_abstracts.jsonl.gz}")
cd "$(dirname "$0")/../.."
mkdir -p "$home"
stamp=$(date -u +%Y%m%dT%H%M)
echo "log: $home/progress.$stamp.log, time: $home/time.$stamp.txt, report: $home/report.$stamp.json"
timer=()
if [ -x /usr/bin/time ]; then
  timer=(/usr/bin/time -v -o "$home/time.$stamp.txt")
else
  echo "no /usr/bin/time (apt install time): no peak RSS figure" >&2
fi
RAG_HOME="$home" HF_HUB_OFFLINE=1 RAG_CORPUS_AUTO_INDEX=false \
  "${timer[@]}" nice -n 19 .venv/bin/rag ingest --progress --json "$corpus" \
  > "$home/report.$stamp.json" 2> "$home/progress.$stamp.log"
[ -f "$home/time.$stamp.txt" ] && grep -E "Elapsed|Maximum resident" "$home/time.$stamp.txt"
