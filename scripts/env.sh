# Sourced by scripts/setup, scripts/test and scripts/cluster: the environment every project
# command runs in, so that a bare `env -i PATH=/usr/bin:/bin` shell (CI, cron) behaves like a login.
#
# - /usr/sbin and /sbin: Debian puts some server binaries there (nutcracker).
# - TLS: Deno trusts only its bundled roots and npm only Node's unless told otherwise; where the
#   network goes through a TLS proxy whose CA is in the system bundle, both then fail (Deno with
#   "invalid peer certificate: UnknownIssuer", npm by retrying for minutes). Trust the system store too.

case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin" ;; esac
case ":$PATH:" in *:/sbin:*) ;; *) PATH="$PATH:/sbin" ;; esac
export PATH

export DENO_TLS_CA_STORE="${DENO_TLS_CA_STORE:-mozilla,system}"
if [[ -z ${NODE_EXTRA_CA_CERTS:-} && -r /etc/ssl/certs/ca-certificates.crt ]]; then
  export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi
