#!/usr/bin/env bash
# Debian packages Triggerfish uses; installed only when missing.
#   busybox-static   the userland of alpine/busybox images for the local executor (ash, od, awk…)
#   postgresql       the scale-out profile's store; the test suite starts its own server on loopback
#   openjdk-17 + maven  the test suite's Kafka broker: Apache Kafka's jars fetched from Maven Central
#                    once (deploy/kafka-jars.sh, into ~/.cache/triggerfish/kafka), run with Java 17
#   openssl          the test broker's TLS listener: a throw-away CA and certificates made at start
# Then the Kafka jars themselves are fetched (a no-op when cached).
set -euo pipefail
missing=()
command -v busybox >/dev/null || missing+=(busybox-static)
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v openssl >/dev/null || missing+=(openssl)
if ((${#missing[@]})); then
    if [ "$(id -u)" -ne 0 ]; then
        echo "warning: ${missing[*]} missing and not root; install them for the full test suite" >&2
        exit 0
    fi
    install() { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
    install || { apt-get update -qq && install; }
fi
if command -v mvn >/dev/null && command -v java >/dev/null; then
    "$(dirname "$0")/kafka-jars.sh" >/dev/null
fi
"$(dirname "$0")/container-engines.sh" >/dev/null
