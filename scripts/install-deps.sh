#!/usr/bin/env bash
# Debian packages the lab, the probes and their tests use (run as root). Installs nothing else.
# chromium (+ a font) renders the HTML report in tests/reports/test_html.py: Debian's own build, headless,
# so no browser is downloaded at run time.
set -euo pipefail
pkgs=(iproute2 iptables nftables dnsmasq-base wireguard-tools wireguard-go tcpdump procps libpcap0.8 chromium fonts-dejavu-core)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "install-deps: need root to apt-get install ${missing[*]}" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: ${pkgs[*]} present"
