#!/usr/bin/env bash
# Start PostgreSQL and Redis on 127.0.0.1 for the scale-out tests (installing them from Debian if missing), then
# print the exports the tests read. Everything but the exports goes to stderr. Safe to run again.
set -euo pipefail
{
  if ! command -v pg_ctlcluster >/dev/null || ! command -v redis-server >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server >/dev/null
  fi
  # audio tools the audio tests use: fluidsynth + a GM soundfont render the music21 pieces, espeak-ng speaks the
  # "not music" check, ffmpeg decodes m4a/aac/webm (the decoder child's limits are tested on the real one)
  if ! command -v fluidsynth >/dev/null || ! command -v espeak-ng >/dev/null || ! command -v ffmpeg >/dev/null; then
    [ -n "$(ls /var/lib/apt/lists 2>/dev/null | grep -v lock)" ] || apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fluidsynth fluid-soundfont-gm \
      espeak-ng ffmpeg >/dev/null
  fi
  version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
  pg_lsclusters -h | grep -q "^$version main" || pg_createcluster "$version" main >/dev/null
  pg_ctlcluster "$version" main start 2>/dev/null || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
  runuser -u postgres -- psql -qtc "SELECT 1 FROM pg_roles WHERE rolname='murecom'" | grep -q 1 ||
    runuser -u postgres -- psql -qc "CREATE ROLE murecom LOGIN PASSWORD 'murecom' CREATEDB"
  runuser -u postgres -- psql -qtc "SELECT 1 FROM pg_database WHERE datname='murecom_test'" | grep -q 1 ||
    runuser -u postgres -- psql -qc "CREATE DATABASE murecom_test OWNER murecom"
  redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 || redis-server --bind 127.0.0.1 --port 6379 --daemonize yes \
    --save '' --appendonly no >/dev/null
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.5; done
} 1>&2
echo "export MUREC_TEST_PG_URL=postgresql+psycopg://murecom:murecom@127.0.0.1:5432/murecom_test"
echo "export MUREC_TEST_REDIS_URL=redis://127.0.0.1:6379/0"
