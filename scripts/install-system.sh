#!/usr/bin/env bash
# Install the Debian packages the project needs, only those that are missing.
# Idempotent and non-interactive; as root or through sudo; quiet when there is nothing to do.
#   libharfbuzz-subset0  weasyprint renders certificates ~10x faster with it
#   libpango-1.0-0, libpangoft2-1.0-0  weasyprint's text layout (certificate PDFs); fonts are
#                        the project's own (shared/certificates/fonts), none from the system
#   chromium             browser tests (Playwright drives Debian's chromium)
#   ffmpeg               media probing/thumbnails
#   postgresql-15 (+contrib)  the private cluster of the local stack, if initdb is missing
#   a JRE                the Pub/Sub and Firestore emulators, if `java` is missing
#   python3-venv, make   what `make` and the virtualenvs need on a bare machine
#   wrk                  the HTTP load generator of `make bench`
set -euo pipefail

need=()
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

for pkg in libharfbuzz-subset0 libpango-1.0-0 libpangoft2-1.0-0 chromium ffmpeg; do
  installed "$pkg" || need+=("$pkg")
done
if [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
  need+=(postgresql-15 postgresql-contrib)
fi
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
command -v make >/dev/null 2>&1 || need+=(make)
command -v wrk >/dev/null 2>&1 || need+=(wrk)  # make bench drives the gateway with it
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)

if [ ! -d /usr/lib/google-cloud-sdk/platform/pubsub-emulator ] && ! command -v gcloud >/dev/null 2>&1; then
  echo "install-system: note: the Google Cloud CLI (pubsub + firestore emulators) is not installed;" \
       "it is not in Debian's archive: install google-cloud-cli-pubsub-emulator and" \
       "google-cloud-cli-firestore-emulator from Google's apt repository" >&2
fi

[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo -n)  # never prompt: CI has no terminal
else
  echo "install-system: need root or sudo to install: ${need[*]}" >&2
  exit 1
fi

echo "install-system: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${need[@]}" >/dev/null
echo "install-system: done" >&2
