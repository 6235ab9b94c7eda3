#!/usr/bin/env bash
# Installs what the test-suite needs and is missing: the Debian packages for the
# servers the tests start (each test harness runs its own throwaway instance; no
# system service is started or enabled here), then the npm packages.
# Idempotent, and silent when everything is already present.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

die() { echo "install-test-deps: $*" >&2; exit 1; }

PACKAGES=(postgresql mariadb-server redis-server openssh-server chromium openssl sqlite3 zsh oathtool simplesamlphp php8.2-cli php8.2-xml php8.2-mbstring)

pkg_installed() {
  local status
  status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)"
  [[ "$status" == "install ok installed" ]]
}

postgres_bin_present() {
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null &&
    compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

installed_packages() {
  dpkg-query -W -f='${binary:Package} ${Status}\n' 2>/dev/null | awk '$NF == "installed" { print $1 }' | sort
}

# Undo the boot-time enablement that postinst scripts perform (policy-rc.d only
# stops them from *starting* daemons): for every package this run installed,
# disable its systemd units and SysV init scripts. A later upgrade of the package
# keeps them disabled (deb-systemd-helper only re-enables units that were enabled).
disable_services_of() {
  local pkg file unit
  for pkg in "$@"; do
    while IFS= read -r file; do
      case "$file" in
        /lib/systemd/system/*.service | /lib/systemd/system/*.socket | /lib/systemd/system/*.timer | \
          /usr/lib/systemd/system/*.service | /usr/lib/systemd/system/*.socket | /usr/lib/systemd/system/*.timer)
          unit="${file##*/}"
          [[ "$unit" == *@.* ]] && continue # templates are never enabled directly
          if command -v systemctl >/dev/null 2>&1; then # works without a running systemd too
            "${sudo[@]}" systemctl --quiet disable "$unit" >/dev/null 2>&1 ||
              echo "install-test-deps: warning: could not disable $unit" >&2
          fi
          ;;
        /etc/init.d/*)
          if command -v update-rc.d >/dev/null 2>&1; then
            "${sudo[@]}" update-rc.d "${file##*/}" disable >/dev/null 2>&1 ||
              echo "install-test-deps: warning: could not disable init script ${file##*/}" >&2
          fi
          ;;
      esac
    done < <(dpkg-query -L "$pkg" 2>/dev/null)
  done
}

install_debian_packages() {
  local missing=() pkg
  for pkg in "${PACKAGES[@]}"; do
    pkg_installed "$pkg" || missing+=("$pkg")
  done
  # The metapackage can be installed while the server binaries are gone.
  if ! postgres_bin_present && [[ ! " ${missing[*]-} " == *" postgresql "* ]]; then
    missing+=(postgresql)
  fi
  [[ ${#missing[@]} -eq 0 ]] && return 0

  sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "not root and sudo not found; install: ${missing[*]}"
    sudo=(sudo)
  fi

  echo "install-test-deps: installing Debian packages: ${missing[*]}"

  # Keep postinst scripts from starting daemons: invoke-rc.d honours
  # policy-rc.d exit status 101 ("action forbidden"). Restore the original after.
  policy=/usr/sbin/policy-rc.d backup="" mode=""  # globals: used by the EXIT trap
  if [[ -e "$policy" ]]; then
    backup="$(mktemp)"
    mode="$(stat -c %a "$policy")"
    "${sudo[@]}" cat "$policy" >"$backup"
  fi
  restore_policy() {
    if [[ -n "$backup" ]]; then
      "${sudo[@]}" tee "$policy" <"$backup" >/dev/null
      "${sudo[@]}" chmod "$mode" "$policy"
      rm -f "$backup"
    else
      "${sudo[@]}" rm -f "$policy"
    fi
  }
  trap restore_policy EXIT
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod 755 "$policy"

  local before after new_pkgs=()
  before="$(installed_packages)"
  "${sudo[@]}" apt-get update -qq || die "apt-get update failed"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    die "apt-get install failed for: ${missing[*]}"
  after="$(installed_packages)"
  mapfile -t new_pkgs < <(comm -13 <(echo "$before") <(echo "$after"))
  disable_services_of "${new_pkgs[@]}"

  restore_policy
  trap - EXIT

  for pkg in "${missing[@]}"; do
    pkg_installed "$pkg" || die "package $pkg is still not installed"
  done
  postgres_bin_present || die "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin"
}

if [[ -f /etc/debian_version ]] && command -v apt-get >/dev/null 2>&1; then
  install_debian_packages
else
  cat >&2 <<EOF
install-test-deps: not a Debian/Ubuntu system; install these yourself (tests fail without them):
  - PostgreSQL server (initdb, postgres; the harness looks in /usr/lib/postgresql/<version>/bin)
  - MariaDB server, Redis server, OpenSSH server (sshd), Chromium, openssl, zsh, oathtool,
    SimpleSAMLphp with PHP 8 (cli, xml, mbstring) for the SAML identity provider of the SSO tests
EOF
fi

# npm packages: (re)install when node_modules is missing or older than the lockfile. `npm install`
# (which follows package-lock.json) rather than `npm ci`: the registry mirror these machines use
# lacks other platforms' optional packages (rollup's), so no lock can list them and `npm ci`
# refuses the lock as incomplete.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "install-test-deps: running npm install"
  npm install --no-audit --no-fund || die "npm install failed"
fi
