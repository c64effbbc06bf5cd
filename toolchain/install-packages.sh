#!/bin/bash
# Install the Debian packages stsmail needs to build, test and run its lab.
# Only packages that are missing are installed; nothing else on the machine changes.
# Usage: toolchain/install-packages.sh [bench]   (as root)
#   bench: also what the speed bench (tests/bench/speed.sh) needs, not the build or the suite.
set -euo pipefail

# Packages installed with recommends (small, nothing surprising pulled in).
packages=(
  cmake make gcc libc6-dev            # host build
  clang libclang-rt-14-dev            # fuzz harnesses (libFuzzer, ASan and UBSan runtimes)
  gcc-arm-none-eabi libnewlib-arm-none-eabi   # Cortex-M build
  dpkg-dev xz-utils bzip2             # unpacking Debian source packages
  python3                             # lab controller (always /usr/bin/python3)
  python3-jsonschema                  # the settings schema against the parser (tests/schema)
  iproute2                            # network namespaces, TAP, bridge
  dnsmasq-base                        # lab DNS + DHCP (binary only, no service)
  nginx-light                         # lab HTTPS (MTA-STS policies)
  postfix                             # lab MTA
  python3-aiosmtpd                    # lab scriptable SMTP sink
  python3-dnslib                      # lab scripted DNS responder (misbehaving servers)
  chrony                              # lab NTP server (run with -x: never sets the clock)
  openssl ca-certificates             # lab CA and certificates; the production trust store
  swaks libnet-ssleay-perl            # SMTP checks of the lab (swaks needs Net::SSLeay for TLS)
  postfix-mta-sts-resolver            # a peer MTA-STS implementation, for the differential lab test
  dnsutils curl tcpdump               # lab checks and debugging
)
# Packages whose recommends would pull in a desktop stack.
packages_no_recommends=(qemu-system-arm)
if [ "${1:-}" = bench ]; then
  packages+=(
    iptables libnetfilter-queue-dev     # the delay line (NFQUEUE on the ingress of a veth pair)
    ethtool                             # offloads off on the veth pair (packets as on a wire)
    msmtp                               # peer: relay client
    valgrind time iputils-ping          # instruction counts, peak RSS, the RTT (ping -U)
    gnuplot-nox                         # the per-phase timeline plot
  )
fi

missing() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
  done
}

mapfile -t need < <(missing "${packages[@]}")
mapfile -t need_nr < <(missing "${packages_no_recommends[@]}")
if [ ${#need[@]} -eq 0 ] && [ ${#need_nr[@]} -eq 0 ]; then
  echo "install-packages: all packages present"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "install-packages: missing ${need[*]} ${need_nr[*]}; run as root" >&2; exit 1; }

# Installing postfix, nginx or chrony must not start system daemons (a system chronyd
# would discipline the machine's clock). If the machine has no policy-rc.d, keep one in
# place only for the duration of the install.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections

export DEBIAN_FRONTEND=noninteractive
echo "install-packages: installing ${need[*]} ${need_nr[*]}"
apt-get update -qq
[ ${#need[@]} -eq 0 ] || apt-get install -y -qq "${need[@]}" >/dev/null
[ ${#need_nr[@]} -eq 0 ] || apt-get install -y -qq --no-install-recommends "${need_nr[@]}" >/dev/null
echo "install-packages: done"
