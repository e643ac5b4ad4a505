#!/usr/bin/env bash
# Installs the system tools Ferry's tests use: strace (the fsync-ordering
# test) and wrk (the HTTP load benchmark). Safe to run repeatedly.
set -euo pipefail
need=()
command -v strace >/dev/null 2>&1 || need+=(strace)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
