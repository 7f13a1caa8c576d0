#!/usr/bin/env bash
# Fetch Apache Kafka (the broker, KRaft mode) and its runtime closure from Maven Central, once.
#   deploy/kafka-jars.sh [CACHE_DIR]     prints the directory holding libs/*.jar
# The jars go to ${TRIGGERFISH_KAFKA_CACHE:-~/.cache/triggerfish/kafka}/<version>/libs, outside git.
# The test suite (tests/support/kafka.py) runs them with the machine's Java 17:
#   java -cp 'libs/*' kafka.tools.StorageTool format …   and   java -cp 'libs/*' kafka.Kafka server.properties
set -euo pipefail
KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
LOG4J_VERSION=2.24.3
cache="${1:-${TRIGGERFISH_KAFKA_CACHE:-$HOME/.cache/triggerfish/kafka}}"
dir="$cache/$KAFKA_VERSION"
if [ -f "$dir/libs/.complete" ]; then
    echo "$dir"
    exit 0
fi
command -v java >/dev/null || { echo "kafka-jars: java (17+) is missing: apt-get install openjdk-17-jre-headless" >&2; exit 1; }
command -v mvn >/dev/null || { echo "kafka-jars: mvn is missing: apt-get install maven" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat > "$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
 <groupId>local.triggerfish</groupId><artifactId>kafka-dist</artifactId><version>1</version><packaging>pom</packaging>
 <dependencies>
  <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
  <!-- a logging backend for the broker's slf4j 1.7 API (without one it logs nothing) -->
  <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
 </dependencies></project>
POM
mkdir -p "$dir"
rm -rf "$dir/libs.tmp"
(cd "$work" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dir/libs.tmp" >&2)
touch "$dir/libs.tmp/.complete"
rm -rf "$dir/libs"
mv "$dir/libs.tmp" "$dir/libs"
echo "$dir"
